namespace Guise.Tests.PtHost;

/// <summary>A managed proxy played by a /bin/sh script in a fresh directory (deleted on dispose).</summary>
public sealed class FakePt : IDisposable
{
    public FakePt(string body)
    {
        Directory = Path.Combine("/tmp", "guise-fakept-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(Directory);
        Script = Path.Combine(Directory, "pt.sh");
        File.WriteAllText(Script, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        State = Path.Combine(Directory, "state");
    }

    public string Directory { get; }

    public string Script { get; }

    public string State { get; }

    /// <summary>Lines a well-behaved client PT prints; then it waits for stdin to close.</summary>
    public const string ReadyClient = """
        echo "VERSION 1"
        echo "CMETHOD fake socks5 127.0.0.1:1999"
        echo "CMETHODS DONE"
        """;

    /// <summary>Blocks until stdin is closed, as a PT honouring TOR_PT_EXIT_ON_STDIN_CLOSE does.</summary>
    public const string WaitForStdinClose = "cat > /dev/null";

    public static bool IsAlive(int pid)
    {
        // /proc/PID exists until the process is reaped; a zombie counts as gone.
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status))
            return false;
        try
        {
            return !File.ReadAllText(status).Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
