using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Guise.Interop.Tests.Support;
using Guise.Probe;
using Guise.Tests.Shared;
using Guise.Transports;

namespace Guise.Interop.Tests.Probe;

public sealed class ProbeTorAndLocationTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(150);

    /// <summary>
    /// --tor against a loopback bridge tor (obfs4proxy as its server plugin): the client tor runs
    /// obfs4proxy, or the guise binary under test, as its ClientTransportPlugin and reaches the bridge
    /// descriptor through the tunnel; without directory authorities it cannot reach 100 %, and the
    /// record says how far it got. A vanilla line for the same bridge's ORPort is measured too.
    /// </summary>
    [Theory]
    [InlineData("obfs4proxy")]
    [InlineData("guise")]
    public async Task Tor_bootstrap_is_recorded_up_to_the_bridge_descriptor(string clientPlugin)
    {
        var plugin = clientPlugin == "guise" ? Peers.Guise : Peers.Obfs4Proxy;
        using var cts = new CancellationTokenSource(HangGuard);
        using var root = new TempDir();
        var bridge = await Tor.StartBridgeAsync(root, "obfs4", Peers.Obfs4Proxy);
        using var bridgeProcess = bridge.Process;
        var template = await File.ReadAllTextAsync(Path.Combine(bridge.DataDirectory, "pt_state", "obfs4_bridgeline.txt"), cts.Token);
        var cert = template.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).First(t => t.StartsWith("cert=", StringComparison.Ordinal));
        var targets = ProbeTargetsFile.Parse($"""
            obfs4 127.0.0.1:{bridge.PtPort} {bridge.Fingerprint} {cert} iat-mode=0
            127.0.0.1:{bridge.OrPort} {bridge.Fingerprint}
            """);
        var options = new ProbeOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(10),
            Tor = new TorProbeOptions
            {
                TorBinary = Peers.Tor,
                PluginCommand = name => name == "obfs4" ? $"exec {plugin}" : null,
                ExtraTorrcLines = Tor.LoopbackOnly.Split('\n'),
                Timeout = TimeSpan.FromSeconds(60),
                StopAtDescriptor = true,
                WorkRoot = root,
            },
        };
        var results = (await new ProbeRunner(options, ProbeRunner.Transports(TransportRegistry.Default)).RunAsync(targets, null, null, cts.Token))
            .OrderBy(r => r.Target.Line).ToList();

        foreach (var r in results)
        {
            Assert.True(r.Success, $"line {r.Target.Line}: {r.Verdict} {r.Handshake?.Message} {string.Join(" | ", r.Tor?.Logs ?? [])}");
            var tor = r.Tor!;
            Assert.NotNull(tor.BridgeDescriptorTime);
            Assert.InRange(tor.BridgeDescriptorTime!.Value, 0.01, 60);
            Assert.InRange(tor.Progress, 1, 99);
            Assert.NotEmpty(tor.Tag);
            Assert.False(tor.Bootstrapped);
            Assert.Equal(0, tor.BootstrapTime);
            Assert.Matches(@"^\d+\.\d+\.\d+\.\d+", tor.TorVersion);
            Assert.Contains(tor.Logs, l => l.Contains("new bridge descriptor", StringComparison.Ordinal));
            var line = OoniReport.ToJsonLine(r, new ProbeReportContext());
            using var doc = JsonDocument.Parse(line);
            Assert.Empty(OoniShape.Validate(doc.RootElement));
            Assert.Empty(ProbeSchema.Errors(line));
            Assert.DoesNotContain(bridge.Fingerprint, doc.RootElement.GetRawText(), StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal("in_process", results[0].Handshake!.Mode);
        Assert.Equal("tls", results[1].Handshake!.Mode);
    }

    /// <summary>
    /// Two test hosts behind delay lines (../shared/netem/delayline.py): one answers in ~5 ms, one
    /// in ~121 ms. Both claim to be in Hong Kong, ~8750 km from a vantage point in Berlin, and then
    /// to be in China (a country claim).
    /// </summary>
    [Fact]
    public async Task A_claim_the_rtt_cannot_reach_is_impossible_and_one_it_fits_is_plausible()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var near = await DelayedHost.StartAsync("gprobe181", 181, delayMs: 2.5);
        await using var far = await DelayedHost.StartAsync("gprobe182", 182, delayMs: 60);
        var targets = ProbeTargetsFile.Parse($"""
            plain {near.EndPoint} @22.3193,114.1694
            plain {far.EndPoint} @22.3193,114.1694
            plain {near.EndPoint} @CN
            plain {far.EndPoint} @CN
            """);
        var options = new ProbeOptions { Tries = 4, Vantage = new GeoPoint(52.52, 13.405), ConnectTimeout = TimeSpan.FromSeconds(5) };
        var results = (await new ProbeRunner(options, ProbeRunner.Transports(TransportRegistry.Default)).RunAsync(targets, null, null, cts.Token))
            .OrderBy(r => r.Target.Line).ToList();

        var nearLoc = results[0].Location!;
        var farLoc = results[1].Location!;
        Assert.InRange(nearLoc.MinRttMs, 4.5, 30);
        Assert.InRange(farLoc.MinRttMs, 119, 180);
        Assert.InRange(nearLoc.ClaimedDistanceKm, 8700, 8800);
        Assert.Equal("impossible", nearLoc.Verdict);
        Assert.Equal("plausible", farLoc.Verdict);
        Assert.True(farLoc.MaxDistanceKm > farLoc.ClaimedDistanceKm);
        // The same hosts claiming China: its nearest point is ~4,700 km from Berlin.
        Assert.Equal("impossible", results[2].Location!.Verdict);
        Assert.InRange(results[2].Location!.ClaimedDistanceKm, 4000, 5000);
        Assert.Equal("plausible", results[3].Location!.Verdict);
    }

    /// <summary>A network namespace behind delayline.py with a TCP listener at 10.201.INDEX.2:9000; stopped by PID.</summary>
    private sealed class DelayedHost : IAsyncDisposable
    {
        private static readonly string Script = Path.Combine(Peers.RepoRoot, "..", "shared", "netem", "delayline.py");
        private readonly ChildProcess _line;
        private readonly string _name;
        private readonly int _index;
        private ChildProcess? _server;

        private DelayedHost(ChildProcess line, string name, int index)
        {
            _line = line;
            _name = name;
            _index = index;
        }

        public string EndPoint => $"10.201.{_index}.2:9000";

        public static async Task<DelayedHost> StartAsync(string name, int index, double delayMs)
        {
            var script = File.Exists(Script) ? Script : "/work/shared/netem/delayline.py";
            var line = ChildProcess.Start("python3", [script, "start", name, "--delay-ms", delayMs.ToString(CultureInfo.InvariantCulture), "--index", index.ToString(CultureInfo.InvariantCulture)]);
            var host = new DelayedHost(line, name, index);
            try
            {
                await line.WaitForLineAsync(l => l.StartsWith("delayline ", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the delay line");
                host._server = ChildProcess.Start("ip", ["netns", "exec", name, "python3", "-u", "-c",
                    "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n" +
                    $"s.bind(('10.201.{index}.2',9000))\ns.listen(64)\nprint('ready',flush=True)\nheld=[]\nwhile True:\n  c,_=s.accept()\n  held.append(c)\n"]);
                await host._server.WaitForLineAsync(l => l == "ready", TimeSpan.FromSeconds(20), "the test host's listener");
                return host;
            }
            catch
            {
                await host.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _server?.Dispose();
            // SIGTERM (not SIGKILL) so the script removes its namespace and devices itself.
            if (!_line.Process.HasExited)
            {
                using (var kill = Process.Start("kill", ["-TERM", _line.Pid.ToString(CultureInfo.InvariantCulture)]))
                    await kill.WaitForExitAsync();
                _line.WaitForExit(TimeSpan.FromSeconds(10));
            }
            _line.Dispose();
            using var stop = Process.Start("python3", [File.Exists(Script) ? Script : "/work/shared/netem/delayline.py", "stop", _name, "--index", _index.ToString(CultureInfo.InvariantCulture)]);
            await stop.WaitForExitAsync();
        }
    }
}
