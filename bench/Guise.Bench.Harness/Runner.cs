using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Guise.Bench.Harness;

/// <summary>A binary's identity and what shipping it costs on disk.</summary>
internal sealed record BinaryInfo(string Name, string Path, string Version, long SizeBytes, long ShippedBytes, IReadOnlyList<string> ShippedFiles);

/// <summary>Samples of every figure for one chain, one sample per run.</summary>
internal sealed class ChainResult(ChainSpec spec)
{
    public ChainSpec Spec { get; } = spec;
    public Dictionary<string, List<double>> Samples { get; } = [];
    public List<string> Errors { get; } = [];

    public void Add(Figure figure, double value)
    {
        if (!Samples.TryGetValue(figure.Key, out var list))
            Samples[figure.Key] = list = [];
        list.Add(value);
    }

    public double? Median(Figure figure) => Samples.TryGetValue(figure.Key, out var l) && l.Count > 0 ? Stats.Median(l) : null;
}

internal sealed class BenchResults
{
    public required BenchOptions Options { get; init; }
    public required string Command { get; init; }
    public DateTimeOffset Started { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset Finished { get; set; }
    public string LoadBefore { get; init; } = "";
    public string LoadAfter { get; set; } = "";
    public List<BinaryInfo> Binaries { get; } = [];
    public List<ChainResult> Chains { get; } = [];

    public bool HasErrors => Chains.Any(c => c.Errors.Count > 0);
}

/// <summary>Runs every chain through every figure, <see cref="BenchOptions.Runs"/> times, interleaved so drift hits all alike.</summary>
internal static class Runner
{
    public static async Task<BenchResults> RunAsync(BenchOptions options, string command, TextWriter log, CancellationToken cancellationToken)
    {
        RaiseFileLimit(log);
        var guise = new Implementation("guise", Path.GetFullPath(options.Guise));
        foreach (var impl in options.Peers.Prepend(guise))
        {
            if (!File.Exists(impl.Path))
                throw new FileNotFoundException($"{impl.Name} binary not found at {impl.Path}" + (impl.IsGuise ? " (run scripts/publish --native-only, or pass --guise)" : ""));
        }

        var chains = new List<ChainSpec> { new(guise, guise, "obfs4", ChainKind.Full) };
        chains.AddRange(options.Peers.Select(p => new ChainSpec(p, p, "obfs4", ChainKind.Full)));
        if (options.Plain)
            chains.Add(new ChainSpec(guise, guise, "plain", ChainKind.Full));
        if (options.Mixed)
        {
            foreach (var p in options.Peers)
            {
                chains.Add(new ChainSpec(guise, p, "obfs4", ChainKind.Mixed));
                chains.Add(new ChainSpec(p, guise, "obfs4", ChainKind.Mixed));
            }
        }

        var results = new BenchResults { Options = options, Command = command, LoadBefore = LoadAverage() };
        foreach (var impl in options.Peers.Prepend(guise))
            results.Binaries.Add(Describe(impl, options.Patience));
        var byId = chains.ToDictionary(c => c.Id, c => new ChainResult(c));
        results.Chains.AddRange(byId.Values);

        // Digests of the payload pattern are computed now, outside every timed section.
        foreach (var n in new[] { options.BulkBytes, options.ParallelBytesPerStream, options.OverheadBytes, Math.Min(1 << 20, options.BulkBytes), AlternatingUploadBytes(options) })
            _ = Payload.Digest(n);

        await using var target = new Target();
        for (var run = 1; run <= options.Runs; run++)
        {
            foreach (var spec in chains)
            {
                var result = byId[spec.Id];
                log.WriteLine($"[run {run}/{options.Runs}] {spec.Id}");
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(options.Quick ? TimeSpan.FromSeconds(60) : TimeSpan.FromMinutes(15));
                try
                {
                    await RunChainAsync(spec, result, target, options, log, deadline.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    var message = $"run {run}: {e.GetType().Name}: {e.Message}";
                    result.Errors.Add(message);
                    log.WriteLine($"  FAILED {message}");
                }
            }
            foreach (var peer in chains.Where(c => c.Kind == ChainKind.Full && !c.Client.IsGuise))
            {
                log.WriteLine($"[run {run}/{options.Runs}] {chains[0].Id} and {peer.Id}, alternating blocks");
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(options.Quick ? TimeSpan.FromSeconds(60) : TimeSpan.FromMinutes(15));
                try
                {
                    await RunAlternatingAsync(chains[0], peer, byId[chains[0].Id], byId[peer.Id], target, options, log, deadline.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    var message = $"run {run}, alternating with {peer.Id}: {e.GetType().Name}: {e.Message}";
                    byId[peer.Id].Errors.Add(message);
                    log.WriteLine($"  FAILED {message}");
                }
            }
        }
        if (target.Failures > 0)
            byId[chains[0].Id].Errors.Add($"the target saw {target.Failures} broken transfers");
        results.Finished = DateTimeOffset.UtcNow;
        results.LoadAfter = LoadAverage();
        return results;
    }

    private static async Task RunChainAsync(ChainSpec spec, ChainResult result, Target target, BenchOptions o, TextWriter log, CancellationToken ct)
    {
        var full = spec.Kind == ChainKind.Full;
        using (var chain = RunningChain.Start(spec, target.EndPoint, o.Patience))
        {
            // Warm-up (page faults, first connections, JIT where there is one), not counted.
            await Measure.BulkUploadMibpsAsync(chain, Math.Min(1 << 20, o.BulkBytes), ct).ConfigureAwait(false);
            for (var i = 0; i < 3; i++)
            {
                await using var warm = await chain.OpenAsync(null, ct).ConfigureAwait(false);
                await Measure.PingAsync(warm, ct).ConfigureAwait(false);
            }

            var cpu0 = chain.CpuTime();
            Record(result, Figure.BulkUp1, await Measure.BulkUploadMibpsAsync(chain, o.BulkBytes, ct).ConfigureAwait(false), log);
            Record(result, Figure.BulkCpu, (chain.CpuTime() - cpu0).TotalMilliseconds / (o.BulkBytes / (double)(1 << 20)), log);
            Record(result, Figure.BulkDown1, await Measure.BulkDownloadMibpsAsync(chain, o.BulkBytes, ct).ConfigureAwait(false), log);
            if (full)
                Record(result, Figure.BulkUpParallel, await Measure.ParallelUploadMibpsAsync(chain, o.ParallelStreams, o.ParallelBytesPerStream, ct).ConfigureAwait(false), log);
            cpu0 = chain.CpuTime();
            var (perSecond, socksMs, ttfbMs) = await Measure.SequentialHandshakesAsync(chain, o.Handshakes, ct).ConfigureAwait(false);
            Record(result, Figure.Handshakes, perSecond, log);
            Record(result, Figure.HandshakeCpu, (chain.CpuTime() - cpu0).TotalMilliseconds / o.Handshakes, log);
            Record(result, Figure.SocksReady, socksMs, log);
            Record(result, Figure.Ttfb, ttfbMs, log);
            if (full)
            {
                await using var forwarder = new CountingForwarder(chain.ServerEndPoint);
                var (up, down) = await Measure.OverheadAsync(chain, forwarder, o.OverheadBytes, o.Patience, ct).ConfigureAwait(false);
                Record(result, Figure.OverheadUp, up, log);
                Record(result, Figure.OverheadDown, down, log);
            }
        }
        if (!full)
            return;
        // Fresh processes: the idle-tunnel figure must not carry the bulk transfers' heap.
        using (var chain = RunningChain.Start(spec, target.EndPoint, o.Patience))
        {
            var (baseline, perTunnel) = await Measure.IdleTunnelRssAsync(chain, o.Tunnels, ct).ConfigureAwait(false);
            Record(result, Figure.RssBaseline, baseline, log);
            Record(result, Figure.RssPerTunnel, perTunnel, log);
        }
        // Clients only: that is what CMETHODS DONE is, and what a Tor client waits for.
        Record(result, Figure.Startup, Measure.StartupMedianMs(spec.Client, spec.Transport, o.Startups, o.Patience), log);
    }

    /// <summary>
    /// Both chains up at once; their bulk uploads and their sequential tunnels alternate in blocks
    /// (see <see cref="Measure.AlternateAsync"/>): 4 uploads of a quarter of the bulk size, and
    /// 4 blocks of a quarter of the sequential tunnels.
    /// </summary>
    private static async Task RunAlternatingAsync(ChainSpec first, ChainSpec second, ChainResult firstResult, ChainResult secondResult,
        Target target, BenchOptions o, TextWriter log, CancellationToken ct)
    {
        using var a = RunningChain.Start(first, target.EndPoint, o.Patience);
        using var b = RunningChain.Start(second, target.EndPoint, o.Patience);
        foreach (var chain in new[] { a, b })
        {
            await Measure.BulkUploadMibpsAsync(chain, Math.Min(1 << 20, o.BulkBytes), ct).ConfigureAwait(false);
            _ = await Measure.SequentialTunnelsAsync(chain, 3, ct).ConfigureAwait(false);
        }

        var upload = AlternatingUploadBytes(o);
        var (upA, upB) = await Measure.AlternateAsync(a, b, 4, c => Measure.UploadTimeAsync(c, upload, ct)).ConfigureAwait(false);
        var mib = 4 * upload / (double)(1 << 20);
        Record(firstResult, Figure.BulkUpPaired, mib / upA.TotalSeconds, log);
        Record(secondResult, Figure.BulkUpPaired, mib / upB.TotalSeconds, log);

        var block = AlternatingBlock(o);
        var (hsA, hsB) = await Measure.AlternateAsync(a, b, 4, c => Measure.SequentialTunnelsAsync(c, block, ct)).ConfigureAwait(false);
        Record(firstResult, Figure.HandshakesPaired, 4 * block / hsA.TotalSeconds, log);
        Record(secondResult, Figure.HandshakesPaired, 4 * block / hsB.TotalSeconds, log);
    }

    /// <summary>
    /// A quarter of the sequential tunnels per block, so four blocks each (A B B A A B B A: both
    /// orders twice). Blocks are long next to guise's pool of 16 ready session keys, which refills
    /// in idle time, also while the other chain's block runs.
    /// </summary>
    internal static int AlternatingBlock(BenchOptions o) => Math.Max(1, o.Handshakes / 4);

    /// <summary>A quarter of the bulk size per alternating upload.</summary>
    internal static long AlternatingUploadBytes(BenchOptions o) => Math.Max(1, o.BulkBytes / 4);

    private static void Record(ChainResult result, Figure figure, double value, TextWriter log)
    {
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"{figure.Key} came out as {value}");
        result.Add(figure, value);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {figure.Title}: {value.ToString(figure.Format, CultureInfo.InvariantCulture)} {figure.Unit}"));
    }

    /// <summary>
    /// Size on disk; for guise also the native libraries it loads (libsodium). libguise.so sits
    /// in the same folder but is the embedding library, a separate artifact: it is not counted.
    /// </summary>
    internal static BinaryInfo Describe(Implementation impl, TimeSpan patience)
    {
        var size = new FileInfo(impl.Path).Length;
        var shipped = new List<string> { impl.Path };
        if (impl.IsGuise)
            shipped.AddRange(Directory.EnumerateFiles(Path.GetDirectoryName(impl.Path)!, "*.so*")
                .Where(f => !Path.GetFileName(f).StartsWith("libguise", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        return new BinaryInfo(impl.Name, impl.Path, Version(impl, patience), size,
            shipped.Sum(f => new FileInfo(f).Length), shipped.Select(Path.GetFileName).ToList()!);
    }

    /// <summary>The version a managed proxy reports (STATUS TYPE=version), else the first line of "-version".</summary>
    private static string Version(Implementation impl, TimeSpan patience)
    {
        var state = Path.Combine(Path.GetTempPath(), "guise-bench-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(state);
        try
        {
            using (var p = RunningChain.StartClient(impl, "obfs4", state))
            {
                p.WaitForLine(l => l == "CMETHODS DONE", patience, "CMETHODS DONE");
                var status = p.Transcript().Split('\n').FirstOrDefault(l => l.StartsWith("STATUS TYPE=version ", StringComparison.Ordinal));
                if (status is not null)
                {
                    // STATUS TYPE=version IMPLEMENTATION="guise" VERSION="0.1.0"
                    var fields = status.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1].Trim('"'), StringComparer.Ordinal);
                    return $"{fields.GetValueOrDefault("IMPLEMENTATION", impl.Name)} {fields.GetValueOrDefault("VERSION", "?")}";
                }
            }
            var psi = new ProcessStartInfo(impl.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-version");
            using var v = Process.Start(psi)!;
            var line = v.StandardOutput.ReadLine() ?? "";
            if (!v.WaitForExit(5000))
                v.Kill();
            return line.Trim();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
        finally
        {
            try { Directory.Delete(state, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>
    /// 1000 idle tunnels are about 2000 descriptors in each proxy and in the harness: raise the
    /// soft RLIMIT_NOFILE to the hard one. The proxies inherit it.
    /// </summary>
    private static void RaiseFileLimit(TextWriter log)
    {
        if (!OperatingSystem.IsLinux())
            return;
        const int RlimitNofile = 7;
        if (Native.GetRLimit(RlimitNofile, out var limit) != 0)
            return;
        if (limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (Native.SetRLimit(RlimitNofile, in raised) != 0)
                log.WriteLine($"warning: could not raise RLIMIT_NOFILE from {limit.Current} (errno {Marshal.GetLastPInvokeError()})");
        }
    }
}

internal static partial class Native
{
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct RLimit(ulong Current, ulong Maximum);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    internal static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    internal static partial int SetRLimit(int resource, in RLimit limit);
}
