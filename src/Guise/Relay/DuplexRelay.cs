using System.Buffers;
using Guise.Errors;

namespace Guise.Relay;

/// <summary>Which side of a relay ended it, and how.</summary>
public enum RelaySide { None, Left, Right }

/// <summary>
/// The outcome of a relay: bytes moved each way and, if it did not end by both sides closing
/// cleanly, which side failed and why. Returned rather than thrown so the caller can report it.
/// </summary>
public readonly record struct RelayResult(long LeftToRight, long RightToLeft, RelaySide FailedSide, PtErrorKind? FailureKind, string? FailureMessage)
{
    public bool Clean => FailedSide == RelaySide.None;
}

/// <summary>
/// Copies bytes both ways between two streams until both directions end. A clean EOF on one side
/// is propagated as a half-close where the other stream supports it; an error on either side
/// tears down both.
/// </summary>
public static class DuplexRelay
{
    private const int BufferSize = 32 * 1024;

    public static async Task<RelayResult> RunAsync(Stream left, Stream right, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var leftToRight = PumpAsync(left, right, linked);
        var rightToLeft = PumpAsync(right, left, linked);
        var (ltrBytes, ltrError, ltrReadFailed) = await leftToRight.ConfigureAwait(false);
        var (rtlBytes, rtlError, rtlReadFailed) = await rightToLeft.ConfigureAwait(false);

        // The first real error wins; cancellation caused by the other pump's failure is not a cause.
        if (ltrError is not null && ltrError is not OperationCanceledException)
            return Fail(ltrReadFailed ? RelaySide.Left : RelaySide.Right, ltrError);
        if (rtlError is not null && rtlError is not OperationCanceledException)
            return Fail(rtlReadFailed ? RelaySide.Right : RelaySide.Left, rtlError);
        if (ltrError is not null || rtlError is not null)
            return new(ltrBytes, rtlBytes, RelaySide.None, PtErrorKind.Cancelled, "cancelled");
        return new(ltrBytes, rtlBytes, RelaySide.None, null, null);

        RelayResult Fail(RelaySide side, Exception e) =>
            new(ltrBytes, rtlBytes, side, PtException.Classify(e), e.Message);
    }

    // Waits for data with a zero-byte read and rents the buffer only for the read and the write
    // that follows, so an idle connection holds no relay buffer. After a read that filled the
    // buffer more data is probably waiting already: the next read skips the zero-byte wait.
    private static async Task<(long Bytes, Exception? Error, bool ReadFailed)> PumpAsync(Stream from, Stream to, CancellationTokenSource cts)
    {
        long total = 0;
        var reading = true;
        var busy = false;
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                reading = true;
                if (!busy)
                    await WaitForDataAsync(from, cts.Token).ConfigureAwait(false);
                buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                var n = await from.ReadAsync(buffer.AsMemory(0, BufferSize), cts.Token).ConfigureAwait(false);
                if (n == 0)
                    break;
                reading = false;
                await to.WriteAsync(buffer.AsMemory(0, n), cts.Token).ConfigureAwait(false);
                await to.FlushAsync(cts.Token).ConfigureAwait(false);
                total += n;
                busy = n == BufferSize;
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
            HalfClose(to);
            return (total, null, false);
        }
        catch (Exception e)
        {
            // Tear down the other direction: a relay with one dead side cannot recover.
            try { await cts.CancelAsync().ConfigureAwait(false); } catch (ObjectDisposedException) { }
            return (total, e, reading);
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Waits, without a buffer, until <paramref name="stream"/> has bytes to read (or EOF, or an
    /// error: the read that follows reports it). A socket's zero-byte receive sometimes completes
    /// later with nothing to read (a stale readiness event): a NetworkStream whose wait ended
    /// asynchronously with nothing available waits again. At EOF the wait completes at once.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask WaitForDataAsync(Stream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = stream.ReadAsync(Memory<byte>.Empty, cancellationToken);
            var completedAtOnce = wait.IsCompleted;
            await wait.ConfigureAwait(false);
            if (completedAtOnce || stream is not System.Net.Sockets.NetworkStream ns || ns.Socket.Available > 0)
                return;
        }
    }

    /// <summary>Signals EOF to the peer while still reading from it (TCP FIN), where possible.</summary>
    public static void HalfClose(Stream stream)
    {
        try
        {
            switch (stream)
            {
                case System.Net.Sockets.NetworkStream ns:
                    ns.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                    break;
                case IHalfCloseable hc:
                    hc.ShutdownWrite();
                    break;
            }
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or IOException)
        {
            // The peer is already gone; the read side will report it.
        }
    }
}

/// <summary>A stream that can send EOF while staying readable (transports wrapping a socket).</summary>
public interface IHalfCloseable
{
    void ShutdownWrite();
}
