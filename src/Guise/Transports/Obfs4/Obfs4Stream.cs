using System.Buffers;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Relay;

namespace Guise.Transports.Obfs4;

/// <summary>
/// The obfs4 payload stream: a thin pump between an inner (wire) stream and an
/// <see cref="Obfs4Codec"/>. One reader and one writer may run at the same time; the first
/// failure is sticky (a broken frame stream cannot be resumed). Disposing it disposes the wire.
/// </summary>
public sealed class Obfs4Stream : Stream, IHalfCloseable, IZeroByteReadStream
{
    private const int ReceiveBufferSize = Obfs4Wire.MaximumSegmentLength * 16;
    private const int PlainBufferSize = Obfs4Wire.MaxPacketPayloadLength * 16;
    private const int SendBufferSize = Obfs4Codec.BurstBufferSize + 3 * Obfs4Wire.MaximumSegmentLength;

    private readonly Stream _inner;
    private readonly Obfs4Codec _codec;
    private readonly TimeProvider _time;
    // Receive-side buffers are rented only while bytes are buffered or a read is running on a
    // non-socket stream: an idle tunnel waits on the socket with a zero-byte read and holds none,
    // which is what keeps thousands of idle tunnels cheap. The send buffer lives for one write.
    private byte[]? _rx;
    private byte[]? _plain;
    private int _rxStart, _rxEnd, _plainStart, _plainEnd, _plainUsed;
    private int _reading, _writing, _disposed;
    private volatile Exception? _failure;

    /// <summary>For tests: whether receive buffers are currently rented.</summary>
    internal bool HoldsReceiveBuffers => _rx is not null || _plain is not null;

    internal Obfs4Stream(Stream inner, Obfs4Codec codec, ReadOnlySpan<byte> alreadyReceived, TimeProvider time)
    {
        _inner = inner;
        _codec = codec;
        _time = time;
        if (alreadyReceived.Length > 0)
        {
            _rx = ArrayPool<byte>.Shared.Rent(Math.Max(ReceiveBufferSize, alreadyReceived.Length + Obfs4Wire.MaximumSegmentLength));
            alreadyReceived.CopyTo(_rx);
            _rxEnd = alreadyReceived.Length;
        }
    }

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailedOrDisposed();
        if (Interlocked.Exchange(ref _reading, 1) != 0)
            throw new InvalidOperationException("obfs4: concurrent reads are not supported");
        try
        {
            if (buffer.Length == 0)
            {
                // A zero-byte read waits for data without holding a buffer (see IZeroByteReadStream).
                if (_plainEnd > _plainStart || _rxEnd > _rxStart || _inner is not NetworkStream)
                    return 0;
                ReleaseReceiveBuffers();
                try
                {
                    await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw Fail(PtException.Wrap(e, "obfs4 read"));
                }
                return 0;
            }
            while (true)
            {
                if (_plainEnd > _plainStart)
                {
                    var n = Math.Min(buffer.Length, _plainEnd - _plainStart);
                    _plain.AsSpan(_plainStart, n).CopyTo(buffer.Span);
                    _plainStart += n;
                    if (_plainStart == _plainEnd)
                        _plainStart = _plainEnd = 0;
                    return n;
                }
                if (_rxEnd > _rxStart)
                {
                    _plain ??= ArrayPool<byte>.Shared.Rent(PlainBufferSize);
                    var status = _codec.Decode(_rx.AsSpan(_rxStart, _rxEnd - _rxStart), _plain, out var consumed, out var written, out var error);
                    _rxStart += consumed;
                    _plainEnd = written;
                    _plainUsed = Math.Max(_plainUsed, written);
                    if (status == OperationStatus.InvalidData)
                        throw Fail(new PtException(PtErrorKind.PeerProtocol, "obfs4: " + error));
                    if (written > 0)
                        continue;
                }
                // Keep the partial frame at the front and read more.
                if (_rxStart > 0)
                {
                    _rx.AsSpan(_rxStart, _rxEnd - _rxStart).CopyTo(_rx);
                    _rxEnd -= _rxStart;
                    _rxStart = 0;
                }
                int read;
                try
                {
                    if (_rxEnd == 0 && _inner is NetworkStream)
                    {
                        ReleaseReceiveBuffers();
                        await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                    }
                    _rx ??= ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
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
                    return 0; // EOF from the peer; a partial frame at EOF is simply dropped, as obfs4 does
                _rxEnd += read;
            }
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailedOrDisposed();
        if (Interlocked.Exchange(ref _writing, 1) != 0)
            throw new InvalidOperationException("obfs4: concurrent writes are not supported");
        var tx = ArrayPool<byte>.Shared.Rent(SendBufferSize);
        var used = 0;
        try
        {
            while (buffer.Length > 0)
            {
                var slice = buffer[..Math.Min(buffer.Length, Obfs4Codec.MaxBurstPayload)];
                buffer = buffer[slice.Length..];
                var pending = _codec.EncodeBurst(slice.Span, tx);
                used = Math.Max(used, pending);
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
                    used = Math.Max(used, offset + pending);
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
            // Only the part this write touched can hold anything worth wiping.
            tx.AsSpan(0, Math.Min(used, tx.Length)).Clear();
            ArrayPool<byte>.Shared.Return(tx);
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>Sends EOF (TCP FIN) to the peer while staying readable.</summary>
    public void ShutdownWrite()
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

    // A read still running on another thread may touch the buffers: leave those to the GC.
    private void ReturnBuffers()
    {
        if (Volatile.Read(ref _reading) == 0)
            ReleaseReceiveBuffers();
    }

    /// <summary>Returns the (empty) receive buffers; plaintext that passed through is wiped first.</summary>
    private void ReleaseReceiveBuffers()
    {
        var rx = Interlocked.Exchange(ref _rx, null);
        if (rx is not null)
            ArrayPool<byte>.Shared.Return(rx);
        var plain = Interlocked.Exchange(ref _plain, null);
        if (plain is not null)
        {
            plain.AsSpan(0, _plainUsed).Clear();
            ArrayPool<byte>.Shared.Return(plain);
        }
        _plainUsed = 0;
        _rxStart = _rxEnd = _plainStart = _plainEnd = 0;
    }
}
