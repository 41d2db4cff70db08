using System.Globalization;
using Guise.Probe.Geo;

namespace Guise.Probe;

/// <summary>
/// Is a server where it says it is? Checks a claimed location against the minimum TCP round-trip
/// time from a known vantage point (the single-vantage-point step of constraint-based geolocation).
/// </summary>
/// <remarks>
/// <para>Light in fiber covers about 200 km per ms one way, so an RTT of <c>r</c> ms bounds the
/// great-circle distance by <c>r × 100</c> km (<see cref="PhysicalKmPerMsRtt"/>): nothing can be
/// farther. A claim farther than that is <c>impossible</c>.</para>
/// <para>Real paths are longer than great circles and add queueing and processing. A claim is
/// <c>plausible</c> when the measured RTT is also no larger than what such a distance is seen to
/// take in practice: distance at <see cref="LikelyKmPerMsRtt"/> plus <see cref="LikelyOverheadMs"/>
/// of access-network and host delay. When the RTT is larger than that, it says the server could
/// be almost anywhere within a large disc: <c>inconclusive</c> (consistent, but no evidence).</para>
/// </remarks>
public static class LocationCheck
{
    public const double EarthRadiusKm = Sphere.EarthRadiusKm;

    /// <summary>Upper bound on great-circle km per ms of RTT (≈ 2/3 c in fiber, there and back).</summary>
    public const double PhysicalKmPerMsRtt = 100;

    /// <summary>A conservative empirical speed for real routes, km of distance per ms of RTT.</summary>
    public const double LikelyKmPerMsRtt = 50;

    /// <summary>RTT that is not distance: access links, queues, the server's own stack.</summary>
    public const double LikelyOverheadMs = 30;

    /// <summary>Great-circle distance (haversine), in km.</summary>
    public static double DistanceKm(GeoPoint a, GeoPoint b) => Sphere.DistanceKm(a, b);

    public static LocationResult Check(GeoPoint vantage, GeoPoint claim, double minRttMs) =>
        Check(vantage, LocationClaim.At(claim), minRttMs);

    /// <summary>
    /// For a country, the claim is every point of it: distances to it run from its nearest point
    /// to its farthest. It is <c>impossible</c> when even the nearest is beyond the physical bound,
    /// <c>inconclusive</c> when the RTT is more than even the farthest typically takes.
    /// </summary>
    public static LocationResult Check(GeoPoint vantage, LocationClaim claim, double minRttMs)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentOutOfRangeException.ThrowIfNegative(minRttMs);
        var (nearest, farthest) = claim.Country is { } country
            ? (country.MinDistanceKm(vantage), country.MaxDistanceKm(vantage))
            : (Sphere.DistanceKm(vantage, claim.Point!.Value), Sphere.DistanceKm(vantage, claim.Point!.Value));
        var maxKm = minRttMs * PhysicalKmPerMsRtt;
        var likelyCeilingMs = farthest / LikelyKmPerMsRtt + LikelyOverheadMs;
        var what = claim.Country is { } c ? $"the nearest point of {c.Name} ({c.Code}) is" : "the claim is";
        var span = claim.Country is null
            ? string.Create(CultureInfo.InvariantCulture, $"{nearest:F0} km")
            : string.Create(CultureInfo.InvariantCulture, $"{nearest:F0}-{farthest:F0} km");
        string verdict, reason;
        if (nearest > maxKm)
        {
            verdict = "impossible";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"{what} {nearest:F0} km away, but a {minRttMs:F1} ms RTT allows at most {maxKm:F0} km: the server is closer than claimed");
        }
        else if (minRttMs <= likelyCeilingMs)
        {
            verdict = "plausible";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"{span} needs at least {nearest / PhysicalKmPerMsRtt:F1} ms and typically up to {likelyCeilingMs:F0} ms; measured {minRttMs:F1} ms");
        }
        else
        {
            verdict = "inconclusive";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"{minRttMs:F1} ms is more than {span} typically takes ({likelyCeilingMs:F0} ms): the server may be anywhere within {maxKm:F0} km");
        }
        return new LocationResult(vantage, claim, nearest, farthest, minRttMs, maxKm, likelyCeilingMs, verdict, reason);
    }
}

/// <param name="ClaimedDistanceKm">Great-circle distance from the vantage point to the claimed point, or to the nearest point of the claimed country.</param>
/// <param name="ClaimedFarthestKm">The same to the farthest point of the claimed country (the point's distance for a point).</param>
/// <param name="MaxDistanceKm">The physical bound the RTT allows.</param>
/// <param name="LikelyCeilingMs">The largest RTT that still counts as evidence for the claim.</param>
/// <param name="Verdict">impossible, plausible or inconclusive.</param>
public sealed record LocationResult(GeoPoint Vantage, LocationClaim Claim, double ClaimedDistanceKm, double ClaimedFarthestKm, double MinRttMs,
    double MaxDistanceKm, double LikelyCeilingMs, string Verdict, string Reason);
