using Guise.Relay;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

/// <summary>An idle obfs4 tunnel must cost no pooled buffers: bridges carry thousands of them.</summary>
public class Obfs4IdleMemoryTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_read_waiting_on_an_idle_socket_holds_no_receive_buffers_and_still_gets_the_data()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var server = new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty);
        await using var pair = await LoopbackPair.CreateAsync();
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        await using var client = (Obfs4Stream)await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);
        await using var bridge = await accept;

        // Drain whatever the handshake left buffered (the server's PRNG-seed frame), then go idle.
        await bridge.WriteAsync("a"u8.ToArray(), cts.Token);
        var one = new byte[1];
        await client.ReadExactlyAsync(one, cts.Token);

        var buffer = new byte[100];
        var pending = client.ReadAsync(buffer, cts.Token).AsTask();
        await Task.Delay(200, cts.Token);
        Assert.False(pending.IsCompleted);
        Assert.False(client.HoldsReceiveBuffers);

        await bridge.WriteAsync("hello"u8.ToArray(), cts.Token);
        var n = await pending;
        Assert.Equal("hello"u8.ToArray(), buffer[..n]);
    }

    [Fact]
    public async Task A_zero_byte_read_returns_once_data_arrives_without_consuming_it()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var server = new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty);
        await using var pair = await LoopbackPair.CreateAsync();
        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        await using var client = (Obfs4Stream)await session.ConnectAsync("x:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);
        await using var bridge = await accept;
        Assert.IsAssignableFrom<IZeroByteReadStream>(client);

        await bridge.WriteAsync("xyz"u8.ToArray(), cts.Token);
        Assert.Equal(0, await client.ReadAsync(Memory<byte>.Empty, cts.Token));
        var got = new byte[3];
        await client.ReadExactlyAsync(got, cts.Token);
        Assert.Equal("xyz"u8.ToArray(), got);
    }
}
