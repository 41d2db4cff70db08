using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Guise.Interop.Tests.Support;
using Guise.Tests.Shared;

namespace Guise.Interop.Tests.Probe;

/// <summary>
/// The binary end to end: <c>guise probe</c> from two declared vantage points over loopback targets,
/// <c>guise locate</c> and <c>guise report --html</c> over both reports, and the page looked at in
/// headless Chromium: the screenshot's map is drawn and every target is listed.
/// </summary>
public sealed class ProbeReportScreenshotTests
{
    // Colours from HtmlReport's stylesheet.
    private static readonly (byte, byte, byte) Sea = (0xdc, 0xec, 0xf7);
    private static readonly (byte, byte, byte) Land = (0xc9, 0xc3, 0xb4);
    private static readonly (byte, byte, byte) Vantage = (0xd6, 0x27, 0x28);

    [Fact]
    public async Task The_html_report_shows_a_drawn_map_and_lists_every_target()
    {
        using var work = new TempDir();
        using var listenerA = new TcpListener(IPAddress.Loopback, 0);
        using var listenerB = new TcpListener(IPAddress.Loopback, 0);
        listenerA.Start(64);
        listenerB.Start(64);
        var closed = Peers.FreePort();
        var targets = Path.Combine(work, "targets.txt");
        await File.WriteAllTextAsync(targets, $"""
            plain 127.0.0.1:{((IPEndPoint)listenerA.LocalEndpoint).Port} @DE
            plain 127.0.0.1:{((IPEndPoint)listenerB.LocalEndpoint).Port} @35.68,139.69
            plain 127.0.0.1:{closed} @US
            """);

        var reports = new List<string>();
        foreach (var (name, vantage, cc) in new[] { ("paris", "48.8566,2.3522", "FR"), ("sydney", "-33.8688,151.2093", "AU") })
        {
            var jsonl = Path.Combine(work, name + ".jsonl");
            var (exit, output) = await RunGuiseAsync(["probe", targets, "-o", jsonl, "--vantage", vantage, "--probe-cc", cc, "--tries", "2", "--connect-timeout", "3", "--handshake-timeout", "3"]);
            Assert.True(exit == 1, $"probe should report the closed port (exit 1), got {exit}:\n{output}");
            reports.Add(jsonl);
        }
        Assert.All(reports.SelectMany(File.ReadAllLines), l => Assert.Empty(ProbeSchema.Errors(l)));
        var ids = reports.SelectMany(File.ReadAllLines)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("test_keys").GetProperty("target_id").GetString()!)
            .Distinct().ToList();
        Assert.Equal(3, ids.Count);

        var (locateExit, locate) = await RunGuiseAsync(["locate", .. reports]);
        // A server on loopback answers in well under 1 ms from both declared vantage points, which are
        // 17,000 km apart: their discs cannot meet.
        Assert.True(locateExit == 1, locate);
        Assert.Contains("disjoint", locate, StringComparison.Ordinal);

        var html = Path.Combine(work, "report.html");
        var (reportExit, reportOutput) = await RunGuiseAsync(["report", .. reports, "--html", html]);
        Assert.True(reportExit == 0, reportOutput);

        var png = Png.Read(await Chromium.ScreenshotAsync(html, 1120, 900, work));
        Assert.Equal((1120, 900), (png.Width, png.Height));
        int sea = 0, land = 0, red = 0;
        for (var y = 0; y < png.Height; y++)
        {
            for (var x = 0; x < png.Width; x++)
            {
                var p = png[x, y];
                if (Near(p, Sea))
                    sea++;
                else if (Near(p, Land))
                    land++;
                else if (Near(p, Vantage))
                    red++;
            }
        }
        // The 1080 × 540 map: mostly sea, a quarter or so land, and two red vantage dots (12 px wide each).
        Assert.True(sea > 1080 * 540 / 3, $"sea pixels: {sea}");
        Assert.True(land > 1080 * 540 / 10, $"land pixels: {land}");
        Assert.True(red > 2 * 60, $"vantage-dot pixels: {red}");

        var dom = await Chromium.DumpDomAsync(html, work);
        foreach (var id in ids)
            Assert.Matches($"<td>(<span[^>]*></span>)?{id}</td>", dom);
        Assert.Equal(174, Regex.Count(dom, "class=\"land\""));
        Assert.Equal(6, Regex.Count(dom, "<tr><td>(paris|sydney)\\.jsonl:"));
    }

    private static bool Near((byte R, byte G, byte B) p, (byte R, byte G, byte B) c) =>
        Math.Abs(p.R - c.R) <= 3 && Math.Abs(p.G - c.G) <= 3 && Math.Abs(p.B - c.B) <= 3;

    private static async Task<(int Exit, string Output)> RunGuiseAsync(string[] args)
    {
        using var guise = ChildProcess.Start(Peers.Guise, args, redirectStdin: false);
        var exited = await Task.Run(() => guise.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.True(exited, $"guise {args[0]} did not finish:\n{guise.Transcript}");
        return (guise.Process.ExitCode, guise.Transcript);
    }
}
