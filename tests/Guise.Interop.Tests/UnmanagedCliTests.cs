using System.Net;
using System.Net.Sockets;
using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests;

/// <summary>The binary's hand-run modes: `guise server` + `guise client` with no Tor.</summary>
public class UnmanagedCliTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("obfs4")]
    [InlineData("plain")]
    public async Task A_hand_run_server_prints_a_bridge_line_that_a_hand_run_client_can_use(string transport)
    {
        using var dir = new TempDir();
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var serverPort = Peers.FreePort();
        using var server = ChildProcess.Start(Peers.Guise, ["server", "-t", transport, "--listen", $"127.0.0.1:{serverPort}",
            "--target", $"127.0.0.1:{((IPEndPoint)target.LocalEndpoint).Port}", "--state", Path.Combine(dir, "state")]);
        var bridgeLine = await server.WaitForLineAsync(l => l.TrimStart().StartsWith($"Bridge {transport} 127.0.0.1:{serverPort} ", StringComparison.Ordinal), Patience, "the bridge line");
        var argsLine = await server.WaitForLineAsync(l => l.StartsWith("Client args", StringComparison.Ordinal), Patience, "the client args");
        var clientArgs = System.Text.RegularExpressions.Regex.Match(argsLine, "'([^']*)'$").Groups[1].Value;
        if (transport == "obfs4")
            Assert.Contains("cert=", bridgeLine, StringComparison.Ordinal);

        var socksPort = Peers.FreePort();
        using var client = ChildProcess.Start(Peers.Guise, ["client", "-t", transport, "--listen", $"127.0.0.1:{socksPort}", "--args", clientArgs]);
        await client.WaitForLineAsync(l => l.Contains($"proxy on 127.0.0.1:{socksPort}", StringComparison.Ordinal), Patience, "the SOCKS address");

        await SocksApp.SendAndCheckAsync(socksPort, serverPort, target, 100_000, TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// The guise binaries end to end: four SOCKS connections to one marionette bridge become four
    /// streams of one session on one TCP connection (counted by a forwarder in between), and the
    /// bridge forwards each to a target connection of its own.
    /// </summary>
    [Fact]
    public async Task Four_socks_connections_to_a_marionette_bridge_share_one_tcp_connection_and_stay_apart()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        using var dir = new TempDir();
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var targets = 0;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var c = await target.AcceptTcpClientAsync(cts.Token);
                Interlocked.Increment(ref targets);
                _ = Task.Run(async () =>
                {
                    using var _ = c;
                    await c.GetStream().CopyToAsync(c.GetStream(), cts.Token); // echo
                    c.Client.Shutdown(SocketShutdown.Send);
                }, cts.Token);
            }
        }, cts.Token);
        var serverPort = Peers.FreePort();
        using var server = ChildProcess.Start(Peers.Guise, ["server", "-t", "marionette", "--listen", $"127.0.0.1:{serverPort}",
            "--target", $"127.0.0.1:{((IPEndPoint)target.LocalEndpoint).Port}", "--state", Path.Combine(dir, "state")]);
        var argsLine = await server.WaitForLineAsync(l => l.StartsWith("Client args", StringComparison.Ordinal), Patience, "the client args");
        var clientArgs = System.Text.RegularExpressions.Regex.Match(argsLine, "'([^']*)'$").Groups[1].Value;

        // A forwarder in front of the bridge counts the client's TCP connections.
        using var forwarder = new TcpListener(IPAddress.Loopback, 0);
        forwarder.Start();
        var forwarded = 0;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var inbound = await forwarder.AcceptTcpClientAsync(cts.Token);
                Interlocked.Increment(ref forwarded);
                var outbound = new TcpClient();
                await outbound.ConnectAsync(IPAddress.Loopback, serverPort, cts.Token);
                _ = inbound.GetStream().CopyToAsync(outbound.GetStream(), cts.Token);
                _ = outbound.GetStream().CopyToAsync(inbound.GetStream(), cts.Token);
            }
        }, cts.Token);
        var bridgePort = ((IPEndPoint)forwarder.LocalEndpoint).Port;

        var socksPort = Peers.FreePort();
        using var client = ChildProcess.Start(Peers.Guise, ["client", "-t", "marionette", "--listen", $"127.0.0.1:{socksPort}", "--args", clientArgs]);
        await client.WaitForLineAsync(l => l.Contains($"proxy on 127.0.0.1:{socksPort}", StringComparison.Ordinal), Patience, "the SOCKS address");

        await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
        {
            using var app = new TcpClient();
            await app.ConnectAsync(IPAddress.Loopback, socksPort, cts.Token);
            var stream = app.GetStream();
            await Guise.Socks.SocksClient.ConnectAsync(stream, Guise.Socks.SocksVersion.Socks5, "127.0.0.1", bridgePort, Guise.Transports.PtArgs.Empty, cts.Token);
            var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000 + i);
            var write = stream.WriteAsync(payload, cts.Token).AsTask();
            var back = new byte[payload.Length];
            await stream.ReadExactlyAsync(back, cts.Token);
            await write;
            Assert.Equal(payload, back);
        }));

        Assert.Equal(4, targets);
        Assert.Equal(1, forwarded);
    }

    [Fact]
    public async Task Transports_lists_every_transport_and_marks_the_default()
    {
        using var guise = ChildProcess.Start(Peers.Guise, ["transports"]);
        await guise.WaitForLineAsync(l => l.StartsWith("obfs4 ", StringComparison.Ordinal) && l.EndsWith("[default]", StringComparison.Ordinal), Patience, "obfs4 [default]");
        await guise.WaitForLineAsync(l => l.StartsWith("plain ", StringComparison.Ordinal), Patience, "plain");
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.Equal(0, guise.Process.ExitCode);
    }

    [Fact]
    public async Task An_unknown_transport_is_a_clear_error_with_exit_code_2()
    {
        using var guise = ChildProcess.Start(Peers.Guise, ["client", "-t", "nosuch", "--listen", "127.0.0.1:0"]);
        Assert.True(guise.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, guise.Process.ExitCode);
        Assert.Contains("no such transport 'nosuch'", guise.Transcript, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_demo_moves_data_through_the_default_transport_and_verifies_it()
    {
        using var guise = ChildProcess.Start(Peers.Guise, ["demo", "--mib", "2"]);
        await guise.WaitForLineAsync(l => l.Contains("verified: yes", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the demo's verification");
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.Equal(0, guise.Process.ExitCode);
        Assert.Contains("transport 'obfs4'", guise.Transcript, StringComparison.Ordinal);
    }
}
