using System.Globalization;
using System.Net;
using System.Text;
using Guise.Probe.Geo;

namespace Guise.Probe;

/// <summary>
/// <c>guise report</c>: one self-contained HTML page (inline CSS and SVG, no scripts, no external
/// URLs) with a world map and the results of any number of <c>guise probe</c> JSONL files.
/// </summary>
/// <remarks>
/// The map is equirectangular, <see cref="PixelsPerDegree"/> px per degree: country shapes (the
/// shipped Natural Earth data), each target's feasible region (cells of a 1° grid inside every
/// disc, see <see cref="Locate"/>), the discs' outlines, claimed countries (outlined) and points
/// (diamonds), and the vantage points (red dots).
/// </remarks>
public static class HtmlReport
{
    public const int PixelsPerDegree = 3;
    private const double FeasibleStepDegrees = 1;
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

    public static string Render(IReadOnlyList<ProbeRecord> records, IReadOnlyList<LocateResult> located, CountryShapes shapes, DateTimeOffset generated)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(located);
        ArgumentNullException.ThrowIfNull(shapes);
        // Loops rather than LINQ over tuples: fewer generic instantiations in the AOT binary.
        var colors = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in located)
            colors[r.TargetId] = Palette[colors.Count % Palette.Length];
        var vantages = new List<ProbeRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            if (r.Vantage is { } v && seen.Add($"{v} {r.ProbeCc}"))
                vantages.Add(r);
        }
        var h = new StringBuilder();
        h.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>guise probe report</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px}
            #map{width:1080px;height:540px;display:block;border:1px solid #999}
            .sea{fill:#dcecf7} .land{fill:#c9c3b4;stroke:#fff;stroke-width:.4;fill-rule:evenodd}
            .feasible{fill-opacity:.3;stroke:none} .disc{fill:none;stroke-width:1.2;stroke-dasharray:4 3}
            .claimed{fill:none;stroke-width:2.2;fill-rule:evenodd} .vantage{fill:#d62728;stroke:#fff;stroke-width:1.5}
            table{border-collapse:collapse;margin-top:6px} td,th{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
            th{background:#eee} .ok{color:#1a7f1a;font-weight:600} .bad{color:#b00;font-weight:600}
            .swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
            </style></head><body>
            <h1>guise probe report</h1>

            """);
        h.Append(CultureInfo.InvariantCulture,
            $"<p>{records.Count} measurements of {located.Count} targets from {vantages.Count} vantage points; generated {Enc(OoniReport.Timestamp(generated))} UTC.</p>\n");

        h.Append("<svg id=\"map\" viewBox=\"0 0 1080 540\" role=\"img\" aria-label=\"world map\">\n<rect class=\"sea\" width=\"1080\" height=\"540\"/>\n<g id=\"countries\">\n");
        foreach (var c in shapes.All)
            h.Append(CultureInfo.InvariantCulture, $"<path class=\"land\" data-cc=\"{c.Code}\" d=\"{CountryPath(c)}\"><title>{Enc(c.Name)}</title></path>\n");
        h.Append("</g>\n<g id=\"feasible\">\n");
        foreach (var r in located.Where(r => r.Discs.Count > 0))
            h.Append(CultureInfo.InvariantCulture, $"<path class=\"feasible\" data-target=\"{r.TargetId}\" fill=\"{colors[r.TargetId]}\" d=\"{FeasiblePath(r.Discs)}\"/>\n");
        h.Append("</g>\n<g id=\"discs\">\n");
        foreach (var r in located)
        {
            foreach (var d in r.Discs)
                h.Append(CultureInfo.InvariantCulture, $"<path class=\"disc\" stroke=\"{colors[r.TargetId]}\" d=\"{DiscPath(d)}\"/>\n");
        }
        h.Append("</g>\n<g id=\"claims\">\n");
        foreach (var r in located.Where(r => r.Claim is not null))
        {
            var color = colors[r.TargetId];
            if (r.Claim!.Country is { } country)
            {
                h.Append(CultureInfo.InvariantCulture, $"<path class=\"claimed\" stroke=\"{color}\" d=\"{CountryPath(country)}\"><title>{Enc(r.TargetId)} claims {Enc(country.Name)}</title></path>\n");
            }
            else
            {
                var (x, y) = Project(r.Claim.Point!.Value);
                h.Append(CultureInfo.InvariantCulture,
                    $"<path class=\"claimed\" stroke=\"{color}\" fill=\"{color}\" d=\"M{F(x)} {F(y - 7)}l7 7l-7 7l-7-7z\"><title>{Enc(r.TargetId)} claims {r.Claim.Point}</title></path>\n");
            }
        }
        h.Append("</g>\n<g id=\"vantages\">\n");
        foreach (var r in vantages)
        {
            var (x, y) = Project(r.Vantage!.Value);
            h.Append(CultureInfo.InvariantCulture, $"<circle class=\"vantage\" cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"6\"><title>vantage {r.Vantage} ({Enc(r.ProbeCc)})</title></circle>\n");
        }
        h.Append("</g>\n</svg>\n");
        h.Append("<p><span class=\"swatch\" style=\"background:#d62728\"></span>vantage point &nbsp; dashed: a vantage point's RTT disc &nbsp; filled: where the server can be (inside every disc) &nbsp; outline or diamond: the claimed location</p>\n");

        h.Append("<h2>Location: all vantage points combined</h2>\n<table id=\"locate\"><tr><th>target</th><th>transport</th><th>claim</th><th>vantage points</th><th>verdict</th><th>why</th></tr>\n");
        foreach (var r in located)
        {
            var cls = r.Verdict switch { "consistent" => "ok", "inconsistent" or "disjoint" => "bad", _ => "" };
            h.Append(CultureInfo.InvariantCulture,
                $"<tr><td><span class=\"swatch\" style=\"background:{colors[r.TargetId]}\"></span>{r.TargetId}</td><td>{Enc(r.Transport)}</td><td>{Enc(r.Claim?.ToString() ?? "-")}</td><td>{r.Discs.Count}</td><td class=\"{cls}\">{r.Verdict}</td><td>{Enc(r.Reason)}</td></tr>\n");
        }
        h.Append("</table>\n");

        h.Append("<h2>Measurements</h2>\n<table id=\"results\"><tr><th>source</th><th>probe cc</th><th>vantage</th><th>target</th><th>line</th><th>transport</th><th>input</th><th>tcp min ms</th><th>handshake</th><th>verdict</th><th>claim</th><th>location</th></tr>\n");
        foreach (var r in records)
        {
            var rtt = r.MinRttMs is { } ms ? ms.ToString("F1", CultureInfo.InvariantCulture) : "-";
            h.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Enc(r.Source)}</td><td>{Enc(r.ProbeCc)}</td><td>{(r.Vantage is { } v ? v.ToString() : "-")}</td><td>{r.TargetId}</td><td>{r.TargetLine}</td><td>{Enc(r.Transport)}</td><td>{Enc(r.Input)}</td><td>{rtt}</td><td>{Enc(r.HandshakeVerdict ?? "-")}</td><td class=\"{(r.Verdict == "ok" ? "ok" : "bad")}\">{Enc(r.Verdict)}</td><td>{Enc(r.Claim?.ToString() ?? "-")}</td><td title=\"{Enc(r.LocationReason ?? "")}\">{Enc(r.LocationVerdict ?? "-")}</td></tr>\n");
        }
        h.Append("</table>\n<p>Country shapes: Natural Earth 1:110m (public domain), via the world-atlas package.</p>\n</body></html>\n");
        return h.ToString();
    }

    private static (double X, double Y) Project(GeoPoint p) => ((p.Longitude + 180) * PixelsPerDegree, (90 - p.Latitude) * PixelsPerDegree);

    private static string CountryPath(Country c)
    {
        var d = new StringBuilder();
        foreach (var ring in c.Polygons.SelectMany(p => p))
        {
            for (var i = 0; i < ring.Length - 1; i++)
            {
                var (x, y) = Project(new GeoPoint(ring[i].Lat, ring[i].Lon));
                d.Append(i == 0 ? 'M' : 'L').Append(F(x)).Append(' ').Append(F(y));
            }
            d.Append('z');
        }
        return d.ToString();
    }

    /// <summary>The feasible cells of a 1° grid, merged into runs along each row.</summary>
    private static string FeasiblePath(IReadOnlyList<FeasibleDisc> discs)
    {
        var d = new StringBuilder();
        var cols = (int)(360 / FeasibleStepDegrees);
        for (var row = 0; row < (int)(180 / FeasibleStepDegrees); row++)
        {
            var lat = 90 - (row + 0.5) * FeasibleStepDegrees;
            var start = -1;
            for (var col = 0; col <= cols; col++)
            {
                var inside = col < cols && Locate.Feasible(new GeoPoint(lat, -180 + (col + 0.5) * FeasibleStepDegrees), discs);
                if (inside && start < 0)
                {
                    start = col;
                }
                else if (!inside && start >= 0)
                {
                    var px = PixelsPerDegree * FeasibleStepDegrees;
                    d.Append(CultureInfo.InvariantCulture, $"M{F(start * px)} {F(row * px)}h{F((col - start) * px)}v{F(px)}h{F(-(col - start) * px)}z");
                    start = -1;
                }
            }
        }
        return d.ToString();
    }

    /// <summary>The disc's boundary, broken where it crosses the antimeridian.</summary>
    private static string DiscPath(FeasibleDisc disc)
    {
        if (disc.RadiusKm >= Sphere.MaxDistanceKm)
            return "";
        var d = new StringBuilder();
        GeoPoint? previous = null;
        for (var bearing = 0; bearing <= 360; bearing += 3)
        {
            var p = Sphere.Destination(disc.Center, bearing, disc.RadiusKm);
            var (x, y) = Project(p);
            var jump = previous is { } q && Math.Abs(q.Longitude - p.Longitude) > 180;
            d.Append(previous is null || jump ? 'M' : 'L').Append(F(x)).Append(' ').Append(F(y));
            previous = p;
        }
        return d.ToString();
    }

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Enc(string s) => WebUtility.HtmlEncode(s);
}
