using System.Text.Json;
using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;

namespace Guise.Probe.Geo;

/// <summary>
/// A country's shape (Natural Earth 1:110m, see Data/README.md): polygons of rings in decimal
/// degrees, edges drawn straight in longitude/latitude as the data is meant to be.
/// </summary>
public sealed class Country
{
    private static readonly GeometryFactory Factory = new();

    private readonly (double MinLon, double MinLat, double MaxLon, double MaxLat) _bounds;
    private readonly IndexedPointInAreaLocator _locator;

    internal Country(string code, string numericCode, string name, IReadOnlyList<IReadOnlyList<(double Lon, double Lat)[]>> polygons)
    {
        Code = code;
        NumericCode = numericCode;
        Name = name;
        Polygons = PlanarPolygons.Normalize(polygons);
        // The shape as a NetTopologySuite MultiPolygon in longitude/latitude; point location goes
        // through its indexed locator (ray crossings over every ring, so holes are outside).
        var parts = new List<Polygon>(Polygons.Count);
        foreach (var polygon in Polygons)
        {
            var rings = new List<LinearRing>(polygon.Count);
            foreach (var ring in polygon)
            {
                if (ring.Length < 4)
                    continue;
                var coordinates = new Coordinate[ring.Length];
                for (var i = 0; i < ring.Length; i++)
                    coordinates[i] = new Coordinate(ring[i].Lon, ring[i].Lat);
                rings.Add(Factory.CreateLinearRing(coordinates));
            }
            if (rings.Count > 0)
                parts.Add(Factory.CreatePolygon(rings[0], [.. rings.Skip(1)]));
        }
        Shape = Factory.CreateMultiPolygon([.. parts]);
        _locator = new IndexedPointInAreaLocator(Shape);
        var envelope = Shape.EnvelopeInternal;
        _bounds = (envelope.MinX, envelope.MinY, envelope.MaxX, envelope.MaxY);
    }

    /// <summary>The shape as NetTopologySuite geometry (longitude as X, latitude as Y).</summary>
    public MultiPolygon Shape { get; }

    /// <summary>ISO 3166-1 alpha-2.</summary>
    public string Code { get; }

    /// <summary>ISO 3166-1 numeric (the data's own id).</summary>
    public string NumericCode { get; }

    public string Name { get; }

    /// <summary>
    /// Each polygon: exterior ring, then holes; rings closed, as (longitude, latitude) within
    /// [-180, 180] (parts across the antimeridian are split there; a ring around a pole is closed
    /// through it; rings of zero area are dropped).
    /// </summary>
    public IReadOnlyList<IReadOnlyList<(double Lon, double Lat)[]>> Polygons { get; }

    private IEnumerable<(double Lon, double Lat)[]> Rings => Polygons.SelectMany(p => p);

    /// <summary>Whether the point is inside or on the border (holes are outside).</summary>
    public bool Contains(GeoPoint p)
    {
        double x = p.Longitude, y = p.Latitude;
        if (x < _bounds.MinLon || x > _bounds.MaxLon || y < _bounds.MinLat || y > _bounds.MaxLat)
            return false;
        return _locator.Locate(new Coordinate(x, y)) != Location.Exterior;
    }

    /// <summary>Great-circle distance from the point to the nearest point of the country (0 inside it), km.</summary>
    public double MinDistanceKm(GeoPoint p)
    {
        if (Contains(p))
            return 0;
        var best = double.MaxValue;
        foreach (var ring in Rings)
        {
            for (var i = 1; i < ring.Length; i++)
            {
                var d = Sphere.DistanceToArcKm(p, new GeoPoint(ring[i - 1].Lat, ring[i - 1].Lon), new GeoPoint(ring[i].Lat, ring[i].Lon));
                if (d < best)
                    best = d;
            }
        }
        return best;
    }

    /// <summary>Distance to the farthest point of the country, km: the antipode's nearest point is the farthest.</summary>
    public double MaxDistanceKm(GeoPoint p) => Sphere.MaxDistanceKm - MinDistanceKm(Sphere.Antipode(p));

    /// <summary>
    /// Points covering the country: the grid points inside it (cell centres of a <paramref name="stepDegrees"/>
    /// grid, found row by row from the ring crossings) and its boundary, with no boundary edge
    /// longer than the step between consecutive points. Every point of the country is within about
    /// 1.5 × step × 111 km of one of them.
    /// </summary>
    public IEnumerable<GeoPoint> SamplePoints(double stepDegrees)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepDegrees);
        var crossings = new List<double>();
        var firstRow = Math.Floor((_bounds.MinLat + 90) / stepDegrees);
        for (var row = firstRow; -90 + (row + 0.5) * stepDegrees <= _bounds.MaxLat; row++)
        {
            var y = -90 + (row + 0.5) * stepDegrees;
            crossings.Clear();
            foreach (var ring in Rings)
            {
                for (var i = 1; i < ring.Length; i++)
                {
                    var (x1, y1) = ring[i - 1];
                    var (x2, y2) = ring[i];
                    if ((y1 > y) != (y2 > y))
                        crossings.Add(x1 + (y - y1) * (x2 - x1) / (y2 - y1));
                }
            }
            crossings.Sort();
            for (var k = 0; k + 1 < crossings.Count; k += 2)
            {
                for (var col = Math.Ceiling((crossings[k] + 180) / stepDegrees - 0.5); -180 + (col + 0.5) * stepDegrees <= crossings[k + 1]; col++)
                    yield return new GeoPoint(y, -180 + (col + 0.5) * stepDegrees);
            }
        }
        foreach (var ring in Rings)
        {
            for (var i = 1; i < ring.Length; i++)
            {
                var (x1, y1) = ring[i - 1];
                var (x2, y2) = ring[i];
                var pieces = Math.Max(1, (int)Math.Ceiling(Math.Max(Math.Abs(x2 - x1), Math.Abs(y2 - y1)) / stepDegrees));
                for (var k = 0; k < pieces; k++)
                    yield return new GeoPoint(y1 + (y2 - y1) * k / pieces, x1 + (x2 - x1) * k / pieces);
            }
        }
    }

    public override string ToString() => $"{Code} ({Name})";
}

/// <summary>
/// The countries of Natural Earth 1:110m (npm world-atlas countries-110m.json) keyed by ISO 3166-1
/// alpha-2 (npm i18n-iso-countries codes.json maps the data's numeric ids): both files are
/// embedded, unmodified, in this assembly.
/// </summary>
public sealed class CountryShapes
{
    private static readonly Lazy<CountryShapes> Embedded = new(() => Load(Resource("countries-110m.json"), Resource("iso3166-codes.json")));
    private readonly Dictionary<string, Country> _byCode;
    private readonly HashSet<string> _isoCodes;

    private CountryShapes(IReadOnlyList<Country> all, HashSet<string> isoCodes)
    {
        All = all;
        _byCode = all.ToDictionary(c => c.Code, StringComparer.Ordinal);
        _isoCodes = isoCodes;
    }

    /// <summary>The shapes shipped with Guise.</summary>
    public static CountryShapes Default => Embedded.Value;

    public IReadOnlyList<Country> All { get; }

    /// <summary>The country with this ISO 3166-1 alpha-2 code (upper case), or null when it has no shape.</summary>
    public Country? Find(string code) => _byCode.GetValueOrDefault(code);

    /// <summary>Whether <paramref name="code"/> is an ISO 3166-1 alpha-2 code at all (with or without a shape).</summary>
    public bool IsIsoCode(string code) => _isoCodes.Contains(code);

    /// <summary>Countries that contain the point (normally one; none at sea).</summary>
    public IEnumerable<Country> At(GeoPoint p) => All.Where(c => c.Contains(p));

    /// <param name="topoJson">A TopoJSON topology with a <c>countries</c> collection whose ids are ISO numeric codes.</param>
    /// <param name="codesJson"><c>[[alpha2, alpha3, numeric, ...], ...]</c>.</param>
    public static CountryShapes Load(ReadOnlySpan<byte> topoJson, ReadOnlySpan<byte> codesJson)
    {
        var reader = new Utf8JsonReader(codesJson);
        using var codes = JsonDocument.ParseValue(ref reader);
        var alpha2ByNumeric = new Dictionary<string, string>(StringComparer.Ordinal);
        var isoCodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in codes.RootElement.EnumerateArray())
        {
            var alpha2 = entry[0].GetString()!;
            alpha2ByNumeric[entry[2].GetString()!] = alpha2;
            isoCodes.Add(alpha2);
        }
        var countries = new List<Country>();
        foreach (var f in TopoJson.ReadFeatures(topoJson, "countries"))
        {
            // Features without an ISO id (N. Cyprus, Somaliland, Kosovo) cannot be claimed by code.
            if (f.Id is { } id && alpha2ByNumeric.TryGetValue(id, out var code))
                countries.Add(new Country(code, id, f.Name ?? code, f.Polygons));
        }
        return new CountryShapes(countries, isoCodes);
    }

    private static byte[] Resource(string file)
    {
        using var stream = typeof(CountryShapes).Assembly.GetManifestResourceStream("Guise.Probe.Geo.Data." + file)
            ?? throw new InvalidOperationException($"embedded resource {file} is missing");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
