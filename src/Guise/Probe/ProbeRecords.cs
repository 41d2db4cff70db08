using System.Text.Json;
using Guise.Errors;
using Guise.Probe.Geo;

namespace Guise.Probe;

/// <summary>
/// What <c>guise locate</c> and <c>guise report</c> need from one JSONL measurement: the target, its
/// verdicts, where it was measured from and its minimum RTT, and what it claims.
/// </summary>
/// <param name="Source">FILE:LINE the record came from.</param>
/// <param name="Claim">The claim, when the record has one whose country has a shape here.</param>
public sealed record ProbeRecord(
    string Source,
    string TargetId,
    int TargetLine,
    string Transport,
    string Input,
    string ProbeCc,
    string Verdict,
    string? HandshakeVerdict,
    GeoPoint? Vantage,
    double? MinRttMs,
    LocationClaim? Claim,
    string? LocationVerdict,
    string? LocationReason);

/// <summary>Reads <c>guise probe</c> JSONL files (blank lines skipped; anything else malformed is a Config error naming FILE:LINE).</summary>
public static class ProbeRecords
{
    public static IReadOnlyList<ProbeRecord> Parse(string text, string source, CountryShapes shapes)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(shapes);
        var records = new List<ProbeRecord>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
                continue;
            var at = $"{source}:{i + 1}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                records.Add(Read(doc.RootElement, at, shapes));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new PtException(PtErrorKind.Config, $"{at}: not a guise probe measurement ({e.Message})", e);
            }
        }
        return records;
    }

    public static async Task<IReadOnlyList<ProbeRecord>> LoadAsync(IEnumerable<string> paths, CountryShapes shapes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var all = new List<ProbeRecord>();
        foreach (var path in paths)
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PtException(PtErrorKind.Config, $"cannot read '{path}': {e.Message}", e);
            }
            all.AddRange(Parse(text, Path.GetFileName(path), shapes));
        }
        if (all.Count == 0)
            throw new PtException(PtErrorKind.Config, "no measurements in the given files");
        return all;
    }

    private static ProbeRecord Read(JsonElement m, string at, CountryShapes shapes)
    {
        if (m.GetProperty("test_name").GetString() != OoniReport.TestName)
            throw new FormatException($"test_name is not {OoniReport.TestName}");
        var k = m.GetProperty("test_keys");
        var rtt = k.GetProperty("tcp_connect_rtt").GetProperty("min_ms");
        JsonElement location = k.TryGetProperty("location", out var l) && l.ValueKind == JsonValueKind.Object ? l : default;
        return new ProbeRecord(
            at,
            k.GetProperty("target_id").GetString()!,
            k.GetProperty("target_line").GetInt32(),
            k.GetProperty("transport_name").GetString()!,
            m.GetProperty("input").GetString()!,
            m.GetProperty("probe_cc").GetString()!,
            k.GetProperty("verdict").GetString()!,
            k.TryGetProperty("handshake", out var h) && h.ValueKind == JsonValueKind.Object ? h.GetProperty("verdict").GetString() : null,
            k.TryGetProperty("vantage", out var v) ? LatLon(v) : null,
            rtt.ValueKind == JsonValueKind.Number ? rtt.GetDouble() : null,
            k.TryGetProperty("claim", out var c) ? Claim(c, shapes) : null,
            location.ValueKind == JsonValueKind.Object ? location.GetProperty("verdict").GetString() : null,
            location.ValueKind == JsonValueKind.Object ? location.GetProperty("reason").GetString() : null);
    }

    private static GeoPoint? LatLon(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? new GeoPoint(e[0].GetDouble(), e[1].GetDouble()) : null;

    private static LocationClaim? Claim(JsonElement c, CountryShapes shapes)
    {
        if (c.ValueKind != JsonValueKind.Object)
            return null;
        return c.GetProperty("kind").GetString() switch
        {
            "point" => LatLon(c.GetProperty("point")) is { } p ? LocationClaim.At(p) : null,
            "country" => shapes.Find(c.GetProperty("country").GetString()!) is { } country ? LocationClaim.In(country) : null,
            _ => null,
        };
    }
}
