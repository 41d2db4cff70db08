using System.Net;
using System.Net.Sockets;
using System.Text;
using Guise.Errors;
using Guise.Net;
using Guise.Proxy;

namespace Guise.Tests.Proxy;

public class UpstreamProxyDialTests
{
    private static readonly TcpDialer Direct = new();

    private static async Task AssertTunnelEchoesAsync(Stream tunnel)
    {
        await tunnel.WriteAsync("ping"u8.ToArray());
        var back = new byte[4];
        await tunnel.ReadExactlyAsync(back);
        Assert.Equal("ping", Encoding.ASCII.GetString(back));
    }

    [Fact]
    public async Task A_socks5_proxy_without_auth_is_asked_for_the_target_and_the_tunnel_carries_data()
    {
        await using var fake = FakeProxy.Socks5();
        var dial = UpstreamProxy.Parse($"socks5://127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        await using var tunnel = await dial("bridge.example:443", CancellationToken.None);

        await AssertTunnelEchoesAsync(tunnel);
        Assert.Equal("bridge.example:443", fake.Target);
    }

    [Fact]
    public async Task A_socks5_proxy_with_auth_receives_the_user_name_and_password()
    {
        await using var fake = FakeProxy.Socks5("tor", "p@ss");
        var dial = UpstreamProxy.Parse($"socks5://tor:p%40ss@127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        await using var tunnel = await dial("192.0.2.5:9001", CancellationToken.None);

        await AssertTunnelEchoesAsync(tunnel);
        Assert.Equal("192.0.2.5:9001", fake.Target);
        Assert.Equal("tor", fake.UserName);
    }

    [Fact]
    public async Task A_socks5_proxy_rejecting_the_password_is_a_proxy_error()
    {
        await using var fake = FakeProxy.Socks5("tor", "right");
        var dial = UpstreamProxy.Parse($"socks5://tor:wrong@127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        var e = await Assert.ThrowsAsync<PtException>(() => dial("192.0.2.5:9001", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
    }

    [Fact]
    public async Task A_socks5_proxy_failing_the_connect_is_a_proxy_error_naming_the_reply()
    {
        await using var fake = FakeProxy.Socks5(reply: 4);
        var dial = UpstreamProxy.Parse($"socks5://127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        var e = await Assert.ThrowsAsync<PtException>(() => dial("[2001:db8::7]:443", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.Contains("host unreachable", e.Message, StringComparison.Ordinal);
        Assert.Equal("[2001:db8::7]:443", fake.Target);
    }

    [Fact]
    public async Task A_socks4a_proxy_gets_the_user_name_as_userid_and_a_domain_target()
    {
        await using var fake = FakeProxy.Socks4a();
        var dial = UpstreamProxy.Parse($"socks4a://alice@127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        await using var tunnel = await dial("bridge.example:80", CancellationToken.None);

        await AssertTunnelEchoesAsync(tunnel);
        Assert.Equal("bridge.example:80", fake.Target);
        Assert.Equal("alice", fake.UserName);
    }

    [Fact]
    public async Task A_socks4a_proxy_rejecting_the_connect_is_a_proxy_error()
    {
        await using var fake = FakeProxy.Socks4a(reply: 0x5B);
        var dial = UpstreamProxy.Parse($"socks4a://127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        var e = await Assert.ThrowsAsync<PtException>(() => dial("192.0.2.1:80", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.Equal("192.0.2.1:80", fake.Target);
    }

    [Fact]
    public async Task An_ipv6_target_through_socks4a_is_a_config_error_before_any_connection()
    {
        var dialed = false;
        var dial = new UpstreamProxy(ProxyKind.Socks4a, "127.0.0.1", 1, null, null).Wrap((_, _) =>
        {
            dialed = true;
            throw new InvalidOperationException("must not dial");
        });

        var e = await Assert.ThrowsAsync<PtException>(() => dial("[::1]:80", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.False(dialed);
    }

    [Fact]
    public async Task An_http_proxy_answering_200_opens_a_tunnel_and_gets_basic_credentials()
    {
        await using var fake = FakeProxy.Http("HTTP/1.1 200 Connection established");
        var dial = UpstreamProxy.Parse($"http://Aladdin:open%20sesame@127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        await using var tunnel = await dial("bridge.example:443", CancellationToken.None);

        await AssertTunnelEchoesAsync(tunnel);
        Assert.Equal("bridge.example:443", fake.Target);
        Assert.Contains("\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n", fake.RequestHead, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_http_proxy_answering_407_is_a_proxy_error_naming_the_status_line()
    {
        await using var fake = FakeProxy.Http("HTTP/1.1 407 Proxy Authentication Required");
        var dial = UpstreamProxy.Parse($"http://127.0.0.1:{fake.Port}").Wrap(Direct.DialAsync);

        var e = await Assert.ThrowsAsync<PtException>(() => dial("bridge.example:443", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.Contains("HTTP/1.1 407 Proxy Authentication Required", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Proxy-Authorization", fake.RequestHead, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proxy_that_cannot_be_reached_keeps_the_failure_kind_and_says_proxy()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var dial = UpstreamProxy.Parse($"socks5://127.0.0.1:{port}").Wrap(Direct.DialAsync);

        var e = await Assert.ThrowsAsync<PtException>(() => dial("192.0.2.1:80", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Refused, e.Kind);
        Assert.StartsWith("proxy", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proxy_that_closes_mid_handshake_is_a_proxy_error_and_the_connection_is_disposed()
    {
        var stream = new ClosingStream();
        var dial = new UpstreamProxy(ProxyKind.Socks5, "127.0.0.1", 1, null, null)
            .Wrap((_, _) => ValueTask.FromResult<Stream>(stream));

        var e = await Assert.ThrowsAsync<PtException>(() => dial("192.0.2.1:80", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.True(stream.Disposed);
    }

    [Fact]
    public async Task A_reset_during_the_handshake_becomes_a_proxy_error()
    {
        var stream = new ClosingStream(throwOnRead: true);
        var dial = new UpstreamProxy(ProxyKind.Http, "127.0.0.1", 1, null, null)
            .Wrap((_, _) => ValueTask.FromResult<Stream>(stream));

        var e = await Assert.ThrowsAsync<PtException>(() => dial("192.0.2.1:80", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.IsType<IOException>(e.InnerException);
    }

    /// <summary>Accepts writes, then reads EOF (or throws a reset); records disposal.</summary>
    private sealed class ClosingStream(bool throwOnRead = false) : Stream
    {
        public bool Disposed { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) =>
            throwOnRead ? throw new IOException("connection reset by peer") : 0;
        public override void Write(byte[] buffer, int offset, int count) { }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
