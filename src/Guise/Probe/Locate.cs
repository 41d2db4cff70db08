using System.Globalization;
using System.Text;
using Guise.Probe.Geo;

namespace Guise.Probe;

/// <summary>One vantage point's constraint: the server is within <see cref="RadiusKm"/> of it.</summary>
public sealed record FeasibleDisc(GeoPoint Center, double MinRttMs, string Source, string ProbeCc)
{
    public double RadiusKm => MinRttMs * LocationCheck.PhysicalKmPerMsRtt;

    /// <summary>How far outside the disc the point is (negative inside), km.</summary>
    public double Excess(GeoPoint p) => Sphere.DistanceKm(Center, p) - RadiusKm;
}

/// <summary>A country the feasible region reaches, and how deep: the most negative excess over its points.</summary>
public sealed record CountryFit(Country Country, double MarginKm);

/// <param name="Verdict">
/// <c>consistent</c> (the claim meets every disc), <c>inconsistent</c> (no point of the claim is
/// within every disc), <c>no_claim</c>, <c>disjoint</c> (the discs share no point: the measurements
/// contradict each other), or <c>no_data</c> (no record with a vantage point and an RTT).
/// </param>
/// <param name="MarginKm">For the claim: the least, over its points, of the largest excess over the discs (≤ 0 inside all).</param>
/// <param name="Candidates">Countries that meet every disc, the deepest first.</param>
public sealed record LocateResult(
    string TargetId,
    string Input,
    string Transport,
    LocationClaim? Claim,
    IReadOnlyList<FeasibleDisc> Discs,
    string Verdict,
    double? MarginKm,
    IReadOnlyList<CountryFit> Candidates,
    string Reason);

/// <summary>
/// Constraint-based geolocation (Gueye et al., IMC 2004, CBG): each vantage point's minimum RTT
/// bounds the server to a disc (<see cref="LocationCheck.PhysicalKmPerMsRtt"/> km per ms); the
/// server is in the intersection of all discs. A claim is consistent when part of it lies there.
/// </summary>
/// <remarks>
/// A point <c>q</c> is feasible when <c>max_i(distance(q, vantage_i) - radius_i) ≤ 0</c>. Over a
/// country that maximum is minimised on <see cref="Country.SamplePoints"/> (a <see cref="SampleStepDegrees"/>
/// grid inside it plus its boundary); since each distance moves at most 1 km per km, the true
/// minimum is at most <see cref="ToleranceKm"/> lower, so a country whose sampled margin is within
/// that tolerance is counted as consistent (in the claim's favour; the margin is reported).
/// </remarks>
public static class Locate
{
    public const double SampleStepDegrees = 0.25;

    /// <summary>How far any point of a country can be from its nearest sample (see <see cref="Country.SamplePoints"/>).</summary>
    public const double ToleranceKm = 1.5 * SampleStepDegrees * 111.2;

    public static IReadOnlyList<LocateResult> Run(IEnumerable<ProbeRecord> records, CountryShapes shapes)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(shapes);
        return [.. records.GroupBy(r => r.TargetId, StringComparer.Ordinal)
            .Select(g => Combine([.. g], shapes))
            .OrderBy(r => r.Transport, StringComparer.Ordinal).ThenBy(r => r.TargetId, StringComparer.Ordinal)];
    }

    /// <summary>Combines every measurement of one target.</summary>
    public static LocateResult Combine(IReadOnlyList<ProbeRecord> records, CountryShapes shapes)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(shapes);
        var first = records[0];
        var claim = records.Select(r => r.Claim).FirstOrDefault(c => c is not null);
        var discs = records.Where(r => r.Vantage is not null && r.MinRttMs is not null)
            .Select(r => new FeasibleDisc(r.Vantage!.Value, r.MinRttMs!.Value, r.Source, r.ProbeCc)).ToList();
        if (discs.Count == 0)
        {
            return new LocateResult(first.TargetId, first.Input, first.Transport, claim, discs, "no_data", null, [],
                "no measurement of this target has both a vantage point (--vantage) and a TCP RTT");
        }

        // A country out of any one disc's reach (exact, and cheap) is out of the intersection.
        var candidates = shapes.All
            .Where(c => discs.All(d => c.MinDistanceKm(d.Center) <= d.RadiusKm))
            .Select(c => new CountryFit(c, Margin(c.SamplePoints(SampleStepDegrees), discs)))
            .Where(f => f.MarginKm <= ToleranceKm)
            .OrderBy(f => f.MarginKm).ToList();
        // Anywhere at all (sea included): a coarse world grid.
        var world = Margin(WorldGrid(1), discs);
        var worldTolerance = 1.5 * 1 * 111.2;
        if (world > worldTolerance && candidates.Count == 0)
        {
            return new LocateResult(first.TargetId, first.Input, first.Transport, claim, discs, "disjoint", null, [],
                string.Create(CultureInfo.InvariantCulture,
                    $"the {discs.Count} discs share no point (every point is at least {world:F0} km outside one of them): the RTTs contradict each other (anycast, a tunnel, or a wrong --vantage)"));
        }

        if (claim is null)
        {
            return new LocateResult(first.TargetId, first.Input, first.Transport, null, discs, "no_claim", null, candidates,
                $"no claim to check; {Describe(candidates)}");
        }
        var margin = claim.Country is { } country
            ? candidates.FirstOrDefault(f => f.Country == country)?.MarginKm ?? Margin(country.SamplePoints(SampleStepDegrees), discs)
            : Margin([claim.Point!.Value], discs);
        var tolerance = claim.Country is null ? 0 : ToleranceKm;
        var worst = discs.MaxBy(d => claim.Country?.MinDistanceKm(d.Center) - d.RadiusKm ?? d.Excess(claim.Point!.Value))!;
        string verdict, reason;
        if (margin <= tolerance)
        {
            verdict = "consistent";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"{Name(claim)} meets all {discs.Count} discs (margin {margin:F0} km); {Describe(candidates)}");
        }
        else
        {
            verdict = "inconsistent";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"no point of {Name(claim)} is within all {discs.Count} discs: it stays {margin:F0} km outside at best (e.g. {worst.MinRttMs:F1} ms from {worst.Center} allows {worst.RadiusKm:F0} km); {Describe(candidates)}");
        }
        return new LocateResult(first.TargetId, first.Input, first.Transport, claim, discs, verdict, margin, candidates, reason);
    }

    /// <summary>The least over <paramref name="points"/> of the largest excess over the discs.</summary>
    public static double Margin(IEnumerable<GeoPoint> points, IReadOnlyList<FeasibleDisc> discs)
    {
        var best = double.MaxValue;
        foreach (var p in points)
        {
            var worst = double.MinValue;
            foreach (var d in discs)
            {
                worst = Math.Max(worst, d.Excess(p));
                if (worst >= best)
                    break;
            }
            best = Math.Min(best, worst);
        }
        return best;
    }

    /// <summary>Whether the cell centred on the point is feasible: inside every disc.</summary>
    public static bool Feasible(GeoPoint p, IReadOnlyList<FeasibleDisc> discs) => discs.All(d => d.Excess(p) <= 0);

    /// <summary>Cell centres of a world grid.</summary>
    public static IEnumerable<GeoPoint> WorldGrid(double stepDegrees)
    {
        for (var lat = -90 + stepDegrees / 2; lat < 90; lat += stepDegrees)
        {
            for (var lon = -180 + stepDegrees / 2; lon < 180; lon += stepDegrees)
                yield return new GeoPoint(lat, lon);
        }
    }

    public static string Name(LocationClaim claim) =>
        claim.Country is { } c ? $"{c.Name} ({c.Code})" : $"the point {claim.Point}";

    private static string Describe(IReadOnlyList<CountryFit> candidates) => candidates.Count switch
    {
        0 => "the region meets no country (sea only)",
        <= 8 => $"the region meets {string.Join(", ", candidates.Select(f => f.Country.Code))}",
        _ => $"the region meets {candidates.Count} countries ({string.Join(", ", candidates.Take(8).Select(f => f.Country.Code))}, ...)",
    };

    /// <summary>The text <c>guise locate</c> prints.</summary>
    public static string Table(IReadOnlyList<LocateResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var sb = new StringBuilder();
        foreach (var r in results)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.TargetId}  {r.Transport}  claim {(r.Claim is null ? "-" : r.Claim.ToString())}: {r.Verdict}\n");
            foreach (var d in r.Discs)
                sb.Append(CultureInfo.InvariantCulture, $"    from {d.Center} ({d.ProbeCc}, {d.Source}): min RTT {d.MinRttMs:F1} ms -> within {d.RadiusKm:F0} km\n");
            sb.Append(CultureInfo.InvariantCulture, $"    {r.Reason}\n");
        }
        var claims = results.Where(r => r.Verdict is "consistent" or "inconsistent").ToList();
        sb.Append(CultureInfo.InvariantCulture,
            $"{results.Count} targets; {claims.Count(r => r.Verdict == "consistent")} of {claims.Count} claims consistent with every vantage point\n");
        return sb.ToString();
    }
}
