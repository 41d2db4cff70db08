using System.Text.Json;
using System.Text.RegularExpressions;

namespace Guise.Probe;

/// <summary>
/// Checks a measurement against the field shapes this probe promises: OONI's base data format,
/// df-005 tcp_connect entries, df-007-style failure fields and the vanilla_tor-shaped tor keys.
/// Returns the problems found (empty when the record is well formed).
/// </summary>
public static partial class OoniShape
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]
    private static partial Regex OoniTime();

    [GeneratedRegex(@"^AS\d+$")]
    private static partial Regex Asn();

    [GeneratedRegex(@"^[A-Z]{2}$")]
    private static partial Regex CountryCode();

    public static IReadOnlyList<string> Validate(JsonElement m)
    {
        var errors = new List<string>();
        if (m.ValueKind != JsonValueKind.Object)
            return ["the measurement is not a JSON object"];
        Require(m, "annotations", JsonValueKind.Object, errors, "");
        foreach (var name in new[] { "data_format_version", "measurement_start_time", "probe_asn", "probe_cc", "probe_ip",
            "report_id", "resolver_asn", "resolver_ip", "software_name", "software_version", "test_name", "test_start_time", "test_version", "input" })
            Require(m, name, JsonValueKind.String, errors, "");
        Require(m, "test_runtime", JsonValueKind.Number, errors, "");
        Require(m, "test_keys", JsonValueKind.Object, errors, "");
        Match(m, "measurement_start_time", OoniTime(), errors);
        Match(m, "test_start_time", OoniTime(), errors);
        Match(m, "probe_asn", Asn(), errors);
        Match(m, "probe_cc", CountryCode(), errors);
        if (!m.TryGetProperty("test_keys", out var k) || k.ValueKind != JsonValueKind.Object)
            return errors;

        Require(k, "verdict", JsonValueKind.String, errors, "test_keys.");
        Require(k, "success", JsonValueKind.True, errors, "test_keys.", JsonValueKind.False);
        Require(k, "failure", JsonValueKind.Null, errors, "test_keys.", JsonValueKind.String);
        Require(k, "transport_name", JsonValueKind.String, errors, "test_keys.");
        Require(k, "tcp_connect", JsonValueKind.Array, errors, "test_keys.");
        if (k.TryGetProperty("tcp_connect", out var tcp) && tcp.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var c in tcp.EnumerateArray())
            {
                var at = $"test_keys.tcp_connect[{i++}].";
                Require(c, "ip", JsonValueKind.String, errors, at);
                Require(c, "port", JsonValueKind.Number, errors, at);
                Require(c, "status", JsonValueKind.Object, errors, at);
                if (c.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object)
                    Status(s, errors, at + "status.");
            }
        }
        if (k.TryGetProperty("handshake", out var h) && h.ValueKind == JsonValueKind.Object)
        {
            Status(h, errors, "test_keys.handshake.");
            Require(h, "verdict", JsonValueKind.String, errors, "test_keys.handshake.");
        }
        if (k.TryGetProperty("tor", out var tor) && tor.ValueKind == JsonValueKind.Object)
        {
            const string at = "test_keys.tor.";
            Require(tor, "bootstrap_time", JsonValueKind.Number, errors, at);
            Require(tor, "failure", JsonValueKind.Null, errors, at, JsonValueKind.String);
            Require(tor, "success", JsonValueKind.True, errors, at, JsonValueKind.False);
            Require(tor, "timeout", JsonValueKind.Number, errors, at);
            Require(tor, "tor_logs", JsonValueKind.Array, errors, at);
            Require(tor, "tor_progress", JsonValueKind.Number, errors, at);
            Require(tor, "tor_progress_tag", JsonValueKind.String, errors, at);
            Require(tor, "tor_progress_summary", JsonValueKind.String, errors, at);
            Require(tor, "tor_version", JsonValueKind.String, errors, at);
            Require(tor, "transport_name", JsonValueKind.String, errors, at);
        }
        return errors;
    }

    /// <summary>df-005 Status: failure is null exactly when success is true.</summary>
    private static void Status(JsonElement s, List<string> errors, string at)
    {
        Require(s, "failure", JsonValueKind.Null, errors, at, JsonValueKind.String);
        Require(s, "success", JsonValueKind.True, errors, at, JsonValueKind.False);
        if (s.TryGetProperty("failure", out var f) && s.TryGetProperty("success", out var ok)
            && ok.ValueKind is JsonValueKind.True && f.ValueKind != JsonValueKind.Null)
            errors.Add($"{at}success is true but failure is not null");
    }

    private static void Require(JsonElement o, string name, JsonValueKind kind, List<string> errors, string at, JsonValueKind? orKind = null)
    {
        if (!o.TryGetProperty(name, out var v))
            errors.Add($"{at}{name} is missing");
        else if (v.ValueKind != kind && v.ValueKind != orKind)
            errors.Add($"{at}{name} is {v.ValueKind}, not {kind}{(orKind is { } o2 ? $" or {o2}" : "")}");
    }

    private static void Match(JsonElement o, string name, Regex pattern, List<string> errors)
    {
        if (o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && !pattern.IsMatch(v.GetString()!))
            errors.Add($"{name} '{v.GetString()}' does not have OONI's form");
    }
}
