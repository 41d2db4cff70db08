using System.Net.Sockets;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Tests.Support;
using Guise.Transports;

namespace Guise.Tests.Transports;

/// <summary>
/// Behaviour every registered transport must have. New transports get these tests by being
/// added to <see cref="TransportRegistry.Default"/>.
/// </summary>
public class TransportContractTests
{
    // A hang guard, not a timing assertion: a broken transport fails instead of stalling CI.
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Transports()
    {
        var data = new TheoryData<string>();
        foreach (var t in TransportRegistry.Default.All)
            data.Add(t.Name);
        return data;
    }

    public static TheoryData<string, int> TransportsAndSizes()
    {
        var data = new TheoryData<string, int>();
        var random = new Random(20261126);
        int[] fixedSizes = [0, 1, 1447, 1448, 1449, 65536, 1 << 20];
        foreach (var t in TransportRegistry.Default.All)
        {
            foreach (var size in fixedSizes)
                data.Add(t.Name, size);
            data.Add(t.Name, random.Next(2, 1 << 20));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(TransportsAndSizes))]
    public async Task Bytes_written_by_the_client_arrive_unchanged_at_the_server_and_back(string name, int size)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var tunnel = await Tunnel.OpenAsync(TransportRegistry.Default.Get(name), ct: cts.Token);
        var payload = RandomNumberGenerator.GetBytes(size);

        var echo = EchoAsync(tunnel.Server, size, cts.Token);
        var write = tunnel.Client.WriteAsync(payload, cts.Token).AsTask().ContinueWith(_ => tunnel.Client.FlushAsync(cts.Token), cts.Token).Unwrap();
        var back = await ReadExactlyAsync(tunnel.Client, size, cts.Token);
        await write;
        await echo;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task The_transport_survives_one_byte_reads_from_the_wire(string name)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var tunnel = await Tunnel.OpenAsync(TransportRegistry.Default.Get(name), s => new ChunkedReadStream(s, 1), cts.Token);
        var payload = RandomNumberGenerator.GetBytes(20_000);

        var echo = EchoAsync(tunnel.Server, payload.Length, cts.Token);
        await tunnel.Client.WriteAsync(payload, cts.Token);
        await tunnel.Client.FlushAsync(cts.Token);
        var back = await ReadExactlyAsync(new ChunkedReadStream(tunnel.Client, 1), payload.Length, cts.Token);
        await echo;

        Assert.Equal(payload, back);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_peer_that_closes_mid_stream_ends_the_read_with_eof_or_a_classified_error(string name)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var wires = new List<NetworkStream>();
        await using var tunnel = await Tunnel.OpenAsync(TransportRegistry.Default.Get(name), s =>
        {
            wires.Add((NetworkStream)s);
            return s;
        }, cts.Token);
        await tunnel.Client.WriteAsync(new byte[5000], cts.Token);
        await tunnel.Client.FlushAsync(cts.Token);
        await ReadExactlyAsync(tunnel.Server, 100, cts.Token);

        // The client's wire (wrapped second, after the server's) dies without a goodbye: RST.
        wires[1].Socket.Close(0);

        // A multiplexing server keeps the stream for the client to resume on a new connection; the
        // client is then the side that must learn, once resuming fails, that the stream is gone.
        var reader = tunnel.Multiplexing ? tunnel.Client : tunnel.Server;
        var buffer = new byte[4096];
        try
        {
            int n;
            do
            {
                n = await reader.ReadAsync(buffer, cts.Token);
            } while (n > 0);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Assert.Contains(PtException.Classify(e), new[] { PtErrorKind.Eof, PtErrorKind.Reset, PtErrorKind.PeerProtocol });
        }
        Assert.False(cts.IsCancellationRequested, "the read hung instead of ending");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_cancelled_connect_throws_operation_cancelled(string name)
    {
        var transport = TransportRegistry.Default.Get(name);
        using var state = new TempDirectory();
        var server = transport.CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty);
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await session.ConnectAsync("127.0.0.1:1", (_, ct) =>
            {
                ct.ThrowIfCancellationRequested();
                return ValueTask.FromResult<Stream>(new MemoryStream());
            }, cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await server.AcceptAsync(new MemoryStream(), cts.Token));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Cancelling_while_the_server_is_silent_ends_the_connect_attempt(string name)
    {
        var transport = TransportRegistry.Default.Get(name);
        using var state = new TempDirectory();
        var server = transport.CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty);
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        await using var pair = await LoopbackPair.CreateAsync(); // nobody serves pair.Server
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        using var guard = new CancellationTokenSource(HangGuard);

        var connect = session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token).AsTask();
        var finished = await Task.WhenAny(connect, Task.Delay(Timeout.Infinite, guard.Token));

        Assert.Same(connect, finished);
        // A transport without a handshake has nothing to wait for; one with a handshake must give up.
        if (!connect.IsCompletedSuccessfully)
            Assert.True(connect.IsCanceled || connect.Exception?.InnerException is OperationCanceledException or PtException { Kind: PtErrorKind.Cancelled or PtErrorKind.Timeout });
    }

    private static async Task EchoAsync(Stream stream, int count, CancellationToken ct)
    {
        var buffer = new byte[16384];
        var left = count;
        while (left > 0)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, left)), ct);
            if (n == 0)
                throw new EndOfStreamException($"echo: {left} bytes missing");
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
            await stream.FlushAsync(ct);
            left -= n;
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count, CancellationToken ct)
    {
        var result = new byte[count];
        await stream.ReadExactlyAsync(result, ct);
        return result;
    }
}
