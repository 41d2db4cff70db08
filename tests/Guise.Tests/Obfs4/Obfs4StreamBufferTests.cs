using System.Security.Cryptography;
using Guise.Tests.Support;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

/// <summary>
/// Obfs4Stream rents its receive buffer only while wire bytes wait to be used, and its send
/// buffer only for one write: an idle tunnel holds no pooled memory.
/// </summary>
public class Obfs4StreamBufferTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private sealed record Obfs4Pair(Tunnel Tunnel) : IAsyncDisposable
    {
        public Obfs4Stream Client => (Obfs4Stream)Tunnel.Client;
        public Obfs4Stream Bridge => (Obfs4Stream)Tunnel.Server;
        public ValueTask DisposeAsync() => Tunnel.DisposeAsync();
    }

    private static async Task<Obfs4Pair> OpenAsync(CancellationToken ct) => new(await Tunnel.OpenAsync(new Obfs4Transport(), ct: ct));

    [Fact]
    public async Task An_idle_stream_holds_no_buffer_even_with_a_read_waiting()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var t = await OpenAsync(cts.Token);
        var data = RandomNumberGenerator.GetBytes(100_000);
        var write = t.Client.WriteAsync(data, cts.Token).AsTask();
        var got = new byte[data.Length];
        await t.Bridge.ReadExactlyAsync(got, cts.Token);
        await write;
        Assert.Equal(data, got);
        // (Right after the last payload byte the burst's padding frame may still be arriving:
        // a partial frame keeps the buffer until the next read opens it.)

        // A read parked on a quiet wire waits with a zero-byte read: no buffer.
        var buffer = new byte[4096];
        var pending = t.Bridge.ReadAsync(buffer, cts.Token).AsTask();
        await Task.Delay(50, cts.Token);
        Assert.False(pending.IsCompleted);
        Assert.Equal(0, t.Bridge.HeldBufferBytes);

        await t.Client.WriteAsync("ping"u8.ToArray(), cts.Token);
        Assert.Equal(4, await pending);
        Assert.Equal("ping"u8.ToArray(), buffer.AsSpan(0, 4).ToArray());
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }

    [Fact]
    public async Task A_cancelled_read_returns_its_buffer_and_the_stream_stays_usable()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var t = await OpenAsync(cts.Token);
        using var cancel = new CancellationTokenSource();
        var pending = t.Bridge.ReadAsync(new byte[64], cancel.Token).AsTask();
        await Task.Delay(20, cts.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(0, t.Bridge.HeldBufferBytes);

        await t.Client.WriteAsync("after"u8.ToArray(), cts.Token);
        var got = new byte[5];
        await t.Bridge.ReadExactlyAsync(got, cts.Token);
        Assert.Equal("after"u8.ToArray(), got);
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }

    [Fact]
    public async Task A_zero_byte_read_waits_for_payload_and_the_payload_stays_for_the_next_read()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var t = await OpenAsync(cts.Token);
        var wait = t.Bridge.ReadAsync(Memory<byte>.Empty, cts.Token).AsTask();
        await Task.Delay(50, cts.Token);
        Assert.False(wait.IsCompleted);

        await t.Client.WriteAsync("hello"u8.ToArray(), cts.Token);
        Assert.Equal(0, await wait);
        // The payload is opened and waiting: the buffer is held until it is read.
        Assert.NotEqual(0, t.Bridge.HeldBufferBytes);
        var got = new byte[16];
        Assert.Equal(5, await t.Bridge.ReadAsync(got, cts.Token));
        Assert.Equal("hello"u8.ToArray(), got.AsSpan(0, 5).ToArray());
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }

    [Fact]
    public async Task A_zero_byte_read_at_eof_returns_and_so_does_every_read_after_it()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var t = await OpenAsync(cts.Token);
        t.Client.ShutdownWrite();
        Assert.Equal(0, await t.Bridge.ReadAsync(Memory<byte>.Empty, cts.Token));
        Assert.Equal(0, await t.Bridge.ReadAsync(new byte[10], cts.Token));
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }

    [Fact]
    public async Task Small_reads_take_the_payload_in_order_across_frames()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var t = await OpenAsync(cts.Token);
        var data = RandomNumberGenerator.GetBytes(20_000);
        var write = t.Client.WriteAsync(data, cts.Token).AsTask();
        var got = new byte[data.Length];
        var filled = 0;
        while (filled < got.Length)
        {
            var n = await t.Bridge.ReadAsync(got.AsMemory(filled, Math.Min(7, got.Length - filled)), cts.Token);
            Assert.InRange(n, 1, 7);
            filled += n;
        }
        await write;
        Assert.Equal(data, got);
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }

    [Fact]
    public async Task Disposing_with_payload_still_buffered_returns_the_buffer()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var t = await OpenAsync(cts.Token);
        await t.Client.WriteAsync(new byte[10_000], cts.Token);
        Assert.Equal(1, await t.Bridge.ReadAsync(new byte[1], cts.Token));
        Assert.NotEqual(0, t.Bridge.HeldBufferBytes);
        await t.DisposeAsync();
        Assert.Equal(0, t.Bridge.HeldBufferBytes);
    }
}
