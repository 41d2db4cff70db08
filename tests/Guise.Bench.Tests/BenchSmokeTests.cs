using System.Text.Json;
using Guise.Bench.Harness;

namespace Guise.Bench.Tests;

/// <summary>
/// Keeps the benchmark harness from rotting: one quick run (a few KB, a handful of tunnels)
/// through the real binaries, checked for a well-formed results.json. Nothing is timed against
/// a threshold; CI must not judge performance.
/// </summary>
public class BenchSmokeTests
{
    [Fact]
    public async Task A_quick_run_writes_a_well_formed_results_json()
    {
        var guise = Environment.GetEnvironmentVariable("GUISE_BINARY") is { Length: > 0 } g ? g : Path.Combine(Program.RepoRoot(), "artifacts", "native", "guise");
        Assert.True(File.Exists(guise), $"guise binary not found at {guise}: run scripts/publish --native-only (scripts/test does) or set GUISE_BINARY");
        var peer = File.Exists("/usr/bin/obfs4proxy");
        var output = Path.Combine(Path.GetTempPath(), "guise-bench-smoke-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            // A hang guard, not a timing: the quick run takes a few seconds.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var log = new StringWriter();
            var code = await Program.RunAsync(["--quick", "--guise", guise, "--out", output], TextWriter.Null, log, cts.Token);
            Assert.True(code == 0, $"harness exited {code}:\n{log}");

            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(output, "results.json"), cts.Token));
            var root = json.RootElement;
            Assert.Equal("guise-bench/1", root.GetProperty("schema").GetString());
            Assert.True(root.GetProperty("quick").GetBoolean());
            Assert.Equal(1, root.GetProperty("runs").GetInt32());
            Assert.False(string.IsNullOrEmpty(root.GetProperty("machine").GetProperty("cpu").GetString()));

            var chains = root.GetProperty("chains").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
            var expected = new List<string> { "guise/obfs4", "guise/plain" };
            if (peer)
                expected.AddRange(["obfs4proxy/obfs4", "guise→obfs4proxy/obfs4", "obfs4proxy→guise/obfs4"]);
            Assert.Equal(expected.Order(StringComparer.Ordinal), chains.Keys.Order(StringComparer.Ordinal));

            var allFigures = root.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("key").GetString()!).ToList();
            foreach (var (id, chain) in chains)
            {
                Assert.Empty(chain.GetProperty("errors").EnumerateArray());
                var figures = chain.GetProperty("figures");
                var keys = figures.EnumerateObject().Select(p => p.Name).ToList();
                // The alternating-blocks figures pair guise/obfs4 with each peer: only those chains have them.
                var paired = peer && id is "guise/obfs4" or "obfs4proxy/obfs4";
                if (chain.GetProperty("kind").GetString() == "full")
                    Assert.Equal(allFigures.Where(k => k is not ("handshakes_paired_per_s" or "bulk_up_1_paired") || paired), keys);
                else
                    Assert.Contains("bulk_up_1", keys);
                foreach (var f in figures.EnumerateObject())
                {
                    var samples = f.Value.GetProperty("samples").EnumerateArray().Select(s => s.GetDouble()).ToList();
                    Assert.Single(samples);
                    // CPU time comes in 10 ms clock ticks: a quick run's few kilobytes may cost none,
                    // and a handful of idle tunnels may not move RSS.
                    var mayBeZero = f.Name is "rss_per_idle_tunnel_kib" or "bulk_cpu_ms_per_mib" or "handshake_cpu_ms";
                    Assert.True(double.IsFinite(samples[0]) && (samples[0] > 0 || (mayBeZero && samples[0] >= 0) || f.Name == "rss_per_idle_tunnel_kib"), $"{id} {f.Name} = {samples[0]}");
                    Assert.Equal(samples[0], f.Value.GetProperty("median").GetDouble());
                }
            }

            var guiseBinary = root.GetProperty("binaries").EnumerateArray().Single(b => b.GetProperty("name").GetString() == "guise");
            Assert.True(guiseBinary.GetProperty("shipped_bytes").GetInt64() >= guiseBinary.GetProperty("size_bytes").GetInt64());
            Assert.NotEmpty(root.GetProperty("targets").EnumerateArray());
            if (peer)
                Assert.Contains(root.GetProperty("ratios").EnumerateArray(), r => r.GetProperty("baseline").GetString() == "obfs4proxy/obfs4");

            var md = await File.ReadAllTextAsync(Path.Combine(output, "results.md"), cts.Token);
            Assert.Contains("| figure | unit |", md, StringComparison.Ordinal);
            Assert.Contains("quick", md, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
                Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void Quick_sizes_are_tiny_and_explicit_options_win()
    {
        var o = BenchOptions.Parse(["--quick", "--tunnels", "7", "--no-peers"], "/nonexistent");
        Assert.True(o.Quick);
        Assert.Equal(1, o.Runs);
        Assert.Equal(7, o.Tunnels);
        Assert.True(o.BulkBytes <= 1 << 20);
        Assert.Empty(o.Peers);
        var full = BenchOptions.Parse(["--runs", "5", "--peer", "x=/bin/x", "--bulk-mib", "2"], "/nonexistent");
        Assert.Equal(5, full.Runs);
        Assert.Equal(2 << 20, full.BulkBytes);
        Assert.Equal(1000, full.Tunnels);
        Assert.Equal([new Implementation("x", "/bin/x")], full.Peers);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--peer", "guise=/bin/x"], "/nonexistent"));
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--runs", "0"], "/nonexistent"));
    }
}
