using System.Text.RegularExpressions;
using Guise.Probe;
using Guise.Probe.Geo;

namespace Guise.Tests.Probe;

public sealed class HtmlReportTests
{
    private static readonly GeoPoint Paris = new(48.8566, 2.3522);
    private static readonly GeoPoint Warsaw = new(52.23, 21.01);

    private static string Page()
    {
        var records = new List<ProbeRecord>
        {
            new("a.jsonl:1", "0123456789abcdef", 1, "plain", "plain [scrubbed]", "FR", "ok", "ok", Paris, 7, LocationClaim.Parse("DE"), "plausible", "r"),
            new("b.jsonl:1", "0123456789abcdef", 1, "plain", "plain [scrubbed]", "PL", "ok", "ok", Warsaw, 9, LocationClaim.Parse("DE"), "plausible", "r"),
            new("a.jsonl:2", "fedcba9876543210", 2, "obfs4", "obfs4 <script>", "FR", "tcp_refused", null, Paris, null, LocationClaim.Parse("35.68,139.69"), null, null),
        };
        return HtmlReport.Render(records, Locate.Run(records, CountryShapes.Default), CountryShapes.Default, DateTimeOffset.UnixEpoch);
    }

    [Fact]
    public void The_page_loads_nothing_from_outside()
    {
        var page = Page();
        Assert.DoesNotContain("http", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(new Regex(@"\b(src|href)\s*=|url\(|@import|<script", RegexOptions.IgnoreCase), page);
    }

    [Fact]
    public void The_map_has_every_country_the_vantage_points_the_claims_and_the_feasible_region()
    {
        var page = Page();
        Assert.Equal(CountryShapes.Default.All.Count, Regex.Count(page, "<path class=\"land\""));
        Assert.Equal(2, Regex.Count(page, "<circle class=\"vantage\""));
        Assert.Contains("data-target=\"0123456789abcdef\"", page, StringComparison.Ordinal);
        Assert.Matches("<path class=\"claimed\"[^>]*><title>0123456789abcdef claims Germany", page);
        Assert.Matches("<path class=\"feasible\" data-target=\"0123456789abcdef\" fill=\"#[0-9a-f]{6}\" d=\"M", page);
    }

    [Fact]
    public void Every_target_is_listed_and_text_is_escaped()
    {
        var page = Page();
        Assert.Equal(2, Regex.Count(page, "<td>0123456789abcdef</td>"));
        Assert.Contains("fedcba9876543210", page, StringComparison.Ordinal);
        Assert.Contains("obfs4 &lt;script&gt;", page, StringComparison.Ordinal);
    }
}
