using Guise.Probe;
using Guise.Probe.Geo;

namespace Guise.Tests.Probe;

public class LocationCheckTests
{
    private static readonly GeoPoint London = new(51.5074, -0.1278);
    private static readonly GeoPoint Paris = new(48.8566, 2.3522);
    private static readonly GeoPoint NewYork = new(40.7128, -74.0060);
    private static readonly GeoPoint LosAngeles = new(34.0522, -118.2437);
    private static readonly GeoPoint Sydney = new(-33.8688, 151.2093);
    private static readonly GeoPoint Berlin = new(52.52, 13.405);
    private static readonly GeoPoint HongKong = new(22.3193, 114.1694);

    [Theory]
    // Known great-circle distances (km), within 0.5 %.
    [InlineData("London", "Paris", 344)]
    [InlineData("NewYork", "LosAngeles", 3936)]
    [InlineData("London", "Sydney", 16994)]
    [InlineData("Berlin", "HongKong", 8746)]
    public void Haversine_matches_known_city_pairs(string a, string b, double km)
    {
        var d = LocationCheck.DistanceKm(City(a), City(b));
        Assert.InRange(d, km * 0.995, km * 1.005);
        Assert.Equal(d, LocationCheck.DistanceKm(City(b), City(a)), 6);
    }

    [Fact]
    public void Distance_to_itself_is_zero_and_antipodes_are_half_the_circumference()
    {
        Assert.Equal(0, LocationCheck.DistanceKm(Paris, Paris), 6);
        Assert.Equal(Math.PI * LocationCheck.EarthRadiusKm, LocationCheck.DistanceKm(new(0, 0), new(0, 180)), 3);
    }

    [Fact]
    public void A_server_answering_faster_than_light_allows_is_impossible()
    {
        // Berlin to Hong Kong is ~8750 km: at least 87.5 ms of RTT in fiber.
        var r = LocationCheck.Check(Berlin, HongKong, minRttMs: 5);
        Assert.Equal("impossible", r.Verdict);
        Assert.Equal(500, r.MaxDistanceKm, 6);
        Assert.Contains("closer than claimed", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_rtt_that_fits_the_distance_is_plausible()
    {
        Assert.Equal("plausible", LocationCheck.Check(Berlin, HongKong, minRttMs: 121).Verdict);
        Assert.Equal("plausible", LocationCheck.Check(London, Paris, minRttMs: 9).Verdict);
    }

    [Fact]
    public void An_rtt_far_larger_than_the_distance_needs_is_inconclusive()
    {
        var r = LocationCheck.Check(London, Paris, minRttMs: 300);
        Assert.Equal("inconclusive", r.Verdict);
        Assert.Equal(30000, r.MaxDistanceKm, 6);
    }

    [Fact]
    public void The_boundary_is_the_physical_bound()
    {
        var d = LocationCheck.DistanceKm(Berlin, HongKong);
        Assert.NotEqual("impossible", LocationCheck.Check(Berlin, HongKong, d / 100 + 0.01).Verdict);
        Assert.Equal("impossible", LocationCheck.Check(Berlin, HongKong, d / 100 - 0.01).Verdict);
    }

    [Fact]
    public void A_country_whose_nearest_point_is_beyond_the_rtt_bound_is_impossible()
    {
        // The nearest point of the US from Berlin (the Maine border) is ~5,546 km: at least 55 ms.
        var r = LocationCheck.Check(Berlin, LocationClaim.In(CountryShapes.Default.Find("US")!), minRttMs: 5);
        Assert.Equal("impossible", r.Verdict);
        Assert.InRange(r.ClaimedDistanceKm, 5500, 5550);
        Assert.Contains("nearest point of United States of America (US)", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_country_within_reach_of_the_rtt_is_plausible()
    {
        var us = LocationClaim.In(CountryShapes.Default.Find("US")!);
        Assert.Equal("plausible", LocationCheck.Check(Berlin, us, minRttMs: 80).Verdict);
        // From Paris, Germany starts ~290 km away: 3 ms is enough.
        Assert.Equal("plausible", LocationCheck.Check(Paris, LocationClaim.In(CountryShapes.Default.Find("DE")!), minRttMs: 3).Verdict);
    }

    [Fact]
    public void An_rtt_larger_than_even_the_farthest_point_needs_is_inconclusive()
    {
        // Hawaii, the US's farthest point from Berlin, is ~12,000 km: typically up to ~270 ms.
        var r = LocationCheck.Check(Berlin, LocationClaim.In(CountryShapes.Default.Find("US")!), minRttMs: 600);
        Assert.Equal("inconclusive", r.Verdict);
        Assert.InRange(r.ClaimedFarthestKm, 11500, 12500);
        Assert.Equal("plausible", LocationCheck.Check(Berlin, LocationClaim.In(CountryShapes.Default.Find("US")!), minRttMs: 250).Verdict);
    }

    [Fact]
    public void A_vantage_point_inside_the_claimed_country_never_makes_it_impossible()
    {
        var r = LocationCheck.Check(Paris, LocationClaim.In(CountryShapes.Default.Find("FR")!), minRttMs: 0.1);
        Assert.Equal("plausible", r.Verdict);
        Assert.Equal(0, r.ClaimedDistanceKm);
    }

    private static GeoPoint City(string name) => name switch
    {
        "London" => London,
        "Paris" => Paris,
        "NewYork" => NewYork,
        "LosAngeles" => LosAngeles,
        "Sydney" => Sydney,
        "Berlin" => Berlin,
        "HongKong" => HongKong,
        _ => throw new ArgumentException(name),
    };
}
