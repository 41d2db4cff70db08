using System.Diagnostics;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Relay;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

public class Obfs4TransportTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private static (Obfs4ServerFactory Server, TempDirectory State) Server(int iatMode)
    {
        var state = new TempDirectory();
        var server = (Obfs4ServerFactory)new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(state.Path),
            new PtArgs().Add("iat-mode", iatMode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return (server, state);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Payload_round_trips_in_every_iat_mode(int iatMode)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(iatMode);
        using var _ = state;
        await using var pair = await LoopbackPair.CreateAsync();
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        await using var client = await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);
        await using var bridge = await accept;

        var up = RandomNumberGenerator.GetBytes(50_000);
        var down = RandomNumberGenerator.GetBytes(30_000);
        var write = client.WriteAsync(up, cts.Token).AsTask();
        var got = new byte[up.Length];
        await bridge.ReadExactlyAsync(got, cts.Token);
        await write;
        Assert.Equal(up, got);

        await bridge.WriteAsync(down, cts.Token);
        var back = new byte[down.Length];
        await client.ReadExactlyAsync(back, cts.Token);
        Assert.Equal(down, back);
    }

    [Fact]
    public async Task Half_close_reaches_the_peer_as_eof_while_the_other_direction_still_works()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        await using var pair = await LoopbackPair.CreateAsync();
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        await using var client = await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);
        await using var bridge = await accept;

        await client.WriteAsync("bye"u8.ToArray(), cts.Token);
        Assert.IsAssignableFrom<IHalfCloseable>(client);
        DuplexRelay.HalfClose(client);
        var buf = new byte[16];
        await bridge.ReadExactlyAsync(buf.AsMemory(0, 3), cts.Token);
        Assert.Equal(0, await bridge.ReadAsync(buf, cts.Token));

        await bridge.WriteAsync("still here"u8.ToArray(), cts.Token);
        await client.ReadExactlyAsync(buf.AsMemory(0, 10), cts.Token);
        Assert.Equal("still here"u8.ToArray(), buf[..10]);
    }

    [Fact]
    public async Task A_tampered_frame_is_a_sticky_peer_protocol_error()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        await using var pair = await LoopbackPair.CreateAsync();
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        await using var client = await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);
        await using var bridge = await accept;

        // Random bytes where frames should be: the length or the tag fails.
        await pair.Client.WriteAsync(RandomNumberGenerator.GetBytes(3000), cts.Token);
        var buf = new byte[64];
        var first = await Assert.ThrowsAsync<PtException>(async () => await bridge.ReadExactlyAsync(buf, cts.Token));
        Assert.Equal(PtErrorKind.PeerProtocol, first.Kind);
        var again = await Assert.ThrowsAsync<PtException>(async () => await bridge.ReadExactlyAsync(buf, cts.Token));
        Assert.Equal(PtErrorKind.PeerProtocol, again.Kind);
    }

    [Fact]
    public void The_close_delay_is_a_per_bridge_constant_from_the_drbg_seed()
    {
        var (a, sa) = Server(0);
        using var _ = sa;
        var again = new Obfs4ServerFactory(TransportContext.ForTests(), a.Identity);
        Assert.Equal(a.CloseDelay, again.CloseDelay);
        Assert.InRange(a.CloseDelay, TimeSpan.Zero, TimeSpan.FromSeconds(59));
        Assert.Equal(0, a.CloseDelay.Ticks % TimeSpan.TicksPerSecond);
    }

    [Fact]
    public void The_close_delay_is_what_obfs4proxy_0_0_14_showed_for_the_same_seed()
    {
        // Measured against /usr/bin/obfs4proxy 0.0.14 with this drbg-seed in obfs4_state.json: a probe
        // of 8192 random bytes (and one of 8192 + 9000) was closed after 87.0 s = 30 s timeout + 57 s.
        // obfs4proxy takes the delay from the first Intn(60) and closes on time only, not after a byte
        // count (newer obfs4 sources draw a byte threshold first; this binary does not).
        var seed = Convert.FromHexString("383188388926848fc6cd692e2ad6dccd78eacfddb5048004");
        var identity = Obfs4Identity.Create(new byte[20], new byte[32], seed, Obfs4IatMode.None);
        var server = new Obfs4ServerFactory(TransportContext.ForTests(), identity);
        Assert.Equal(TimeSpan.FromSeconds(57), server.CloseDelay);
    }

    [Fact]
    public async Task Random_bytes_get_no_answer_and_the_connection_closes_only_after_the_bridges_delay()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        server.HandshakeTimeout = TimeSpan.FromMilliseconds(400);
        server.CloseDelay = TimeSpan.FromMilliseconds(600);
        await using var pair = await LoopbackPair.CreateAsync();
        var clock = Stopwatch.StartNew();
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();

        // More than 8 KiB without a mark: the handshake is already known to be bad.
        await pair.Client.WriteAsync(RandomNumberGenerator.GetBytes(9000), cts.Token);
        var buf = new byte[64];
        int n;
        try
        {
            n = await pair.Client.ReadAsync(buf, cts.Token);
        }
        catch (IOException)
        {
            n = 0;
        }
        var elapsed = clock.Elapsed;
        Assert.Equal(0, n); // never a byte back
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(900), $"closed after {elapsed}, before timeout + delay");
        var e = await Assert.ThrowsAsync<PtException>(() => accept);
        Assert.Equal(PtErrorKind.Handshake, e.Kind);
    }

    [Fact]
    public async Task The_close_does_not_come_before_the_deadline_even_when_timers_fire_early()
    {
        // .NET timers run on a coarse clock and fire up to ~2 ms early against Stopwatch; this
        // clock's timers fire at half their due time to make that visible.
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var context = new TransportContext(state.Path, new EarlyTimers(), NullPtLog.Instance);
        var server = (Obfs4ServerFactory)new Obfs4Transport().CreateServerFactory(context, PtArgs.Empty);
        server.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
        server.CloseDelay = TimeSpan.FromMilliseconds(300);
        await using var pair = await LoopbackPair.CreateAsync();
        var clock = Stopwatch.StartNew();
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();

        await pair.Client.WriteAsync(RandomNumberGenerator.GetBytes(Obfs4HandshakeLimits.MaxHandshakeLength), cts.Token);
        var buf = new byte[64];
        int n;
        try
        {
            n = await pair.Client.ReadAsync(buf, cts.Token);
        }
        catch (IOException)
        {
            n = 0;
        }
        var elapsed = clock.Elapsed;
        Assert.Equal(0, n);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(600), $"closed after {elapsed.TotalMilliseconds:F0} ms, before timeout + delay (600 ms)");
        await Assert.ThrowsAsync<PtException>(() => accept);
    }

    [Fact]
    public async Task A_client_that_hangs_up_on_a_refused_handshake_is_not_held_until_the_deadline()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        server.HandshakeTimeout = TimeSpan.FromMinutes(10);
        server.CloseDelay = TimeSpan.Zero;
        await using var pair = await LoopbackPair.CreateAsync();
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();

        await pair.Client.WriteAsync(RandomNumberGenerator.GetBytes(Obfs4HandshakeLimits.MaxHandshakeLength), cts.Token);
        pair.Client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        // Finishes within the hang guard, long before the ten-minute deadline: the EOF ends the wait.
        var e = await Assert.ThrowsAsync<PtException>(() => accept);
        Assert.Equal(PtErrorKind.Handshake, e.Kind);
    }

    /// <summary>The system clock, but every timer fires at half its due time.</summary>
    private sealed class EarlyTimers : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            System.CreateTimer(callback, state, dueTime == Timeout.InfiniteTimeSpan ? dueTime : dueTime / 2, period);
    }

    [Fact]
    public async Task A_replayed_handshake_is_refused_silently_with_kind_replay()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        server.HandshakeTimeout = TimeSpan.FromMilliseconds(200);
        server.CloseDelay = TimeSpan.FromMilliseconds(100);

        // Record what a genuine client sends first.
        byte[] request;
        await using (var pair = await LoopbackPair.CreateAsync())
        {
            var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
            var recorder = new RecordingStream(pair.Client);
            var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
            await using var client = await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(recorder), cts.Token);
            await using var bridge = await accept;
            request = recorder.Written.ToArray();
        }

        await using var replay = await LoopbackPair.CreateAsync();
        var replayed = server.AcceptAsync(replay.Server, cts.Token).AsTask();
        await replay.Client.WriteAsync(request, cts.Token);
        var e = await Assert.ThrowsAsync<PtException>(() => replayed);
        Assert.Equal(PtErrorKind.Replay, e.Kind);
        var buf = new byte[16];
        int n;
        try { n = await replay.Client.ReadAsync(buf, cts.Token); } catch (IOException) { n = 0; }
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task A_client_with_the_wrong_cert_times_out_and_the_bridge_says_nothing()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (server, state) = Server(0);
        using var _ = state;
        server.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
        server.CloseDelay = TimeSpan.Zero;
        var wrong = Obfs4Identity.Generate().ClientArgs;
        var session = (Obfs4ClientSession)new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(wrong);
        session.HandshakeTimeout = TimeSpan.FromSeconds(5);
        await using var pair = await LoopbackPair.CreateAsync();
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        var e = await Assert.ThrowsAsync<PtException>(async () => await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token));
        // The bridge closes without a word; the client sees EOF (or a reset), not a reply.
        Assert.Contains(e.Kind, new[] { PtErrorKind.Eof, PtErrorKind.Reset });
        var se = await Assert.ThrowsAsync<PtException>(() => accept);
        Assert.Equal(PtErrorKind.Timeout, se.Kind);
    }

    [Fact]
    public void A_prepared_session_cannot_be_used_twice()
    {
        var (server, state) = Server(0);
        using var stateDir = state;
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        _ = session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(new MemoryStream()), CancellationToken.None).AsTask();
        Assert.ThrowsAny<InvalidOperationException>(() => session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(new MemoryStream()), CancellationToken.None).AsTask().GetAwaiter().GetResult());
    }

    private sealed class RecordingStream(Stream inner) : WrappedStream(inner)
    {
        public MemoryStream Written { get; } = new();
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written.Write(buffer.Span);
            return Inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
