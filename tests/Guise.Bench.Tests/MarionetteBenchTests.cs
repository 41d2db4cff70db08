using System.Text.Json;
using Guise.Bench.Harness;

namespace Guise.Bench.Tests;

/// <summary>
/// The harness's marionette suite (<c>--marionette FORMATS</c>): one quick run through the real
/// binary, checked for a well-formed marionette.json. Nothing is judged against a threshold.
/// </summary>
public class MarionetteBenchTests
{
    [Fact]
    public async Task A_quick_marionette_run_measures_every_built_in_format()
    {
        var guise = Environment.GetEnvironmentVariable("GUISE_BINARY") is { Length: > 0 } g ? g : Path.Combine(Program.RepoRoot(), "artifacts", "native", "guise");
        Assert.True(File.Exists(guise), $"guise binary not found at {guise}: run scripts/publish --native-only (scripts/test does) or set GUISE_BINARY");
        var output = Path.Combine(Path.GetTempPath(), "guise-bench-mar-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            // A hang guard, not a timing: the quick run takes a few seconds.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var log = new StringWriter();
            var code = await Program.RunAsync(["--marionette", "all", "--quick", "--guise", guise, "--out", output], TextWriter.Null, log, cts.Token);
            Assert.True(code == 0, $"harness exited {code}:\n{log}");

            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(output, "marionette.json"), cts.Token));
            var root = json.RootElement;
            Assert.Equal("guise-bench-marionette/1", root.GetProperty("schema").GetString());
            var formats = root.GetProperty("formats").EnumerateArray().ToList();
            Assert.Equal(["http_get", "http_post", "irc_lines"], formats.Select(f => f.GetProperty("format").GetString()!).Order(StringComparer.Ordinal));
            foreach (var f in formats)
            {
                Assert.Empty(f.GetProperty("errors").EnumerateArray());
                var figures = f.GetProperty("figures");
                Assert.Equal(MarionetteSuite.Figures.Select(x => x.Key), figures.EnumerateObject().Select(p => p.Name));
                // Every byte of payload crosses the wire at least once, plus the format's framing.
                Assert.True(figures.GetProperty("wire_per_payload_up").GetProperty("median").GetDouble() > 1);
                Assert.True(figures.GetProperty("wire_per_payload_down").GetProperty("median").GetDouble() > 1);
            }
            Assert.Contains("| `irc_lines` |", await File.ReadAllTextAsync(Path.Combine(output, "marionette.md"), cts.Token), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
                Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void Marionette_all_names_every_built_in_format_and_a_list_keeps_its_order()
    {
        Assert.Equal(["http_get", "http_post", "irc_lines"], BenchOptions.Parse(["--marionette", "all"], "/nonexistent").MarionetteFormats);
        var o = BenchOptions.Parse(["--marionette", "irc_lines, /tmp/x.mar", "--marionette-mib", "3"], "/nonexistent");
        Assert.Equal(["irc_lines", "/tmp/x.mar"], o.MarionetteFormats);
        Assert.Equal(3 << 20, o.MarionetteBytes);
        Assert.Null(BenchOptions.Parse([], "/nonexistent").MarionetteFormats);
    }
}
