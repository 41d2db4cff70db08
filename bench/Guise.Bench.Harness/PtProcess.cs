using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Guise.Bench.Harness;

/// <summary>
/// A managed proxy started as Tor starts one: TOR_PT_* in the environment, stdin a pipe that
/// Tor keeps open (TOR_PT_EXIT_ON_STDIN_CLOSE=1), stdout read line by line. A dedicated thread
/// reads stdout so a line's arrival time is taken without waiting for the thread pool.
/// Stopping closes stdin, then kills this process (by its own PID) if it lingers.
/// </summary>
internal sealed class PtProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<(string Line, long Timestamp)> _lines = [];
    private readonly object _lock = new();
    private readonly StringBuilder _stderr = new();
    private readonly Thread _reader;
    private readonly long _started;

    private PtProcess(Process process, long started)
    {
        _process = process;
        _started = started;
        _reader = new Thread(ReadStdout) { IsBackground = true, Name = "pt-stdout" };
    }

    public int Pid => _process.Id;

    public string Name { get; private init; } = "";

    /// <summary>Starts <paramref name="implementation"/> with the given TOR_PT_* variables (all others of that prefix removed).</summary>
    public static PtProcess Start(Implementation implementation, IReadOnlyDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(implementation.Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("TOR_PT_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        psi.Environment.Remove(Program.InlineCompletionsVariable);
        foreach (var (k, v) in environment)
            psi.Environment[k] = v;
        psi.Environment["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1";
        var process = new Process { StartInfo = psi };
        var started = Stopwatch.GetTimestamp();
        process.Start();
        var pt = new PtProcess(process, started) { Name = implementation.Name };
        pt._reader.Start();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (pt._lock)
            {
                if (pt._stderr.Length < 16_384)
                    pt._stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        return pt;
    }

    private void ReadStdout()
    {
        try
        {
            while (_process.StandardOutput.ReadLine() is { } line)
            {
                var now = Stopwatch.GetTimestamp();
                lock (_lock)
                {
                    _lines.Add((line, now));
                    Monitor.PulseAll(_lock);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        lock (_lock)
        {
            _eof = true;
            Monitor.PulseAll(_lock);
        }
    }

    private bool _eof;

    /// <summary>
    /// Waits for a stdout line matching <paramref name="match"/>; returns it and the time from
    /// process start to its arrival. Throws with the transcript when the process exits or the
    /// deadline passes first.
    /// </summary>
    public (string Line, TimeSpan SinceStart) WaitForLine(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_lock)
        {
            var seen = 0;
            while (true)
            {
                for (; seen < _lines.Count; seen++)
                {
                    var (line, ts) = _lines[seen];
                    if (line.StartsWith("ENV-ERROR", StringComparison.Ordinal) || line.StartsWith("VERSION-ERROR", StringComparison.Ordinal)
                        || line.StartsWith("CMETHOD-ERROR", StringComparison.Ordinal) || line.StartsWith("SMETHOD-ERROR", StringComparison.Ordinal))
                        throw new InvalidOperationException($"{Name}: {line}\n{Transcript()}");
                    if (match(line))
                        return (line, Stopwatch.GetElapsedTime(_started, ts));
                }
                var left = deadline - Stopwatch.GetTimestamp();
                if (_eof || left <= 0)
                    throw new InvalidOperationException($"{Name}: waiting for {what}: {(_eof ? "stdout closed" : "timed out")}\n{Transcript()}");
                Monitor.Wait(_lock, TimeSpan.FromSeconds(Math.Min(1.0, (double)left / Stopwatch.Frequency)));
            }
        }
    }

    public string Transcript()
    {
        lock (_lock)
            return "stdout:\n" + string.Join('\n', _lines.Select(l => l.Line)) + "\nstderr:\n" + _stderr;
    }

    /// <summary>VmRSS of the process in bytes, from /proc/PID/status.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException($"no VmRSS for {Name} (pid {Pid})");
    }

    /// <summary>
    /// CPU time the process has used (user + system, all threads, living or exited), from
    /// /proc/PID/stat in clock ticks. Unlike wall-clock rates this does not move when other
    /// processes load the machine, so it shows where a figure's time goes.
    /// </summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count from after it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
    }

    // sysconf(_SC_CLK_TCK) is 100 on every Linux that .NET runs on.
    private const int ClockTicksPerSecond = 100;

    /// <summary>Closes stdin (the managed-proxy way to say stop); kills this process by PID if it is still there after a grace period.</summary>
    public void Stop(TimeSpan grace)
    {
        try
        {
            if (_process.HasExited)
                return;
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            if (!_process.WaitForExit(grace))
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(2));
        _process.Dispose();
    }
}
