using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Interop.Tests.Support;

/// <summary>An app behind a hand-run `guise client`: SOCKS5 to the bridge, random bytes through, checked at the target.</summary>
public static class SocksApp
{
    /// <summary>
    /// Connects through the SOCKS proxy on <paramref name="socksPort"/> to the bridge on
    /// <paramref name="bridgePort"/>, whose server forwards to <paramref name="target"/>; sends
    /// <paramref name="length"/> random bytes and asserts that the target received exactly them.
    /// </summary>
    public static async Task SendAndCheckAsync(int socksPort, int bridgePort, TcpListener target, int length, TimeSpan patience)
    {
        using var cts = new CancellationTokenSource(patience);
        using var app = new TcpClient();
        await app.ConnectAsync(IPAddress.Loopback, socksPort, cts.Token);
        var stream = app.GetStream();
        await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, "127.0.0.1", bridgePort, PtArgs.Empty, cts.Token);
        using var accepted = await target.AcceptTcpClientAsync(cts.Token);
        var payload = RandomNumberGenerator.GetBytes(length);
        await stream.WriteAsync(payload, cts.Token);
        var received = new byte[payload.Length];
        await accepted.GetStream().ReadExactlyAsync(received, cts.Token);
        Assert.Equal(payload, received);
    }
}
