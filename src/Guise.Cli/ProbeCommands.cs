using System.CommandLine;
using System.Globalization;
using Guise.Errors;
using Guise.Probe;
using Guise.Probe.Geo;

namespace Guise.Cli;

/// <summary><c>guise probe</c>: measure which bridges and transports work from here.</summary>
internal static class ProbeCommands
{
    public static Command Probe()
    {
        var targets = new Argument<string>("targets") { Description = "File of bridge lines: 'obfs4 IP:PORT FP cert=... iat-mode=0', 'plain IP:PORT', 'IP:PORT FP' (vanilla); optional '@LAT,LON' or '@CC' (country) claimed location last." };
        var ptBinary = new Option<string[]>("--pt-binary") { Description = "NAME=PATH: measure NAME through this PT binary's SOCKS port (e.g. obfs4=/usr/bin/obfs4proxy); repeatable." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the JSONL report here (default: standard output; the summary goes to standard error)." };
        var parallel = new Option<int>("--parallel", "-j") { Description = "Targets measured at once.", DefaultValueFactory = _ => 4 };
        var tries = new Option<int>("--tries") { Description = "TCP connects per target (min/median RTT).", DefaultValueFactory = _ => 3 };
        var connectTimeout = new Option<double>("--connect-timeout") { Description = "Seconds per TCP connect.", DefaultValueFactory = _ => 10 };
        var handshakeTimeout = new Option<double>("--handshake-timeout") { Description = "Seconds for the transport handshake.", DefaultValueFactory = _ => 20 };
        var tor = new Option<bool>("--tor") { Description = "Also bootstrap a tor client with just that bridge (after a good handshake)." };
        var torBinary = new Option<string>("--tor-binary") { Description = "The tor to run.", DefaultValueFactory = _ => "tor" };
        var torTimeout = new Option<double>("--tor-timeout") { Description = "Seconds tor may take.", DefaultValueFactory = _ => 120 };
        var torStop = new Option<string>("--tor-until") { Description = "'done' (100 %) or 'descriptor' (the bridge descriptor arrived through the tunnel).", DefaultValueFactory = _ => "done" };
        var torrcAppend = new Option<string?>("--torrc-append") { Description = "A file whose lines go at the end of every torrc." };
        var cc = new Option<string>("--probe-cc") { Description = "Country code of this vantage point, for the report.", DefaultValueFactory = _ => "ZZ" };
        var asn = new Option<string>("--probe-asn") { Description = "AS number of this vantage point (AS1234), for the report.", DefaultValueFactory = _ => "AS0" };
        var vantage = new Option<string?>("--vantage") { Description = "LAT,LON of this vantage point: checks each target's claimed @LAT,LON or @CC against its RTT, and is written into every record (for guise locate)." };
        var unsafeAddresses = new Option<bool>("--unsafe-include-addresses") { Description = "Keep bridge addresses, fingerprints and args in the report and the table (scrubbed by default)." };
        var cmd = new Command("probe", "Measure bridges: TCP connect RTT, transport handshake, optional tor bootstrap; OONI-format JSONL.\n" +
            "Exit code: 0 every target works, 1 some do not, 2 bad arguments or targets file, 130 interrupted.")
        {
            targets, ptBinary, output, parallel, tries, connectTimeout, handshakeTimeout, tor, torBinary, torTimeout, torStop,
            torrcAppend, cc, asn, vantage, unsafeAddresses,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                GeoPoint? where = null;
                if (parse.GetValue(vantage) is { } v)
                    where = GeoPoint.TryParse(v, out var p) ? p : throw new PtException(PtErrorKind.Config, $"--vantage '{v}': write LAT,LON in decimal degrees");
                var until = parse.GetValue(torStop);
                if (until is not ("done" or "descriptor"))
                    throw new PtException(PtErrorKind.Config, "--tor-until is 'done' or 'descriptor'");
                var appendFile = parse.GetValue(torrcAppend);
                var options = new ProbeAppOptions
                {
                    TargetsFile = parse.GetValue(targets)!,
                    PtBinaries = parse.GetValue(ptBinary) ?? [],
                    Probe = new ProbeOptions
                    {
                        Parallel = Positive(parse.GetValue(parallel), "--parallel"),
                        Tries = Positive(parse.GetValue(tries), "--tries"),
                        ConnectTimeout = Seconds(parse.GetValue(connectTimeout), "--connect-timeout"),
                        HandshakeTimeout = Seconds(parse.GetValue(handshakeTimeout), "--handshake-timeout"),
                        Vantage = where,
                    },
                    Report = new ProbeReportContext
                    {
                        ProbeCc = parse.GetValue(cc)!,
                        ProbeAsn = parse.GetValue(asn)!,
                        IncludeAddresses = parse.GetValue(unsafeAddresses),
                        Annotations = new Dictionary<string, string> { ["tor"] = parse.GetValue(tor) ? "1" : "0" },
                    },
                    Tor = parse.GetValue(tor),
                    TorBinary = parse.GetValue(torBinary)!,
                    TorTimeout = Seconds(parse.GetValue(torTimeout), "--tor-timeout"),
                    TorStopAtDescriptor = until == "descriptor",
                    TorrcAppend = appendFile is null ? [] : await File.ReadAllLinesAsync(appendFile, ct),
                    GuisePluginCommand = Environment.ProcessPath,
                };
                var path = parse.GetValue(output);
                await using var file = path is null or "-" ? null : new StreamWriter(path, append: false);
                var jsonl = file ?? Console.Out;
                var console = file is null ? Console.Error : Console.Out;
                var tty = file is null ? !Console.IsErrorRedirected : !Console.IsOutputRedirected;
                return await ProbeApp.RunAsync(options, jsonl, console, tty, ct);
            }
            catch (Exception e) when (e is PtException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"guise probe: {e.Message}");
                return ProbeApp.ExitConfigError;
            }
        });
        return cmd;
    }

    public static Command LocateCommand()
    {
        var files = new Argument<string[]>("files") { Description = "guise probe JSONL reports, from one or more vantage points (each run with --vantage).", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("locate", "Combine probe reports from several vantage points: intersect each target's RTT discs and check its claimed location.\n" +
            "Exit code: 0 every claim is consistent, 1 some are not (or the discs contradict each other), 2 bad input.")
        {
            files,
        };
        cmd.SetAction((parse, ct) => OnReportsAsync("locate", parse.GetValue(files)!, (records, shapes) =>
        {
            var results = Locate.Run(records, shapes);
            Console.Out.Write(Locate.Table(results));
            return Task.FromResult(results.Any(r => r.Verdict is "inconsistent" or "disjoint") ? 1 : 0);
        }, ct));
        return cmd;
    }

    public static Command Report()
    {
        var files = new Argument<string[]>("files") { Description = "guise probe JSONL reports.", Arity = ArgumentArity.OneOrMore };
        var html = new Option<string>("--html") { Description = "Write the self-contained HTML page (map and tables) here.", Required = true };
        var cmd = new Command("report", "Render probe reports as one self-contained HTML page: a world map (vantage points, claims, feasible regions) and the results.")
        {
            files, html,
        };
        cmd.SetAction((parse, ct) => OnReportsAsync("report", parse.GetValue(files)!, async (records, shapes) =>
        {
            var page = HtmlReport.Render(records, Locate.Run(records, shapes), shapes, DateTimeOffset.UtcNow);
            var path = parse.GetValue(html)!;
            await File.WriteAllTextAsync(path, page, ct);
            Console.Out.WriteLine($"{path}: {records.Count} measurements");
            return 0;
        }, ct));
        return cmd;
    }

    /// <summary>Loads the JSONL reports and runs <paramref name="action"/>; bad input is exit code 2 with one line on stderr.</summary>
    private static async Task<int> OnReportsAsync(string command, string[] files, Func<IReadOnlyList<ProbeRecord>, CountryShapes, Task<int>> action, CancellationToken ct)
    {
        try
        {
            var shapes = CountryShapes.Default;
            return await action(await ProbeRecords.LoadAsync(files, shapes, ct), shapes);
        }
        catch (Exception e) when (e is PtException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"guise {command}: {e.Message}");
            return ProbeApp.ExitConfigError;
        }
    }

    private static int Positive(int value, string name) =>
        value >= 1 ? value : throw new PtException(PtErrorKind.Config, $"{name} must be at least 1");

    private static TimeSpan Seconds(double value, string name) =>
        value > 0 ? TimeSpan.FromSeconds(value) : throw new PtException(PtErrorKind.Config, string.Create(CultureInfo.InvariantCulture, $"{name} must be positive, not {value}"));
}
