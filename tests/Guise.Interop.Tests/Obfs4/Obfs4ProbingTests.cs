using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Guise.Interop.Tests.Support;
using Guise.Primitives;
using Guise.Transports;
using Guise.Transports.Obfs4;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Interop.Tests.Obfs4;

/// <summary>
/// What an active prober sees from a Guise obfs4 bridge over real loopback TCP: whatever it sends
/// that is not a fresh, valid handshake for this bridge, it gets zero bytes back, and the bridge
/// hangs up only once the handshake timeout plus the bridge's close delay have passed since the
/// connection began (obfs4proxy's closeAfterDelay). The bridge here runs in this process with
/// short timeouts (internal test knobs) so the tests are fast; the close time is asserted as a
/// lower bound only.
/// </summary>
public class Obfs4ProbingTests
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan CloseDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Random_bytes_get_no_answer_and_the_close_comes_no_earlier_than_timeout_plus_delay()
    {
        await using var bridge = ProbedBridge.Start();
        // A full handshake's worth with no mark in it: the bridge knows at once that it is bad.
        var probe = await bridge.ProbeAsync(RandomNumberGenerator.GetBytes(Obfs4HandshakeLimits.MaxHandshakeLength));
        probe.AssertSilentUntil(HandshakeTimeout + CloseDelay);
    }

    [Fact]
    public async Task A_few_random_bytes_get_no_answer_and_the_close_comes_no_earlier_than_timeout_plus_delay()
    {
        await using var bridge = ProbedBridge.Start();
        // Too short to judge: the bridge waits for the handshake timeout, then the delay still applies.
        var probe = await bridge.ProbeAsync(RandomNumberGenerator.GetBytes(100));
        probe.AssertSilentUntil(HandshakeTimeout + CloseDelay);
    }

    [Fact]
    public async Task A_replayed_client_handshake_gets_no_answer_and_the_close_comes_no_earlier_than_timeout_plus_delay()
    {
        await using var bridge = ProbedBridge.Start();
        var handshake = await ClientHandshakeAsync(bridge.ClientArgs, TimeProvider.System);
        var genuine = await bridge.ProbeAsync(handshake, readUntilClose: false);
        Assert.True(genuine.BytesBack > 0, "the bridge did not answer the handshake the first time, so the replay proves nothing");

        var replay = await bridge.ProbeAsync(handshake);

        replay.AssertSilentUntil(HandshakeTimeout + CloseDelay);
    }

    [Fact]
    public async Task A_handshake_for_another_bridges_cert_gets_no_answer_and_the_close_comes_no_earlier_than_timeout_plus_delay()
    {
        await using var bridge = ProbedBridge.Start();
        var otherBridge = Obfs4Identity.Generate().ClientArgs;
        var probe = await bridge.ProbeAsync(await ClientHandshakeAsync(otherBridge, TimeProvider.System));
        probe.AssertSilentUntil(HandshakeTimeout + CloseDelay);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-2)]
    public async Task A_handshake_with_the_epoch_hour_off_by_two_gets_no_answer_and_the_close_comes_no_earlier_than_timeout_plus_delay(int hours)
    {
        await using var bridge = ProbedBridge.Start();
        var probe = await bridge.ProbeAsync(await ClientHandshakeAsync(bridge.ClientArgs, new SkewedTime(TimeSpan.FromHours(hours))));
        probe.AssertSilentUntil(HandshakeTimeout + CloseDelay);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public async Task A_handshake_with_the_epoch_hour_off_by_one_is_answered(int hours)
    {
        // obfs4 accepts the MAC for E-1, E and E+1: clocks that are a little off still work.
        await using var bridge = ProbedBridge.Start();
        var probe = await bridge.ProbeAsync(await ClientHandshakeAsync(bridge.ClientArgs, new SkewedTime(TimeSpan.FromHours(hours))),
            readUntilClose: false);
        Assert.True(probe.BytesBack > 0, "the bridge did not answer a client one hour off");
    }

    /// <summary>
    /// The real binary, without knobs: obfs4proxy's server handshake timeout (30 s) plus the close
    /// delay of a seed whose delay is 0 s (obfs4proxy 0.0.14 takes it from the first Intn(60) of
    /// Go's rand over the seed DRBG; measured against /usr/bin/obfs4proxy, see Obfs4TransportTests).
    /// </summary>
    [Fact]
    public async Task The_guise_binary_gives_random_bytes_no_answer_and_closes_no_earlier_than_thirty_seconds()
    {
        using var state = new TempDir();
        byte[] seed;
        do
            seed = RandomNumberGenerator.GetBytes(HashDrbg.SeedLength);
        while (new GoRand(new HashDrbg(seed)).Intn(60) != 0);
        Obfs4Identity.LoadOrCreate(state, new PtArgs()
            .Add("node-id", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)))
            .Add("private-key", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)))
            .Add("drbg-seed", Convert.ToHexStringLower(seed)));
        await using var target = new HashTarget();
        using var bridge = await ManagedPt.StartServerAsync(Peers.Guise, state, target.EndPoint);

        var probe = await Probe.RunAsync(bridge.EndPoint, RandomNumberGenerator.GetBytes(Obfs4HandshakeLimits.MaxHandshakeLength),
            readUntilClose: true, TimeSpan.FromSeconds(120));

        probe.AssertSilentUntil(TimeSpan.FromSeconds(30));
    }

    /// <summary>What a genuine Guise client sends first, for <paramref name="args"/> at <paramref name="time"/>'s clock.</summary>
    private static async Task<byte[]> ClientHandshakeAsync(PtArgs args, TimeProvider time)
    {
        var context = new TransportContext(null, time, NullPtLog.Instance);
        var session = new Obfs4Transport().CreateClientFactory(context).Prepare(args);
        var capture = new CaptureStream();
        using var cts = new CancellationTokenSource(HangGuard);
        var connect = session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult<Stream>(capture), cts.Token).AsTask();
        var request = await capture.FirstWrite.WaitAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect);
        return request;
    }

    /// <summary>A Guise obfs4 bridge in this process on a loopback port, with short anti-probing times.</summary>
    private sealed class ProbedBridge : IAsyncDisposable
    {
        private readonly TempDir _state = new();
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Obfs4ServerFactory _factory;
        private readonly Task _loop;

        private ProbedBridge()
        {
            _factory = (Obfs4ServerFactory)new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(_state), PtArgs.Empty);
            _factory.HandshakeTimeout = HandshakeTimeout;
            _factory.CloseDelay = CloseDelay;
            _listener.Start();
            _loop = AcceptLoopAsync();
        }

        public static ProbedBridge Start() => new();

        public PtArgs ClientArgs => _factory.ClientArgs;

        public Task<Probe> ProbeAsync(byte[] bytes, bool readUntilClose = true) =>
            Probe.RunAsync((IPEndPoint)_listener.LocalEndpoint, bytes, readUntilClose, HangGuard);

        private async Task AcceptLoopAsync()
        {
            var connections = new List<Task>();
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    connections.Add(Task.Run(async () =>
                    {
                        try
                        {
                            await using var payload = await _factory.AcceptAsync(new NetworkStream(socket, ownsSocket: true), _stop.Token);
                            var buffer = new byte[4096];
                            while (await payload.ReadAsync(buffer, _stop.Token) > 0)
                            {
                            }
                        }
                        catch (Exception e) when (e is Guise.Errors.PtException or OperationCanceledException or IOException)
                        {
                            // Refused handshakes end here, after the anti-probing delay.
                        }
                    }));
                }
            }
            catch (OperationCanceledException)
            {
            }
            await Task.WhenAll(connections);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
            _state.Dispose();
        }
    }

    /// <summary>One probe: connect, send, then count what comes back until the bridge closes.</summary>
    private sealed record Probe(int BytesBack, TimeSpan ClosedAfter)
    {
        public static async Task<Probe> RunAsync(IPEndPoint bridge, byte[] bytes, bool readUntilClose, TimeSpan hangGuard)
        {
            using var cts = new CancellationTokenSource(hangGuard);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            // Started before connecting: the bridge's clock starts later, so this only overstates the wait.
            var clock = Stopwatch.StartNew();
            await socket.ConnectAsync(bridge, cts.Token);
            await socket.SendAsync(bytes, SocketFlags.None, cts.Token);
            var back = 0;
            var buffer = new byte[65536];
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                {
                    back += n;
                    if (!readUntilClose)
                        break;
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                // A reset is a close too; what matters is that nothing came before it.
            }
            return new Probe(back, clock.Elapsed);
        }

        public void AssertSilentUntil(TimeSpan atLeast)
        {
            Assert.Equal(0, BytesBack);
            Assert.True(ClosedAfter >= atLeast, $"the bridge closed after {ClosedAfter.TotalMilliseconds:F0} ms, before {atLeast.TotalMilliseconds:F0} ms");
        }
    }

    /// <summary>The system clock moved by <paramref name="offset"/>: a client whose epoch hour is off.</summary>
    private sealed class SkewedTime(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
    }

    /// <summary>Records the first write (the client handshake); reads wait until cancelled.</summary>
    private sealed class CaptureStream : Stream
    {
        private readonly TaskCompletionSource<byte[]> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<byte[]> FirstWrite => _first.Task;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _first.TrySetResult(buffer.AsSpan(offset, count).ToArray());

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _first.TrySetResult(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }
}
