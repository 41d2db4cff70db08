using System.Buffers.Binary;
using Guise.Errors;

namespace Guise.Transports.Marionette;

/// <summary>
/// One Marionette session: the streams a client multiplexes over any number of connections (model
/// instances) to one bridge, and the bookkeeping both ends share — which stream sends next
/// (round robin), cell counters, and what a lost connection means (every stream sends again from
/// its peer's ack). The connection engines pull cells from here when the format says it is their
/// turn and push the cells they receive; neither side ever waits for the other.
/// </summary>
internal abstract class MarionetteMux
{
    internal readonly object Gate = new();
    private readonly Dictionary<uint, MuxStream> _streams = [];
    private readonly List<MuxStream> _order = [];
    // Closed stream ids: all below _closedBelow, and those in _closedStreams (ids close out of
    // order), so the set stays as small as the spread of open streams.
    private readonly HashSet<uint> _closedStreams = [];
    private uint _closedBelow = 1;
    // Streams this side no longer has, whose peer still sends for them (our last cell for them
    // was lost with a connection): each gets one RST.
    private readonly List<uint> _orphans = [];
    private bool _resumePending;
    private int _cursor;
    private uint _counter;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _changedObserved;
    private Exception? _failure;

    protected MarionetteMux(ulong sessionId) => SessionId = sessionId;

    public ulong SessionId { get; }

    /// <summary>Streams open now.</summary>
    public int StreamCount
    {
        get { lock (Gate) return _streams.Count; }
    }

    /// <summary>Completes when a stream may have something to send (data, FIN, RST or an ack).</summary>
    internal Task Changed
    {
        get
        {
            lock (Gate)
            {
                _changedObserved = true;
                return _changed.Task;
            }
        }
    }

    internal void NotifyLocked()
    {
        if (!_changedObserved)
            return;
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _changedObserved = false;
        old.TrySetResult();
    }

    /// <summary>Client only: whether the next cell must carry HELLO and the clock.</summary>
    protected virtual bool HelloPending => false;

    /// <summary>Client only: a lost connection makes the next cell ask the server to resend too.</summary>
    protected virtual bool SendsResume => false;

    /// <summary>
    /// The next cell to send with at most <paramref name="maxPayload"/> bytes of payload, or false
    /// when no stream has anything worth a message. <paramref name="eager"/>: the format wants a
    /// message now; then small acks go too, and with nothing at all a padding cell.
    /// </summary>
    internal bool TryTakeCell(int maxPayload, bool eager, DateTimeOffset now, out MarionetteCell cell)
    {
        lock (Gate)
        {
            var hello = HelloPending;
            if (hello)
                maxPayload -= MarionetteCell.ClockLength;
            if (_orphans.Count > 0)
            {
                var id = _orphans[^1];
                _orphans.RemoveAt(_orphans.Count - 1);
                cell = Build(MarionetteCell.RstFlag, id, 0, 0, [], hello, now);
                return true;
            }
            for (var i = 0; i < _order.Count; i++)
            {
                var index = (_cursor + i) % _order.Count;
                var stream = _order[index];
                if (!stream.HasWork(eager))
                    continue;
                _cursor = index + 1;
                var (flags, offset, ack, payload) = stream.TakeCell(maxPayload);
                cell = Build(flags, stream.Id, offset, ack, payload, hello, now);
                Finished(stream);
                return true;
            }
            if (!eager)
            {
                cell = default;
                return false;
            }
            cell = Build(0, 0, 0, 0, [], hello, now);
            return true;
        }
    }

    private MarionetteCell Build(byte flags, uint stream, uint offset, uint ack, byte[] payload, bool hello, DateTimeOffset now)
    {
        if (hello)
        {
            var withClock = new byte[MarionetteCell.ClockLength + payload.Length];
            BinaryPrimitives.WriteInt64BigEndian(withClock, now.ToUnixTimeSeconds());
            payload.CopyTo(withClock, MarionetteCell.ClockLength);
            payload = withClock;
            flags |= MarionetteCell.HelloFlag;
        }
        if (_resumePending)
        {
            _resumePending = false;
            flags |= MarionetteCell.ResumeFlag;
        }
        return new MarionetteCell(flags, SessionId, _counter++, stream, offset, ack, payload);
    }

    /// <summary>
    /// A cell from the peer (its HELLO clock already removed). Returns why the peer broke the
    /// protocol, or null; <paramref name="opened"/> is a stream the cell opened (server only).
    /// </summary>
    internal string? Deliver(in MarionetteCell cell, bool mayOpen, out MuxStream? opened)
    {
        opened = null;
        lock (Gate)
        {
            if (_failure is not null)
                return "the session has ended";
            if (cell.IsResume)
            {
                // The client lost a connection, and with it perhaps some of our cells.
                foreach (var s in _order)
                    s.Rewind();
                NotifyLocked();
            }
            if (cell.StreamId == 0)
                return cell.Payload.IsEmpty && !cell.IsFin && !cell.IsRst ? null : "stream 0 carries nothing";
            if (_streams.TryGetValue(cell.StreamId, out var stream))
            {
                var error = stream.Deliver(cell);
                // An ack may have opened the window: another connection's engine may send now.
                if (stream.HasWork(eager: false))
                    NotifyLocked();
                Finished(stream);
                return error;
            }
            if (cell.StreamId < _closedBelow || _closedStreams.Contains(cell.StreamId))
            {
                if (!cell.IsRst && (cell.IsFin || !cell.Payload.IsEmpty) && !_orphans.Contains(cell.StreamId))
                {
                    _orphans.Add(cell.StreamId);
                    NotifyLocked();
                }
                return null;
            }
            if (cell.IsRst)
                return null; // a stream we never saw, abandoned before its first cell arrived
            if (!mayOpen)
                return $"a cell for stream {cell.StreamId}, which was never opened";
            stream = AddLocked(cell.StreamId);
            var problem = stream.Deliver(cell);
            if (problem is not null)
                return problem;
            opened = stream;
            Finished(stream);
            return null;
        }
    }

    private protected MuxStream AddLocked(uint id)
    {
        if (_failure is not null)
            throw _failure is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : PtException.Wrap(_failure, "marionette");
        var stream = new MuxStream(this, id);
        _streams.Add(id, stream);
        _order.Add(stream);
        return stream;
    }

    /// <summary>Drops a stream from the session once nothing more can happen on it.</summary>
    internal void Finished(MuxStream stream)
    {
        if (!stream.IsFinished || !_streams.Remove(stream.Id))
            return;
        var index = _order.IndexOf(stream);
        _order.RemoveAt(index);
        if (_cursor > index)
            _cursor--;
        _closedStreams.Add(stream.Id);
        while (_closedStreams.Remove(_closedBelow))
            _closedBelow++;
        OnStreamRemovedLocked();
    }

    protected virtual void OnStreamRemovedLocked()
    {
    }

    /// <summary>A connection ended: what it carried may be lost, so every stream sends again from its peer's ack.</summary>
    internal void ConnectionLost()
    {
        lock (Gate)
        {
            foreach (var stream in _order)
                stream.Rewind();
            _resumePending = SendsResume;
            NotifyLocked();
        }
    }

    /// <summary>The session is over: every open stream fails with <paramref name="failure"/>.</summary>
    internal void FailAll(Exception failure)
    {
        lock (Gate)
        {
            _failure ??= failure;
            foreach (var stream in _order)
                stream.Fail(failure);
            _streams.Clear();
            _order.Clear();
            NotifyLocked();
        }
    }
}
