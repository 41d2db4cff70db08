using System.Text.Json;

namespace Guise.Probe.Geo;

/// <summary>One feature of a TopoJSON geometry collection: polygons of rings of (longitude, latitude).</summary>
/// <param name="Id">The feature's <c>id</c>, or null.</param>
/// <param name="Name">Its <c>properties.name</c>, or null.</param>
/// <param name="Polygons">Each polygon: the exterior ring first, then holes; every ring closed (last point = first).</param>
public sealed record TopoFeature(string? Id, string? Name, IReadOnlyList<IReadOnlyList<(double Lon, double Lat)[]>> Polygons);

/// <summary>
/// Decodes the polygon features of a TopoJSON topology (topojson-specification 1.0).
/// </summary>
/// <remarks>
/// <code>
/// {"type":"Topology",
///  "transform":{"scale":[sx,sy],"translate":[tx,ty]},          optional: quantized arcs
///  "arcs":[[[x,y],[dx,dy],...], ...],                           delta-encoded when quantized
///  "objects":{"NAME":{"type":"GeometryCollection","geometries":[
///     {"type":"Polygon","arcs":[[0,-2]],"id":"250","properties":{"name":"France"}},
///     {"type":"MultiPolygon","arcs":[[[3]],[[4,5]]], ...}]}}}
/// </code>
/// A ring lists arc indices; index <c>i &lt; 0</c> means arc <c>~i</c> reversed. Consecutive arcs
/// share an end point, which is written once. Other geometry types are skipped.
/// </remarks>
public static class TopoJson
{
    public static IReadOnlyList<TopoFeature> ReadFeatures(ReadOnlySpan<byte> utf8, string objectName)
    {
        var reader = new Utf8JsonReader(utf8);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (!root.TryGetProperty("type", out var type) || type.GetString() != "Topology")
            throw new FormatException("not a TopoJSON topology");
        var arcs = DecodeArcs(root);
        if (!root.GetProperty("objects").TryGetProperty(objectName, out var collection))
            throw new FormatException($"the topology has no object '{objectName}'");

        var features = new List<TopoFeature>();
        foreach (var g in collection.GetProperty("geometries").EnumerateArray())
        {
            var kind = g.GetProperty("type").GetString();
            var polygons = new List<IReadOnlyList<(double, double)[]>>();
            if (kind == "Polygon")
                polygons.Add(Polygon(g.GetProperty("arcs"), arcs));
            else if (kind == "MultiPolygon")
                polygons.AddRange(g.GetProperty("arcs").EnumerateArray().Select(p => Polygon(p, arcs)));
            else
                continue;
            string? id = g.TryGetProperty("id", out var idElement)
                ? idElement.ValueKind == JsonValueKind.Number ? idElement.GetRawText() : idElement.GetString()
                : null;
            string? name = g.TryGetProperty("properties", out var props) && props.TryGetProperty("name", out var n) ? n.GetString() : null;
            features.Add(new TopoFeature(id, name, polygons));
        }
        return features;
    }

    private static List<(double Lon, double Lat)[]> DecodeArcs(JsonElement root)
    {
        double sx = 1, sy = 1, tx = 0, ty = 0;
        var quantized = root.TryGetProperty("transform", out var transform);
        if (quantized)
        {
            var scale = transform.GetProperty("scale");
            var translate = transform.GetProperty("translate");
            (sx, sy) = (scale[0].GetDouble(), scale[1].GetDouble());
            (tx, ty) = (translate[0].GetDouble(), translate[1].GetDouble());
        }
        var arcs = new List<(double, double)[]>();
        foreach (var arc in root.GetProperty("arcs").EnumerateArray())
        {
            var points = new (double, double)[arc.GetArrayLength()];
            double x = 0, y = 0;
            var i = 0;
            foreach (var p in arc.EnumerateArray())
            {
                if (quantized)
                {
                    x += p[0].GetDouble();
                    y += p[1].GetDouble();
                    points[i++] = (x * sx + tx, y * sy + ty);
                }
                else
                {
                    points[i++] = (p[0].GetDouble(), p[1].GetDouble());
                }
            }
            arcs.Add(points);
        }
        return arcs;
    }

    private static List<(double Lon, double Lat)[]> Polygon(JsonElement rings, List<(double, double)[]> arcs)
    {
        var result = new List<(double, double)[]>();
        foreach (var ring in rings.EnumerateArray())
        {
            var points = new List<(double, double)>();
            foreach (var index in ring.EnumerateArray())
            {
                var i = index.GetInt32();
                var arc = arcs[i >= 0 ? i : ~i];
                var start = points.Count == 0 ? 0 : 1;
                for (var k = start; k < arc.Length; k++)
                    points.Add(i >= 0 ? arc[k] : arc[arc.Length - 1 - k]);
            }
            if (points.Count < 4 || points[0] != points[^1])
                throw new FormatException($"a ring of {points.Count} points is not closed");
            result.Add([.. points]);
        }
        return result;
    }
}
