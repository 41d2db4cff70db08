namespace Guise.Probe.Geo;

/// <summary>Great-circle geometry on a spherical Earth (mean radius), in km and decimal degrees.</summary>
public static class Sphere
{
    public const double EarthRadiusKm = 6371.0088;

    /// <summary>Half the circumference: no two points are farther apart.</summary>
    public const double MaxDistanceKm = Math.PI * EarthRadiusKm;

    private const double Deg = Math.PI / 180;

    /// <summary>Great-circle distance (haversine), in km.</summary>
    public static double DistanceKm(GeoPoint a, GeoPoint b)
    {
        var dLat = (b.Latitude - a.Latitude) * Deg;
        var dLon = (b.Longitude - a.Longitude) * Deg;
        var h = Math.Sin(dLat / 2) * Math.Sin(dLat / 2)
            + Math.Cos(a.Latitude * Deg) * Math.Cos(b.Latitude * Deg) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2);
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }

    /// <summary>The point <paramref name="km"/> from <paramref name="from"/> on the initial bearing (degrees from north).</summary>
    public static GeoPoint Destination(GeoPoint from, double bearingDegrees, double km)
    {
        var d = km / EarthRadiusKm;
        var lat1 = from.Latitude * Deg;
        var lon1 = from.Longitude * Deg;
        var bearing = bearingDegrees * Deg;
        var lat2 = Math.Asin(Math.Clamp(Math.Sin(lat1) * Math.Cos(d) + Math.Cos(lat1) * Math.Sin(d) * Math.Cos(bearing), -1, 1));
        var lon2 = lon1 + Math.Atan2(Math.Sin(bearing) * Math.Sin(d) * Math.Cos(lat1), Math.Cos(d) - Math.Sin(lat1) * Math.Sin(lat2));
        return new GeoPoint(lat2 / Deg, NormalizeLongitude(lon2 / Deg));
    }

    /// <summary>The point on the other side of the Earth.</summary>
    public static GeoPoint Antipode(GeoPoint p) => new(-p.Latitude, NormalizeLongitude(p.Longitude + 180));

    /// <summary>Distance from <paramref name="p"/> to the shorter great-circle arc between <paramref name="a"/> and <paramref name="b"/>, in km.</summary>
    public static double DistanceToArcKm(GeoPoint p, GeoPoint a, GeoPoint b)
    {
        var (pv, av, bv) = (Unit(p), Unit(a), Unit(b));
        var n = Cross(av, bv);
        var nLength = Math.Sqrt(Dot(n, n));
        if (nLength < 1e-12)
            return Math.Min(DistanceKm(p, a), DistanceKm(p, b));
        n = Scale(n, 1 / nLength);
        // The foot of the perpendicular from p onto the great circle lies on the arc when it is
        // on a's side toward b and on b's side toward a.
        var foot = Subtract(pv, Scale(n, Dot(pv, n)));
        if (Dot(Cross(av, foot), n) >= 0 && Dot(Cross(foot, bv), n) >= 0 && Dot(foot, foot) > 1e-24)
            return Math.Asin(Math.Min(1, Math.Abs(Dot(pv, n)))) * EarthRadiusKm;
        return Math.Min(DistanceKm(p, a), DistanceKm(p, b));
    }

    public static double NormalizeLongitude(double lon)
    {
        lon = (lon + 180) % 360;
        if (lon < 0)
            lon += 360;
        return lon - 180;
    }

    private static (double X, double Y, double Z) Unit(GeoPoint p)
    {
        var lat = p.Latitude * Deg;
        var lon = p.Longitude * Deg;
        return (Math.Cos(lat) * Math.Cos(lon), Math.Cos(lat) * Math.Sin(lon), Math.Sin(lat));
    }

    private static (double X, double Y, double Z) Cross((double X, double Y, double Z) a, (double X, double Y, double Z) b) =>
        (a.Y * b.Z - a.Z * b.Y, a.Z * b.X - a.X * b.Z, a.X * b.Y - a.Y * b.X);

    private static double Dot((double X, double Y, double Z) a, (double X, double Y, double Z) b) => a.X * b.X + a.Y * b.Y + a.Z * b.Z;

    private static (double X, double Y, double Z) Scale((double X, double Y, double Z) a, double s) => (a.X * s, a.Y * s, a.Z * s);

    private static (double X, double Y, double Z) Subtract((double X, double Y, double Z) a, (double X, double Y, double Z) b) =>
        (a.X - b.X, a.Y - b.Y, a.Z - b.Z);
}
