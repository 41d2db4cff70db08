using System.Net;
using System.Net.Sockets;
using Guise.Hosting;
using Guise.Socks;
using Guise.Tests.Pt;
using Guise.Tests.Support;
using Guise.Transports;

namespace Guise.Tests.Hosting;

/// <summary>Managed mode in-process: the environment comes from a dictionary, lines go to a writer.</summary>
public class ManagedProxyTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    private static Dictionary<string, string> Client(string state, params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = state,
            ["TOR_PT_CLIENT_TRANSPORTS"] = "plain",
        };
        foreach (var (k, v) in extra)
            env[k] = v;
        return env;
    }

    private static (Task<int> Run, LineWriter Output, CancellationTokenSource Stop) Start(Dictionary<string, string> env)
    {
        var output = new LineWriter();
        var stop = new CancellationTokenSource();
        var run = ManagedProxy.RunAsync(new ManagedProxyOptions { Environment = env, Output = output, WatchParent = false }, stop.Token);
        return (run, output, stop);
    }

    [Fact]
    public async Task A_usable_upstream_proxy_is_acknowledged_with_proxy_done_before_the_methods()
    {
        using var state = new TempDirectory();
        var (run, output, stop) = Start(Client(state.Path, ("TOR_PT_PROXY", "socks5://127.0.0.1:9")));
        await output.WaitForAsync(l => l == "CMETHODS DONE");
        await stop.CancelAsync();
        Assert.Equal(0, await run);

        var lines = output.Lines.ToList();
        Assert.True(lines.IndexOf("PROXY DONE") > 0 && lines.IndexOf("PROXY DONE") < lines.FindIndex(l => l.StartsWith("CMETHOD ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_proxy_with_an_unsupported_scheme_is_a_proxy_error_after_the_version()
    {
        using var state = new TempDirectory();
        var (run, output, _) = Start(Client(state.Path, ("TOR_PT_PROXY", "ftp://127.0.0.1:21")));

        Assert.Equal(ManagedProxy.ExitConfigError, await run.WaitAsync(HangGuard));
        Assert.Equal("VERSION 1", output.Lines[0]);
        Assert.StartsWith("PROXY-ERROR ", output.Lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain(output.Lines, l => l.StartsWith("CMETHOD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connections_go_through_the_upstream_proxy()
    {
        using var state = new TempDirectory();
        await using var target = await EchoServer.StartAsync();
        using var proxy = new TcpListener(IPAddress.Loopback, 0);
        proxy.Start();
        var proxied = ServeOneSocks5ProxyAsync(proxy);
        var (run, output, stop) = Start(Client(state.Path, ("TOR_PT_PROXY", $"socks5://127.0.0.1:{((IPEndPoint)proxy.LocalEndpoint).Port}")));
        var socks = await SocksPortAsync(output);

        await using (var stream = await ConnectThroughAsync(socks, "127.0.0.1", target.Port))
        {
            await stream.WriteAsync("ping"u8.ToArray());
            var back = new byte[4];
            await stream.ReadExactlyAsync(back);
            Assert.Equal("ping"u8.ToArray(), back);
        }

        Assert.Equal($"127.0.0.1:{target.Port}", await proxied.WaitAsync(HangGuard));
        await stop.CancelAsync();
        await run;
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("::1")]
    [InlineData("127.0.0.1")]
    public async Task The_socks_port_reaches_domain_ipv6_and_ipv4_targets(string host)
    {
        using var state = new TempDirectory();
        await using var target = await EchoServer.StartAsync(host == "::1" ? IPAddress.IPv6Loopback : IPAddress.Loopback);
        var (run, output, stop) = Start(Client(state.Path));
        var socks = await SocksPortAsync(output);

        await using (var stream = await ConnectThroughAsync(socks, host, target.Port))
        {
            await stream.WriteAsync("hello"u8.ToArray());
            var back = new byte[5];
            await stream.ReadExactlyAsync(back);
            Assert.Equal("hello"u8.ToArray(), back);
        }
        await output.WaitForAsync(l => l == "STATUS TRANSPORT=plain CONNECT=Success ADDRESS=[scrubbed]");
        await stop.CancelAsync();
        Assert.Equal(0, await run);
    }

    [Fact]
    public async Task Socks4a_requests_are_served_too()
    {
        using var state = new TempDirectory();
        await using var target = await EchoServer.StartAsync();
        var (run, output, stop) = Start(Client(state.Path));
        var socks = await SocksPortAsync(output);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, socks);
        var stream = client.GetStream();
        await SocksClient.ConnectAsync(stream, SocksVersion.Socks4a, "localhost", target.Port, PtArgs.Empty, CancellationToken.None);
        await stream.WriteAsync("x"u8.ToArray());
        Assert.Equal((byte)'x', (byte)stream.ReadByte());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task A_server_forwards_to_the_extended_orport_with_the_client_address_and_transport_name()
    {
        using var state = new TempDirectory();
        var cookie = new byte[32];
        Random.Shared.NextBytes(cookie);
        var cookieFile = Path.Combine(state.Path, "cookie");
        await File.WriteAllBytesAsync(cookieFile, [.. "! Extended ORPort Auth Cookie !\x0a"u8.ToArray(), .. cookie]);
        await using var extOrPort = new FakeExtOrPort(cookie);
        using var guard = new CancellationTokenSource(HangGuard);
        var served = extOrPort.ServeOneAsync(guard.Token);
        var (run, output, stop) = Start(new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = state.Path,
            ["TOR_PT_SERVER_TRANSPORTS"] = "plain",
            ["TOR_PT_SERVER_BINDADDR"] = "plain-127.0.0.1:0",
            ["TOR_PT_ORPORT"] = "127.0.0.1:9",
            ["TOR_PT_EXTENDED_SERVER_PORT"] = $"127.0.0.1:{extOrPort.Port}",
            ["TOR_PT_AUTH_COOKIE_FILE"] = cookieFile,
        });
        var smethod = await output.WaitForAsync(l => l.StartsWith("SMETHOD plain 127.0.0.1:", StringComparison.Ordinal));
        await output.WaitForAsync(l => l == "SMETHODS DONE");

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, int.Parse(smethod.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture));
        await client.GetStream().WriteAsync(new byte[] { 1 });
        await served;

        Assert.True(extOrPort.ClientHashOk);
        var local = (IPEndPoint)client.Client.LocalEndPoint!;
        Assert.Contains(extOrPort.Commands, c => c.Command == 0x0001 && c.Body == $"127.0.0.1:{local.Port}");
        Assert.Contains(extOrPort.Commands, c => c.Command == 0x0002 && c.Body == "plain");
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task A_server_transport_with_bad_options_gets_an_smethod_error_and_the_others_still_start()
    {
        using var state = new TempDirectory();
        var (run, output, stop) = Start(new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = state.Path,
            ["TOR_PT_SERVER_TRANSPORTS"] = "obfs4,plain",
            ["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = "obfs4:iat-mode=7",
            ["TOR_PT_ORPORT"] = "127.0.0.1:9",
        });
        await output.WaitForAsync(l => l == "SMETHODS DONE");
        await stop.CancelAsync();
        await run;

        Assert.Contains(output.Lines, l => l.StartsWith("SMETHOD-ERROR obfs4 ", StringComparison.Ordinal));
        Assert.Contains(output.Lines, l => l.StartsWith("SMETHOD plain 127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_with_only_unknown_transports_reports_done_and_exits_with_an_error()
    {
        using var state = new TempDirectory();
        var env = Client(state.Path);
        env["TOR_PT_CLIENT_TRANSPORTS"] = "meek,snowflake";
        var (run, output, _) = Start(env);

        Assert.Equal(ManagedProxy.ExitNothingLaunched, await run.WaitAsync(HangGuard));
        Assert.Contains("CMETHODS DONE", output.Lines);
        Assert.DoesNotContain(output.Lines, l => l.StartsWith("CMETHOD-ERROR", StringComparison.Ordinal));
    }

    private static async Task<int> SocksPortAsync(LineWriter output)
    {
        var line = await output.WaitForAsync(l => l.StartsWith("CMETHOD plain socks5 ", StringComparison.Ordinal));
        return int.Parse(line.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<Stream> ConnectThroughAsync(int socksPort, string host, int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, socksPort);
        var stream = client.GetStream();
        await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, host, port, PtArgs.Empty, CancellationToken.None);
        return stream;
    }

    /// <summary>A one-shot SOCKS5 proxy (no auth) that records the target it was asked for and relays to it.</summary>
    private static async Task<string> ServeOneSocks5ProxyAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var request = await SocksServer.ReadRequestAsync(stream, CancellationToken.None);
        using var upstream = new TcpClient();
        await upstream.ConnectAsync(request.Host, request.Port);
        await SocksServer.SendReplyAsync(stream, request, SocksReply.Succeeded, CancellationToken.None);
        var up = upstream.GetStream();
        var buffer = new byte[4];
        await stream.ReadExactlyAsync(buffer);
        await up.WriteAsync(buffer);
        await up.ReadExactlyAsync(buffer);
        await stream.WriteAsync(buffer);
        return request.Target;
    }
}

/// <summary>A loopback echo server for tests.</summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private EchoServer(TcpListener listener)
    {
        _listener = listener;
        _loop = Task.Run(LoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static Task<EchoServer> StartAsync(IPAddress? address = null)
    {
        var listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        listener.Start();
        return Task.FromResult(new EchoServer(listener));
    }

    private async Task LoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var s = client.GetStream();
                        var buffer = new byte[8192];
                        int n;
                        try
                        {
                            while ((n = await s.ReadAsync(buffer, _stop.Token)) > 0)
                                await s.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException)
                        {
                        }
                    }
                });
            }
        }
        catch (OperationCanceledException)
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
