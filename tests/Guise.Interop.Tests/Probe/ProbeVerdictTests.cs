using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Guise.Interop.Tests.Support;
using Guise.Probe;
using Guise.Tests.Shared;
using Guise.Transports;
using Guise.Transports.Obfs4;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Interop.Tests.Probe;

/// <summary>
/// guise probe against real peers on loopback: a Guise obfs4 bridge, an obfs4proxy bridge (right
/// and wrong cert), a closed port, a port that resets, a plain bridge, and obfs4proxy as an
/// external PT through the PT host. Each verdict is asserted, and every JSONL record is checked
/// against the OONI shapes.
/// </summary>
public sealed class ProbeVerdictTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(120);

    private static ProbeOptions Fast => new() { Tries = 3, ConnectTimeout = TimeSpan.FromSeconds(3), HandshakeTimeout = TimeSpan.FromSeconds(3), Parallel = 4 };

    [Fact]
    public async Task Every_kind_of_loopback_target_gets_its_verdict()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var guiseState = new TempDir();
        await using var guiseBridge = new InProcessBridge(new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(guiseState), PtArgs.Empty));
        await using var plainBridge = new InProcessBridge(new Guise.Transports.Plain.PlainTransport().CreateServerFactory(TransportContext.ForTests(), PtArgs.Empty));
        await using var target = new HashTarget();
        using var proxyState = new TempDir();
        using var obfs4proxy = await ManagedPt.StartServerAsync(Peers.Obfs4Proxy, proxyState, target.EndPoint, iatMode: 0);
        using var resetter = new ResettingListener();
        var closed = Peers.FreePort();

        var goodCert = obfs4proxy.Args.Get("cert")!;
        var wrongCert = WrongCertLike(goodCert);
        var file = $"""
            # line 1: comment
            obfs4 {guiseBridge.EndPoint} cert={guiseBridge.Args.Get("cert")} iat-mode=0
            obfs4 {obfs4proxy.EndPoint} cert={goodCert} iat-mode=0
            obfs4 {obfs4proxy.EndPoint} cert={wrongCert} iat-mode=0
            obfs4 127.0.0.1:{closed} cert={goodCert} iat-mode=0
            obfs4 {resetter.EndPoint} cert={goodCert} iat-mode=0
            plain {plainBridge.EndPoint}
            """;
        var targets = ProbeTargetsFile.Parse(file);
        var runner = new ProbeRunner(Fast, ProbeRunner.Transports(TransportRegistry.Default));
        var results = (await runner.RunAsync(targets, null, null, cts.Token)).OrderBy(r => r.Target.Line).ToList();

        var verdicts = results.Select(r => (r.Target.Line, r.Verdict)).ToList();
        Assert.Equal([(2, "ok"), (3, "ok"), (4, "silent_server"), (5, "tcp_refused"), (6, "handshake_reset"), (7, "ok")], verdicts);

        var silent = results[2];
        Assert.Equal(3, silent.TcpConnect.Count(c => c.Success));
        Assert.Equal("generic_timeout_error", silent.Failure);
        Assert.Equal("handshake", silent.FailedStep);
        Assert.InRange(silent.Handshake!.Seconds, 2.5, 10);

        var refused = results[3];
        Assert.All(refused.TcpConnect, c => Assert.Equal("connection_refused", c.Failure));
        Assert.Null(refused.Handshake);
        Assert.Equal("connection_reset", results[4].Failure);

        Assert.All(results.Where(r => r.Success), r => Assert.True(r.MinRttMs is > 0 and < 1000));
        foreach (var r in results)
        {
            var line = OoniReport.ToJsonLine(r, new ProbeReportContext());
            using var doc = JsonDocument.Parse(line);
            Assert.Empty(OoniShape.Validate(doc.RootElement));
            Assert.Empty(ProbeSchema.Errors(line));
        }
    }

    [Fact]
    public async Task Obfs4proxy_as_an_external_pt_measures_through_its_socks_port()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var target = new HashTarget();
        using var proxyState = new TempDir();
        using var bridge = await ManagedPt.StartServerAsync(Peers.Obfs4Proxy, proxyState, target.EndPoint, iatMode: 0);
        using var dir = new TempDir();
        var goodCert = bridge.Args.Get("cert")!;
        var targetsPath = Path.Combine(dir, "targets.txt");
        await File.WriteAllTextAsync(targetsPath, $"""
            obfs4 {bridge.EndPoint} cert={goodCert} iat-mode=0
            obfs4 {bridge.EndPoint} cert={WrongCertLike(goodCert)} iat-mode=0
            obfs4 127.0.0.1:{Peers.FreePort()} cert={goodCert} iat-mode=0
            """);
        var jsonl = new StringWriter();
        var console = new StringWriter();
        var code = await ProbeApp.RunAsync(new ProbeAppOptions
        {
            TargetsFile = targetsPath,
            PtBinaries = [$"obfs4={Peers.Obfs4Proxy}"],
            Probe = Fast,
        }, jsonl, console, tty: false, cts.Token);

        Assert.Equal(ProbeApp.ExitSomeFailed, code);
        var lines = jsonl.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Empty(ProbeSchema.Errors(l)));
        var records = lines.Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal(3, records.Count);
        var byLine = records.ToDictionary(d => d.RootElement.GetProperty("test_keys").GetProperty("target_line").GetInt32());
        foreach (var d in records)
            Assert.Empty(OoniShape.Validate(d.RootElement));
        Assert.Equal("ok", Verdict(byLine[1]));
        Assert.Equal("external_socks", byLine[1].RootElement.GetProperty("test_keys").GetProperty("handshake").GetProperty("mode").GetString());
        Assert.Equal("silent_server", Verdict(byLine[2]));
        Assert.Equal("tcp_refused", Verdict(byLine[3]));
        Assert.DoesNotContain("127.0.0.1:", jsonl.ToString(), StringComparison.Ordinal);
        Assert.Contains("external PT 'obfs4'", console.ToString(), StringComparison.Ordinal);
        Assert.Contains("1 of 3 targets work", console.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_targets_file_error_is_exit_code_2_with_the_line()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir, "bad.txt");
        await File.WriteAllTextAsync(path, "plain 127.0.0.1:1\nobfs4 127.0.0.1:99999\n");
        var console = new StringWriter();
        var code = await ProbeApp.RunAsync(new ProbeAppOptions { TargetsFile = path }, new StringWriter(), console, false, CancellationToken.None);
        Assert.Equal(ProbeApp.ExitConfigError, code);
        Assert.Contains("bad.txt:2:", console.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_writes_the_finished_targets_and_stops()
    {
        using var silent = new SilentListener();
        using var dir = new TempDir();
        var path = Path.Combine(dir, "t.txt");
        var lines = Enumerable.Range(0, 6).Select(_ => $"obfs4 {silent.EndPoint} cert={WrongCertLike(new string('A', 70))} iat-mode=0");
        await File.WriteAllTextAsync(path, $"plain 127.0.0.1:{Peers.FreePort()}\n" + string.Join('\n', lines));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var jsonl = new StringWriter();
        var console = new StringWriter();
        var started = DateTime.UtcNow;
        var code = await ProbeApp.RunAsync(new ProbeAppOptions
        {
            TargetsFile = path,
            Probe = Fast with { Parallel = 2, HandshakeTimeout = TimeSpan.FromSeconds(30) },
        }, jsonl, console, false, cts.Token);
        Assert.Equal(ProbeApp.ExitInterrupted, code);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        var records = jsonl.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(records, r => Verdict(r) == "tcp_refused");
        Assert.Contains(records, r => Verdict(r) == "interrupted");
        Assert.True(records.Count < 7, "targets not yet started are not written");
        Assert.Contains("interrupted:", console.ToString(), StringComparison.Ordinal);
    }

    private static string Verdict(JsonDocument d) => Verdict(d.RootElement);

    private static string Verdict(JsonElement e) => e.GetProperty("test_keys").GetProperty("verdict").GetString()!;

    /// <summary>A cert of the right length for another identity: the bridge cannot find our mark and stays silent.</summary>
    private static string WrongCertLike(string cert)
    {
        var raw = Convert.FromBase64String(cert + new string('=', (4 - cert.Length % 4) % 4));
        for (var i = 0; i < raw.Length; i++)
            raw[i] ^= 0x5A;
        return Convert.ToBase64String(raw).TrimEnd('=');
    }

    /// <summary>A bridge served in this process by a Guise server factory.</summary>
    private sealed class InProcessBridge : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly IServerFactory _factory;

        public InProcessBridge(IServerFactory factory)
        {
            _factory = factory;
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public PtArgs Args => _factory.ClientArgs;

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        private async Task LoopAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await using var s = await _factory.AcceptAsync(new NetworkStream(socket, ownsSocket: true), _stop.Token);
                            var buf = new byte[4096];
                            while (await s.ReadAsync(buf, _stop.Token) > 0)
                            {
                            }
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            // Probing connections (bare TCP connects) end here.
                        }
                    });
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }

    /// <summary>Accepts, then resets every connection once it has read something (RST via linger 0).</summary>
    private sealed class ResettingListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public ResettingListener()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var socket = await _listener.AcceptSocketAsync();
                        _ = Task.Run(async () =>
                        {
                            try
                            {
                                var buf = new byte[1];
                                if (await socket.ReceiveAsync(buf) > 0)
                                    socket.LingerState = new LingerOption(true, 0);
                            }
                            catch (SocketException)
                            {
                            }
                            socket.Dispose();
                        });
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public void Dispose() => _listener.Stop();
    }

    /// <summary>Accepts and never answers.</summary>
    private sealed class SilentListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _held = [];

        public SilentListener()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var s = await _listener.AcceptSocketAsync();
                        lock (_held)
                            _held.Add(s);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public void Dispose()
        {
            _listener.Stop();
            lock (_held)
                _held.ForEach(s => s.Dispose());
        }
    }
}
