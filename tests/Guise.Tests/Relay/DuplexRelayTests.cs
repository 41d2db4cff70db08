using System.Security.Cryptography;
using Guise.Relay;
using Guise.Tests.Support;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Relay;

/// <summary>The relay waits with zero-byte reads and rents per read; bytes must still move unchanged.</summary>
public class DuplexRelayTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>A stream whose zero-byte reads complete at once (no readiness wait), as many Stream implementations do.</summary>
    private sealed class NoZeroByteWaitStream(Stream inner) : WrappedStream(inner)
    {
        public int ZeroByteReads { get; private set; }
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                ZeroByteReads++;
                return ValueTask.FromResult(0);
            }
            return Inner.ReadAsync(buffer, cancellationToken);
        }
    }

    [Fact]
    public async Task Bytes_cross_both_ways_unchanged_and_eof_ends_the_relay_cleanly()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var a = await LoopbackPair.CreateAsync();
        await using var b = await LoopbackPair.CreateAsync();
        var left = new NoZeroByteWaitStream(a.Server);
        var relay = DuplexRelay.RunAsync(left, b.Client, cts.Token);

        var up = RandomNumberGenerator.GetBytes(300_000);
        var down = RandomNumberGenerator.GetBytes(70_000);
        var writeUp = a.Client.WriteAsync(up, cts.Token).AsTask();
        var writeDown = b.Server.WriteAsync(down, cts.Token).AsTask();
        var gotUp = new byte[up.Length];
        var gotDown = new byte[down.Length];
        await Task.WhenAll(b.Server.ReadExactlyAsync(gotUp, cts.Token).AsTask(), a.Client.ReadExactlyAsync(gotDown, cts.Token).AsTask(), writeUp, writeDown);
        Assert.Equal(up, gotUp);
        Assert.Equal(down, gotDown);

        DuplexRelay.HalfClose(a.Client);
        DuplexRelay.HalfClose(b.Server);
        var result = await relay.WaitAsync(cts.Token);
        Assert.True(result.Clean, result.FailureMessage);
        Assert.Equal(up.Length, result.LeftToRight);
        Assert.Equal(down.Length, result.RightToLeft);
        Assert.True(left.ZeroByteReads > 0);
    }

    [Fact]
    public async Task An_obfs4_tunnel_relayed_to_tcp_carries_the_bytes_and_holds_no_buffer_when_idle()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        await using var tunnel = await Tunnel.OpenAsync(new Obfs4Transport(), ct: cts.Token);
        await using var orPort = await LoopbackPair.CreateAsync();
        var bridge = (Obfs4Stream)tunnel.Server;
        var relay = DuplexRelay.RunAsync(bridge, orPort.Client, cts.Token);

        var up = RandomNumberGenerator.GetBytes(200_000);
        var write = tunnel.Client.WriteAsync(up, cts.Token).AsTask();
        var got = new byte[up.Length];
        await orPort.Server.ReadExactlyAsync(got, cts.Token);
        await write;
        Assert.Equal(up, got);

        await orPort.Server.WriteAsync("pong"u8.ToArray(), cts.Token);
        var back = new byte[4];
        await tunnel.Client.ReadExactlyAsync(back, cts.Token);
        Assert.Equal("pong"u8.ToArray(), back);

        // Both directions are now parked on zero-byte reads.
        await Task.Delay(50, cts.Token);
        Assert.Equal(0, bridge.HeldBufferBytes);
        Assert.Equal(0, ((Obfs4Stream)tunnel.Client).HeldBufferBytes);

        DuplexRelay.HalfClose(tunnel.Client);
        DuplexRelay.HalfClose(orPort.Server);
        var result = await relay.WaitAsync(cts.Token);
        Assert.True(result.Clean, result.FailureMessage);
        Assert.Equal(up.Length, result.LeftToRight);
    }
}
