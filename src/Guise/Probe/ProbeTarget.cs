using System.Globalization;
using Guise.Errors;
using Guise.Net;
using Guise.Probe.Geo;
using Guise.Transports;

namespace Guise.Probe;

/// <summary>
/// One thing to measure: a Tor bridge line from a targets file, with the line it came from (for
/// error messages and for the report) and an optional claimed location.
/// </summary>
/// <param name="Line">1-based line number in the targets file.</param>
/// <param name="Transport">The PT name, or <see cref="Vanilla"/> for a bare ORPort.</param>
/// <param name="Fingerprint">The relay identity (40 hex digits), when the line gives one.</param>
/// <param name="Claim">Where the operator says the server is, when the line says so.</param>
public sealed record ProbeTarget(int Line, string Transport, HostPort Address, string? Fingerprint, PtArgs Args, LocationClaim? Claim)
{
    /// <summary>The transport name used for a bare ORPort (Tor's own TLS, no PT).</summary>
    public const string Vanilla = "vanilla";

    public bool IsVanilla => Transport == Vanilla;

    /// <summary>The torrc <c>Bridge</c> line for this target (without the claim).</summary>
    public string BridgeLine
    {
        get
        {
            var parts = new List<string>(4);
            if (!IsVanilla)
                parts.Add(Transport);
            parts.Add(Address.ToString());
            if (Fingerprint is not null)
                parts.Add(Fingerprint);
            if (Args.Count > 0)
                parts.Add(Args.ToBridgeLineArgs());
            return string.Join(' ', parts);
        }
    }

    /// <summary>The bridge line with the address, fingerprint and every arg value replaced (for reports).</summary>
    public string ScrubbedBridgeLine
    {
        get
        {
            var parts = new List<string>(4) { Transport, "[scrubbed]" };
            if (Fingerprint is not null)
                parts.Add("[scrubbed]");
            parts.AddRange(Args.Select(kv => $"{kv.Key}=[scrubbed]"));
            return string.Join(' ', parts);
        }
    }
}

/// <summary>
/// Parses a targets file: one Tor bridge line per line, as torrc's <c>Bridge</c> option takes it.
/// </summary>
/// <remarks>
/// <code>
/// # comment                                   (and blank lines) are skipped
/// [Bridge] TRANSPORT HOST:PORT [FINGERPRINT] [k=v ...] [@LAT,LON | @CC]
/// [Bridge] HOST:PORT [FINGERPRINT] [@LAT,LON | @CC]            a bare ORPort (vanilla)
/// [Bridge] vanilla HOST:PORT [FINGERPRINT] [@LAT,LON | @CC]    the same, named
/// </code>
/// <c>@LAT,LON</c> (decimal degrees) or <c>@CC</c> (ISO 3166-1 alpha-2 country with a shape in
/// <see cref="CountryShapes.Default"/>) is the location the server claims, used by the location
/// plausibility check. Every error is a Config <see cref="PtException"/> whose message starts
/// with <c>SOURCE:LINE:</c>.
/// </remarks>
public static class ProbeTargetsFile
{
    public static IReadOnlyList<ProbeTarget> Parse(string text, string source = "targets")
    {
        ArgumentNullException.ThrowIfNull(text);
        var targets = new List<ProbeTarget>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            try
            {
                targets.Add(ParseLine(line, i + 1));
            }
            catch (PtException e)
            {
                throw new PtException(PtErrorKind.Config, $"{source}:{i + 1}: {e.Message}", e);
            }
        }
        if (targets.Count == 0)
            throw new PtException(PtErrorKind.Config, $"{source}: no targets (every line is blank or a comment)");
        return targets;
    }

    public static async Task<IReadOnlyList<ProbeTarget>> LoadAsync(string path, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PtException(PtErrorKind.Config, $"cannot read targets file '{path}': {e.Message}", e);
        }
        return Parse(text, Path.GetFileName(path));
    }

    /// <summary>Parses one non-blank, non-comment line (no line number in the message).</summary>
    public static ProbeTarget ParseLine(string line, int lineNumber)
    {
        var tokens = new Queue<string>(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
        if (tokens.Peek().Equals("Bridge", StringComparison.OrdinalIgnoreCase))
            tokens.Dequeue();
        if (tokens.Count == 0)
            throw new PtException(PtErrorKind.Config, "'Bridge' with nothing after it");

        string transport;
        if (HostPort.TryParse(tokens.Peek(), out _))
        {
            transport = ProbeTarget.Vanilla;
        }
        else
        {
            transport = tokens.Dequeue();
            if (!TransportRegistry.IsCIdentifier(transport))
                throw new PtException(PtErrorKind.Config, $"'{transport}' is neither a transport name nor HOST:PORT");
            if (tokens.Count == 0)
                throw new PtException(PtErrorKind.Config, $"'{transport}' needs HOST:PORT after it");
        }

        var addressText = tokens.Dequeue();
        if (!HostPort.TryParse(addressText, out var parsed))
            throw new PtException(PtErrorKind.Config, $"'{addressText}' is not HOST:PORT (IPv6 goes in brackets: [::1]:443)");
        if (parsed.Value.Port == 0)
            throw new PtException(PtErrorKind.Config, $"'{addressText}': port 0 cannot be dialed");

        string? fingerprint = null;
        if (tokens.Count > 0 && !tokens.Peek().Contains('=', StringComparison.Ordinal) && !tokens.Peek().StartsWith('@'))
        {
            var fp = tokens.Dequeue();
            if (fp.StartsWith('$'))
                fp = fp[1..];
            if (fp.Length != 40 || !fp.All(char.IsAsciiHexDigit))
                throw new PtException(PtErrorKind.Config, $"'{fp}' is not a relay fingerprint (40 hex digits)");
            fingerprint = fp.ToUpperInvariant();
        }

        var args = new PtArgs();
        LocationClaim? claim = null;
        while (tokens.Count > 0)
        {
            var token = tokens.Dequeue();
            if (token.StartsWith('@'))
            {
                if (claim is not null)
                    throw new PtException(PtErrorKind.Config, "more than one claimed location (@LAT,LON or @CC)");
                claim = LocationClaim.Parse(token[1..]);
                continue;
            }
            if (claim is not null)
                throw new PtException(PtErrorKind.Config, $"'{token}' after the claimed location: @LAT,LON or @CC goes last");
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
                throw new PtException(PtErrorKind.Config, $"'{token}' is not a k=v bridge argument");
            if (eq == 0)
                throw new PtException(PtErrorKind.Config, $"'{token}' has an empty argument name");
            args.Add(token[..eq], token[(eq + 1)..]);
        }
        if (transport == ProbeTarget.Vanilla && args.Count > 0)
            throw new PtException(PtErrorKind.Config, "a vanilla (bare ORPort) bridge takes no k=v arguments");
        return new ProbeTarget(lineNumber, transport, parsed.Value, fingerprint, args, claim);
    }
}

/// <summary>Where a server's operator says it is: a point, or anywhere in a country.</summary>
public sealed record LocationClaim
{
    private LocationClaim(GeoPoint? point, Country? country)
    {
        Point = point;
        Country = country;
    }

    public GeoPoint? Point { get; }

    public Country? Country { get; }

    public static LocationClaim At(GeoPoint point) => new(point, null);

    public static LocationClaim In(Country country) => new(null, country ?? throw new ArgumentNullException(nameof(country)));

    /// <summary>Parses <c>LAT,LON</c> or a country code (what follows the <c>@</c>); a Config <see cref="PtException"/> otherwise.</summary>
    public static LocationClaim Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (GeoPoint.TryParse(text, out var point))
            return At(point);
        if (text.Length == 2 && text.All(char.IsAsciiLetter))
        {
            var code = text.ToUpperInvariant();
            var shapes = CountryShapes.Default;
            return shapes.Find(code) is { } country
                ? In(country)
                : throw new PtException(PtErrorKind.Config, shapes.IsIsoCode(code)
                    ? $"'@{code}': this country has no shape in Natural Earth 1:110m (too small); claim @LAT,LON instead"
                    : $"'@{code}' is not an ISO 3166-1 alpha-2 country code");
        }
        throw new PtException(PtErrorKind.Config, $"'@{text}' is not a location: write @LAT,LON in decimal degrees (e.g. @52.52,13.40) or a country code (@DE)");
    }

    public override string ToString() => Country?.Code ?? Point!.Value.ToString();
}

/// <summary>A point on the Earth in decimal degrees.</summary>
public readonly record struct GeoPoint(double Latitude, double Longitude)
{
    public static bool TryParse(string text, out GeoPoint point)
    {
        point = default;
        var comma = text.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0)
            return false;
        if (!double.TryParse(text.AsSpan(0, comma), NumberStyles.Float, CultureInfo.InvariantCulture, out var lat)
            || !double.TryParse(text.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var lon))
            return false;
        if (lat is < -90 or > 90 || lon is < -180 or > 180 || double.IsNaN(lat) || double.IsNaN(lon))
            return false;
        point = new GeoPoint(lat, lon);
        return true;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Latitude:0.####},{Longitude:0.####}");
}
