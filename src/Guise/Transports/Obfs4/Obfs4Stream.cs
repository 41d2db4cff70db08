using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Guise.Errors;
using Guise.Relay;

namespace Guise.Transports.Obfs4;

/// <summary>
/// The obfs4 payload stream: a thin pump between an inner (wire) stream and an
/// <see cref="Obfs4Codec"/>. One reader and one writer may run at the same time; the first
/// failure is sticky (a broken frame stream cannot be resumed). Disposing it disposes the wire.
/// </summary>
/// <remarks>
/// Memory: an idle stream holds no buffer. The receive buffer is rented only while wire bytes
/// are waiting to be used (a partial frame, or payload the caller has not taken yet); while
/// nothing is buffered, a read waits for the wire with a zero-byte read first, as Kestrel and
/// SslStream do. Frames are opened in place in the receive buffer and their payload is copied
/// once, straight to the caller. The send buffer is rented for one write and returned after it.
/// A zero-byte <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> waits until payload can
/// be read without blocking (or EOF) and returns 0, so relays can wait without a buffer too.
/// </remarks>
public sealed class Obfs4Stream : PayloadStream
{
    /// <summary>The receive buffer: one ArrayPool bucket, about 22 full segments.</summary>
    internal const int ReceiveBufferSize = 32 * 1024;

    private readonly Stream _inner;
    private readonly Obfs4Codec _codec;
    private readonly TimeProvider _time;
    // _rx[_payloadStart.._payloadEnd]: opened payload not yet read; _rx[_rxStart.._rxEnd]: wire
    // bytes not yet opened (a partial frame). The payload always lies before _rxStart.
    private byte[]? _rx;
    private int _rxStart, _rxEnd, _payloadStart, _payloadEnd, _rxUsed;
    private bool _eof;
    private int _reading, _writing, _disposed;
    private volatile Exception? _failure;

    internal Obfs4Stream(Stream inner, Obfs4Codec codec, ReadOnlySpan<byte> alreadyReceived, TimeProvider time)
    {
        _inner = inner;
        _codec = codec;
        _time = time;
        if (!alreadyReceived.IsEmpty)
        {
            _rx = ArrayPool<byte>.Shared.Rent(Math.Max(ReceiveBufferSize, alreadyReceived.Length + Obfs4Wire.MaximumSegmentLength));
            alreadyReceived.CopyTo(_rx);
            _rxEnd = _rxUsed = alreadyReceived.Length;
        }
    }

    /// <summary>Bytes of pooled buffers this stream holds between operations (0 when idle).</summary>
    internal int HeldBufferBytes => Volatile.Read(ref _rx)?.Length ?? 0;

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailedOrDisposed();
        if (Interlocked.Exchange(ref _reading, 1) != 0)
            throw new InvalidOperationException("obfs4: concurrent reads are not supported");
        try
        {
            var copied = 0;
            while (true)
            {
                if (_payloadEnd > _payloadStart)
                {
                    if (buffer.Length == 0)
                        return 0; // a zero-byte read: payload is ready
                    var n = Math.Min(buffer.Length - copied, _payloadEnd - _payloadStart);
                    _rx.AsSpan(_payloadStart, n).CopyTo(buffer.Span[copied..]);
                    _payloadStart += n;
                    copied += n;
                    if (copied == buffer.Length)
                    {
                        // Open what already arrived behind it (typically the burst's padding
                        // frame), so that a drained buffer can go back to the pool now.
                        if (_payloadStart == _payloadEnd && !TryOpenFrame(throwOnError: false))
                            ReleaseIdleReceiveBuffer();
                        return copied;
                    }
                }
                if (TryOpenFrame(throwOnError: true))
                    continue;
                // Nothing more without I/O: hand over what we have rather than wait.
                if (copied > 0)
                    return copied;
                if (_eof)
                    return 0;
                ReleaseIdleReceiveBuffer();
                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                    return 0; // EOF from the peer; a partial frame at EOF is simply dropped, as obfs4 does
            }
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            Interlocked.Exchange(ref _reading, 0);
            if (Volatile.Read(ref _disposed) != 0)
                ReturnAndClear(ref _rx, _rxUsed);
        }
    }

    /// <summary>
    /// Opens buffered frames until one carries payload (now at _rx[_payloadStart.._payloadEnd]);
    /// false when no whole frame is left. A frame that fails is fatal: it throws, or, when the
    /// caller already has bytes to return, is recorded so that the next call throws.
    /// </summary>
    private bool TryOpenFrame(bool throwOnError)
    {
        while (_rxEnd > _rxStart)
        {
            var status = _codec.DecodeFrameInPlace(_rx.AsSpan(_rxStart, _rxEnd - _rxStart), out var consumed, out var offset, out var length, out var error);
            if (status == OperationStatus.InvalidData)
            {
                var e = Fail(new PtException(PtErrorKind.PeerProtocol, "obfs4: " + error));
                if (throwOnError)
                    throw e;
                return false;
            }
            _payloadStart = _rxStart + offset;
            _payloadEnd = _payloadStart + length;
            _rxStart += consumed;
            if (status != OperationStatus.Done)
                return false;
            if (length > 0)
                return true;
        }
        return false;
    }

    /// <summary>Reads more wire bytes into the receive buffer; false at EOF. Only called with no payload pending.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        int read;
        try
        {
            if (_rx is null)
            {
                // Idle: wait for the peer without holding a buffer, then rent one.
                await DuplexRelay.WaitForDataAsync(_inner, cancellationToken).ConfigureAwait(false);
                _rx = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
                _rxStart = _rxEnd = _payloadStart = _payloadEnd = _rxUsed = 0;
            }
            else if (_rxStart > 0)
            {
                // Keep the partial frame at the front.
                _rx.AsSpan(_rxStart, _rxEnd - _rxStart).CopyTo(_rx);
                _rxEnd -= _rxStart;
                _rxStart = _payloadStart = _payloadEnd = 0;
            }
            read = await _inner.ReadAsync(_rx.AsMemory(_rxEnd), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw; // nothing was consumed: the stream stays usable
        }
        catch (Exception e)
        {
            throw Fail(PtException.Wrap(e, "obfs4 read"));
        }
        if (read == 0)
        {
            _eof = true;
            return false;
        }
        _rxEnd += read;
        _rxUsed = Math.Max(_rxUsed, _rxEnd);
        return true;
    }

    // Returns the receive buffer once everything in it has been used. The payload was opened in
    // place, so the used part is wiped before the buffer goes back to the shared pool.
    private void ReleaseIdleReceiveBuffer()
    {
        if (_rx is not null && _rxStart == _rxEnd && _payloadStart == _payloadEnd)
        {
            ReturnAndClear(ref _rx, _rxUsed);
            _rxStart = _rxEnd = _payloadStart = _payloadEnd = _rxUsed = 0;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailedOrDisposed();
        if (Interlocked.Exchange(ref _writing, 1) != 0)
            throw new InvalidOperationException("obfs4: concurrent writes are not supported");
        byte[]? tx = null;
        try
        {
            if (buffer.Length == 0)
                return;
            tx = ArrayPool<byte>.Shared.Rent(SendBufferSize(Math.Min(buffer.Length, Obfs4Codec.MaxBurstPayload)));
            while (buffer.Length > 0)
            {
                var slice = buffer[..Math.Min(buffer.Length, Obfs4Codec.MaxBurstPayload)];
                buffer = buffer[slice.Length..];
                var pending = _codec.EncodeBurst(slice.Span, tx);
                if (_codec.IatMode == Obfs4IatMode.None)
                {
                    await _inner.WriteAsync(tx.AsMemory(0, pending), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var offset = 0;
                while (pending > 0)
                {
                    var take = _codec.NextIatWrite(tx.AsSpan(offset), pending, out var appended, out var delay);
                    pending += appended;
                    await _inner.WriteAsync(tx.AsMemory(offset, take), cancellationToken).ConfigureAwait(false);
                    offset += take;
                    pending -= take;
                    if (delay > TimeSpan.Zero)
                        await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is not PtException)
        {
            // Frames were sealed with advancing nonces: after a partial write nothing can follow.
            throw Fail(e is OperationCanceledException ? e : PtException.Wrap(e, "obfs4 write"));
        }
        finally
        {
            // Only sealed frames were ever in it: no need to wipe.
            if (tx is not null)
                ArrayPool<byte>.Shared.Return(tx);
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>
    /// The send buffer for bursts of up to <paramref name="payload"/> bytes: whole segments for
    /// the payload packets, up to two padding packets, and the spare room paranoid IAT mode
    /// appends into (<see cref="Obfs4Codec.NextIatWrite"/>).
    /// </summary>
    internal static int SendBufferSize(int payload) =>
        ((payload + Obfs4Wire.MaxPacketPayloadLength - 1) / Obfs4Wire.MaxPacketPayloadLength + 3 + 3) * Obfs4Wire.MaximumSegmentLength;

    /// <summary>Sends EOF (TCP FIN) to the peer while staying readable.</summary>
    public override void ShutdownWrite()
    {
        switch (_inner)
        {
            case NetworkStream ns:
                ns.Socket.Shutdown(SocketShutdown.Send);
                break;
            case IHalfCloseable hc:
                hc.ShutdownWrite();
                break;
            default:
                break;
        }
    }

    private Exception Fail(Exception e)
    {
        Interlocked.CompareExchange(ref _failure, e, null);
        return e;
    }

    private void ThrowIfFailedOrDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_failure is { } f)
            throw f is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : new PtException(PtException.Classify(f), f.Message, f);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
            ReturnBuffers();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
            ReturnBuffers();
        }
        GC.SuppressFinalize(this);
    }

    // A read still running on another thread owns the receive buffer: it returns it when it ends
    // (ReadAsync's finally sees _disposed). The exchange in ReturnAndClear makes sure only one does.
    private void ReturnBuffers()
    {
        if (Volatile.Read(ref _reading) == 0)
            ReturnAndClear(ref _rx, _rxUsed);
    }

    private static void ReturnAndClear(ref byte[]? buffer, int used)
    {
        var b = Interlocked.Exchange(ref buffer, null);
        if (b is not null)
        {
            b.AsSpan(0, Math.Min(used, b.Length)).Clear();
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}
