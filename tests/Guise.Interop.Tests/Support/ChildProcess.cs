using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Guise.Interop.Tests.Support;

/// <summary>
/// A child process whose stdout/stderr lines are collected and can be awaited. Disposing it kills
/// the process by its own PID (never by name) and waits for it.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly StringBuilder _transcript = new();
    private readonly Lock _lock = new();
    private event Action<string>? LineReceived;

    private ChildProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public Process Process => _process;

    public IReadOnlyCollection<string> Lines => _lines;

    public string Transcript
    {
        get { lock (_lock) return _transcript.ToString(); }
    }

    public static ChildProcess Start(string file, IEnumerable<string> args, IDictionary<string, string>? environment = null,
        bool clearPtEnvironment = true, bool redirectStdin = true)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (clearPtEnvironment)
        {
            foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("TOR_PT_", StringComparison.Ordinal)).ToList())
                psi.Environment.Remove(key);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
                psi.Environment[k] = v;
        }
        var child = new ChildProcess(new Process { StartInfo = psi, EnableRaisingEvents = true });
        child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data, "");
        child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, "[stderr] ");
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    private void OnLine(string? line, string prefix)
    {
        if (line is null)
            return;
        lock (_lock)
        {
            _transcript.Append(prefix).AppendLine(line);
            if (prefix.Length == 0)
                _lines.Enqueue(line);
        }
        LineReceived?.Invoke(line);
    }

    /// <summary>Waits for a stdout line matching <paramref name="match"/>; fails with the transcript on timeout.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(string line)
        {
            if (match(line))
                found.TrySetResult(line);
        }
        LineReceived += Handler;
        try
        {
            foreach (var line in _lines)
            {
                if (match(line))
                    return line;
            }
            var exited = _process.WaitForExitAsync();
            var winner = await Task.WhenAny(found.Task, exited, Task.Delay(timeout));
            if (winner == found.Task)
                return await found.Task;
            if (winner == exited)
            {
                // The exit can be seen before the last stdout lines are: wait for EOF on the pipes.
                _process.WaitForExit();
                foreach (var line in _lines)
                {
                    if (match(line))
                        return line;
                }
            }
            var why = winner == exited ? $"the process exited with code {_process.ExitCode}" : $"nothing after {timeout.TotalSeconds:F0} s";
            throw new Xunit.Sdk.XunitException($"waiting for {what}: {why}. Output:\n{Transcript}");
        }
        finally
        {
            LineReceived -= Handler;
        }
    }

    /// <summary>Waits for the exit and then for the last output lines (WaitForExit(int) alone does not).</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
            return false;
        _process.WaitForExit();
        return true;
    }

    public void CloseStdin() => _process.StandardInput.Close();

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
