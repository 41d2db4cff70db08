using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Guise.Interop.Tests.Support;
using Guise.Transports;
using Guise.Transports.Marionette;
using Guise.Transports.Obfs4;
using Xunit.Abstractions;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Interop.Tests.Marionette;

/// <summary>Marionette-HTTP against real observers and intermediaries on loopback: tshark, nDPI, nginx.</summary>
[Collection(nameof(TorCollection))]
public class MarionetteRealPeersTests(ITestOutputHelper output)
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(90);

    /// <summary>
    /// A transport server on 127.0.0.1:port that echoes every tunnel (streams of a multiplexing
    /// server through <see cref="IMultiplexingServerFactory.ServeAsync"/>, as guise's host does).
    /// <paramref name="connections"/> counts the TCP connections it accepted.
    /// </summary>
    private static async Task<(TcpListener Listener, Task Loop)> EchoServerAsync(IServerFactory server, int port, CancellationToken ct, StrongBox<int>? connections = null)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        var loop = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                Socket s;
                try
                {
                    s = await listener.AcceptSocketAsync(ct);
                }
                catch (Exception) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                if (connections is not null)
                    Interlocked.Increment(ref connections.Value);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await using var wire = new NetworkStream(s, ownsSocket: true);
                        if (server is IMultiplexingServerFactory multiplexing)
                            await multiplexing.ServeAsync(wire, tunnel => EchoAsync(tunnel, ct), ct);
                        else
                            await EchoAsync(await server.AcceptAsync(wire, ct), ct);
                    }
                    catch (Exception)
                    {
                        // a failed tunnel shows up as missing echo bytes in the test
                    }
                }, ct);
            }
        }, ct);
        await Task.Yield();
        return (listener, loop);
    }

    private static async Task EchoAsync(Stream tunnel, CancellationToken ct)
    {
        await using var _ = tunnel;
        try
        {
            var buffer = new byte[16384];
            int n;
            while ((n = await tunnel.ReadAsync(buffer, ct)) > 0)
                await tunnel.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        catch (Exception)
        {
            // as above
        }
    }

    private static async Task<byte[]> RoundTripAsync(IClientSession session, int port, byte[] payload, CancellationToken ct)
    {
        await using var tunnel = await session.ConnectAsync($"127.0.0.1:{port}", async (_, c) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, port, c);
            return new NetworkStream(socket, ownsSocket: true);
        }, ct);
        var write = Task.Run(async () =>
        {
            for (var off = 0; off < payload.Length; off += 8192)
                await tunnel.WriteAsync(payload.AsMemory(off, Math.Min(8192, payload.Length - off)), ct);
        }, ct);
        var back = new byte[payload.Length];
        await tunnel.ReadExactlyAsync(back, ct);
        await write;
        return back;
    }

    /// <param name="upstreamKeepalive">
    /// true: nginx keeps HTTP/1.1 connections to guise open and reuses them. false: nginx's default,
    /// HTTP/1.0 and a new upstream connection for every request, which the original Marionette
    /// could not survive (its model instance was the TCP connection); here every request finds its
    /// session by the id in its cell.
    /// </param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_tunnel_survives_a_real_nginx_reverse_proxy(bool upstreamKeepalive)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDir();
        var transport = new MarionetteTransport();
        var server = transport.CreateServerFactory(new TransportContext(dir.Path, TimeProvider.System, Guise.Transports.NullPtLog.Instance), new PtArgs().Add("format", "http_post"));
        var upstreamPort = Peers.FreePort();
        var upstreamConnections = new StrongBox<int>();
        var (listener, loop) = await EchoServerAsync(server, upstreamPort, cts.Token, upstreamConnections);
        var proxyPort = Peers.FreePort();
        var upstream = upstreamKeepalive ? "keepalive 4; " : "";
        var proxyOptions = upstreamKeepalive ? "proxy_http_version 1.1;\n                  proxy_set_header Connection \"\";" : "";
        var conf = Path.Combine(dir.Path, "nginx.conf");
        foreach (var sub in new[] { "body", "proxy", "fastcgi", "uwsgi", "scgi" })
            Directory.CreateDirectory(Path.Combine(dir.Path, sub));
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        File.WriteAllText(conf, $$"""
            {{user}}worker_processes 1;
            pid {{dir.Path}}/nginx.pid;
            error_log {{dir.Path}}/error.log info;
            events { worker_connections 64; }
            http {
              access_log {{dir.Path}}/access.log;
              client_body_temp_path {{dir.Path}}/body;
              proxy_temp_path {{dir.Path}}/proxy;
              fastcgi_temp_path {{dir.Path}}/fastcgi;
              uwsgi_temp_path {{dir.Path}}/uwsgi;
              scgi_temp_path {{dir.Path}}/scgi;
              upstream guise { server 127.0.0.1:{{upstreamPort}}; {{upstream}}}
              server {
                listen 127.0.0.1:{{proxyPort}};
                location / {
                  proxy_pass http://guise;
                  {{proxyOptions}}
                }
              }
            }
            """);
        using var nginx = ChildProcess.Start(Which("nginx"), ["-c", conf, "-p", dir.Path, "-g", "daemon off;"]);
        try
        {
            await WaitForPortAsync(proxyPort, nginx, cts.Token);
            var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
            var payload = RandomNumberGenerator.GetBytes(300_000);
            var sw = Stopwatch.StartNew();
            var back = await RoundTripAsync(session, proxyPort, payload, cts.Token);
            output.WriteLine($"300000 bytes echoed through nginx in {sw.ElapsedMilliseconds} ms");
            Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
            var log = File.ReadAllText(Path.Combine(dir.Path, "access.log"));
            output.WriteLine(string.Join('\n', log.Split('\n').Take(5)));
            Assert.Contains("HTTP/1.1\" 200", log, StringComparison.Ordinal); // nginx really proxied our requests
            var requests = log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            output.WriteLine($"{requests} requests through nginx, {upstreamConnections.Value} upstream connections to guise");
            if (upstreamKeepalive)
                Assert.True(upstreamConnections.Value <= 4, "nginx reused its upstream connections");
            else
                Assert.True(requests >= 5 && upstreamConnections.Value >= requests - 1, "every request came on a new upstream connection");
        }
        finally
        {
            nginx.Dispose(); // by PID (its process tree: master and worker)
            await cts.CancelAsync();
            listener.Stop();
            output.WriteLine(File.Exists(Path.Combine(dir.Path, "error.log")) ? string.Join('\n', File.ReadAllLines(Path.Combine(dir.Path, "error.log")).Where(l => l.Contains("[error]", StringComparison.Ordinal)).Take(5)) : "");
        }
    }

    [Fact]
    public async Task Tshark_dissects_the_tunnel_as_clean_http_and_ndpi_says_http_while_obfs4_is_unknown()
    {
        var http = await CaptureAsync(new MarionetteTransport(), new PtArgs().Add("format", "http_post"));
        var obfs4 = await CaptureAsync(new Obfs4Transport(), PtArgs.Empty);
        try
        {
            await CheckCapturesAsync(http, obfs4);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(http.Pcap)!, recursive: true);
            Directory.Delete(Path.GetDirectoryName(obfs4.Pcap)!, recursive: true);
        }
    }

    private async Task CheckCapturesAsync((string Pcap, int Port) http, (string Pcap, int Port) obfs4)
    {

        // tshark: decode our (random, unprivileged) port as HTTP; every frame must dissect cleanly.
        var requests = await RunAsync("tshark", ["-r", http.Pcap, "-d", $"tcp.port=={http.Port},http", "-Y", "http.request", "-T", "fields", "-e", "http.request.method"]);
        var responses = await RunAsync("tshark", ["-r", http.Pcap, "-d", $"tcp.port=={http.Port},http", "-Y", "http.response.code == 200", "-T", "fields", "-e", "http.content_length"]);
        var malformed = await RunAsync("tshark", ["-r", http.Pcap, "-d", $"tcp.port=={http.Port},http", "-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"]);
        output.WriteLine($"tshark: {Lines(requests).Length} requests ({string.Join(",", Lines(requests).Distinct())}), {Lines(responses).Length} responses, {Lines(malformed).Length} malformed/warning frames");
        output.WriteLine(string.Join('\n', Lines(malformed).Take(10)));
        Assert.True(Lines(requests).Length >= 2);
        Assert.True(Lines(responses).Length >= 2);
        Assert.Empty(Lines(malformed));

        var ndpiHttp = await RunAsync("ndpiReader", ["-i", http.Pcap, "-v", "2"]);
        var ndpiObfs4 = await RunAsync("ndpiReader", ["-i", obfs4.Pcap, "-v", "2"]);
        var httpFlow = FlowLine(ndpiHttp, http.Port);
        var obfs4Flow = FlowLine(ndpiObfs4, obfs4.Port);
        output.WriteLine("nDPI marionette: " + httpFlow);
        output.WriteLine("nDPI obfs4:      " + obfs4Flow);
        Assert.Matches(@"\[proto: [0-9.]*7/HTTP", httpFlow);
        Assert.Contains("Unknown", obfs4Flow, StringComparison.Ordinal);
    }

    private static string[] Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string FlowLine(string ndpi, int port) =>
        Lines(ndpi).FirstOrDefault(l => l.Contains($":{port}", StringComparison.Ordinal) && l.Contains("[proto", StringComparison.Ordinal))
        ?? throw new InvalidOperationException("nDPI printed no flow for the port:\n" + ndpi);

    private async Task<(string Pcap, int Port)> CaptureAsync(ITransport transport, PtArgs serverArgs)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var dir = Path.Combine(Path.GetTempPath(), "guise-cap-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var pcap = Path.Combine(dir, transport.Name + ".pcap");
        var server = transport.CreateServerFactory(new TransportContext(dir, TimeProvider.System, Guise.Transports.NullPtLog.Instance), serverArgs);
        var port = Peers.FreePort();
        using var dumpcap = ChildProcess.Start(Which("dumpcap"), ["-i", "lo", "-f", $"tcp port {port}", "-P", "-w", pcap]);
        await dumpcap.WaitForLineAsync(l => l.Contains("Capturing on", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "dumpcap to start");
        // "Capturing on" can precede the filter being attached; under load the first packets were lost.
        await Task.Delay(1000);
        var (listener, _) = await EchoServerAsync(server, port, cts.Token);
        try
        {
            var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
            var payload = RandomNumberGenerator.GetBytes(100_000);
            Assert.Equal(payload, await RoundTripAsync(session, port, payload, cts.Token));
            await Task.Delay(500, cts.Token); // let the last segments reach the capture
        }
        finally
        {
            // SIGINT by PID: dumpcap flushes and closes the file.
            using (var kill = Process.Start("kill", ["-INT", dumpcap.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync(cts.Token);
            dumpcap.WaitForExit(TimeSpan.FromSeconds(10));
            await cts.CancelAsync();
            listener.Stop();
        }
        return (pcap, port);
    }

    private async Task<string> RunAsync(string tool, string[] args)
    {
        using var p = ChildProcess.Start(Which(tool), args);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), $"{tool} hung");
        await Task.Delay(50);
        var text = string.Join('\n', p.Lines.Where(l => !l.StartsWith("[stderr] ", StringComparison.Ordinal)));
        if (p.Process.ExitCode != 0)
            output.WriteLine($"{tool} exited {p.Process.ExitCode}: {p.Transcript}");
        return text;
    }

    private static async Task WaitForPortAsync(int port, ChildProcess owner, CancellationToken ct)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, ct);
                return;
            }
            catch (SocketException)
            {
                if (owner.Process.HasExited)
                    throw new InvalidOperationException("nginx exited: " + owner.Transcript);
                await Task.Delay(100, ct);
            }
        }
        throw new TimeoutException("nginx did not listen: " + owner.Transcript);
    }

    private static string Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException($"{name} is not installed: scripts/test installs it");
    }
}
