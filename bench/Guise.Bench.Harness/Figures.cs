using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace Guise.Bench.Harness;

/// <summary>A figure the harness reports: its key in results.json, its row title, unit and which way is better.</summary>
internal sealed record Figure(string Key, string Title, string Unit, bool HigherIsBetter, string Format = "F1")
{
    public static readonly Figure BulkUp1 = new("bulk_up_1", "bulk upload, 1 stream", "MiB/s", true);
    public static readonly Figure BulkDown1 = new("bulk_down_1", "bulk download, 1 stream", "MiB/s", true);
    public static readonly Figure BulkUpParallel = new("bulk_up_parallel", "bulk upload, N parallel streams (total)", "MiB/s", true);
    public static readonly Figure Handshakes = new("handshakes_per_s", "sequential handshakes incl. SOCKS", "1/s", true, "F0");
    public static readonly Figure HandshakesPaired = new("handshakes_paired_per_s", "sequential handshakes, blocks alternating with the other chain", "1/s", true, "F0");
    public static readonly Figure BulkUpPaired = new("bulk_up_1_paired", "bulk upload, 1 stream, blocks alternating with the other chain", "MiB/s", true);
    public static readonly Figure HandshakeCpu = new("handshake_cpu_ms", "CPU per sequential tunnel (client + server)", "ms", false, "F3");
    public static readonly Figure BulkCpu = new("bulk_cpu_ms_per_mib", "CPU per MiB, bulk upload (client + server)", "ms", false, "F2");
    public static readonly Figure SocksReady = new("socks_ready_ms", "tunnel up (connect → SOCKS success), median", "ms", false, "F2");
    public static readonly Figure Ttfb = new("ttfb_ms", "time to first byte (connect → target's reply), median", "ms", false, "F2");
    public static readonly Figure RssPerTunnel = new("rss_per_idle_tunnel_kib", "RSS per idle tunnel (client + server)", "KiB", false);
    public static readonly Figure RssBaseline = new("rss_baseline_mib", "RSS before the idle tunnels (client + server)", "MiB", false);
    public static readonly Figure Startup = new("startup_ms", "start → CMETHODS DONE (client), median", "ms", false, "F2");
    public static readonly Figure OverheadUp = new("wire_per_payload_up", "bytes on the wire per payload byte, upload", "B/B", false, "F4");
    public static readonly Figure OverheadDown = new("wire_per_payload_down", "bytes on the wire per payload byte, download", "B/B", false, "F4");

    public static readonly IReadOnlyList<Figure> All =
        [BulkUp1, BulkUpPaired, BulkDown1, BulkUpParallel, BulkCpu, Handshakes, HandshakesPaired, HandshakeCpu, SocksReady, Ttfb, RssPerTunnel, RssBaseline, Startup, OverheadUp, OverheadDown];
}

/// <summary>The measurements. Each returns one sample; the runner repeats them.</summary>
internal static class Measure
{
    private const double Mib = 1 << 20;

    /// <summary>Sends <paramref name="length"/> bytes to the sink and checks the SHA-256 it returns. Returns seconds.</summary>
    public static async Task<double> UploadAsync(Tunnel tunnel, long length, CancellationToken ct)
    {
        var expected = Payload.Digest(length);
        var head = Header('U', length);
        var watch = Stopwatch.StartNew();
        var stream = tunnel.Stream;
        await stream.WriteAsync(head, ct).ConfigureAwait(false);
        for (long sent = 0; sent < length;)
        {
            var slice = Payload.Slice(sent, (int)Math.Min(Payload.IoChunk, length - sent));
            await stream.WriteAsync(slice, ct).ConfigureAwait(false);
            sent += slice.Length;
        }
        var digest = new byte[32];
        await stream.ReadExactlyAsync(digest, ct).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        if (!CryptographicOperations.FixedTimeEquals(digest, expected))
            throw new InvalidDataException("upload: the sink's SHA-256 does not match what was sent");
        return seconds;
    }

    /// <summary>Asks the source for <paramref name="length"/> bytes and checks their SHA-256. Returns seconds.</summary>
    public static async Task<double> DownloadAsync(Tunnel tunnel, long length, CancellationToken ct)
    {
        var expected = Payload.Digest(length);
        var buffer = new byte[Payload.IoChunk];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var watch = Stopwatch.StartNew();
        var stream = tunnel.Stream;
        await stream.WriteAsync(Header('D', length), ct).ConfigureAwait(false);
        for (var left = length; left > 0;)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
            if (n == 0)
                throw new EndOfStreamException($"download: the tunnel closed with {left} bytes to go");
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        var seconds = watch.Elapsed.TotalSeconds;
        if (!CryptographicOperations.FixedTimeEquals(hash.GetHashAndReset(), expected))
            throw new InvalidDataException("download: SHA-256 of what arrived does not match what the source sent");
        return seconds;
    }

    /// <summary>Sends a ping and waits for the one-byte answer: proof the whole chain is up.</summary>
    public static async Task PingAsync(Tunnel tunnel, CancellationToken ct)
    {
        await tunnel.Stream.WriteAsync(Header('P', 0), ct).ConfigureAwait(false);
        var one = new byte[1];
        await tunnel.Stream.ReadExactlyAsync(one, ct).ConfigureAwait(false);
        if (one[0] != (byte)'p')
            throw new InvalidDataException("ping: wrong answer");
    }

    public static async Task<double> BulkUploadMibpsAsync(RunningChain chain, long length, CancellationToken ct)
    {
        await using var tunnel = await chain.OpenAsync(null, ct).ConfigureAwait(false);
        return length / Mib / await UploadAsync(tunnel, length, ct).ConfigureAwait(false);
    }

    public static async Task<double> BulkDownloadMibpsAsync(RunningChain chain, long length, CancellationToken ct)
    {
        await using var tunnel = await chain.OpenAsync(null, ct).ConfigureAwait(false);
        return length / Mib / await DownloadAsync(tunnel, length, ct).ConfigureAwait(false);
    }

    /// <summary>Opens <paramref name="streams"/> tunnels, then uploads on all at once; total MiB/s over the wall time.</summary>
    public static async Task<double> ParallelUploadMibpsAsync(RunningChain chain, int streams, long lengthEach, CancellationToken ct)
    {
        var tunnels = new List<Tunnel>();
        try
        {
            for (var i = 0; i < streams; i++)
                tunnels.Add(await chain.OpenAsync(null, ct).ConfigureAwait(false));
            _ = Payload.Digest(lengthEach);
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(tunnels.Select(t => Task.Run(() => UploadAsync(t, lengthEach, ct), ct))).ConfigureAwait(false);
            return streams * lengthEach / Mib / watch.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var t in tunnels)
                await t.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <paramref name="count"/> tunnels one after another, as a fresh Tor circuit's first hop
    /// would be: connect, SOCKS5 with args, transport handshake, a ping through to the target and
    /// back, close. Returns tunnels per second and the medians of "SOCKS success" and "first byte".
    /// </summary>
    public static async Task<(double PerSecond, double SocksMedianMs, double TtfbMedianMs)> SequentialHandshakesAsync(RunningChain chain, int count, CancellationToken ct)
    {
        var socks = new double[count];
        var ttfb = new double[count];
        var total = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            await using var tunnel = await chain.OpenAsync(null, ct).ConfigureAwait(false);
            socks[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            await PingAsync(tunnel, ct).ConfigureAwait(false);
            ttfb[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        var perSecond = count / total.Elapsed.TotalSeconds;
        return (perSecond, Stats.Median(socks), Stats.Median(ttfb));
    }

    /// <summary>
    /// Runs <paramref name="blocks"/> blocks of work on each of two chains that are up at the same
    /// time, alternating A B B A A B ..., so that the load other tenants put on the machine falls on
    /// both alike. Returns the time each chain's blocks took in all (each block reports its own).
    /// </summary>
    public static async Task<(TimeSpan First, TimeSpan Second)> AlternateAsync(RunningChain first, RunningChain second, int blocks,
        Func<RunningChain, Task<TimeSpan>> block)
    {
        var chains = new[] { first, second };
        var elapsed = new TimeSpan[2];
        for (var round = 0; round < blocks; round++)
        {
            foreach (var i in round % 2 == 0 ? new[] { 0, 1 } : [1, 0])
                elapsed[i] += await block(chains[i]).ConfigureAwait(false);
        }
        return (elapsed[0], elapsed[1]);
    }

    /// <summary><paramref name="count"/> sequential tunnels (connect, SOCKS, handshake, ping, close); the time they took.</summary>
    public static async Task<TimeSpan> SequentialTunnelsAsync(RunningChain chain, int count, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        for (var k = 0; k < count; k++)
        {
            await using var tunnel = await chain.OpenAsync(null, ct).ConfigureAwait(false);
            await PingAsync(tunnel, ct).ConfigureAwait(false);
        }
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>One upload of <paramref name="length"/> bytes on a fresh tunnel; the time from request to digest.</summary>
    public static async Task<TimeSpan> UploadTimeAsync(RunningChain chain, long length, CancellationToken ct)
    {
        await using var tunnel = await chain.OpenAsync(null, ct).ConfigureAwait(false);
        return TimeSpan.FromSeconds(await UploadAsync(tunnel, length, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Opens <paramref name="count"/> tunnels (each proven by a ping) and holds them idle; returns
    /// the client + server RSS before (after a warm-up of a few tunnels) and the delta per tunnel.
    /// </summary>
    public static async Task<(double BaselineMib, double PerTunnelKib)> IdleTunnelRssAsync(RunningChain chain, int count, CancellationToken ct)
    {
        for (var i = 0; i < 4; i++)
        {
            await using var warm = await chain.OpenAsync(null, ct).ConfigureAwait(false);
            await PingAsync(warm, ct).ConfigureAwait(false);
        }
        await Task.Delay(300, ct).ConfigureAwait(false);
        var before = chain.Client.RssBytes() + chain.Server.RssBytes();
        var tunnels = new Tunnel[count];
        try
        {
            // A few at a time: tor opens connections to a bridge as circuits come, not all at once.
            const int width = 4;
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, width).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    tunnels[i] = await chain.OpenAsync(null, ct).ConfigureAwait(false);
                    await PingAsync(tunnels[i], ct).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
            await Task.Delay(1000, ct).ConfigureAwait(false);
            var after = chain.Client.RssBytes() + chain.Server.RssBytes();
            return (before / Mib, (after - before) / 1024.0 / count);
        }
        finally
        {
            foreach (var t in tunnels)
            {
                if (t is not null)
                    await t.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Wire bytes per payload byte, one tunnel through the counting forwarder, handshake included.</summary>
    public static async Task<(double Up, double Down)> OverheadAsync(RunningChain chain, CountingForwarder forwarder, long length, TimeSpan patience, CancellationToken ct)
    {
        forwarder.Reset();
        await using (var tunnel = await chain.OpenAsync(forwarder.EndPoint, ct).ConfigureAwait(false))
            await UploadAsync(tunnel, length, ct).ConfigureAwait(false);
        await WaitClosedAsync(forwarder, patience, ct).ConfigureAwait(false);
        var up = (double)forwarder.ToServer / length;

        forwarder.Reset();
        await using (var tunnel = await chain.OpenAsync(forwarder.EndPoint, ct).ConfigureAwait(false))
            await DownloadAsync(tunnel, length, ct).ConfigureAwait(false);
        await WaitClosedAsync(forwarder, patience, ct).ConfigureAwait(false);
        var down = (double)forwarder.ToClient / length;
        return (up, down);
    }

    internal static async Task WaitClosedAsync(CountingForwarder forwarder, TimeSpan patience, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while (forwarder.Open > 0 && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(10, ct).ConfigureAwait(false);
    }

    /// <summary>Starts the client-side proxy <paramref name="times"/> times; the median milliseconds from spawn to CMETHODS DONE.</summary>
    public static double StartupMedianMs(Implementation implementation, string transport, int times, TimeSpan patience)
    {
        var state = Path.Combine(Path.GetTempPath(), "guise-bench-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(state);
        try
        {
            // One start not counted: the state directory is created and the page cache warmed,
            // as for a Tor that has run this binary before.
            using (var first = RunningChain.StartClient(implementation, transport, state))
                first.WaitForLine(l => l == "CMETHODS DONE", patience, "CMETHODS DONE");
            var samples = new double[times];
            for (var i = 0; i < times; i++)
            {
                using var p = RunningChain.StartClient(implementation, transport, state);
                samples[i] = p.WaitForLine(l => l == "CMETHODS DONE", patience, "CMETHODS DONE").SinceStart.TotalMilliseconds;
            }
            return Stats.Median(samples);
        }
        finally
        {
            try { Directory.Delete(state, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static byte[] Header(char kind, long length)
    {
        var head = new byte[9];
        head[0] = (byte)kind;
        BinaryPrimitives.WriteUInt64BigEndian(head.AsSpan(1), (ulong)length);
        return head;
    }
}

/// <summary>Order statistics over a handful of samples.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
