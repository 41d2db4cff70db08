using Guise.Errors;
using Guise.Relay;

namespace Guise.Transports.Marionette;

/// <summary>
/// One SOCKS stream inside a Marionette session. Its bytes may travel in cells over any of the
/// session's connections, in any order, more than once: the receiver places them by offset, drops
/// what it already has, and acknowledges what its application has read; the sender keeps what is
/// not acknowledged and sends it again after a connection is lost (see <see cref="MarionetteCell"/>).
/// </summary>
/// <remarks>
/// Flow control is the ack: a sender may be at most <see cref="Window"/> bytes past the peer's ack,
/// so the receiver never buffers more than that and the connection engines never wait for an
/// application (one slow stream cannot stall the others or the wire). Every field is guarded by
/// the session's lock.
/// </remarks>
public sealed class MuxStream : PayloadStream
{
    public const int Window = 512 * 1024;

    private readonly MarionetteMux _mux;
    private readonly ByteRing _unacked = new(Window);
    private readonly ByteRing _ready = new(Window);
    private SortedDictionary<ulong, byte[]>? _early;
    private int _earlyBytes;
    private TaskCompletionSource? _readable, _writable;
    private Exception? _failure;
    private int _disposed;

    // Sending: [SendAcked, SendEnd) is in _unacked; SendNext is the next offset to put in a cell.
    private ulong _sendAcked, _sendNext, _sendEnd;
    private bool _finWritten, _finSent, _finAcked, _rstPending, _rstSent;

    // Receiving: [_consumed, _received) is in _ready; later pieces wait in _early.
    private ulong _consumed, _received;
    private ulong? _finAt;
    private ulong _ackSent;
    private bool _rstReceived;

    // The peer learns of a stream from its first cell: that goes out within the hold time, even
    // empty, so the server can start its side (dial the ORPort) before the client has data.
    private bool _openSent, _heard;

    internal MuxStream(MarionetteMux mux, uint id)
    {
        _mux = mux;
        Id = id;
    }

    public uint Id { get; }

    private object Gate => _mux.Gate;

    // ---- session side (called under Gate) ----

    private ulong AckValue => _consumed + (_finAt == _consumed ? 1UL : 0UL);

    /// <summary>Whether a cell for this stream is worth sending; <paramref name="eager"/>: also small acks.</summary>
    internal bool HasWork(bool eager)
    {
        if (_rstReceived || _rstSent)
            return false;
        if (_rstPending)
            return true;
        if (_sendNext < _sendEnd && _sendNext < _sendAcked + Window)
            return true;
        if (_finWritten && !_finSent && _sendNext == _sendEnd)
            return true;
        var owed = AckValue - _ackSent;
        // An open alone waits for the hold time: the application's first bytes usually follow at
        // once and then share its message.
        return (owed > 0 && (eager || owed >= Window / 4 || _finAt == _consumed)) || (!_openSent && eager);
    }

    /// <summary>Fills the next cell for this stream (at most <paramref name="maxPayload"/> bytes of payload).</summary>
    internal (byte Flags, uint Offset, uint Ack, byte[] Payload) TakeCell(int maxPayload)
    {
        _ackSent = AckValue;
        _openSent = true;
        if (_rstPending)
        {
            _rstPending = false;
            _rstSent = true;
            return (MarionetteCell.RstFlag, (uint)_sendNext, (uint)_ackSent, []);
        }
        var start = _sendNext;
        var take = (int)Math.Min((ulong)Math.Max(0, maxPayload), Math.Min(_sendEnd - _sendNext, _sendAcked + Window - Math.Min(_sendNext, _sendAcked + Window)));
        var payload = take == 0 ? [] : new byte[take];
        _unacked.CopyTo((int)(_sendNext - _sendAcked), payload);
        _sendNext += (ulong)take;
        byte flags = 0;
        if (_finWritten && _sendNext == _sendEnd && !_finAcked)
        {
            flags = MarionetteCell.FinFlag;
            _finSent = true;
        }
        if (take > 0)
            WakeWriter(); // a writer may wait for this
        return (flags, (uint)start, (uint)_ackSent, payload);
    }

    /// <summary>A connection was lost: whatever it carried may not have arrived, so send it again from the peer's ack.</summary>
    internal void Rewind()
    {
        _sendNext = _sendAcked;
        if (!_finAcked)
            _finSent = false;
        _ackSent = 0; // tell the peer our ack again
        if (!_heard)
            _openSent = false;
        if (_rstSent && !_rstReceived)
        {
            _rstSent = false;
            _rstPending = true;
        }
    }

    /// <summary>A cell for this stream arrived. Returns an error text when the peer broke the protocol.</summary>
    internal string? Deliver(in MarionetteCell cell)
    {
        _heard = true;
        if (cell.IsRst)
        {
            _rstReceived = true;
            Fail(new PtException(PtErrorKind.Eof, "marionette: the peer abandoned the stream"));
            return null;
        }
        // Acknowledgement of what we sent.
        var ack = MarionetteCell.Unwrap(cell.Ack, _sendAcked);
        var ackLimit = _sendEnd + (_finWritten ? 1UL : 0UL);
        if (ack > ackLimit)
            return "ack beyond what was sent";
        if (ack > _sendAcked)
        {
            var data = Math.Min(ack, _sendEnd) - _sendAcked;
            _unacked.Discard((int)data);
            _sendAcked += data;
            if (ack == _sendEnd + 1)
                _finAcked = true;
            _sendNext = Math.Max(_sendNext, _sendAcked);
            WakeWriter();
        }
        // Payload.
        var offset = MarionetteCell.Unwrap(cell.Offset, _received);
        var length = (ulong)cell.Payload.Length;
        if (offset + length > _consumed + Window)
            return "payload beyond the receive window";
        if (cell.IsFin)
        {
            var end = offset + length;
            if (_finAt is { } at && at != end)
                return "FIN moved";
            if (_received > end || (_early is { Count: > 0 } && _early.Max(p => p.Key + (ulong)p.Value.Length) > end))
                return "FIN before data already received";
            _finAt = end;
        }
        if (_finAt is { } fin && offset + length > fin)
            return "payload after FIN";
        if (length > 0 && offset + length > _received)
        {
            if (offset <= _received)
            {
                _ready.Append(cell.Payload.Span[(int)(_received - offset)..]);
                _received = offset + length;
                DrainEarly();
            }
            else
            {
                _early ??= [];
                if (!_early.TryGetValue(offset, out var have) || have.Length < cell.Payload.Length)
                {
                    // Pieces may overlap (a sender cuts its bytes differently after a rewind);
                    // whatever their shape, more than a window of them is not a peer of ours.
                    _earlyBytes += cell.Payload.Length - (have?.Length ?? 0);
                    if (_earlyBytes > Window)
                        return "too many out-of-order bytes";
                    _early[offset] = cell.Payload.ToArray();
                }
            }
        }
        WakeReader();
        return null;
    }

    private void DrainEarly()
    {
        while (_early is { Count: > 0 })
        {
            var (offset, piece) = _early.First();
            if (offset > _received)
                break;
            _early.Remove(offset);
            _earlyBytes -= piece.Length;
            var end = offset + (ulong)piece.Length;
            if (end > _received)
            {
                _ready.Append(piece.AsSpan((int)(_received - offset)));
                _received = end;
            }
        }
    }

    /// <summary>Nothing more will happen on this stream: both directions are finished and acknowledged, or it was reset.</summary>
    internal bool IsFinished =>
        _rstReceived || _rstSent || (_finAcked && _finAt == _consumed && _ackSent == AckValue);

    /// <summary>The session ended under this stream.</summary>
    internal void Fail(Exception failure)
    {
        _failure ??= failure;
        WakeReader();
        WakeWriter();
    }

    private void WakeReader()
    {
        var r = _readable;
        _readable = null;
        r?.TrySetResult();
    }

    private void WakeWriter()
    {
        var w = _writable;
        _writable = null;
        w?.TrySetResult();
    }

    // ---- application side ----

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Waits for data like a socket does; a zero-length read returns 0 once data (or the end) is there.</summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task wait;
            lock (Gate)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                if (_ready.Count > 0)
                {
                    if (buffer.Length == 0)
                        return 0;
                    var n = Math.Min(buffer.Length, _ready.Count);
                    _ready.CopyTo(0, buffer.Span[..n]);
                    _ready.Discard(n);
                    _consumed += (ulong)n;
                    if (HasWork(eager: false))
                        _mux.NotifyLocked();
                    return n;
                }
                if (_finAt == _consumed)
                {
                    _mux.NotifyLocked(); // the ack of the FIN is owed
                    return 0;
                }
                if (_failure is not null)
                    throw _failure is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : PtException.Wrap(_failure, "marionette read");
                _readable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _readable.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task wait;
            lock (Gate)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                if (_failure is not null)
                    throw _failure is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : PtException.Wrap(_failure, "marionette write");
                if (_finWritten)
                    throw new InvalidOperationException("marionette: write after ShutdownWrite");
                if (buffer.IsEmpty)
                    return;
                var n = Math.Min(buffer.Length, _unacked.Free);
                if (n > 0)
                {
                    _unacked.Append(buffer.Span[..n]);
                    _sendEnd += (ulong)n;
                    buffer = buffer[n..];
                    _mux.NotifyLocked();
                    if (buffer.IsEmpty)
                        return;
                    continue;
                }
                _writable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _writable.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends FIN after the data written so far; the stream stays readable.</summary>
    public override void ShutdownWrite()
    {
        lock (Gate)
        {
            if (_finWritten)
                return;
            _finWritten = true;
            _mux.NotifyLocked();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Close(abort: true);
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Close(abort: true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The application is done with the stream. If both directions ended cleanly nothing more is
    /// sent; otherwise the peer learns the stream was abandoned (RST), as TCP does for a socket
    /// closed with data unread.
    /// </summary>
    private void Close(bool abort)
    {
        lock (Gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            var clean = _finWritten && _finAt == _consumed;
            if (abort && !clean && !_rstReceived && !_rstSent && _failure is null)
                _rstPending = true;
            Fail(new ObjectDisposedException(nameof(MuxStream)));
            _mux.NotifyLocked();
            _mux.Finished(this);
        }
    }
}
