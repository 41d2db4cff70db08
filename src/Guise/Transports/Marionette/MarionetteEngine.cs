using System.Buffers;
using Guise.Errors;
using Guise.Primitives.Fte;

namespace Guise.Transports.Marionette;

/// <summary>
/// Runs a format's automaton on one connection (one model instance) for one party. When the
/// format says it is our turn, the engine takes the next cell from the session (any of its
/// streams) and sends it as the message; what it receives goes to the session. One task owns the
/// wire; it never reads and writes at the same time, because the format decides whose turn it is.
/// </summary>
/// <remarks>
/// When it is our turn and no stream has anything to send, the engine waits up to a hold time that
/// doubles with each idle exchange (1 ms … 512 ms) and then sends acks or padding: an idle tunnel
/// costs about two messages a second. A server learns each message's session from its cell
/// (an HTTP proxy may bring every request on a connection of its own, or requests of several
/// clients on one), answers in the session of the last message it received, and hands streams
/// that a cell opens to <c>onStream</c>.
/// </remarks>
internal sealed class MarionetteEngine
{
    private const int MaxBuffered = HttpTemplate.MaxHeaderBytes + HttpTemplate.MaxBodyBytes + 64;

    private readonly Stream _wire;
    private readonly MarionetteFormat _format;
    private readonly MarParty _me;
    private readonly RecordCipher _send;
    private readonly RecordCipher _receive;
    private readonly Random _rng;
    private readonly TimeProvider _time;
    private readonly string _host;
    private readonly MarionetteClientMux? _client;
    private readonly MarionetteServerSessions? _sessions;
    private readonly Func<MuxStream, Task>? _onStream;
    private readonly TaskCompletionSource _firstMessage = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MarionetteServerMux? _current;
    private byte[] _rx = new byte[64 * 1024];
    private int _rxStart, _rxEnd;
    private int _idleRounds;
    private bool _peerInBulk;
    private byte[]? _lastRecord;

    /// <param name="client">Client: the session this connection serves.</param>
    /// <param name="sessions">Server: the server's sessions (shared by its connections).</param>
    /// <param name="onStream">Server: called (not awaited) with each stream a cell on this connection opens.</param>
    public MarionetteEngine(Stream wire, MarionetteFormat format, MarParty me, ReadOnlySpan<byte> secret, TimeProvider time, string host,
        MarionetteClientMux? client = null, MarionetteServerSessions? sessions = null, Func<MuxStream, Task>? onStream = null, Random? rng = null)
    {
        if ((me == MarParty.Client) != (client is not null) || (me == MarParty.Server) != (sessions is not null))
            throw new ArgumentException("a client engine needs its session, a server engine the session table");
        _wire = wire;
        _format = format;
        _me = me;
        _client = client;
        _sessions = sessions;
        _onStream = onStream;
        var c2s = RecordCipher.DeriveKey(secret, "c2s");
        var s2c = RecordCipher.DeriveKey(secret, "s2c");
        _send = new RecordCipher(me == MarParty.Client ? c2s : s2c);
        _receive = new RecordCipher(me == MarParty.Client ? s2c : c2s);
        _rng = rng ?? new Random(System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue));
        _time = time;
        _host = host;
    }

    /// <summary>Completes when the first authentic message from the peer arrived; faults if the peer is not one of us.</summary>
    public Task FirstMessage => _firstMessage.Task;

    /// <summary>Runs the automaton until the wire fails or ends (thrown) or <paramref name="ct"/> is cancelled (returns).</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            var state = "start";
            while (!ct.IsCancellationRequested)
            {
                if (state == "end")
                    state = "start";
                var edge = await ChooseAndRunAsync(state, ct).ConfigureAwait(false);
                state = edge.Destination;
            }
            _firstMessage.TrySetException(new PtException(PtErrorKind.Cancelled, "marionette: the connection was closed"));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _firstMessage.TrySetException(new PtException(PtErrorKind.Cancelled, "marionette: the connection was closed"));
        }
        catch (Exception e)
        {
            var failure = e is PtException ? e : PtException.Wrap(e, "marionette");
            _firstMessage.TrySetException(failure);
            throw failure;
        }
        finally
        {
            _send.Dispose();
            _receive.Dispose();
        }
    }

    private async Task<MarEdge> ChooseAndRunAsync(string state, CancellationToken ct)
    {
        var all = _format.Outgoing(state);
        var normal = all.Where(e => !e.IsError).ToList();
        var error = all.FirstOrDefault(e => e.IsError);
        MarEdge chosen;
        var skipFirst = false;
        if (normal.Count == 1)
        {
            chosen = normal[0];
        }
        else if (normal[0].Block.Messages[0].Sender == _me)
        {
            chosen = Sample(normal, _rng.NextDouble());
        }
        else
        {
            (chosen, var cell, var session) = await DetectAsync(normal, error, ct).ConfigureAwait(false);
            Deliver(chosen.Block.Messages[0], cell, session);
            skipFirst = true;
        }
        var messages = chosen.Block.Messages;
        // The error transition applies to the block's first message on the wire (model.sleep and model.spawn lines are not).
        var firstOnWire = messages.ToList().FindIndex(x => x.IsOnWire);
        for (var i = skipFirst ? 1 : 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is SleepMessage sleep)
            {
                if (sleep.Sender == _me)
                    await Task.Delay(sleep.Sample(_rng.NextDouble()), _time, ct).ConfigureAwait(false);
            }
            else if (m is SpawnMessage spawn)
            {
                _client?.EnsureConnections(1 + spawn.Count);
            }
            else if (m.Sender == _me)
            {
                await SendAsync(m, ct).ConfigureAwait(false);
            }
            else
            {
                var (_, cell, session) = await DetectAsync([chosen with { Block = new MarBlock(chosen.Block.Name, [m]) }], i == firstOnWire ? error : null, ct).ConfigureAwait(false);
                Deliver(m, cell, session);
            }
        }
        return chosen;
    }

    /// <summary>Picks an edge with the declared probabilities; <paramref name="u"/> is uniform in [0, 1).</summary>
    internal static MarEdge Sample(IReadOnlyList<MarEdge> edges, double u)
    {
        var acc = 0.0;
        foreach (var e in edges)
        {
            acc += e.Probability;
            if (u < acc)
                return e;
        }
        return edges[^1];
    }

    private async Task SendAsync(MarMessage m, CancellationToken ct)
    {
        byte[] wire;
        switch (m)
        {
            case LiteralMessage lit:
                wire = lit.Bytes;
                break;
            case FteMessage fte:
                {
                    var cellLength = fte.CellLength;
                    var cell = await NextCellAsync(cellLength - MarionetteCell.HeaderLength, ct, hold: !fte.Immediate).ConfigureAwait(false);
                    var plain = new byte[cellLength];
                    cell.Write(plain);
                    wire = new byte[fte.CovertextLength];
                    new FteCipher(fte.Ranker, _send).Encrypt(plain, [], wire);
                    break;
                }
            case TemplateMessage tg:
                {
                    var max = tg.Template.MaxRecord - RecordCipher.Overhead - MarionetteCell.HeaderLength;
                    var cell = await NextCellAsync(max, ct).ConfigureAwait(false);
                    // Random padding hides the exact payload length (up to 255 bytes, never past the record limit).
                    var padding = Math.Min(_rng.Next(0, 256), max - cell.Payload.Length);
                    var plain = new byte[MarionetteCell.HeaderLength + cell.Payload.Length + padding];
                    cell.Write(plain);
                    var record = new byte[plain.Length + RecordCipher.Overhead];
                    _send.Seal(plain, [], record);
                    wire = tg.Template.Encode(record, _host, _rng, _time.GetUtcNow());
                    break;
                }
            default:
                throw new InvalidOperationException("unknown message kind");
        }
        await _wire.WriteAsync(wire, ct).ConfigureAwait(false);
        await _wire.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The next cell of the session, waiting for a stream to have something up to the hold time;
    /// then acks or padding (the format wants a message now).
    /// </summary>
    private async Task<MarionetteCell> NextCellAsync(int maxPayload, CancellationToken ct, bool hold = true)
    {
        var cell = await TakeCellAsync(maxPayload, hold, ct).ConfigureAwait(false);
        // A stream's cell (data, an open, FIN, RST or an ack) means the tunnel is in use: hold
        // briefly again. Padding backs off, so an idle tunnel costs about two messages a second.
        _idleRounds = cell.StreamId != 0 ? 0 : _idleRounds + 1;
        return cell;
    }

    private async Task<MarionetteCell> TakeCellAsync(int maxPayload, bool hold, CancellationToken ct)
    {
        MarionetteMux? mux = _client ?? (MarionetteMux?)_current;
        var holdTime = TimeSpan.FromMilliseconds(1 << Math.Min(_idleRounds, 9));
        if (mux is null)
        {
            // A server that must speak before it heard from anyone: padding outside any session.
            if (hold)
                await Task.Delay(holdTime, _time, ct).ConfigureAwait(false);
            return new MarionetteCell(0, 0, 0, 0, 0, 0, ReadOnlyMemory<byte>.Empty);
        }
        // The peer's last message was (nearly) full: it is sending in bulk and waits for our
        // turn to send its next one. Holding would stall it, so answer at once (acks or padding).
        if (_peerInBulk)
        {
            _peerInBulk = false;
            hold = false;
        }
        MarionetteCell cell;
        if (hold)
        {
            var changed = mux.Changed;
            if (mux.TryTakeCell(maxPayload, eager: false, _time.GetUtcNow(), out cell))
                return cell;
            using var holdTimer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, holdTimer.Token);
            holdTimer.CancelAfter(holdTime);
            try
            {
                while (true)
                {
                    await changed.WaitAsync(timeout.Token).ConfigureAwait(false);
                    changed = mux.Changed;
                    if (mux.TryTakeCell(maxPayload, eager: false, _time.GetUtcNow(), out cell))
                        return cell;
                    // Something moved (a new stream, a read): the tunnel is in use again, so the
                    // long hold of an idle one no longer applies.
                    holdTimer.CancelAfter(TimeSpan.FromMilliseconds(1));
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // held long enough: send what there is
            }
        }
        mux.TryTakeCell(maxPayload, eager: true, _time.GetUtcNow(), out cell);
        return cell;
    }

    /// <summary>The most payload one cell of <paramref name="m"/> carries.</summary>
    private static int PayloadCapacity(MarMessage m) => m switch
    {
        FteMessage fte => fte.CellLength - MarionetteCell.HeaderLength,
        TemplateMessage tg => tg.Template.MaxRecord - RecordCipher.Overhead - MarionetteCell.HeaderLength,
        _ => int.MaxValue,
    };

    private void Deliver(MarMessage received, MarionetteCell cell, MarionetteServerMux? admitted)
    {
        // io.puts/io.gets text carries no cell.
        if (received is LiteralMessage)
            return;
        if (cell.IsHello)
        {
            if (_me == MarParty.Client)
                throw new PtException(PtErrorKind.PeerProtocol, "marionette: HELLO from the server");
            cell = cell with { Payload = cell.Payload[MarionetteCell.ClockLength..] };
        }
        string? problem;
        MuxStream? opened = null;
        if (_client is not null)
        {
            if (cell.SessionId == 0 && cell.StreamId == 0)
                return; // the server's padding before it knew us
            if (cell.SessionId != _client.SessionId)
                throw new PtException(PtErrorKind.PeerProtocol, "marionette: a cell for another session");
            _client.Confirm();
            problem = _client.Deliver(cell, mayOpen: false, out _);
        }
        else
        {
            var session = admitted ?? throw new InvalidOperationException("a server cell without its session");
            _current = session;
            problem = session.Deliver(cell, mayOpen: true, out opened);
        }
        if (problem is not null)
            throw new PtException(PtErrorKind.PeerProtocol, "marionette: " + problem);
        if (cell.StreamId != 0)
            _idleRounds = 0;
        _peerInBulk = cell.Payload.Length * 2 >= PayloadCapacity(received) && !cell.Payload.IsEmpty;
        if (opened is not null)
        {
            if (_onStream is null)
                opened.Dispose(); // nobody to hand it to: the client learns it was refused (RST)
            else
                _ = _onStream(opened);
        }
    }

    /// <summary>
    /// Reads until one candidate's first message decodes and authenticates. With no candidate left
    /// it takes the error transition (decoy answer) and fails; so does a server when the message
    /// is authentic but replayed, stale, or of a session it does not know.
    /// </summary>
    private async Task<(MarEdge Edge, MarionetteCell Cell, MarionetteServerMux? Session)> DetectAsync(List<MarEdge> candidates, MarEdge? error, CancellationToken ct)
    {
        while (true)
        {
            var input = _rx.AsMemory(_rxStart, _rxEnd - _rxStart);
            var pending = false;
            string? reason = null;
            foreach (var edge in candidates)
            {
                var status = TryDecode(edge.Block.Messages[0], input, out var consumed, out var cell, out var why);
                if (status == OperationStatus.Done)
                {
                    MarionetteServerMux? session = null;
                    if (_sessions is not null && edge.Block.Messages[0] is not LiteralMessage)
                    {
                        session = _sessions.Admit(cell, _lastRecord, out var problem);
                        if (session is null)
                        {
                            // Answer as a stranger would.
                            if (error is not null)
                                await RunErrorBlockAsync(error, ct).ConfigureAwait(false);
                            throw new PtException(PtErrorKind.Handshake, "marionette: " + problem);
                        }
                    }
                    _rxStart += consumed;
                    _firstMessage.TrySetResult();
                    return (edge, cell, session);
                }
                if (status == OperationStatus.NeedMoreData)
                    pending = true;
                else
                    reason ??= why;
            }
            if (!pending)
            {
                if (error is not null)
                    await RunErrorBlockAsync(error, ct).ConfigureAwait(false);
                var kind = _firstMessage.Task.IsCompleted ? PtErrorKind.PeerProtocol : PtErrorKind.Handshake;
                throw new PtException(kind, "marionette: the peer's message fits no transition of the format" + (reason is null ? "" : $" ({reason})"));
            }
            await ReadMoreAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task ReadMoreAsync(CancellationToken ct)
    {
        if (_rxStart > 0)
        {
            _rx.AsSpan(_rxStart, _rxEnd - _rxStart).CopyTo(_rx);
            _rxEnd -= _rxStart;
            _rxStart = 0;
        }
        if (_rxEnd == _rx.Length)
        {
            if (_rx.Length >= MaxBuffered)
                throw new PtException(PtErrorKind.PeerProtocol, "marionette: message too long");
            Array.Resize(ref _rx, Math.Min(MaxBuffered, _rx.Length * 2));
        }
        var n = await _wire.ReadAsync(_rx.AsMemory(_rxEnd), ct).ConfigureAwait(false);
        if (n == 0)
            throw new PtException(PtErrorKind.Eof, "marionette: the peer closed the connection");
        _rxEnd += n;
    }

    private OperationStatus TryDecode(MarMessage m, ReadOnlyMemory<byte> input, out int consumed, out MarionetteCell cell, out string? why)
    {
        consumed = 0;
        cell = default;
        why = null;
        byte[] plain;
        switch (m)
        {
            case LiteralMessage lit:
                {
                    var n = Math.Min(lit.Bytes.Length, input.Length);
                    if (!input.Span[..n].SequenceEqual(lit.Bytes.AsSpan(0, n)))
                    {
                        why = "literal mismatch";
                        return OperationStatus.InvalidData;
                    }
                    if (n < lit.Bytes.Length)
                        return OperationStatus.NeedMoreData;
                    consumed = n;
                    cell = default; // no cell: see Deliver
                    return OperationStatus.Done;
                }
            case FteMessage fte:
                {
                    if (input.Length < fte.CovertextLength)
                        return OperationStatus.NeedMoreData;
                    plain = new byte[fte.CellLength];
                    if (!new FteCipher(fte.Ranker, _receive).TryDecrypt(input.Span[..fte.CovertextLength], [], plain))
                    {
                        why = "FTE covertext did not rank or authenticate";
                        return OperationStatus.InvalidData;
                    }
                    consumed = fte.CovertextLength;
                    if (_me == MarParty.Server)
                        _lastRecord = input.Span[..consumed].ToArray(); // the covertext is the record, re-encoded
                    break;
                }
            case TemplateMessage tg:
                {
                    var status = tg.Template.TryDecode(input.Span, out var used, out var record);
                    if (status != OperationStatus.Done)
                    {
                        why = status == OperationStatus.InvalidData ? $"not a {tg.Template.Name}" : null;
                        return status;
                    }
                    if (record!.Length < RecordCipher.Overhead + MarionetteCell.HeaderLength)
                    {
                        why = "record too short";
                        return OperationStatus.InvalidData;
                    }
                    plain = new byte[record.Length - RecordCipher.Overhead];
                    if (!_receive.TryOpen(record, [], plain))
                    {
                        why = "record did not authenticate";
                        return OperationStatus.InvalidData;
                    }
                    consumed = used;
                    _lastRecord = record;
                    break;
                }
            default:
                throw new InvalidOperationException("unknown message kind");
        }
        if (!MarionetteCell.TryRead(plain, out cell, out var error))
            throw new PtException(PtErrorKind.PeerProtocol, "marionette: " + error);
        return OperationStatus.Done;
    }

    private async Task RunErrorBlockAsync(MarEdge error, CancellationToken ct)
    {
        foreach (var m in error.Block.Messages)
        {
            if (m.Sender != _me || m is not LiteralMessage lit)
                continue;
            if (lit.Guard is { } guard && !guard.IsMatch(_rx.AsSpan(_rxStart, _rxEnd - _rxStart)))
                continue;
            try
            {
                await _wire.WriteAsync(lit.Bytes, ct).ConfigureAwait(false);
                await _wire.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // The prober left; nothing to answer.
            }
            break; // guarded alternatives: the first that matches answers
        }
    }
}
