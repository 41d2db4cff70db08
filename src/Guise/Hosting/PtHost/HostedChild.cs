using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Guise.Errors;

namespace Guise.Hosting.PtHost;

/// <summary>
/// One run of a child process with piped stdin/stdout/stderr, read line by line with a length
/// bound, stopped gracefully (close stdin, wait, SIGTERM, wait, SIGKILL) and, on Linux, killed by
/// the kernel when this process dies (PR_SET_PDEATHSIG through util-linux <c>setpriv</c>).
/// </summary>
/// <remarks>
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. .NET
/// forks on the calling thread, and thread-pool threads retire when idle, so every child is
/// started from one dedicated thread that lives as long as the process.
/// </remarks>
internal sealed partial class HostedChild : IAsyncDisposable
{
    private const string SetPriv = "/usr/bin/setpriv";
    private readonly Process _process;
    private readonly Task _stdout;
    private readonly Task _stderr;
    private readonly Lock _lock = new();
    private readonly Queue<string> _stderrTail = new();
    private int _stopping;

    private HostedChild(Process process, Action<string> onStdout, Action<string> onStderr)
    {
        _process = process;
        ProcessId = process.Id;
        _stdout = Task.Run(() => PumpAsync(process.StandardOutput.BaseStream, onStdout));
        _stderr = Task.Run(() => PumpAsync(process.StandardError.BaseStream, line =>
        {
            lock (_lock)
            {
                _stderrTail.Enqueue(line);
                if (_stderrTail.Count > 3)
                    _stderrTail.Dequeue();
            }
            onStderr(line);
        }));
        Exited = WaitExitAsync();
    }

    public int ProcessId { get; }

    /// <summary>Completes with the exit code once the process exited and both pipes reached EOF.</summary>
    public Task<int> Exited { get; }

    public bool StopRequested => Volatile.Read(ref _stopping) != 0;

    /// <summary>The last few stderr lines, joined, for error messages.</summary>
    public string StderrTail
    {
        get { lock (_lock) return string.Join(" | ", _stderrTail); }
    }

    /// <summary>Whether children are tied to this process's life by the kernel.</summary>
    public static bool CanKillOnHostDeath => OperatingSystem.IsLinux() && File.Exists(SetPriv);

    public static async Task<HostedChild> StartAsync(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment,
        string? workingDirectory, bool killOnHostDeath, Action<string> onStdout, Action<string> onStderr)
    {
        var resolved = ResolveProgram(program);
        var wrap = killOnHostDeath && CanKillOnHostDeath;
        var psi = new ProcessStartInfo(wrap ? SetPriv : resolved)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        if (wrap)
        {
            // setpriv execs the program, so the PID we hold is the program's own.
            foreach (var a in (string[])["--pdeathsig", "KILL", "--", resolved])
                psi.ArgumentList.Add(a);
        }
        foreach (var a in arguments)
            psi.ArgumentList.Add(a);
        // A PT must not inherit a TOR_PT_* from whoever started us.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("TOR_PT_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        foreach (var (k, v) in environment)
            psi.Environment[k] = v;

        var process = new Process { StartInfo = psi };
        try
        {
            await Spawner.StartAsync(process).ConfigureAwait(false);
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new PtException(PtErrorKind.Config, $"cannot start {program}: {e.Message}", e);
        }
        return new HostedChild(process, onStdout, onStderr);
    }

    /// <summary>Finds <paramref name="program"/> as execvp would; a missing program is a Config error.</summary>
    public static string ResolveProgram(string program)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        if (program.Contains('/', StringComparison.Ordinal))
        {
            var full = Path.GetFullPath(program);
            return File.Exists(full) ? full : throw new PtException(PtErrorKind.Config, $"cannot start {program}: no such file");
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':'))
        {
            if (dir.Length == 0)
                continue;
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new PtException(PtErrorKind.Config, $"cannot start {program}: not found in PATH");
    }

    public static string DescribeExit(int code) =>
        code > 128 && code < 160 ? $"was killed by signal {code - 128}" : $"exited with code {code}";

    /// <summary>Closes stdin (the pt-spec "stop" signal), waits, then SIGTERM, waits, then SIGKILL.</summary>
    public async Task StopAsync(TimeSpan stdinGrace, TimeSpan termGrace)
    {
        Interlocked.Exchange(ref _stopping, 1);
        if (!HasExited())
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The child is already gone or closed its end: the wait below sees it.
            }
        }
        if (await ExitsWithinAsync(stdinGrace).ConfigureAwait(false))
            return;
        if (!OperatingSystem.IsWindows())
            _ = Kill(ProcessId, SigTerm);
        if (await ExitsWithinAsync(termGrace).ConfigureAwait(false))
            return;
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        await Exited.ConfigureAwait(false);
    }

    private async Task<bool> ExitsWithinAsync(TimeSpan grace)
    {
        if (grace <= TimeSpan.Zero)
            return Exited.IsCompleted;
        var winner = await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false);
        return winner == Exited;
    }

    private bool HasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private async Task<int> WaitExitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        // Output after the exit is still in the pipes; a grandchild may hold them open, so bound the wait.
        await Task.WhenAny(Task.WhenAll(_stdout, _stderr), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Splits a pipe into lines; a line longer than the bound is cut there (the rest up to LF dropped).</summary>
    internal static async Task PumpAsync(Stream stream, Action<string> onLine)
    {
        var max = PtHostLine.MaxLineLength;
        var line = new ArrayBufferWriter<byte>();
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var skipping = false;
        try
        {
            while (true)
            {
                int n;
                try
                {
                    n = await stream.ReadAsync(buffer).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    break;
                }
                if (n == 0)
                    break;
                var span = buffer.AsSpan(0, n);
                while (span.Length > 0)
                {
                    var lf = span.IndexOf((byte)'\n');
                    var chunk = lf < 0 ? span : span[..lf];
                    if (!skipping)
                    {
                        var room = max + 1 - line.WrittenCount;
                        line.Write(chunk.Length <= room ? chunk : chunk[..room]);
                        if (line.WrittenCount > max)
                        {
                            // Emit what we have (the parser reports it as too long) and drop the rest.
                            onLine(Decode(line.WrittenSpan));
                            line.Clear();
                            skipping = true;
                        }
                    }
                    if (lf < 0)
                        break;
                    if (!skipping)
                        onLine(Decode(line.WrittenSpan));
                    line.Clear();
                    skipping = false;
                    span = span[(lf + 1)..];
                }
            }
            if (line.WrittenCount > 0 && !skipping)
                onLine(Decode(line.WrittenSpan));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        static string Decode(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > 0 && bytes[^1] == '\r')
                bytes = bytes[..^1];
            return Encoding.UTF8.GetString(bytes);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Exited.IsCompleted)
            await StopAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        _process.Dispose();
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Starts processes from one long-lived thread (see the remarks on the class).</summary>
    private static class Spawner
    {
        private static readonly BlockingCollection<(Process Process, TaskCompletionSource Done)> Queue = [];

        static Spawner()
        {
            var thread = new Thread(Run) { IsBackground = true, Name = "Guise PT spawner" };
            thread.Start();
        }

        public static Task StartAsync(Process process)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Queue.Add((process, done));
            return done.Task;
        }

        private static void Run()
        {
            foreach (var (process, done) in Queue.GetConsumingEnumerable())
            {
                try
                {
                    process.Start();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        }
    }
}
