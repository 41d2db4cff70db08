using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Guise.Bench.Harness;

/// <summary>A target from the performance issue, evaluated on one run's medians.</summary>
internal sealed record TargetCheck(string Name, string Rule, double? Value, bool? Met);

/// <summary>Writes results.json (schema "guise-bench/1") and results.md.</summary>
internal static class Report
{
    public const string Schema = "guise-bench/1";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static IReadOnlyList<(Figure Figure, string Chain, string Baseline, double Ratio)> Ratios(BenchResults r)
    {
        var list = new List<(Figure, string, string, double)>();
        var guise = r.Chains.First(c => c.Spec.Client.IsGuise && c.Spec.Server.IsGuise && c.Spec.Transport == "obfs4");
        var baselines = r.Chains.Where(c => c.Spec.Kind == ChainKind.Full && !c.Spec.Client.IsGuise).ToList();
        var plain = r.Chains.FirstOrDefault(c => c.Spec.Transport == "plain");
        foreach (var f in Figure.All)
        {
            foreach (var b in baselines)
            {
                if (guise.Median(f) is { } g && b.Median(f) is { } p && p != 0)
                    list.Add((f, guise.Spec.Id, b.Spec.Id, g / p));
            }
            if (plain is not null && f.Unit == "MiB/s" && guise.Median(f) is { } go && plain.Median(f) is { } pl && pl != 0)
                list.Add((f, guise.Spec.Id, plain.Spec.Id, go / pl));
        }
        return list;
    }

    public static IReadOnlyList<TargetCheck> Targets(BenchResults r)
    {
        var checks = new List<TargetCheck>();
        var ratios = Ratios(r);
        double? Ratio(Figure f, string baseline) => ratios.Where(x => x.Figure == f && x.Baseline == baseline).Select(x => (double?)x.Ratio).FirstOrDefault();
        foreach (var peer in r.Chains.Where(c => c.Spec.Kind == ChainKind.Full && !c.Spec.Client.IsGuise))
        {
            var bulk = Ratio(Figure.BulkUp1, peer.Spec.Id);
            checks.Add(new($"obfs4 bulk, 1 stream, vs {peer.Spec.Id}", "≥ 2×", bulk, bulk >= 2));
            var bulkPaired = Ratio(Figure.BulkUpPaired, peer.Spec.Id);
            checks.Add(new($"obfs4 bulk, 1 stream, vs {peer.Spec.Id}, blocks alternating (same moments)", "≥ 2×", bulkPaired, bulkPaired >= 2));
            var hs = Ratio(Figure.Handshakes, peer.Spec.Id);
            checks.Add(new($"handshakes/s vs {peer.Spec.Id}", "≥ 2×", hs, hs >= 2));
            var paired = Ratio(Figure.HandshakesPaired, peer.Spec.Id);
            checks.Add(new($"handshakes/s vs {peer.Spec.Id}, blocks alternating (same moments)", "≥ 2×", paired, paired >= 2));
            var rss = Ratio(Figure.RssPerTunnel, peer.Spec.Id);
            checks.Add(new($"RSS per idle tunnel vs {peer.Spec.Id}", "≤ 0.5×", rss, rss <= 0.5));
        }
        if (r.Chains.Any(c => c.Spec.Transport == "plain"))
        {
            var p = Ratio(Figure.BulkUp1, "guise/plain");
            checks.Add(new("obfs4 bulk, 1 stream, vs guise plain", "≥ 0.6×", p, p >= 0.6));
        }
        var startup = r.Chains.First(c => c.Spec.Client.IsGuise && c.Spec.Server.IsGuise && c.Spec.Transport == "obfs4").Median(Figure.Startup);
        checks.Add(new("guise start → CMETHODS DONE (ms)", "≤ 10 ms", startup, startup <= 10));
        var size = r.Binaries.First(b => b.Name == "guise").ShippedBytes / 1e6;
        checks.Add(new("guise binary + shipped native libraries (MB)", "≤ 10 MB", size, size <= 10));
        return checks;
    }

    /// <summary>The opening fields every results file of the harness shares.</summary>
    internal static void WriteHeader(Utf8JsonWriter w, BenchResults r, string schema)
    {
        w.WriteString("schema", schema);
        w.WriteString("started", r.Started.ToString("O", Inv));
        w.WriteString("finished", r.Finished.ToString("O", Inv));
        w.WriteString("command", r.Command);
        w.WriteBoolean("quick", r.Options.Quick);
        w.WriteNumber("runs", r.Options.Runs);
    }

    public static void WriteJson(BenchResults r, string path)
    {
        using var file = File.Create(path);
        using var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        var o = r.Options;
        w.WriteStartObject();
        WriteHeader(w, r, Schema);

        WriteMachine(w, r);

        w.WriteStartObject("sizes");
        w.WriteNumber("bulk_bytes", o.BulkBytes);
        w.WriteNumber("parallel_streams", o.ParallelStreams);
        w.WriteNumber("parallel_bytes_per_stream", o.ParallelBytesPerStream);
        w.WriteNumber("handshakes", o.Handshakes);
        w.WriteNumber("idle_tunnels", o.Tunnels);
        w.WriteNumber("startups", o.Startups);
        w.WriteNumber("overhead_bytes", o.OverheadBytes);
        w.WriteEndObject();

        w.WriteStartArray("binaries");
        foreach (var b in r.Binaries)
        {
            w.WriteStartObject();
            w.WriteString("name", b.Name);
            w.WriteString("path", b.Path);
            w.WriteString("version", b.Version);
            w.WriteNumber("size_bytes", b.SizeBytes);
            w.WriteNumber("shipped_bytes", b.ShippedBytes);
            w.WriteStartArray("shipped_files");
            foreach (var f in b.ShippedFiles)
                w.WriteStringValue(f);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("figures");
        foreach (var f in Figure.All)
        {
            w.WriteStartObject();
            w.WriteString("key", f.Key);
            w.WriteString("title", f.Title);
            w.WriteString("unit", f.Unit);
            w.WriteBoolean("higher_is_better", f.HigherIsBetter);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("chains");
        foreach (var c in r.Chains)
        {
            w.WriteStartObject();
            w.WriteString("id", c.Spec.Id);
            w.WriteString("client", c.Spec.Client.Name);
            w.WriteString("server", c.Spec.Server.Name);
            w.WriteString("transport", c.Spec.Transport);
            w.WriteString("kind", c.Spec.Kind == ChainKind.Full ? "full" : "mixed");
            w.WriteStartObject("figures");
            foreach (var f in Figure.All)
            {
                if (!c.Samples.TryGetValue(f.Key, out var samples) || samples.Count == 0)
                    continue;
                WriteSamples(w, f, samples);
            }
            w.WriteEndObject();
            w.WriteStartArray("errors");
            foreach (var e in c.Errors)
                w.WriteStringValue(e);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("ratios");
        foreach (var (f, chain, baseline, ratio) in Ratios(r))
        {
            w.WriteStartObject();
            w.WriteString("figure", f.Key);
            w.WriteString("chain", chain);
            w.WriteString("baseline", baseline);
            w.WriteNumber("ratio_of_medians", Math.Round(ratio, 4));
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("targets");
        foreach (var t in Targets(r))
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("rule", t.Rule);
            if (t.Value is { } v) w.WriteNumber("value", Math.Round(v, 4)); else w.WriteNull("value");
            if (t.Met is { } m) w.WriteBoolean("met", m); else w.WriteNull("met");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>"machine": what <see cref="Machine.Describe"/> says, and the load average before and after.</summary>
    internal static void WriteMachine(Utf8JsonWriter w, BenchResults r)
    {
        w.WriteStartObject("machine");
        foreach (var (k, v) in Machine.Describe())
            w.WriteString(k, v);
        w.WriteString("loadavg_before", r.LoadBefore);
        w.WriteString("loadavg_after", r.LoadAfter);
        w.WriteEndObject();
    }

    /// <summary>One figure's samples with their min, median and max, under the figure's key.</summary>
    internal static void WriteSamples(Utf8JsonWriter w, Figure f, IReadOnlyList<double> samples)
    {
        w.WriteStartObject(f.Key);
        w.WriteStartArray("samples");
        foreach (var s in samples)
            w.WriteNumberValue(Math.Round(s, 6));
        w.WriteEndArray();
        w.WriteNumber("min", Math.Round(samples.Min(), 6));
        w.WriteNumber("median", Math.Round(Stats.Median(samples), 6));
        w.WriteNumber("max", Math.Round(samples.Max(), 6));
        w.WriteEndObject();
    }

    public static string Markdown(BenchResults r)
    {
        var o = r.Options;
        var sb = new StringBuilder();
        var machine = Machine.Describe();
        sb.AppendLine(Inv, $"Guise benchmark, {r.Started:yyyy-MM-dd HH:mm} UTC, `{r.Command}`{(o.Quick ? " (**quick: sizes too small to mean anything**)" : "")}");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Machine: {machine["cpu"]}, {machine["cores"]} cores, {machine["memory"]}, {machine["os"]}, Linux {machine["kernel"]}; load average {r.LoadBefore} before, {r.LoadAfter} after.");
        sb.AppendLine(Inv, $"Managed mode on loopback, harness → SOCKS5 → client proxy → server proxy → sink. {o.Runs} run(s); each cell is the median [min–max] over runs.");
        sb.AppendLine(Inv, $"Sizes: bulk {Bytes(o.BulkBytes)}, {o.ParallelStreams} parallel × {Bytes(o.ParallelBytesPerStream)}, {o.Handshakes} sequential tunnels, {o.Tunnels} idle tunnels, {o.Startups} starts, {Bytes(o.OverheadBytes)} through the byte counter.");
        sb.AppendLine();

        var full = r.Chains.Where(c => c.Spec.Kind == ChainKind.Full).ToList();
        var guise = full.First(c => c.Spec.Client.IsGuise && c.Spec.Transport == "obfs4");
        var peers = full.Where(c => !c.Spec.Client.IsGuise).ToList();
        var plain = full.FirstOrDefault(c => c.Spec.Transport == "plain");
        var ratios = Ratios(r);

        sb.Append("| figure | unit |");
        foreach (var c in full)
            sb.Append(Inv, $" {c.Spec.Id} |");
        foreach (var p in peers)
            sb.Append(Inv, $" guise ÷ {p.Spec.Client.Name} |");
        if (plain is not null)
            sb.Append(" obfs4 ÷ plain |");
        sb.AppendLine();
        sb.Append("|---|---|").Append(string.Concat(Enumerable.Repeat("---:|", full.Count + peers.Count + (plain is null ? 0 : 1)))).AppendLine();
        foreach (var f in Figure.All)
        {
            if (full.All(c => !c.Samples.ContainsKey(f.Key)))
                continue;
            sb.Append(Inv, $"| {f.Title.Replace("N parallel", $"{o.ParallelStreams} parallel", StringComparison.Ordinal)} | {f.Unit} |");
            foreach (var c in full)
                sb.Append(Inv, $" {Cell(c, f)} |");
            foreach (var p in peers)
                sb.Append(Inv, $" {RatioCell(ratios, f, p.Spec.Id)} |");
            if (plain is not null)
                sb.Append(Inv, $" {(f.Unit == "MiB/s" ? RatioCell(ratios, f, plain.Spec.Id) : "")} |");
            sb.AppendLine();
        }
        sb.Append("| binary (+ shipped .so) | MB |");
        foreach (var c in full)
        {
            var b = r.Binaries.First(x => x.Name == c.Spec.Client.Name);
            sb.Append(Inv, $" {b.ShippedBytes / 1e6:F2} |");
        }
        foreach (var p in peers)
        {
            var pb = r.Binaries.First(x => x.Name == p.Spec.Client.Name);
            sb.Append(Inv, $" {(double)r.Binaries.First(x => x.Name == "guise").ShippedBytes / pb.ShippedBytes:F2}× |");
        }
        if (plain is not null)
            sb.Append(" |");
        sb.AppendLine();
        sb.AppendLine();

        var mixed = r.Chains.Where(c => c.Spec.Kind == ChainKind.Mixed).ToList();
        if (mixed.Count > 0)
        {
            sb.AppendLine("Mixed pairs (obfs4 across implementations):");
            sb.AppendLine();
            var figs = new[] { Figure.BulkUp1, Figure.BulkDown1, Figure.Handshakes, Figure.Ttfb };
            sb.Append("| chain |").Append(string.Concat(figs.Select(f => $" {f.Title} ({f.Unit}) |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", figs.Length))).AppendLine();
            foreach (var c in mixed)
                sb.Append(Inv, $"| {c.Spec.Id} |").Append(string.Concat(figs.Select(f => $" {Cell(c, f)} |"))).AppendLine();
            sb.AppendLine();
        }

        sb.AppendLine("Targets (issue 4; ratios of medians from this run):");
        sb.AppendLine();
        sb.AppendLine("| target | rule | value | met |");
        sb.AppendLine("|---|---|---:|:---:|");
        foreach (var t in Targets(r))
            sb.AppendLine(Inv, $"| {t.Name} | {t.Rule} | {(t.Value is { } v ? v.ToString("F2", Inv) : "n/a")} | {(t.Met switch { true => "yes", false => "**no**", null => "n/a" })} |");
        sb.AppendLine("| zero allocations per frame, steady state | 0 B | see `scripts/bench --micro` | |");
        sb.AppendLine();

        sb.AppendLine("Binaries:");
        sb.AppendLine();
        foreach (var b in r.Binaries)
            sb.AppendLine(Inv, $"- {b.Name}: `{b.Path}` ({b.Version}), {b.SizeBytes:N0} bytes; shipped with {string.Join(", ", b.ShippedFiles)}: {b.ShippedBytes:N0} bytes");
        AppendErrors(sb, r.Chains);
        return sb.ToString();
    }

    /// <summary>The chains' errors, if any, as a list after the table (both reports end with it).</summary>
    internal static void AppendErrors(StringBuilder sb, IEnumerable<ChainResult> chains)
    {
        var errors = chains.SelectMany(c => c.Errors.Select(e => $"{c.Spec.Id}: {e}")).ToList();
        if (errors.Count == 0)
            return;
        sb.AppendLine();
        sb.AppendLine("Errors:");
        sb.AppendLine();
        foreach (var e in errors)
            sb.AppendLine(Inv, $"- {e}");
    }

    internal static string Cell(ChainResult c, Figure f)
    {
        if (!c.Samples.TryGetValue(f.Key, out var s) || s.Count == 0)
            return "";
        var median = Stats.Median(s).ToString(f.Format, Inv);
        return s.Count == 1 ? median : $"{median} [{s.Min().ToString(f.Format, Inv)}–{s.Max().ToString(f.Format, Inv)}]";
    }

    private static string RatioCell(IReadOnlyList<(Figure Figure, string Chain, string Baseline, double Ratio)> ratios, Figure f, string baseline)
    {
        var hit = ratios.Where(x => x.Figure == f && x.Baseline == baseline).ToList();
        return hit.Count == 0 ? "" : hit[0].Ratio.ToString("F2", Inv) + "×";
    }

    internal static string Bytes(long n) => n >= 1 << 20 && n % (1 << 20) == 0 ? $"{n >> 20} MiB" : n >= 1024 && n % 1024 == 0 ? $"{n >> 10} KiB" : $"{n} B";
}

/// <summary>What machine the numbers come from.</summary>
internal static class Machine
{
    public static IReadOnlyDictionary<string, string> Describe()
    {
        static string Read(string path, Func<string, string> pick)
        {
            try { return pick(File.ReadAllText(path)).Trim(); } catch (IOException) { return "unknown"; } catch (UnauthorizedAccessException) { return "unknown"; }
        }
        var cpu = Read("/proc/cpuinfo", t => t.Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "unknown");
        var os = Read("/etc/os-release", t => t.Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? "unknown");
        var kernel = Read("/proc/sys/kernel/osrelease", t => t);
        var memKb = Read("/proc/meminfo", t => t.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))?["MemTotal:".Length..].Trim().Split(' ')[0] ?? "0");
        var memory = long.TryParse(memKb, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? $"{kb / 1024.0 / 1024.0:F0} GiB" : "unknown";
        return new Dictionary<string, string>
        {
            ["cpu"] = cpu,
            ["cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["memory"] = memory,
            ["os"] = os,
            ["kernel"] = kernel,
            ["harness_runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        };
    }
}
