using Guise.Errors;
using Guise.Probe;
using Guise.Probe.Geo;

namespace Guise.Tests.Probe;

/// <summary>
/// guise locate: several vantage points' RTT discs intersected per target. RTTs are made from
/// great-circle distances to a server in Frankfurt (1.3 × the physical minimum + 1 ms).
/// </summary>
public sealed class LocateTests
{
    private static readonly GeoPoint Frankfurt = new(50.11, 8.68);
    private static readonly GeoPoint Paris = new(48.8566, 2.3522);
    private static readonly GeoPoint Warsaw = new(52.23, 21.01);
    private static readonly GeoPoint Madrid = new(40.4168, -3.7038);
    private static readonly GeoPoint Rome = new(41.9028, 12.4964);

    private static CountryShapes Shapes => CountryShapes.Default;

    private static ProbeRecord Measured(GeoPoint? vantage, double? rttMs, string? claim, string id = "0123456789abcdef") =>
        new($"v{vantage}.jsonl:1", id, 1, "plain", "plain [scrubbed]", "ZZ", "ok", "ok", vantage, rttMs,
            claim is null ? null : LocationClaim.Parse(claim), null, null);

    private static double RttTo(GeoPoint vantage, GeoPoint server) => Sphere.DistanceKm(vantage, server) / 100 * 1.3 + 1;

    private static List<ProbeRecord> FromFrankfurt(string? claim, params GeoPoint[] vantages) =>
        [.. vantages.Select(v => Measured(v, RttTo(v, Frankfurt), claim))];

    [Fact]
    public void A_country_that_meets_every_disc_is_consistent_and_a_candidate()
    {
        var r = Locate.Combine(FromFrankfurt("DE", Paris, Warsaw, Madrid), Shapes);
        Assert.Equal("consistent", r.Verdict);
        Assert.True(r.MarginKm < 0);
        Assert.Equal(3, r.Discs.Count);
        Assert.Contains(r.Candidates, f => f.Country.Code == "DE");
    }

    [Fact]
    public void Candidates_are_the_countries_the_intersection_meets()
    {
        var codes = Locate.Combine(FromFrankfurt(null, Paris, Warsaw, Madrid), Shapes).Candidates.Select(f => f.Country.Code).ToList();
        Assert.Contains("DE", codes);
        // Within Warsaw's disc but not Paris's; within Madrid's and Paris's but not Warsaw's; neither.
        Assert.DoesNotContain("PL", codes);
        Assert.DoesNotContain("ES", codes);
        Assert.DoesNotContain("US", codes);
    }

    [Fact]
    public void A_claim_one_disc_excludes_is_inconsistent_though_the_others_admit_it()
    {
        var records = FromFrankfurt("GB", Paris, Warsaw, Madrid, Rome);
        // Alone, Paris, Madrid and Rome cannot rule out the United Kingdom; Warsaw can.
        var alone = records.Select(m => LocationCheck.Check(m.Vantage!.Value, m.Claim!, m.MinRttMs!.Value).Verdict).ToList();
        Assert.Equal(["plausible", "impossible", "plausible", "plausible"], alone);
        var r = Locate.Combine(records, Shapes);
        Assert.Equal("inconsistent", r.Verdict);
        Assert.True(r.MarginKm > Locate.ToleranceKm);
        Assert.Contains("United Kingdom (GB)", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_point_claim_is_consistent_only_inside_every_disc()
    {
        Assert.Equal("consistent", Locate.Combine(FromFrankfurt("50.0,8.5", Paris, Warsaw, Madrid), Shapes).Verdict);
        Assert.Equal("inconsistent", Locate.Combine(FromFrankfurt("52.52,13.405", Paris, Warsaw, Madrid), Shapes).Verdict);
    }

    [Fact]
    public void Discs_that_share_no_point_are_reported_as_contradicting_each_other()
    {
        var r = Locate.Combine([Measured(Paris, 2, "FR"), Measured(Madrid, 2, "FR")], Shapes);
        Assert.Equal("disjoint", r.Verdict);
        Assert.Contains("contradict", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_without_a_vantage_point_give_no_data()
    {
        var r = Locate.Combine([Measured(null, 5, "FR"), Measured(Paris, null, "FR")], Shapes);
        Assert.Equal("no_data", r.Verdict);
    }

    [Fact]
    public void Run_groups_the_records_of_each_target_across_files()
    {
        var records = FromFrankfurt("DE", Paris, Warsaw).Concat([Measured(Paris, 3, "JP", id: "fedcba9876543210")]).ToList();
        var results = Locate.Run(records, Shapes);
        Assert.Equal(2, results.Count);
        Assert.Equal(2, results.Single(r => r.TargetId == "0123456789abcdef").Discs.Count);
        Assert.Contains("1 of 2 claims consistent", Locate.Table(results), StringComparison.Ordinal);
    }

    [Fact]
    public void What_probe_writes_locate_reads_back()
    {
        var target = ProbeTargetsFile.Parse("plain 192.0.2.1:80 @DE")[0];
        var result = new ProbeResult(target, DateTimeOffset.UnixEpoch, 0.1, [new("192.0.2.1", 80, 0, 0.0072, null, null)],
            new StepResult("in_process", 0.01, 0.02, null, "ok", null), null, null, "ok", null, null);
        var line = OoniReport.ToJsonLine(result, new ProbeReportContext { ProbeCc = "FR", Vantage = Paris });
        var record = Assert.Single(ProbeRecords.Parse(line + "\n\n", "paris.jsonl", Shapes));
        Assert.Equal((Paris, 7.2, "DE", "FR", "paris.jsonl:1"), (record.Vantage!.Value, record.MinRttMs!.Value, record.Claim!.Country!.Code, record.ProbeCc, record.Source));
        Assert.Equal(OoniReport.TargetId(target), record.TargetId);
    }

    [Fact]
    public void A_line_that_is_not_a_probe_measurement_is_refused_with_its_place()
    {
        var e = Assert.Throws<PtException>(() => ProbeRecords.Parse("\n{\"test_name\":\"web_connectivity\"}", "x.jsonl", Shapes));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.StartsWith("x.jsonl:2: ", e.Message, StringComparison.Ordinal);
    }
}
