// Tests and demos that start tor from this code must append ../shared/tor/loopback-only.torrc (UseDefaultFallbackDirs 0 ...): see Tor.LoopbackOnly in tests.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Guise.Errors;

namespace Guise.Probe;

public sealed record TorProbeOptions
{
    public string TorBinary { get; init; } = "tor";

    /// <summary>
    /// The ClientTransportPlugin command for a transport (e.g. <c>exec /usr/bin/obfs4proxy</c>),
    /// or null when tor cannot use it.
    /// </summary>
    public required Func<string, string?> PluginCommand { get; init; }

    /// <summary>Lines appended to every torrc (e.g. the loopback-only lines in tests).</summary>
    public IReadOnlyList<string> ExtraTorrcLines { get; init; } = [];

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Stop at the first "new bridge descriptor" instead of waiting for 100 %: the descriptor is
    /// fetched through the tunnel, so it proves the bridge and transport work end to end; without
    /// directory authorities (a loopback test network) tor never reaches 100 %.
    /// </summary>
    public bool StopAtDescriptor { get; init; }

    /// <summary>Keep bridge addresses and fingerprints in the collected tor logs.</summary>
    public bool UnsafeLogs { get; init; }

    /// <summary>Where each run's DataDirectory is made (and removed); the system temp dir by default.</summary>
    public string? WorkRoot { get; init; }
}

/// <summary>
/// Runs a tor client with one bridge and records its bootstrap, as OONI's vanilla_tor and torsf
/// tests do: the last "Bootstrapped N% (tag): summary" line, the time to 100 % and the time to the
/// bridge descriptor. The tor process is stopped by its PID (with its PT children).
/// </summary>
public sealed partial class TorBootstrap(TorProbeOptions options)
{
    [GeneratedRegex(@"Bootstrapped (\d{1,3})%(?: \(([a-z_]+)\))?: (.*)$")]
    private static partial Regex BootstrapLine();

    [GeneratedRegex(@"^Tor (\d+\.\d+\.\d+\.\d+\S*)")]
    private static partial Regex VersionLine();

    /// <summary>The torrc for one bridge (SOCKS port chosen by tor).</summary>
    public string Torrc(ProbeTarget target, string dataDirectory)
    {
        var sb = new StringBuilder();
        sb.Append("DataDirectory ").AppendLine(dataDirectory);
        sb.AppendLine("SocksPort auto");
        sb.AppendLine("UseBridges 1");
        if (!target.IsVanilla)
        {
            var plugin = options.PluginCommand(target.Transport)
                ?? throw new PtException(PtErrorKind.Config, $"tor has no client plugin for '{target.Transport}'");
            sb.Append("ClientTransportPlugin ").Append(target.Transport).Append(' ').AppendLine(plugin);
        }
        sb.Append("Bridge ").AppendLine(target.BridgeLine);
        sb.AppendLine("Log notice stdout");
        foreach (var line in options.ExtraTorrcLines)
            sb.AppendLine(line.Trim());
        return sb.ToString();
    }

    public async Task<TorResult> RunAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var root = Path.Combine(options.WorkRoot ?? Path.GetTempPath(), "guise-probe-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(root);
        var logs = new List<string>();
        var gate = new Lock();
        var progress = 0;
        string tag = "", summary = "", version = "";
        double bootstrapTime = 0;
        double? descriptorTime = null;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        Process? process = null;
        try
        {
            var torrcPath = Path.Combine(root, "torrc");
            await File.WriteAllTextAsync(torrcPath, Torrc(target, Path.Combine(root, "data")), cancellationToken).ConfigureAwait(false);
            var psi = new ProcessStartInfo(options.TorBinary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add("-f");
            psi.ArgumentList.Add(torrcPath);
            process = new Process { StartInfo = psi };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not { } line)
                    return;
                lock (gate)
                {
                    if (version.Length == 0 && line.Contains("Tor ", StringComparison.Ordinal))
                    {
                        var at = line.IndexOf("Tor ", StringComparison.Ordinal);
                        var m = VersionLine().Match(line[at..]);
                        if (m.Success)
                            version = m.Groups[1].Value.TrimEnd(' ', '(');
                    }
                    var b = BootstrapLine().Match(line);
                    if (b.Success)
                    {
                        progress = int.Parse(b.Groups[1].Value, CultureInfo.InvariantCulture);
                        tag = b.Groups[2].Value;
                        summary = b.Groups[3].Value;
                        logs.Add(Scrub(line, target));
                        if (progress == 100)
                        {
                            bootstrapTime = clock.Elapsed.TotalSeconds;
                            done.TrySetResult();
                        }
                    }
                    else if (line.Contains("new bridge descriptor", StringComparison.Ordinal))
                    {
                        descriptorTime ??= clock.Elapsed.TotalSeconds;
                        logs.Add(Scrub(line, target));
                        if (options.StopAtDescriptor)
                            done.TrySetResult();
                    }
                    else if (line.Contains("[warn]", StringComparison.Ordinal) || line.Contains("[err]", StringComparison.Ordinal))
                    {
                        if (logs.Count < 200)
                            logs.Add(Scrub(line, target));
                    }
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.Timeout);
            var exited = process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAny(done.Task, exited, Task.Delay(System.Threading.Timeout.Infinite, deadline.Token)).ConfigureAwait(false);

            lock (gate)
            {
                string? failure = null, error = null;
                var goal = options.StopAtDescriptor ? "bridge_descriptor" : "bootstrap_100";
                if (!done.Task.IsCompleted)
                {
                    if (cancellationToken.IsCancellationRequested)
                        (failure, error) = (ProbeFailure.OoniString(PtErrorKind.Cancelled), "interrupted");
                    else if (exited.IsCompleted)
                        (failure, error) = ($"unknown_failure: tor exited with code {process.ExitCode}", "unknown-error");
                    else
                        (failure, error) = (ProbeFailure.OoniString(PtErrorKind.Timeout), "timeout-reached");
                }
                return new TorResult(progress, tag, summary, bootstrapTime, descriptorTime, failure, error,
                    options.Timeout.TotalSeconds, [.. logs], version, target.Transport, goal);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or PtException)
        {
            return new TorResult(0, "", "", 0, null, $"unknown_failure: cannot run tor: {e.Message}", "unknown-error",
                options.Timeout.TotalSeconds, [.. logs], version, target.Transport, options.StopAtDescriptor ? "bridge_descriptor" : "bootstrap_100");
        }
        finally
        {
            if (process is not null)
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (InvalidOperationException)
                {
                    // Never started, or already gone.
                }
                process.Dispose();
            }
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A PT may still be writing its state as it dies; a leftover temp dir is harmless.
            }
        }
    }

    private string Scrub(string line, ProbeTarget target)
    {
        if (options.UnsafeLogs)
            return line;
        line = line.Replace(target.Address.Host, "[scrubbed]", StringComparison.Ordinal);
        if (target.Fingerprint is { } fp)
            line = line.Replace(fp, "[scrubbed]", StringComparison.OrdinalIgnoreCase);
        return line;
    }
}
