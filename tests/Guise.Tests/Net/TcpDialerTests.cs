using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Net;

namespace Guise.Tests.Net;

public class TcpDialerTests
{
    /// <summary>A loopback port that was just free: nothing listens there, so a SYN gets a RST.</summary>
    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task Dialing_a_closed_loopback_port_is_refused()
    {
        var dialer = new TcpDialer();

        var e = await Assert.ThrowsAsync<PtException>(() => dialer.DialAsync($"127.0.0.1:{ClosedLoopbackPort()}", CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Refused, e.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("::1:80")]
    [InlineData("host name:80")]
    public async Task A_target_that_is_not_host_colon_port_is_a_config_error(string target)
    {
        var e = await Assert.ThrowsAsync<PtException>(() => new TcpDialer().DialAsync(target, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public async Task Dialing_a_listening_loopback_port_returns_a_connected_stream_with_nodelay()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        await using var stream = await new TcpDialer().DialAsync($"127.0.0.1:{port}", CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();
        await stream.WriteAsync(new byte[] { 42 });
        var buffer = new byte[1];
        await accepted.ReceiveAsync(buffer);

        Assert.Equal(42, buffer[0]);
        var network = Assert.IsType<NetworkStream>(stream);
        Assert.True(network.Socket.NoDelay);
    }

    [Fact]
    public async Task Disposing_the_dialed_stream_closes_the_connection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var stream = await new TcpDialer().DialAsync($"127.0.0.1:{port}", CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();
        await stream.DisposeAsync();

        Assert.Equal(0, await accepted.ReceiveAsync(new byte[1]));
    }

    [Fact]
    public async Task A_dns_name_is_resolved_before_connecting()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        // "localhost" may resolve to ::1 first, where nothing listens: the dialer must go on to 127.0.0.1.
        await using var stream = await new TcpDialer().DialAsync($"localhost:{port}", CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();

        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
    }

    [Fact]
    public async Task The_ipv4_bind_address_becomes_the_source_address()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var source = IPAddress.Parse("127.0.0.2");

        await using var stream = await new TcpDialer(bindV4: source) { BindLoopbackForTests = true }.DialAsync($"127.0.0.1:{port}", CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();

        Assert.Equal(source, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
    }

    [Fact]
    public async Task The_bind_address_is_not_applied_to_loopback_destinations()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        await using var stream = await new TcpDialer(bindV4: IPAddress.Parse("127.0.0.2")).DialAsync($"127.0.0.1:{port}", CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();

        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
    }

    [Fact]
    public void A_bind_address_of_the_wrong_family_is_a_config_error()
    {
        var e = Assert.Throws<PtException>(() => new TcpDialer(bindV4: IPAddress.IPv6Loopback));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public async Task A_cancelled_dial_throws_operation_cancelled_not_timeout()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new TcpDialer().DialAsync($"127.0.0.1:{ClosedLoopbackPort()}", cts.Token).AsTask());
    }
}
