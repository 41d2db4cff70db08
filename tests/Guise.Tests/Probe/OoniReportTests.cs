using System.Text.Json;
using Guise.Errors;
using Guise.Probe;

namespace Guise.Tests.Probe;

public class OoniReportTests
{
    private static readonly ProbeTarget Target =
        ProbeTargetsFile.Parse("obfs4 192.0.2.7:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=SECRETCERTVALUE iat-mode=0 @22.3,114.2")[0];

    private static ProbeResult Sample(bool withTor) => new(
        Target, new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), 1.5,
        [new("192.0.2.7", 443, 0, 0.01, null, null), new("192.0.2.7", 443, 0.01, 0.03, PtErrorKind.Timeout, "t")],
        new StepResult("in_process", 0.03, 3.03, PtErrorKind.Timeout, "silent_server", "obfs4 to 192.0.2.7:443 timed out"),
        withTor ? new TorResult(25, "requesting_status", "Asking for networkstatus consensus", 0, 2.5, "generic_timeout_error",
            "timeout-reached", 30, ["Bootstrapped 25% ... at 192.0.2.7"], "0.4.9.1", "obfs4", "bootstrap_100") : null,
        LocationCheck.Check(new GeoPoint(52.52, 13.4), Target.Claim!, 10),
        "silent_server", "generic_timeout_error", "handshake");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_record_has_every_base_field_with_its_type(bool withTor)
    {
        var line = OoniReport.ToJsonLine(Sample(withTor), new ProbeReportContext());
        Assert.DoesNotContain('\n', line);
        using var doc = JsonDocument.Parse(line);
        Assert.Empty(OoniShape.Validate(doc.RootElement));
        var m = doc.RootElement;
        Assert.Equal("2025-01-02 03:04:05", m.GetProperty("measurement_start_time").GetString());
        Assert.Equal("ZZ", m.GetProperty("probe_cc").GetString());
        Assert.Equal("AS0", m.GetProperty("probe_asn").GetString());
        var k = m.GetProperty("test_keys");
        Assert.Equal("generic_timeout_error", k.GetProperty("tcp_connect")[1].GetProperty("status").GetProperty("failure").GetString());
        Assert.True(k.GetProperty("tcp_connect")[0].GetProperty("status").GetProperty("success").GetBoolean());
        Assert.Equal("silent_server", k.GetProperty("handshake").GetProperty("verdict").GetString());
        Assert.Equal("impossible", k.GetProperty("location").GetProperty("verdict").GetString());
    }

    [Fact]
    public void Addresses_fingerprints_and_args_are_scrubbed_by_default()
    {
        var line = OoniReport.ToJsonLine(Sample(true), new ProbeReportContext());
        Assert.DoesNotContain("192.0.2.7", line, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETCERTVALUE", line, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789ABCDEF", line, StringComparison.Ordinal);

        var open = OoniReport.ToJsonLine(Sample(true), new ProbeReportContext { IncludeAddresses = true });
        Assert.Contains("\"ip\":\"192.0.2.7\"", open, StringComparison.Ordinal);
        Assert.Contains("cert=SECRETCERTVALUE", open, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_catches_wrong_shapes()
    {
        using var doc = JsonDocument.Parse("""
            {"annotations":{},"data_format_version":"0.2.0","input":null,"measurement_start_time":"2025-01-02T03:04:05Z",
             "probe_asn":"0","probe_cc":"ZZ","probe_ip":"127.0.0.1","report_id":"","resolver_asn":"AS0","resolver_ip":"127.0.0.1",
             "software_name":"guise","software_version":"1","test_name":"guise_probe","test_start_time":"2025-01-02 03:04:05",
             "test_version":"0.1.0","test_runtime":"1",
             "test_keys":{"verdict":"ok","success":true,"failure":null,"transport_name":"plain",
               "tcp_connect":[{"ip":"[scrubbed]","port":"80","status":{"failure":"x","success":true}}]}}
            """);
        var errors = OoniShape.Validate(doc.RootElement);
        Assert.Contains("input is Null, not String", errors);
        Assert.Contains("test_runtime is String, not Number", errors);
        Assert.Contains(errors, e => e.StartsWith("measurement_start_time", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("probe_asn", StringComparison.Ordinal));
        Assert.Contains("test_keys.tcp_connect[0].port is String, not Number", errors);
        Assert.Contains("test_keys.tcp_connect[0].status.success is true but failure is not null", errors);
    }

    [Theory]
    [InlineData(PtErrorKind.Refused, "connection_refused")]
    [InlineData(PtErrorKind.Timeout, "generic_timeout_error")]
    [InlineData(PtErrorKind.Reset, "connection_reset")]
    [InlineData(PtErrorKind.Eof, "eof_error")]
    [InlineData(PtErrorKind.Unreachable, "host_unreachable")]
    [InlineData(PtErrorKind.DnsFailure, "dns_nxdomain_error")]
    [InlineData(PtErrorKind.Proxy, "socks_error")]
    public void Taxonomy_kinds_map_to_ooni_failure_strings(PtErrorKind kind, string expected) =>
        Assert.Equal(expected, ProbeFailure.OoniString(kind));

    [Fact]
    public void A_silent_server_is_not_a_refused_connect()
    {
        Assert.Equal("silent_server", ProbeFailure.HandshakeVerdict(PtErrorKind.Timeout));
        Assert.Equal("handshake_rejected", ProbeFailure.HandshakeVerdict(PtErrorKind.Eof));
        Assert.Equal("tcp_refused", ProbeFailure.TcpVerdict(PtErrorKind.Refused));
        Assert.Equal("tcp_timeout", ProbeFailure.TcpVerdict(PtErrorKind.Timeout));
    }

    [Fact]
    public void The_summary_table_lists_every_target_without_addresses()
    {
        var table = ProbeApp.SummaryTable([Sample(false)], includeAddresses: false);
        Assert.Contains("silent_server", table, StringComparison.Ordinal);
        Assert.Contains(OoniReport.TargetId(Target), table, StringComparison.Ordinal);
        Assert.DoesNotContain("192.0.2.7", table, StringComparison.Ordinal);
    }
}
