namespace Guise.Probe.Geo;

/// <summary>
/// Makes spherical rings (as TopoJSON for d3 has them: an edge from 179° to -179° crosses the
/// antimeridian; a ring may go round a pole) into planar rings within longitude [-180, 180], so that
/// point-in-polygon and drawing can treat edges as straight lines in longitude/latitude.
/// </summary>
internal static class PlanarPolygons
{
    public static IReadOnlyList<IReadOnlyList<(double Lon, double Lat)[]>> Normalize(IReadOnlyList<IReadOnlyList<(double Lon, double Lat)[]>> polygons)
    {
        var result = new List<IReadOnlyList<(double, double)[]>>();
        foreach (var polygon in polygons)
        {
            var rings = new List<List<(double Lon, double Lat)>>(polygon.Count);
            foreach (var ring in polygon)
                rings.Add(Unwrap(ring));
            // The strip [-180, 180] sees each unwrapped ring shifted by -360, 0 or +360.
            for (var shift = -360.0; shift <= 360; shift += 360)
            {
                var exterior = ClipToWorld(rings[0], shift);
                if (exterior is null)
                    continue;
                var pieces = new List<(double, double)[]> { exterior };
                for (var i = 1; i < rings.Count; i++)
                {
                    if (ClipToWorld(rings[i], shift) is { } hole)
                        pieces.Add(hole);
                }
                result.Add(pieces);
            }
        }
        return result;
    }

    /// <summary>
    /// Longitudes made continuous (no step over 180°). A ring that then ends 360° from where it
    /// began goes round a pole (the one on its side of the equator): it is closed through that pole.
    /// </summary>
    private static List<(double Lon, double Lat)> Unwrap((double Lon, double Lat)[] ring)
    {
        var points = new List<(double Lon, double Lat)>(ring.Length + 2) { ring[0] };
        for (var i = 1; i < ring.Length; i++)
        {
            var step = ring[i].Lon - ring[i - 1].Lon;
            step -= 360 * Math.Round(step / 360);
            points.Add((points[^1].Lon + step, ring[i].Lat));
        }
        var winding = points[^1].Lon - points[0].Lon;
        if (Math.Abs(winding) > 180)
        {
            var latitudes = 0.0;
            foreach (var p in ring)
                latitudes += p.Lat;
            var pole = latitudes < 0 ? -90.0 : 90.0;
            points.Add((points[^1].Lon, pole));
            points.Add((points[0].Lon, pole));
            points.Add(points[0]);
        }
        return points;
    }

    /// <summary>The ring shifted by <paramref name="shift"/> and clipped to -180 ≤ lon ≤ 180 (Sutherland–Hodgman on the strip), or null when nothing of it is left.</summary>
    private static (double Lon, double Lat)[]? ClipToWorld(List<(double Lon, double Lat)> ring, double shift)
    {
        var shifted = new List<(double Lon, double Lat)>(ring.Count);
        foreach (var (lon, lat) in ring)
            shifted.Add((lon + shift, lat));
        var clipped = ClipHalf(ClipHalf(shifted, -180, keepAbove: true), 180, keepAbove: false);
        if (clipped.Count < 3 || Math.Abs(Area(clipped)) < 1e-9)
            return null;
        clipped.Add(clipped[0]);
        return Densify(clipped);
    }

    /// <summary>
    /// Points added so that no edge spans more than <see cref="MaxEdgeDegrees"/>: a straight edge
    /// in longitude/latitude then stays within ~0.1 km of the great circle through its ends, so
    /// containment (planar) and distances (spherical) agree.
    /// </summary>
    private static (double Lon, double Lat)[] Densify(List<(double Lon, double Lat)> ring)
    {
        var output = new List<(double Lon, double Lat)>(ring.Count) { ring[0] };
        for (var i = 1; i < ring.Count; i++)
        {
            var (a, b) = (ring[i - 1], ring[i]);
            var pieces = (int)Math.Ceiling(Math.Max(Math.Abs(b.Lon - a.Lon), Math.Abs(b.Lat - a.Lat)) / MaxEdgeDegrees);
            for (var k = 1; k < pieces; k++)
                output.Add((a.Lon + (b.Lon - a.Lon) * k / pieces, a.Lat + (b.Lat - a.Lat) * k / pieces));
            output.Add(b);
        }
        return [.. output];
    }

    public const double MaxEdgeDegrees = 1;

    /// <summary>One Sutherland–Hodgman pass against the line lon = <paramref name="edge"/> (input closed; output open).</summary>
    private static List<(double Lon, double Lat)> ClipHalf(List<(double Lon, double Lat)> ring, double edge, bool keepAbove)
    {
        bool Inside((double Lon, double Lat) p) => keepAbove ? p.Lon >= edge : p.Lon <= edge;
        var output = new List<(double Lon, double Lat)>();
        var n = ring.Count;
        if (n > 1 && ring[0] == ring[^1])
            n--;
        for (var i = 0; i < n; i++)
        {
            var current = ring[i];
            var previous = ring[(i + n - 1) % n];
            if (Inside(current))
            {
                if (!Inside(previous))
                    output.Add(Crossing(previous, current, edge));
                output.Add(current);
            }
            else if (Inside(previous))
            {
                output.Add(Crossing(previous, current, edge));
            }
        }
        return output;
    }

    private static (double Lon, double Lat) Crossing((double Lon, double Lat) a, (double Lon, double Lat) b, double lon) =>
        (lon, a.Lat + (b.Lat - a.Lat) * (lon - a.Lon) / (b.Lon - a.Lon));

    /// <summary>Signed area (shoelace), square degrees; the ring is open.</summary>
    private static double Area(List<(double Lon, double Lat)> ring)
    {
        var sum = 0.0;
        for (var i = 0; i < ring.Count; i++)
        {
            var (x1, y1) = ring[i];
            var (x2, y2) = ring[(i + 1) % ring.Count];
            sum += x1 * y2 - x2 * y1;
        }
        return sum / 2;
    }
}
