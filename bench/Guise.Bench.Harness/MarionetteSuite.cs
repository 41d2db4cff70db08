using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Guise.Bench.Harness;

/// <summary>
/// <c>--marionette FORMATS</c>: guise's marionette transport, one chain per format (server
/// option <c>format=...</c>; the client gets format and key from SMETHOD ARGS, as tor would from
/// the bridge line). Per format: goodput of one bulk stream each way (SHA-256 checked, as the
/// obfs4 suite's bulk figures), wire bytes per payload byte through the counting forwarder (in
/// the payload's direction, and both directions together: a lock-step format pays for the
/// peer's answers too) and time to first byte. Runs interleave formats, as the main suite does.
/// Writes marionette.json (schema "guise-bench-marionette/1") and marionette.md.
/// </summary>
internal static class MarionetteSuite
{
    public const string Schema = "guise-bench-marionette/1";

    public static readonly Figure BothWaysUp = new("wire_both_ways_per_payload_up", "bytes on the wire both ways per payload byte, upload", "B/B", false, "F4");
    public static readonly Figure BothWaysDown = new("wire_both_ways_per_payload_down", "bytes on the wire both ways per payload byte, download", "B/B", false, "F4");

    // Same keys as the obfs4 suite's; two decimals, as the slow formats move well under 1 MiB/s.
    public static readonly Figure BulkUp1 = Figure.BulkUp1 with { Format = "F2" };
    public static readonly Figure BulkDown1 = Figure.BulkDown1 with { Format = "F2" };

    public static readonly IReadOnlyList<Figure> Figures =
        [BulkUp1, BulkDown1, Figure.OverheadUp, Figure.OverheadDown, BothWaysUp, BothWaysDown, Figure.Ttfb];

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAndWriteAsync(BenchOptions options, string command, TextWriter output, TextWriter log, CancellationToken ct)
    {
        var results = await RunAsync(options, command, log, ct).ConfigureAwait(false);
        Directory.CreateDirectory(options.OutputDirectory);
        var json = Path.Combine(options.OutputDirectory, "marionette.json");
        var md = Path.Combine(options.OutputDirectory, "marionette.md");
        WriteJson(results, json);
        var table = Markdown(results);
        await File.WriteAllTextAsync(md, table, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), ct).ConfigureAwait(false);
        await output.WriteLineAsync(table).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote {json} and {md}").ConfigureAwait(false);
        return results.HasErrors ? 1 : 0;
    }

    public static async Task<BenchResults> RunAsync(BenchOptions o, string command, TextWriter log, CancellationToken ct)
    {
        var guise = new Implementation("guise", Path.GetFullPath(o.Guise));
        if (!File.Exists(guise.Path))
            throw new FileNotFoundException($"guise binary not found at {guise.Path} (run scripts/publish --native-only, or pass --guise)");
        var results = new BenchResults { Options = o, Command = command, LoadBefore = Runner.LoadAverage() };
        results.Binaries.Add(Runner.Describe(guise, o.Patience));
        foreach (var format in o.MarionetteFormats!)
            results.Chains.Add(new ChainResult(new ChainSpec(guise, guise, "marionette", ChainKind.Full, "format=" + format)));
        _ = Payload.Digest(o.MarionetteBytes);
        _ = Payload.Digest(Math.Min(64 << 10, o.MarionetteBytes));

        await using var target = new Target();
        for (var run = 1; run <= o.Runs; run++)
        {
            foreach (var result in results.Chains)
            {
                log.WriteLine($"[run {run}/{o.Runs}] {result.Spec.Id}");
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(o.Quick ? TimeSpan.FromSeconds(60) : TimeSpan.FromMinutes(15));
                try
                {
                    await RunChainAsync(result, target, o, log, deadline.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    var message = $"run {run}: {e.GetType().Name}: {e.Message}";
                    result.Errors.Add(message);
                    log.WriteLine($"  FAILED {message}");
                }
            }
        }
        if (target.Failures > 0)
            results.Chains[0].Errors.Add($"the target saw {target.Failures} broken transfers");
        results.Finished = DateTimeOffset.UtcNow;
        results.LoadAfter = Runner.LoadAverage();
        return results;
    }

    private static async Task RunChainAsync(ChainResult result, Target target, BenchOptions o, TextWriter log, CancellationToken ct)
    {
        using var chain = RunningChain.Start(result.Spec, target.EndPoint, o.Patience);
        // Warm-up, not counted.
        await Measure.BulkUploadMibpsAsync(chain, Math.Min(64 << 10, o.MarionetteBytes), ct).ConfigureAwait(false);

        Record(result, BulkUp1, await Measure.BulkUploadMibpsAsync(chain, o.MarionetteBytes, ct).ConfigureAwait(false), log);
        Record(result, BulkDown1, await Measure.BulkDownloadMibpsAsync(chain, o.MarionetteBytes, ct).ConfigureAwait(false), log);

        await using (var forwarder = new CountingForwarder(chain.ServerEndPoint))
        {
            var length = o.MarionetteBytes;
            forwarder.Reset();
            await using (var tunnel = await chain.OpenAsync(forwarder.EndPoint, ct).ConfigureAwait(false))
                await Measure.UploadAsync(tunnel, length, ct).ConfigureAwait(false);
            await Measure.WaitClosedAsync(forwarder, o.Patience, ct).ConfigureAwait(false);
            Record(result, Figure.OverheadUp, (double)forwarder.ToServer / length, log);
            Record(result, BothWaysUp, (double)(forwarder.ToServer + forwarder.ToClient) / length, log);

            forwarder.Reset();
            await using (var tunnel = await chain.OpenAsync(forwarder.EndPoint, ct).ConfigureAwait(false))
                await Measure.DownloadAsync(tunnel, length, ct).ConfigureAwait(false);
            await Measure.WaitClosedAsync(forwarder, o.Patience, ct).ConfigureAwait(false);
            Record(result, Figure.OverheadDown, (double)forwarder.ToClient / length, log);
            Record(result, BothWaysDown, (double)(forwarder.ToServer + forwarder.ToClient) / length, log);
        }

        var (_, _, ttfb) = await Measure.SequentialHandshakesAsync(chain, o.MarionetteTunnels, ct).ConfigureAwait(false);
        Record(result, Figure.Ttfb, ttfb, log);
    }

    private static void Record(ChainResult result, Figure figure, double value, TextWriter log)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw new InvalidOperationException($"{figure.Key} came out as {value}");
        result.Add(figure, value);
        log.WriteLine(string.Create(Inv, $"  {figure.Title}: {value.ToString(figure.Format, Inv)} {figure.Unit}"));
    }

    public static void WriteJson(BenchResults r, string path)
    {
        using var file = File.Create(path);
        using var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        var o = r.Options;
        w.WriteStartObject();
        Report.WriteHeader(w, r, Schema);
        w.WriteNumber("transfer_bytes", o.MarionetteBytes);
        w.WriteNumber("sequential_tunnels", o.MarionetteTunnels);
        Report.WriteMachine(w, r);
        var b = r.Binaries[0];
        w.WriteStartObject("binary");
        w.WriteString("path", b.Path);
        w.WriteString("version", b.Version);
        w.WriteNumber("size_bytes", b.SizeBytes);
        w.WriteNumber("shipped_bytes", b.ShippedBytes);
        w.WriteEndObject();
        w.WriteStartArray("formats");
        foreach (var c in r.Chains)
        {
            w.WriteStartObject();
            w.WriteString("format", c.Spec.ServerOptions!["format=".Length..]);
            w.WriteStartObject("figures");
            foreach (var f in Figures)
            {
                if (!c.Samples.TryGetValue(f.Key, out var samples) || samples.Count == 0)
                    continue;
                Report.WriteSamples(w, f, samples);
            }
            w.WriteEndObject();
            w.WriteStartArray("errors");
            foreach (var e in c.Errors)
                w.WriteStringValue(e);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static string Markdown(BenchResults r)
    {
        var o = r.Options;
        var machine = Machine.Describe();
        var sb = new StringBuilder();
        sb.AppendLine(Inv, $"Guise marionette benchmark, {r.Started:yyyy-MM-dd HH:mm} UTC, `{r.Command}`{(o.Quick ? " (**quick: sizes too small to mean anything**)" : "")}");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Machine: {machine["cpu"]}, {machine["cores"]} cores, {machine["memory"]}, {machine["os"]}, Linux {machine["kernel"]}; load average {r.LoadBefore} before, {r.LoadAfter} after.");
        sb.AppendLine(Inv, $"Managed mode on loopback, harness → SOCKS5 → guise client → marionette → guise server → sink. {o.Runs} run(s); each cell is the median [min–max] over runs.");
        sb.AppendLine(Inv, $"Sizes: {Report.Bytes(o.MarionetteBytes)} per transfer (bulk and byte counter), {o.MarionetteTunnels} sequential tunnels for time to first byte.");
        sb.AppendLine();
        sb.Append("| format |").Append(string.Concat(Figures.Select(f => $" {f.Title} ({f.Unit}) |"))).AppendLine();
        sb.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", Figures.Count))).AppendLine();
        foreach (var c in r.Chains)
            sb.Append(Inv, $"| `{c.Spec.ServerOptions!["format=".Length..]}` |").Append(string.Concat(Figures.Select(f => $" {Report.Cell(c, f)} |"))).AppendLine();
        Report.AppendErrors(sb, r.Chains);
        return sb.ToString();
    }
}
