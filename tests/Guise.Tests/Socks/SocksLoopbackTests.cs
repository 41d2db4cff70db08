using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Guise.Errors;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Tests.Socks;

/// <summary>
/// A small accept loop over <see cref="SocksServer"/> on 127.0.0.1, shaped like the hosting
/// layer's: a failed handshake drops that client only. After a request it sends the configured
/// reply and, on success, echoes.
/// </summary>
internal sealed class LoopbackSocksServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly SocksReply _reply;

    public LoopbackSocksServer(SocksReply reply = SocksReply.Succeeded)
    {
        _reply = reply;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public ConcurrentQueue<SocksRequest> Requests { get; } = new();

    public ConcurrentQueue<PtException> Failures { get; } = new();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var request = await SocksServer.ReadRequestAsync(stream, _stop.Token);
            Requests.Enqueue(request);
            await SocksServer.SendReplyAsync(stream, request, _reply, _stop.Token);
            if (_reply == SocksReply.Succeeded)
                await stream.CopyToAsync(stream, _stop.Token);
        }
        catch (PtException e)
        {
            Failures.Enqueue(e);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
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

public class SocksLoopbackTests
{
    private static async Task<string> EchoAsync(Stream stream, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        await stream.WriteAsync(bytes);
        var back = new byte[bytes.Length];
        await stream.ReadExactlyAsync(back);
        return Encoding.ASCII.GetString(back);
    }

    [Theory]
    [InlineData(SocksVersion.Socks5, 0)]
    [InlineData(SocksVersion.Socks5, 40)]
    [InlineData(SocksVersion.Socks5, 400)]
    [InlineData(SocksVersion.Socks4a, 40)]
    [InlineData(SocksVersion.Socks4a, 400)]
    public async Task A_socks_client_reaches_the_server_with_target_and_args_intact_and_the_stream_then_carries_data(SocksVersion version, int argsLength)
    {
        await using var server = new LoopbackSocksServer();
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);
        var stream = client.GetStream();
        var args = argsLength == 0 ? PtArgs.Empty : new PtArgs().Add("cert", new string('c', argsLength - 10)).Add("x", "a;b");

        await SocksClient.ConnectAsync(stream, version, "bridge.example", 443, args, CancellationToken.None);
        var echoed = await EchoAsync(stream, "hello");

        Assert.Equal("hello", echoed);
        var request = Assert.Single(server.Requests);
        Assert.Equal(version, request.Version);
        Assert.Equal("bridge.example:443", request.Target);
        Assert.Equal(args.ToSocksString(), request.Args.ToSocksString());
    }

    [Theory]
    [InlineData(SocksVersion.Socks5)]
    [InlineData(SocksVersion.Socks4a)]
    public async Task A_failure_reply_reaches_the_client_as_a_proxy_error(SocksVersion version)
    {
        await using var server = new LoopbackSocksServer(SocksReply.ConnectionRefused);
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);

        var e = await Assert.ThrowsAsync<PtException>(() =>
            SocksClient.ConnectAsync(client.GetStream(), version, "192.0.2.1", 80, PtArgs.Empty, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        if (version == SocksVersion.Socks5)
            Assert.Contains("connection refused", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listener_that_receives_garbage_keeps_serving_the_next_client()
    {
        await using var server = new LoopbackSocksServer();

        using (var garbage = new TcpClient())
        {
            await garbage.ConnectAsync(server.EndPoint);
            var stream = garbage.GetStream();
            await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            // The server closes on us without a reply.
            Assert.Equal(0, await stream.ReadAsync(new byte[16]));
        }

        using var good = new TcpClient();
        await good.ConnectAsync(server.EndPoint);
        await SocksClient.ConnectAsync(good.GetStream(), SocksVersion.Socks5, "10.0.0.1", 9, PtArgs.Empty, CancellationToken.None);

        Assert.Equal("ok", await EchoAsync(good.GetStream(), "ok"));
        var failure = Assert.Single(server.Failures);
        Assert.Equal(PtErrorKind.PeerProtocol, failure.Kind);
    }
}
