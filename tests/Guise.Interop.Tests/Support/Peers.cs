using System.Net;
using System.Net.Sockets;

namespace Guise.Interop.Tests.Support;

/// <summary>Where the real peers and the binary under test are.</summary>
public static class Peers
{
    /// <summary>The guise binary under test: $GUISE_BINARY (scripts/test sets it), else the NativeAOT build.</summary>
    public static string Guise
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("GUISE_BINARY");
            var path = !string.IsNullOrEmpty(fromEnv) ? fromEnv : Path.Combine(RepoRoot, "artifacts", "native", "guise");
            if (!File.Exists(path))
                throw new InvalidOperationException($"guise binary not found at {path}: run scripts/publish (scripts/test does) or set GUISE_BINARY");
            return path;
        }
    }

    public static string Tor => Which("tor");

    public static string Obfs4Proxy => Which("obfs4proxy");

    public static string RepoRoot
    {
        get
        {
            var dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "Guise.slnx")))
                dir = Path.GetDirectoryName(dir);
            return dir ?? throw new InvalidOperationException("cannot find the repository root (Guise.slnx)");
        }
    }

    private static string Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException($"{name} is not installed: scripts/test installs it (apt-get install {name})");
    }

    /// <summary>A loopback port that was free a moment ago (the OS picks it).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
