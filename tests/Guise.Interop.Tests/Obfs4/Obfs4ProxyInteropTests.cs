using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Guise.Interop.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Interop.Tests.Obfs4;

/// <summary>
/// The Guise library in this process against the real obfs4proxy (Debian's 0.0.14) in managed
/// mode on loopback. obfs4proxy must be installed: <see cref="Peers.Obfs4Proxy"/> throws otherwise,
/// so these tests fail rather than pass without having run.
/// </summary>
public class Obfs4ProxyInteropTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_guise_library_client_talks_to_an_obfs4proxy_bridge_that_uses_a_guise_made_state_file()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDir();
        // Guise writes the state; obfs4proxy must accept it and advertise the same cert.
        var identity = Obfs4Identity.LoadOrCreate(state, PtArgs.Empty);
        await using var target = new HashTarget();
        using var bridge = await ManagedPt.StartServerAsync(Peers.Obfs4Proxy, state, target.EndPoint);
        Assert.Equal(identity.ClientArgs.ToSmethodArgs(), bridge.Args.ToSmethodArgs());

        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(bridge.Args);
        await using var stream = await session.ConnectAsync(bridge.EndPoint.ToString(), DialAsync, cts.Token);
        await HashTarget.ExchangeAsync(stream, 100_000, 100_000, cts.Token);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task An_obfs4proxy_client_talks_to_a_guise_library_bridge(int iatMode)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDir();
        var server = new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(state),
            new PtArgs().Add("iat-mode", iatMode.ToString(CultureInfo.InvariantCulture)));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            var socket = await listener.AcceptSocketAsync(cts.Token);
            await using var s = await server.AcceptAsync(new NetworkStream(socket, ownsSocket: true), cts.Token);
            var buf = new byte[65536];
            int n;
            while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
                await s.WriteAsync(buf.AsMemory(0, n), cts.Token);
        }, cts.Token);

        using var clientState = new TempDir();
        using var client = await ManagedPt.StartClientAsync(Peers.Obfs4Proxy, clientState);
        await using var stream = await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, server.ClientArgs, cts.Token);

        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(50_000);
        var write = stream.WriteAsync(payload, cts.Token).AsTask();
        var back = new byte[payload.Length];
        await stream.ReadExactlyAsync(back, cts.Token);
        await write;
        Assert.Equal(payload, back);
        stream.Close();
        await serve;
    }

    private static async ValueTask<Stream> DialAsync(string target, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPEndPoint.Parse(target), ct);
        return new NetworkStream(socket, ownsSocket: true);
    }
}
