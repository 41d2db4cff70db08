using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Relay;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Marionette;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Tests.Marionette;

/// <summary>Sessions, multiplexing, resumption and reassembly (issue 7, item 4).</summary>
public class MarionetteSessionTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A Marionette server on 127.0.0.1 that echoes every stream, served the way guise's host
    /// serves a multiplexing transport; counts the connections it accepted.
    /// </summary>
    private sealed class EchoBridge : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly TempDirectory _state = new();
        private int _connections;

        public EchoBridge(string format, PtArgs? options = null)
        {
            Factory = (IMultiplexingServerFactory)new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(_state.Path),
                options ?? new PtArgs().Add("format", format));
            _listener.Start();
            _ = AcceptLoopAsync();
        }

        public IMultiplexingServerFactory Factory { get; }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public string Target => $"127.0.0.1:{Port}";

        public int Connections => Volatile.Read(ref _connections);

        private async Task AcceptLoopAsync()
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception)
                {
                    return;
                }
                Interlocked.Increment(ref _connections);
                _ = Task.Run(async () =>
                {
                    await using var wire = new NetworkStream(socket, ownsSocket: true);
                    try
                    {
                        await Factory.ServeAsync(wire, EchoAsync, _stop.Token);
                    }
                    catch (Exception)
                    {
                        // a refused connection: the test sees it as the client's failure
                    }
                });
            }
        }

        private async Task EchoAsync(Stream stream)
        {
            await using var _ = stream;
            try
            {
                var buffer = new byte[16384];
                int n;
                while ((n = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                    await stream.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                ((IHalfCloseable)stream).ShutdownWrite();
                while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                {
                }
            }
            catch (Exception)
            {
                // the stream failed: the client sees it
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            _state.Dispose();
        }
    }

    /// <summary>Dials the bridge and counts the dials; <paramref name="wrap"/> wraps each wire.</summary>
    private static DialAsync Dialer(int port, StrongBox<int> dials, Func<int, NetworkStream, Stream>? wrap = null) => async (_, ct) =>
    {
        var n = Interlocked.Increment(ref dials.Value);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port, ct);
        var stream = new NetworkStream(socket, ownsSocket: true);
        return wrap is null ? stream : wrap(n, stream);
    };

    private sealed class StrongBox<T>(T value)
    {
        public T Value = value;
    }

    /// <summary>Writes <paramref name="payload"/>, half-closes, and reads the echo to its end.</summary>
    private static async Task<byte[]> EchoThroughAsync(Stream tunnel, byte[] payload, CancellationToken ct)
    {
        var write = Task.Run(async () =>
        {
            for (var off = 0; off < payload.Length; off += 8192)
                await tunnel.WriteAsync(payload.AsMemory(off, Math.Min(8192, payload.Length - off)), ct);
            ((IHalfCloseable)tunnel).ShutdownWrite();
        }, ct);
        var back = new MemoryStream();
        await tunnel.CopyToAsync(back, ct);
        await write;
        return back.ToArray();
    }

    [Theory]
    [InlineData("http_post")]
    [InlineData("http_get")]
    public async Task Several_socks_streams_to_one_bridge_share_one_connection_and_each_gets_its_own_bytes_back(string format)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var bridge = new EchoBridge(format);
        var factory = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests());
        var dials = new StrongBox<int>(0);

        var runs = Enumerable.Range(0, 4).Select(async i =>
        {
            // Every SOCKS request prepares its own session object, as the SOCKS endpoint does.
            var session = factory.Prepare(bridge.Factory.ClientArgs);
            await using var tunnel = await session.ConnectAsync(bridge.Target, Dialer(bridge.Port, dials), cts.Token);
            var payload = RandomNumberGenerator.GetBytes(50_000 + i * 7_000);
            var back = await EchoThroughAsync(tunnel, payload, cts.Token);
            Assert.Equal(payload, back);
        }).ToArray();
        await Task.WhenAll(runs);

        Assert.Equal(1, dials.Value);
        Assert.Equal(1, bridge.Connections);
    }

    /// <summary>Kills its socket with a TCP reset once more than a given number of bytes was written.</summary>
    private sealed class ResetAfter(NetworkStream inner, Func<long> limit) : WrappedStream(inner)
    {
        private long _written;

        public ResetAfter(NetworkStream inner, long limit)
            : this(inner, () => limit)
        {
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var max = limit();
            if (_written + buffer.Length > max)
            {
                // Half a message goes out, then the connection dies without a goodbye.
                var part = (int)Math.Max(0, max - _written);
                await inner.WriteAsync(buffer[..part], cancellationToken);
                inner.Socket.Close(0);
                throw new IOException("test: connection reset");
            }
            _written += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken);
        }
    }

    [Theory]
    [InlineData("http_post")]
    [InlineData("irc_lines")]
    public async Task A_stream_survives_losing_its_connection_midway_and_no_byte_is_lost_or_repeated(string format)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var bridge = new EchoBridge(format);
        var session = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests()).Prepare(bridge.Factory.ClientArgs);
        var dials = new StrongBox<int>(0);
        var size = format == "irc_lines" ? 40_000 : 1 << 20;
        // The first two connections die part way through (the second one early in its life).
        var dial = Dialer(bridge.Port, dials, (n, s) => n switch
        {
            1 => new ResetAfter(s, size / 3),
            2 => new ResetAfter(s, 5_000),
            _ => s,
        });

        await using var tunnel = await session.ConnectAsync(bridge.Target, dial, cts.Token);
        var payload = RandomNumberGenerator.GetBytes(size);
        var back = await EchoThroughAsync(tunnel, payload, cts.Token);

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
        Assert.True(dials.Value >= 3, $"dialed {dials.Value} times");
    }

    /// <summary>An http_post-like format whose client keeps two more instances running (model.spawn); returns its name.</summary>
    private static string AddSpawningFormat(string prefix, TempDirectory dir)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..8];
        var path = Path.Combine(dir.Path, name + ".mar");
        File.WriteAllText(path, $$"""
            connection(tcp, 80):
              start     request   more       1.0
              request   end       upload     1.0
              request   end       not_found  error

            action more:
              client model.spawn("{{name}}", 2)

            action upload:
              client tg.send("http_post_request")
              server tg.send("http_response")

            action not_found:
              server io.puts("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            """);
        Assert.Equal(name, MarionetteTransport.AddFormatFile(path));
        return name;
    }

    [Fact]
    public async Task A_format_that_spawns_two_more_instances_spreads_a_stream_over_three_connections_and_keeps_its_order()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDirectory();
        var name = AddSpawningFormat("spawn3", dir);
        await using var bridge = new EchoBridge(name);
        var session = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests()).Prepare(bridge.Factory.ClientArgs);
        var dials = new StrongBox<int>(0);

        await using var tunnel = await session.ConnectAsync(bridge.Target, Dialer(bridge.Port, dials), cts.Token);
        var payload = RandomNumberGenerator.GetBytes(2 << 20);
        var back = await EchoThroughAsync(tunnel, payload, cts.Token);

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
        Assert.Equal(3, dials.Value); // the automaton loops, but spawn keeps the count at 1 + 2
        Assert.Equal(3, bridge.Connections);
    }

    [Fact]
    public async Task A_bridge_that_forgot_the_session_fails_the_clients_streams_with_a_message_that_says_so()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var first = new EchoBridge("http_post");
        var args = first.Factory.ClientArgs;
        var session = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests()).Prepare(args);
        var dials = new StrongBox<int>(0);
        // The bridge "restarts": a new server with the same key (so its answers decode) and no sessions.
        await using var restarted = new EchoBridge("http_post", new PtArgs().Add("format", "http_post").Add("key", args.Get("key")!));
        var armed = false;
        var dial = Dialer(first.Port, dials, (n, s) => n == 1 ? new ResetAfter(s, () => armed ? 0 : long.MaxValue) : s);
        var redirected = (DialAsync)(async (t, ct) => dials.Value == 0 ? await dial(t, ct) : await Dialer(restarted.Port, dials)(t, ct));

        await using var tunnel = await session.ConnectAsync(first.Target, redirected, cts.Token);
        // One exchange, so that the first bridge knows the session; then its connection dies.
        await tunnel.WriteAsync("ping"u8.ToArray(), cts.Token);
        await tunnel.ReadExactlyAsync(new byte[4], cts.Token);
        armed = true;
        var ex = await Assert.ThrowsAsync<PtException>(() => EchoThroughAsync(tunnel, RandomNumberGenerator.GetBytes(100_000), cts.Token));

        Assert.Equal(PtErrorKind.Handshake, ex.Kind);
        Assert.Contains("no longer knows this session", ex.Message, StringComparison.Ordinal);
        Assert.Equal(MarionetteClientMux.MaxFailures, dials.Value);
    }

    /// <summary>Kills its socket with a TCP reset once more than a given number of bytes was read: what was just read is lost.</summary>
    private sealed class ResetOnRead(NetworkStream inner, long limit) : WrappedStream(inner)
    {
        private long _read;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken);
            _read += n;
            if (_read > limit)
            {
                inner.Socket.Close(0);
                throw new IOException("test: connection reset while reading");
            }
            return n;
        }
    }

    [Fact]
    public async Task When_one_of_several_connections_loses_the_bridges_data_the_bridge_sends_it_again()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDirectory();
        var name = AddSpawningFormat("spawnloss", dir);
        await using var bridge = new EchoBridge(name);
        var session = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests()).Prepare(bridge.Factory.ClientArgs);
        var dials = new StrongBox<int>(0);
        // The second connection dies while the bridge's answers arrive; the others live on.
        var dial = Dialer(bridge.Port, dials, (n, s) => n == 2 ? new ResetOnRead(s, 300_000) : s);

        await using var tunnel = await session.ConnectAsync(bridge.Target, dial, cts.Token);
        var payload = RandomNumberGenerator.GetBytes(2 << 20);
        var back = await EchoThroughAsync(tunnel, payload, cts.Token);

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
    }

    [Fact]
    public async Task A_first_dial_that_fails_at_once_does_not_stop_the_next_stream_from_dialing()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var bridge = new EchoBridge("http_post");
        var session = new MarionetteTransport().CreateClientFactory(TransportContext.ForTests()).Prepare(bridge.Factory.ClientArgs);
        var dials = new StrongBox<int>(0);
        var good = Dialer(bridge.Port, dials);
        var calls = 0;
        DialAsync dial = (t, ct) => Interlocked.Increment(ref calls) == 1 ? throw new IOException("refused") : good(t, ct);

        await Assert.ThrowsAsync<IOException>(async () => await session.ConnectAsync(bridge.Target, dial, cts.Token));
        await using var tunnel = await session.ConnectAsync(bridge.Target, dial, cts.Token);
        var back = await EchoThroughAsync(tunnel, "hello"u8.ToArray(), cts.Token);

        Assert.Equal("hello"u8.ToArray(), back);
        Assert.Equal(2, calls);
    }

    /// <summary>A session without connections, to feed cells by hand.</summary>
    private sealed class LooseSession() : MarionetteMux(42);

    private static MarionetteCell Data(uint offset, byte[] all, int length, bool fin = false) =>
        new(fin ? MarionetteCell.FinFlag : (byte)0, 42, 0, 7, offset, 0, all.AsMemory((int)offset, length));

    [Fact]
    public async Task Cells_that_arrive_twice_or_out_of_order_are_placed_by_offset()
    {
        var mux = new LooseSession();
        var bytes = RandomNumberGenerator.GetBytes(40);
        Assert.Null(mux.Deliver(Data(20, bytes, 10), mayOpen: true, out var stream));
        Assert.NotNull(stream);
        Assert.Null(mux.Deliver(Data(30, bytes, 10, fin: true), mayOpen: true, out _));
        Assert.Null(mux.Deliver(Data(0, bytes, 10), mayOpen: true, out _));
        Assert.Null(mux.Deliver(Data(0, bytes, 10), mayOpen: true, out _)); // a copy
        Assert.Null(mux.Deliver(Data(5, bytes, 20), mayOpen: true, out _)); // overlaps both sides

        var got = new MemoryStream();
        await stream!.CopyToAsync(got);

        Assert.Equal(bytes, got.ToArray());
    }

    [Fact]
    public void A_peer_that_still_sends_for_a_stream_this_side_has_closed_gets_one_rst()
    {
        var mux = new LooseSession();
        Assert.Null(mux.Deliver(Data(0, new byte[4], 4), mayOpen: true, out _));
        Assert.Null(mux.Deliver(new MarionetteCell(MarionetteCell.RstFlag, 42, 0, 7, 0, 0, ReadOnlyMemory<byte>.Empty), mayOpen: true, out _));

        // Its data comes again (our cell that closed it was lost with a connection).
        Assert.Null(mux.Deliver(Data(0, new byte[4], 4), mayOpen: true, out _));
        Assert.Null(mux.Deliver(Data(0, new byte[4], 4), mayOpen: true, out _));

        Assert.True(mux.TryTakeCell(100, eager: false, DateTimeOffset.UnixEpoch, out var answer));
        Assert.True(answer.IsRst);
        Assert.Equal(7u, answer.StreamId);
        Assert.False(mux.TryTakeCell(100, eager: false, DateTimeOffset.UnixEpoch, out _));
    }

    [Fact]
    public void Out_of_order_bytes_beyond_a_window_are_a_protocol_error()
    {
        var mux = new LooseSession();
        var big = new byte[MuxStream.Window];
        Assert.Null(mux.Deliver(new MarionetteCell(0, 42, 0, 7, 1, 0, big.AsMemory(0, 300_000)), mayOpen: true, out _));

        Assert.Equal("too many out-of-order bytes", mux.Deliver(new MarionetteCell(0, 42, 0, 7, 2, 0, big.AsMemory(0, 300_000)), mayOpen: true, out _));
    }

    [Fact]
    public void A_cell_past_the_receive_window_is_a_protocol_error()
    {
        var mux = new LooseSession();
        var cell = new MarionetteCell(0, 42, 0, 7, MuxStream.Window, 0, new byte[1]);

        Assert.Equal("payload beyond the receive window", mux.Deliver(cell, mayOpen: true, out _));
    }

    [Fact]
    public void Data_after_the_fin_is_a_protocol_error()
    {
        var mux = new LooseSession();
        var bytes = new byte[20];
        Assert.Null(mux.Deliver(Data(0, bytes, 10, fin: true), mayOpen: true, out _));

        Assert.Equal("payload after FIN", mux.Deliver(Data(10, bytes, 10), mayOpen: true, out _));
    }

    [Fact]
    public void A_client_session_refuses_a_stream_the_server_tries_to_open()
    {
        var mux = new LooseSession();

        Assert.Contains("never opened", mux.Deliver(Data(0, new byte[4], 4), mayOpen: false, out _), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bridge_forgets_a_session_it_has_not_heard_from_for_two_minutes_and_fails_its_streams()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var sessions = new MarionetteServerSessions(time);
        var clock = new byte[MarionetteCell.ClockLength + 4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(clock, time.GetUtcNow().ToUnixTimeSeconds());
        var hello = new MarionetteCell(MarionetteCell.HelloFlag, 42, 0, 7, 0, 0, clock);
        var session = sessions.Admit(hello, [1, 2, 3], out var problem);
        Assert.Null(problem);
        Assert.Null(session!.Deliver(hello with { Payload = clock.AsMemory(MarionetteCell.ClockLength) }, mayOpen: true, out var stream));

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Same(session, sessions.Admit(new MarionetteCell(0, 42, 1, 0, 0, 0, ReadOnlyMemory<byte>.Empty), [], out _)); // padding keeps it
        var lastHeard = time.GetUtcNow();
        // Half a minute at a time, giving the timer's continuation a moment each step.
        while (sessions.Count > 0 && time.GetUtcNow() - lastHeard < TimeSpan.FromMinutes(10))
        {
            var wasThere = sessions.Count;
            time.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(20);
            if (time.GetUtcNow() - lastHeard < MarionetteServerSessions.Linger)
                Assert.Equal(wasThere, sessions.Count); // not before two minutes of silence
        }

        Assert.Equal(0, sessions.Count);
        Assert.InRange(time.GetUtcNow() - lastHeard, MarionetteServerSessions.Linger, 2.5 * MarionetteServerSessions.Linger);
        var buffer = new byte[4];
        await stream!.ReadExactlyAsync(buffer); // what arrived before is still there
        var ex = await Assert.ThrowsAsync<PtException>(async () => await stream.ReadExactlyAsync(buffer));
        Assert.Contains("expired", ex.Message, StringComparison.Ordinal);
        Assert.Null(sessions.Admit(new MarionetteCell(0, 42, 2, 0, 0, 0, ReadOnlyMemory<byte>.Empty), [], out problem));
        Assert.Contains("does not know", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void A_hello_with_an_absurd_clock_is_refused_as_stale_not_with_an_overflow(long clock)
    {
        var sessions = new MarionetteServerSessions(TimeProvider.System);
        var payload = new byte[MarionetteCell.ClockLength];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload, clock);

        Assert.Null(sessions.Admit(new MarionetteCell(MarionetteCell.HelloFlag, 42, 0, 0, 0, 0, payload), [9], out var problem));
        Assert.Contains("clock is too far", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_server_refuses_a_cell_counter_it_has_seen_and_one_older_than_its_window()
    {
        var session = new MarionetteServerMux(42, new MarionetteServerSessions(TimeProvider.System), TimeProvider.System);

        Assert.True(session.AcceptCounter(5));
        Assert.False(session.AcceptCounter(5));
        Assert.True(session.AcceptCounter(3)); // late, over another connection
        Assert.False(session.AcceptCounter(3));
        Assert.True(session.AcceptCounter(1000));
        Assert.False(session.AcceptCounter(6)); // too old to tell apart from a replay
        Assert.True(session.AcceptCounter(999));
    }

    [Theory]
    [InlineData(0xFFFF_FFF0u, 0x1_0000_0010UL, 0x0_FFFF_FFF0UL)]
    [InlineData(0x0000_0010u, 0x0_FFFF_FFF0UL, 0x1_0000_0010UL)]
    [InlineData(0x0000_1000u, 0x0_0000_0000UL, 0x0_0000_1000UL)]
    [InlineData(0x8000_0000u, 0x5_0000_0000UL, 0x5_8000_0000UL)]
    public void A_32_bit_offset_on_the_wire_becomes_the_64_bit_offset_nearest_the_expected_one(uint wire, ulong reference, ulong expected)
    {
        Assert.Equal(expected, MarionetteCell.Unwrap(wire, reference));
    }
}
