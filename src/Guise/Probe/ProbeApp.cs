using System.Globalization;
using System.Text;
using Guise.Errors;
using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Transports;

namespace Guise.Probe;

/// <summary>Everything <c>guise probe</c> was asked to do.</summary>
public sealed record ProbeAppOptions
{
    public required string TargetsFile { get; init; }

    /// <summary>NAME=PATH: measure NAME through this PT binary's SOCKS port (it replaces Guise's own NAME).</summary>
    public IReadOnlyList<string> PtBinaries { get; init; } = [];

    public ProbeOptions Probe { get; init; } = new();

    public ProbeReportContext Report { get; init; } = new();

    /// <summary>Run a tor client per target; <see cref="TorProbeOptions.PluginCommand"/> is filled in here.</summary>
    public bool Tor { get; init; }

    public string TorBinary { get; init; } = "tor";

    public TimeSpan TorTimeout { get; init; } = TimeSpan.FromSeconds(120);

    public bool TorStopAtDescriptor { get; init; }

    public IReadOnlyList<string> TorrcAppend { get; init; } = [];

    /// <summary>The command tor runs for Guise's own transports (the guise binary), or null.</summary>
    public string? GuisePluginCommand { get; init; }
}

/// <summary>
/// <c>guise probe</c> as a library call: starts the external PTs, measures, writes JSONL as each
/// target finishes, shows progress and a summary, and returns the exit code.
/// </summary>
public static class ProbeApp
{
    public const int ExitAllWorked = 0;
    public const int ExitSomeFailed = 1;
    public const int ExitConfigError = 2;
    public const int ExitInterrupted = 130;

    public static async Task<int> RunAsync(ProbeAppOptions options, TextWriter jsonl, TextWriter console, bool tty, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<ProbeTarget> targets;
        var hosts = new List<PtHost>();
        var external = new List<ITransport>();
        var pluginPaths = new Dictionary<string, string>(StringComparer.Ordinal);
        var stateRoot = Path.Combine(Path.GetTempPath(), "guise-probe-pt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            targets = await ProbeTargetsFile.LoadAsync(options.TargetsFile, cancellationToken).ConfigureAwait(false);
            foreach (var spec in options.PtBinaries)
            {
                var eq = spec.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || eq == spec.Length - 1 || !TransportRegistry.IsCIdentifier(spec[..eq]))
                    throw new PtException(PtErrorKind.Config, $"--pt-binary '{spec}': write NAME=PATH (e.g. obfs4=/usr/bin/obfs4proxy)");
                pluginPaths[spec[..eq]] = spec[(eq + 1)..];
            }
            var needed = targets.Select(t => t.Transport).ToHashSet(StringComparer.Ordinal);
            foreach (var (name, path) in pluginPaths.Where(p => needed.Contains(p.Key)))
            {
                var host = new PtHost(new PtLaunch
                {
                    Program = path,
                    StateDirectory = Path.Combine(stateRoot, name),
                    Client = new PtClientRole([name]),
                }, new PtHostOptions { Restart = PtRestartPolicy.Never });
                hosts.Add(host);
                var ready = await host.StartAsync(cancellationToken).ConfigureAwait(false);
                var method = ready.Client(name)
                    ?? throw new PtException(PtErrorKind.Config, $"--pt-binary {name}: {path} offered no '{name}' client method");
                if (method.Protocol != "socks5")
                    throw new PtException(PtErrorKind.Config, $"--pt-binary {name}: {path} offers {method.Protocol}, not socks5");
                external.Add(new WrappedSocksTransport(name, HostPort.ParseIPEndPoint(method.Address.ToString(), "CMETHOD address")));
                console.WriteLine($"external PT '{name}': {Path.GetFileName(path)} (pid {ready.ProcessId}) SOCKS5 ready");
            }

            var probeOptions = options.Probe;
            if (options.Tor)
            {
                var guise = options.GuisePluginCommand;
                probeOptions = probeOptions with
                {
                    Tor = new TorProbeOptions
                    {
                        TorBinary = options.TorBinary,
                        Timeout = options.TorTimeout,
                        StopAtDescriptor = options.TorStopAtDescriptor,
                        UnsafeLogs = options.Report.IncludeAddresses,
                        ExtraTorrcLines = options.TorrcAppend,
                        PluginCommand = name => pluginPaths.TryGetValue(name, out var p) ? $"exec {p}" : guise is null ? null : $"exec {guise}",
                    },
                };
            }
            var runner = new ProbeRunner(probeOptions, ProbeRunner.Transports(TransportRegistry.Default, external));
            runner.Validate(targets, Path.GetFileName(options.TargetsFile));

            var progress = new ProbeProgress(console, tty, targets.Count, options.Report.IncludeAddresses);
            var report = options.Report with { Vantage = options.Report.Vantage ?? options.Probe.Vantage };
            var results = await runner.RunAsync(targets, r =>
            {
                jsonl.WriteLine(OoniReport.ToJsonLine(r, report));
                jsonl.Flush();
                progress.Finished(r);
            }, progress.Started, cancellationToken).ConfigureAwait(false);
            progress.Done();

            var ordered = results.OrderBy(r => r.Target.Line).ToList();
            console.Write(SummaryTable(ordered, options.Report.IncludeAddresses));
            var notRun = targets.Count - results.Count;
            if (cancellationToken.IsCancellationRequested)
            {
                console.WriteLine($"interrupted: {results.Count} of {targets.Count} targets written ({notRun} not started)");
                return ExitInterrupted;
            }
            var ok = results.Count(r => r.Success);
            console.WriteLine($"{ok} of {targets.Count} targets work");
            return ok == targets.Count ? ExitAllWorked : ExitSomeFailed;
        }
        catch (PtException e)
        {
            console.WriteLine($"guise probe: {e.Message}");
            return e.Kind == PtErrorKind.Cancelled ? ExitInterrupted : ExitConfigError;
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync().ConfigureAwait(false);
            try
            {
                if (Directory.Exists(stateRoot))
                    Directory.Delete(stateRoot, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>The human table: one row per target, in file order.</summary>
    public static string SummaryTable(IReadOnlyList<ProbeResult> results, bool includeAddresses)
    {
        var rows = new List<string[]> { new[] { "line", "transport", "target", "tcp min/med ms", "handshake", "tor", "location", "verdict" } };
        foreach (var r in results)
        {
            var tcp = r.MinRttMs is { } min
                ? string.Create(CultureInfo.InvariantCulture, $"{min:F1}/{r.MedianRttMs:F1} ({r.TcpConnect.Count(c => c.Success)}/{r.TcpConnect.Count})")
                : $"- (0/{r.TcpConnect.Count})";
            var hs = r.Handshake is { } h ? string.Create(CultureInfo.InvariantCulture, $"{h.Verdict} {h.Seconds * 1000:F0}ms") : "-";
            var tor = r.Tor is { } t
                ? string.Create(CultureInfo.InvariantCulture, $"{t.Progress}% {t.Tag}{(t.BridgeDescriptorTime is { } d ? $" desc@{d:F1}s" : "")}")
                : "-";
            var loc = r.Location?.Verdict ?? "-";
            var target = includeAddresses ? r.Target.Address.ToString() : OoniReport.TargetId(r.Target);
            rows.Add([r.Target.Line.ToString(CultureInfo.InvariantCulture), r.Target.Transport, target, tcp, hs, tor, loc,
                $"{r.Verdict}: {ProbeFailure.Explain(r.Verdict)}"]);
        }
        var widths = Enumerable.Range(0, rows[0].Length - 1).Select(i => rows.Max(row => row[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
                sb.Append(i < widths.Length ? row[i].PadRight(widths[i] + 2) : row[i]);
            sb.Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>A one-line progress bar on a terminal (ANSI: carriage return, erase line); plain lines otherwise.</summary>
internal sealed class ProbeProgress(TextWriter console, bool tty, int total, bool includeAddresses)
{
    private readonly Lock _lock = new();
    private int _done, _running, _failed;

    public void Started(ProbeTarget target)
    {
        lock (_lock)
        {
            _running++;
            if (tty)
                Draw();
        }
    }

    public void Finished(ProbeResult r)
    {
        lock (_lock)
        {
            _running--;
            _done++;
            if (!r.Success)
                _failed++;
            var what = includeAddresses ? r.Target.Address.ToString() : OoniReport.TargetId(r.Target);
            var line = string.Create(CultureInfo.InvariantCulture,
                $"[{_done}/{total}] line {r.Target.Line} {r.Target.Transport} {what}: {r.Verdict} ({r.Runtime:F1} s)");
            if (tty)
            {
                console.Write("\r\u001b[2K");
                console.WriteLine(line);
                Draw();
            }
            else
            {
                console.WriteLine(line);
            }
            console.Flush();
        }
    }

    public void Done()
    {
        if (tty)
        {
            lock (_lock)
                console.Write("\r\u001b[2K");
        }
    }

    private void Draw()
    {
        const int width = 30;
        var filled = total == 0 ? width : _done * width / total;
        console.Write($"\r\u001b[2K[{new string('#', filled)}{new string('.', width - filled)}] {_done}/{total} done, {_running} running, {_failed} failed");
        console.Flush();
    }
}
