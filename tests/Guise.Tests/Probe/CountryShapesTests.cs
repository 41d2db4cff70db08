using Guise.Probe;
using Guise.Probe.Geo;
using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;
using NtsLocation = NetTopologySuite.Geometries.Location;

namespace Guise.Tests.Probe;

/// <summary>
/// The shipped Natural Earth shapes and the spherical geometry over them, cross-checked with
/// NetTopologySuite (polygon validity, point location) and with brute force.
/// </summary>
public sealed class CountryShapesTests
{
    private static readonly GeoPoint Paris = new(48.8566, 2.3522);
    private static readonly GeoPoint NewYork = new(40.7128, -74.0060);
    private static readonly GeoPoint Berlin = new(52.52, 13.405);
    private static readonly GeoFactory Nts = new();

    private static CountryShapes Shapes => CountryShapes.Default;

    [Fact]
    public void Paris_to_new_york_is_5837_km_on_the_great_circle() =>
        Assert.InRange(Sphere.DistanceKm(Paris, NewYork), 5832, 5842);

    [Fact]
    public void The_shipped_data_has_174_countries_with_iso_codes_and_valid_polygons_split_at_the_antimeridian()
    {
        Assert.Equal(174, Shapes.All.Count);
        Assert.Equal("France", Shapes.Find("FR")!.Name);
        Assert.Equal("250", Shapes.Find("FR")!.NumericCode);
        // Sudan's 1:110m ring touches itself near 23.89,8.62 in the source data itself.
        var invalid = Shapes.All.Where(c => !Nts.Multi(c).IsValid).Select(c => c.Code).ToList();
        Assert.Equal(["SD"], invalid);
    }

    [Theory]
    [InlineData(48.8566, 2.3522, "FR")]
    [InlineData(52.52, 13.405, "DE")]
    [InlineData(40.7128, -74.0060, "US")]
    [InlineData(-33.8688, 151.2093, "AU")]
    [InlineData(55.7558, 37.6173, "RU")]
    [InlineData(-15.7939, -47.8828, "BR")]
    [InlineData(35.6762, 139.6503, "JP")]
    [InlineData(64.8378, -147.7164, "US")] // Fairbanks: Alaska is part of the US shape
    [InlineData(4.9224, -52.3135, "FR")] // Cayenne: French Guiana is part of France's
    [InlineData(66.0, 179.5, "RU")] // Chukotka, east of the antimeridian
    [InlineData(65.5, -172.5, "RU")] // ... and west of it
    [InlineData(-89.0, 45.0, "AQ")] // near the South Pole
    public void A_city_lies_in_its_country_and_in_no_other(double lat, double lon, string code)
    {
        var at = Shapes.At(new GeoPoint(lat, lon)).Select(c => c.Code).ToList();
        Assert.Equal([code], at);
    }

    [Fact]
    public void A_point_at_sea_lies_in_no_country() =>
        Assert.Empty(Shapes.At(new GeoPoint(35, -40)));

    [Fact]
    public void Point_location_agrees_with_a_brute_force_ray_crossing_count_on_random_points()
    {
        // Country.Contains goes through NetTopologySuite's indexed locator; the reference here is
        // the plain even-odd count over every edge of every ring.
        var random = new Random(8);
        var disagreements = new List<string>();
        foreach (var country in Shapes.All)
        {
            var env = country.Shape.EnvelopeInternal;
            for (var i = 0; i < 60; i++)
            {
                var p = new GeoPoint(env.MinY + random.NextDouble() * env.Height, env.MinX + random.NextDouble() * env.Width);
                if (EvenOdd(country, p) != country.Contains(p))
                    disagreements.Add($"{country.Code} {p}");
            }
        }
        Assert.Empty(disagreements);
    }

    private static bool EvenOdd(Country country, GeoPoint p)
    {
        double x = p.Longitude, y = p.Latitude;
        var inside = false;
        foreach (var ring in country.Polygons.SelectMany(r => r))
        {
            for (var i = 1; i < ring.Length; i++)
            {
                var (x1, y1) = ring[i - 1];
                var (x2, y2) = ring[i];
                if ((y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1))
                    inside = !inside;
            }
        }
        return inside;
    }

    [Theory]
    // Nearest points, checked by brute force over the data's vertices: Saarland, the Maine border,
    // Kaliningrad, and French Guiana (France's nearest part to New York).
    [InlineData("Paris", "DE", 270, 300)]
    [InlineData("Berlin", "US", 5500, 5550)]
    [InlineData("Berlin", "RU", 440, 480)]
    [InlineData("NewYork", "FR", 4300, 4450)]
    [InlineData("Paris", "FR", 0, 0)]
    public void The_distance_to_a_country_is_to_its_nearest_point(string from, string code, double minKm, double maxKm) =>
        Assert.InRange(Shapes.Find(code)!.MinDistanceKm(City(from)), minKm, maxKm);

    [Fact]
    public void The_nearest_point_is_never_farther_than_the_nearest_vertex_nor_much_nearer()
    {
        var random = new Random(3);
        foreach (var country in Shapes.All.Where((_, i) => i % 7 == 0))
        {
            var p = new GeoPoint(random.NextDouble() * 140 - 60, random.NextDouble() * 360 - 180);
            if (country.Contains(p))
                continue;
            var vertices = country.Polygons.SelectMany(x => x).SelectMany(r => r).Min(v => Sphere.DistanceKm(p, new GeoPoint(v.Lat, v.Lon)));
            var d = country.MinDistanceKm(p);
            Assert.True(d <= vertices + 1e-6, $"{country.Code} from {p}: {d} > nearest vertex {vertices}");
            // Edges of the 1:110m data are at most a few hundred km long.
            Assert.True(d >= vertices - 400, $"{country.Code} from {p}: {d} far below the nearest vertex {vertices}");
        }
    }

    [Fact]
    public void The_distance_to_an_arc_matches_dense_sampling_of_the_arc()
    {
        var random = new Random(5);
        for (var i = 0; i < 200; i++)
        {
            var a = new GeoPoint(random.NextDouble() * 160 - 80, random.NextDouble() * 360 - 180);
            var b = Sphere.Destination(a, random.NextDouble() * 360, random.NextDouble() * 3000);
            var p = new GeoPoint(random.NextDouble() * 160 - 80, random.NextDouble() * 360 - 180);
            var length = Sphere.DistanceKm(a, b);
            var bearing = InitialBearing(a, b);
            var sampled = Enumerable.Range(0, 2001).Min(k => Sphere.DistanceKm(p, Sphere.Destination(a, bearing, length * k / 2000)));
            Assert.InRange(Sphere.DistanceToArcKm(p, a, b), sampled - length / 2000 - 0.01, sampled + 0.01);
        }
    }

    [Fact]
    public void The_farthest_point_of_a_country_is_found_through_the_antipode()
    {
        var france = Shapes.Find("FR")!;
        // From Paris the farthest French land is French Guiana, ~7,100 km away.
        Assert.InRange(france.MaxDistanceKm(Paris), 7000, 7500);
        Assert.InRange(france.MaxDistanceKm(Paris), Sphere.DistanceKm(Paris, new GeoPoint(4.9224, -52.3135)), Sphere.MaxDistanceKm);
        // A point of the country is never farther than its farthest point.
        Assert.All(france.SamplePoints(1), q => Assert.True(Sphere.DistanceKm(Paris, q) <= france.MaxDistanceKm(Paris) + 1e-6));
    }

    [Fact]
    public void Sample_points_lie_in_or_on_the_country_and_cover_it()
    {
        var random = new Random(11);
        foreach (var code in new[] { "FR", "CL", "RU", "NO", "ID", "CH" })
        {
            var country = Shapes.Find(code)!;
            var samples = country.SamplePoints(0.5).ToList();
            Assert.All(samples, s => Assert.True(country.MinDistanceKm(s) < 1, $"{code}: {s} is outside"));
            var geometry = Nts.Multi(country);
            var env = geometry.EnvelopeInternal;
            var locator = new IndexedPointInAreaLocator(geometry);
            var checkedPoints = 0;
            while (checkedPoints < 40)
            {
                var p = new GeoPoint(env.MinY + random.NextDouble() * env.Height, env.MinX + random.NextDouble() * env.Width);
                if (locator.Locate(new Coordinate(p.Longitude, p.Latitude)) != NtsLocation.Interior)
                    continue;
                checkedPoints++;
                var nearest = samples.Min(s => Sphere.DistanceKm(p, s));
                Assert.True(nearest <= 1.5 * 0.5 * 111.2, $"{code}: {p} is {nearest:F0} km from the nearest sample");
            }
        }
    }

    private static double InitialBearing(GeoPoint a, GeoPoint b)
    {
        var (la1, la2, dLon) = (a.Latitude * Math.PI / 180, b.Latitude * Math.PI / 180, (b.Longitude - a.Longitude) * Math.PI / 180);
        return Math.Atan2(Math.Sin(dLon) * Math.Cos(la2), Math.Cos(la1) * Math.Sin(la2) - Math.Sin(la1) * Math.Cos(la2) * Math.Cos(dLon)) * 180 / Math.PI;
    }

    private static GeoPoint City(string name) => name switch
    {
        "Paris" => Paris,
        "Berlin" => Berlin,
        "NewYork" => NewYork,
        _ => throw new ArgumentException(name),
    };

    /// <summary>NTS geometries of the shipped shapes, in (longitude, latitude).</summary>
    private sealed class GeoFactory
    {
        private readonly GeometryFactory _factory = new();

        public MultiPolygon Multi(Country country) => _factory.CreateMultiPolygon([.. country.Polygons.Select(p =>
            _factory.CreatePolygon(Ring(p[0]), [.. p.Skip(1).Select(Ring)]))]);

        private LinearRing Ring((double Lon, double Lat)[] ring) =>
            _factory.CreateLinearRing([.. ring.Select(v => new Coordinate(v.Lon, v.Lat))]);
    }
}
