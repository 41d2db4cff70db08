using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Guise.Probe;

/// <summary>Who measured, from where: the base-format fields that are not per target.</summary>
public sealed record ProbeReportContext
{
    public string ProbeCc { get; init; } = "ZZ";

    public string ProbeAsn { get; init; } = "AS0";

    public string SoftwareVersion { get; init; } = GuiseInfo.Version;

    /// <summary>Keep bridge addresses, fingerprints and args in the report (they out a bridge).</summary>
    public bool IncludeAddresses { get; init; }

    public DateTimeOffset TestStartTime { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Where the probe was (<c>--vantage</c>): written into every record for <c>guise locate</c>.</summary>
    public GeoPoint? Vantage { get; init; }

    /// <summary>The probe's options, as OONI records them in <c>annotations</c>.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Writes one measurement per target as a single JSON line, in OONI's data format: the base
/// fields (ooni/spec data-formats), <c>test_keys.tcp_connect</c> as df-005 TCPConnect entries,
/// failure strings per df-007, and the tor keys shaped like ts-016 vanilla_tor. Written with
/// Utf8JsonWriter (no reflection), so NativeAOT needs nothing.
/// </summary>
public static class OoniReport
{
    public const string TestName = "guise_probe";
    public const string TestVersion = "0.1.0";
    public const string DataFormatVersion = "0.2.0";
    private const string Scrubbed = "[scrubbed]";

    /// <summary>OONI's timestamp form: "2006-01-02 15:04:05", UTC.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A stable id for a target that does not reveal it: the first 16 hex digits of SHA-256 of its bridge line.</summary>
    public static string TargetId(ProbeTarget target) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target.BridgeLine)))[..16];

    public static string ToJsonLine(ProbeResult r, ProbeReportContext ctx)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            Write(w, r, ctx);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void Write(Utf8JsonWriter w, ProbeResult r, ProbeReportContext ctx)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(ctx);
        var t = r.Target;
        var unsafeAddresses = ctx.IncludeAddresses;
        w.WriteStartObject();
        w.WriteStartObject("annotations");
        w.WriteString("engine_name", "guise");
        w.WriteString("engine_version", ctx.SoftwareVersion);
        w.WriteString("platform", OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "macos" : OperatingSystem.IsWindows() ? "windows" : "unknown");
        w.WriteString("architecture", System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant());
        foreach (var (k, v) in ctx.Annotations)
            w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteString("data_format_version", DataFormatVersion);
        w.WriteString("input", unsafeAddresses ? t.BridgeLine : t.ScrubbedBridgeLine);
        w.WriteString("measurement_start_time", Timestamp(r.StartTime));
        w.WriteString("probe_asn", ctx.ProbeAsn);
        w.WriteString("probe_cc", ctx.ProbeCc);
        // OONI's convention for a scrubbed probe address.
        w.WriteString("probe_ip", "127.0.0.1");
        w.WriteString("probe_network_name", "");
        w.WriteString("report_id", "");
        w.WriteString("resolver_asn", "AS0");
        w.WriteString("resolver_ip", "127.0.0.1");
        w.WriteString("resolver_network_name", "");
        w.WriteString("software_name", "guise");
        w.WriteString("software_version", ctx.SoftwareVersion);
        w.WriteString("test_name", TestName);
        w.WriteNumber("test_runtime", r.Runtime);
        w.WriteString("test_start_time", Timestamp(ctx.TestStartTime));
        w.WriteString("test_version", TestVersion);

        w.WriteStartObject("test_keys");
        w.WriteString("target_id", TargetId(t));
        w.WriteNumber("target_line", t.Line);
        w.WriteString("transport_name", t.Transport);
        w.WriteString("verdict", r.Verdict);
        WriteNullable(w, "failure", r.Failure);
        WriteNullable(w, "failed_step", r.FailedStep);
        w.WriteBoolean("success", r.Success);
        if (ctx.Vantage is { } vantage)
            WriteLatLon(w, "vantage", vantage);
        else
            w.WriteNull("vantage");
        WriteClaim(w, t);

        w.WriteStartArray("tcp_connect");
        foreach (var c in r.TcpConnect)
        {
            w.WriteStartObject();
            w.WriteString("ip", unsafeAddresses ? c.Ip : Scrubbed);
            w.WriteNumber("port", c.Port);
            w.WriteStartObject("status");
            WriteNullable(w, "failure", c.Failure);
            w.WriteBoolean("success", c.Success);
            w.WriteEndObject();
            w.WriteNumber("t0", c.T0);
            w.WriteNumber("t", c.T);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("tcp_connect_rtt");
        w.WriteNumber("tries", r.TcpConnect.Count);
        w.WriteNumber("successes", r.TcpConnect.Count(c => c.Success));
        WriteNullable(w, "min_ms", r.MinRttMs);
        WriteNullable(w, "median_ms", r.MedianRttMs);
        w.WriteEndObject();

        if (r.Handshake is { } h)
        {
            w.WriteStartObject("handshake");
            w.WriteString("mode", h.Mode);
            WriteNullable(w, "failure", h.Failure);
            w.WriteBoolean("success", h.Success);
            w.WriteString("verdict", h.Verdict);
            WriteNullable(w, "error_kind", h.Kind is { } k ? Errors.PtErrorKindExtensions.Token(k) : null);
            WriteNullable(w, "retry_advice", h.Kind is { } k2 ? Errors.PtErrorKindExtensions.Token(Errors.PtErrorKindExtensions.Advice(k2)) : null);
            WriteNullable(w, "message", h.Message is null ? null : unsafeAddresses ? h.Message : ScrubText(h.Message, t));
            w.WriteNumber("t0", h.T0);
            w.WriteNumber("t", h.T);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("handshake");
        }

        if (r.Tor is { } tor)
        {
            w.WriteStartObject("tor");
            w.WriteNumber("bootstrap_time", tor.BootstrapTime);
            WriteNullable(w, "bridge_descriptor_time", tor.BridgeDescriptorTime);
            WriteNullable(w, "error", tor.Error);
            WriteNullable(w, "failure", tor.Failure);
            w.WriteString("goal", tor.Goal);
            w.WriteBoolean("success", tor.Bootstrapped);
            w.WriteNumber("timeout", tor.Timeout);
            w.WriteStartArray("tor_logs");
            foreach (var line in tor.Logs)
                w.WriteStringValue(unsafeAddresses ? line : ScrubText(line, t));
            w.WriteEndArray();
            w.WriteNumber("tor_progress", tor.Progress);
            w.WriteString("tor_progress_tag", tor.Tag);
            w.WriteString("tor_progress_summary", tor.Summary);
            w.WriteString("tor_version", tor.TorVersion);
            w.WriteString("transport_name", tor.TransportName);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("tor");
        }

        if (r.Location is { } loc)
        {
            w.WriteStartObject("location");
            w.WriteString("verdict", loc.Verdict);
            w.WriteString("reason", loc.Reason);
            WriteLatLon(w, "vantage", loc.Vantage);
            if (loc.Claim.Point is { } point)
                WriteLatLon(w, "claim", point);
            else
                w.WriteNull("claim");
            WriteNullable(w, "claim_country", loc.Claim.Country?.Code);
            w.WriteNumber("claimed_distance_km", Math.Round(loc.ClaimedDistanceKm, 1));
            w.WriteNumber("claimed_farthest_km", Math.Round(loc.ClaimedFarthestKm, 1));
            w.WriteNumber("min_rtt_ms", Math.Round(loc.MinRttMs, 3));
            w.WriteNumber("max_distance_km", Math.Round(loc.MaxDistanceKm, 1));
            w.WriteNumber("likely_rtt_ceiling_ms", Math.Round(loc.LikelyCeilingMs, 1));
            w.WriteNumber("physical_km_per_ms_rtt", LocationCheck.PhysicalKmPerMsRtt);
            w.WriteNumber("likely_km_per_ms_rtt", LocationCheck.LikelyKmPerMsRtt);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("location");
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Removes the target's address, fingerprint and arg values from free text.</summary>
    public static string ScrubText(string text, ProbeTarget target)
    {
        text = text.Replace(target.Address.ToString(), Scrubbed, StringComparison.Ordinal)
            .Replace(target.Address.Host, Scrubbed, StringComparison.Ordinal);
        if (target.Fingerprint is { } fp)
            text = text.Replace(fp, Scrubbed, StringComparison.OrdinalIgnoreCase);
        foreach (var (_, v) in target.Args)
        {
            if (v.Length >= 8)
                text = text.Replace(v, Scrubbed, StringComparison.Ordinal);
        }
        return text;
    }

    private static void WriteClaim(Utf8JsonWriter w, ProbeTarget t)
    {
        if (t.Claim is not { } claim)
        {
            w.WriteNull("claim");
            return;
        }
        w.WriteStartObject("claim");
        if (claim.Country is { } country)
        {
            w.WriteString("kind", "country");
            w.WriteString("country", country.Code);
            w.WriteString("country_name", country.Name);
        }
        else
        {
            w.WriteString("kind", "point");
            WriteLatLon(w, "point", claim.Point!.Value);
        }
        w.WriteEndObject();
    }

    /// <summary>[latitude, longitude].</summary>
    private static void WriteLatLon(Utf8JsonWriter w, string name, GeoPoint p)
    {
        w.WriteStartArray(name);
        w.WriteNumberValue(p.Latitude);
        w.WriteNumberValue(p.Longitude);
        w.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
            w.WriteNull(name);
        else
            w.WriteString(name, value);
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
            w.WriteNumber(name, Math.Round(v, 3));
        else
            w.WriteNull(name);
    }
}
