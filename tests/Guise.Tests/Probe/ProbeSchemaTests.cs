using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Guise.Probe;
using Guise.Tests.Shared;

namespace Guise.Tests.Probe;

/// <summary>
/// The JSONL that <c>guise probe</c> writes, checked against the schema kept in the repo
/// (docs/schema/guise-probe.schema.json, JSON Schema 2020-12).
/// </summary>
public sealed class ProbeSchemaTests
{
    private static List<string> SchemaErrors(string line) => ProbeSchema.Errors(line);

    [Fact]
    public async Task Every_record_of_a_real_run_validates_against_the_schema()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        var acceptLoop = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
                accepted.Add(await listener.AcceptSocketAsync(cts.Token));
        }, CancellationToken.None);
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var open = ((IPEndPoint)listener.LocalEndpoint).Port;
        var dir = Directory.CreateTempSubdirectory("guise-schema-");
        try
        {
            var file = Path.Combine(dir.FullName, "targets.txt");
            await File.WriteAllTextAsync(file, $"""
                plain 127.0.0.1:{open} @48.8566,2.3522
                plain 127.0.0.1:{closedPort}
                obfs4 127.0.0.1:{open} cert=tooshort iat-mode=0
                """, cts.Token);
            var jsonl = new StringWriter();
            var exit = await ProbeApp.RunAsync(new ProbeAppOptions
            {
                TargetsFile = file,
                Probe = new ProbeOptions { Tries = 2, ConnectTimeout = TimeSpan.FromSeconds(3), HandshakeTimeout = TimeSpan.FromSeconds(3), Vantage = new GeoPoint(52.52, 13.405) },
                Report = new ProbeReportContext { ProbeCc = "DE", ProbeAsn = "AS3320" },
            }, jsonl, TextWriter.Null, tty: false, cts.Token);

            Assert.Equal(ProbeApp.ExitSomeFailed, exit);
            var lines = jsonl.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            var verdicts = new List<string>();
            foreach (var line in lines)
            {
                Assert.Empty(SchemaErrors(line));
                using var doc = JsonDocument.Parse(line);
                verdicts.Add(doc.RootElement.GetProperty("test_keys").GetProperty("verdict").GetString()!);
            }
            // The run covered a success, a TCP failure and a handshake failure (and a location check).
            Assert.Equal(["bad_bridge_args", "ok", "tcp_refused"], verdicts.Order());
            Assert.Contains(lines, l => l.Contains("\"location\":{", StringComparison.Ordinal));
        }
        finally
        {
            await cts.CancelAsync();
            await Task.WhenAny(acceptLoop);
            foreach (var s in accepted)
                s.Dispose();
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_record_with_tor_keys_validates_against_the_schema()
    {
        var target = ProbeTargetsFile.Parse("obfs4 192.0.2.7:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=SECRETCERTVALUE iat-mode=0")[0];
        var result = new ProbeResult(target, DateTimeOffset.UnixEpoch, 31.5, [new("192.0.2.7", 443, 0, 0.01, null, null)],
            new StepResult("in_process", 0.01, 0.2, null, "ok", null),
            new TorResult(25, "requesting_status", "Asking for networkstatus consensus", 0, 2.5, "generic_timeout_error",
                "timeout-reached", 30, ["Bootstrapped 25%"], "0.4.9.1", "obfs4", "bootstrap_100"),
            null, "tor_failed", "generic_timeout_error", "tor");
        Assert.Empty(SchemaErrors(OoniReport.ToJsonLine(result, new ProbeReportContext())));
    }

    [Theory]
    [InlineData("\"measurement_start_time\":\"2025-01-02 03:04:05\"", "\"measurement_start_time\":\"2025-01-02T03:04:05Z\"")]
    [InlineData("\"probe_cc\":\"ZZ\"", "\"probe_cc\":\"zz\"")]
    [InlineData("\"probe_asn\":\"AS0\",", "")]
    [InlineData("\"status\":{\"failure\":null,\"success\":true}", "\"status\":{\"failure\":\"connection_refused\",\"success\":true}")]
    [InlineData("\"test_runtime\":1.5", "\"test_runtime\":\"1.5\"")]
    [InlineData("\"verdict\":\"ok\"", "\"verdict\":\"Not OK\"")]
    public void The_schema_rejects_a_record_that_breaks_the_format(string good, string bad)
    {
        var target = ProbeTargetsFile.Parse("plain 192.0.2.7:80")[0];
        var line = OoniReport.ToJsonLine(new ProbeResult(target, new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), 1.5,
            [new("192.0.2.7", 80, 0, 0.01, null, null)], new StepResult("in_process", 0.01, 0.02, null, "ok", null),
            null, null, "ok", null, null), new ProbeReportContext());
        Assert.Contains(good, line, StringComparison.Ordinal);
        Assert.Empty(SchemaErrors(line));
        Assert.NotEmpty(SchemaErrors(line.Replace(good, bad, StringComparison.Ordinal)));
    }
}
