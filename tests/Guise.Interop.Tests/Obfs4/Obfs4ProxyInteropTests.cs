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
        using var clientState = new TempDir();
        await Obfs4ManagedInterop.WithClientAsync(Peers.Obfs4Proxy, clientState, iatMode, async client =>
        {
            // A listener per attempt: an attempt whose client died never leaves an accept behind.
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var serve = EchoOnceAsync(listener, server, cts.Token);
            await using var stream = await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, server.ClientArgs, cts.Token);
            var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(50_000);
            var write = stream.WriteAsync(payload, cts.Token).AsTask();
            var back = new byte[payload.Length];
            await stream.ReadExactlyAsync(back, cts.Token);
            await write;
            Assert.Equal(payload, back);
            stream.Close();
            await serve;
        });
    }

    [Fact]
    public async Task An_obfs4proxy_client_in_paranoid_mode_dies_on_a_bridge_seed_that_can_draw_zero_which_guise_never_makes()
    {
        // Why Guise filters new bridges' seeds (Obfs4Identity.GenerateDrbgSeed) and warns about
        // old ones: the bridge's seed frame gives every client its table, so obfs4proxy's
        // paranoid-mode panic on a zero-length write is then a matter of time.
        using var cts = new CancellationTokenSource(HangGuard);
        var seed = SeedThatDrawsZeroOften();
        var made = Obfs4Identity.Generate();
        var server = new Obfs4ServerFactory(TransportContext.ForTests(),
            Obfs4Identity.Create(made.NodeId, made.PrivateKey, seed, Obfs4IatMode.Paranoid));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var clientState = new TempDir();
        using var client = await ManagedPt.StartClientAsync(Peers.Obfs4Proxy, clientState);
        for (var i = 0; i < 10 && !client.Process.Process.HasExited; i++)
        {
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            var serve = EchoOnceAsync(listener, server, connection.Token);
            try
            {
                await using var stream = await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, server.ClientArgs, connection.Token);
                var payload = new byte[1 << 20];
                var write = stream.WriteAsync(payload, connection.Token).AsTask();
                await stream.ReadExactlyAsync(new byte[payload.Length], connection.Token);
                await write;
            }
            catch (Exception e) when (e is IOException or SocketException && !cts.IsCancellationRequested)
            {
                // The client died under this connection or before it: the bridge's side goes too.
                await connection.CancelAsync();
            }
            try
            {
                await serve;
            }
            catch (Exception) when (!cts.IsCancellationRequested)
            {
                // the bridge's side of a connection the client dropped
            }
        }
        Assert.True(await client.DiedOfAsync(ManagedPt.ParanoidZeroLengthPanic, TimeSpan.FromSeconds(10)),
            "obfs4proxy survived 10 MiB in paranoid mode on a seed that draws 0 often:\n" + client.Process.Transcript);
    }

    /// <summary>The first counter seed whose length table draws 0 at least 2% of the time.</summary>
    private static byte[] SeedThatDrawsZeroOften()
    {
        var seed = new byte[24];
        for (var i = 0; ; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(seed.AsSpan(20), i);
            if (!Obfs4Codec.LengthTableCanDrawZero(seed))
                continue;
            var dist = new Guise.Primitives.WeightedDist(seed, 0, Obfs4Wire.MaximumSegmentLength);
            var zeros = 0;
            for (var n = 0; n < 10_000; n++)
                zeros += dist.Sample() == 0 ? 1 : 0;
            if (zeros >= 200)
                return seed;
        }
    }

    /// <summary>Accepts one connection as the obfs4 bridge and echoes it until the client closes.</summary>
    private static Task EchoOnceAsync(TcpListener listener, IServerFactory server, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        var socket = await listener.AcceptSocketAsync(cancellationToken);
        await using var s = await server.AcceptAsync(new NetworkStream(socket, ownsSocket: true), cancellationToken);
        var buf = new byte[65536];
        int n;
        while ((n = await s.ReadAsync(buf, cancellationToken)) > 0)
            await s.WriteAsync(buf.AsMemory(0, n), cancellationToken);
    }, cancellationToken);

    private static async ValueTask<Stream> DialAsync(string target, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPEndPoint.Parse(target), ct);
        return new NetworkStream(socket, ownsSocket: true);
    }
}
