using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Guise.Errors;
using Guise.Primitives;
using Guise.Primitives.Fte;

namespace Guise.Transports.Marionette;

/// <summary>
/// Runs a format's automaton on one wire for one party, moving cells between the wire and two
/// pipes (application → wire, wire → application). One task owns the wire; it never reads and
/// writes at the same time, because the format decides whose turn it is.
/// </summary>
/// <remarks>
/// When it is our turn to send and the application has nothing, the engine waits for data up to
/// a hold time that doubles with each idle exchange (1 ms … 512 ms) and sends a cell with no
/// payload when it runs out: an idle tunnel costs about two messages a second.
/// </remarks>
internal sealed class MarionetteEngine
{
    public const uint StreamId = 1;
    private const int MaxBuffered = HttpTemplate.MaxHeaderBytes + HttpTemplate.MaxBodyBytes + 64;

    private readonly Stream _wire;
    private readonly MarionetteFormat _format;
    private readonly MarParty _me;
    private readonly RecordCipher _send;
    private readonly RecordCipher _receive;
    private readonly Random _rng;
    private readonly TimeProvider _time;
    private readonly string _host;
    private readonly Pipe _toApp = new(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
    private readonly Pipe _fromApp = new(new PipeOptions(pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024, useSynchronizationContext: false));
    private readonly TaskCompletionSource _firstMessage = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _rx = new byte[64 * 1024];
    private int _rxStart, _rxEnd;
    private uint _sendSeq, _receiveSeq;
    private int _idleRounds;
    private bool _finSent, _finReceived;

    /// <summary>How far a client's clock (in its HELLO cell) may be from the server's.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromHours(1);

    /// <summary>How long a server remembers first records: past the skew window both ways, the clock check rejects a replay.</summary>
    public static readonly TimeSpan ReplayWindow = 2 * MaxClockSkew + TimeSpan.FromMinutes(5);

    private readonly ReplayFilter? _replays;
    private byte[]? _lastRecord;

    /// <param name="replays">Server only: the first records seen by this server (shared by its connections).</param>
    public MarionetteEngine(Stream wire, MarionetteFormat format, MarParty me, ReadOnlySpan<byte> secret, TimeProvider time, string host,
        Random? rng = null, ReplayFilter? replays = null)
    {
        _replays = replays;
        _wire = wire;
        _format = format;
        _me = me;
        var c2s = RecordCipher.DeriveKey(secret, "c2s");
        var s2c = RecordCipher.DeriveKey(secret, "s2c");
        _send = new RecordCipher(me == MarParty.Client ? c2s : s2c);
        _receive = new RecordCipher(me == MarParty.Client ? s2c : c2s);
        _rng = rng ?? new Random(System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue));
        _time = time;
        _host = host;
    }

    public PipeReader AppReader => _toApp.Reader;
    public PipeWriter AppWriter => _fromApp.Writer;

    /// <summary>Completes when the first authentic message from the peer arrived; faults if the peer is not one of us.</summary>
    public Task FirstMessage => _firstMessage.Task;

    /// <summary>Wire bytes sent and payload bytes sent, for overhead figures.</summary>
    public long WireBytesSent { get; private set; }
    public long PayloadBytesSent { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        Exception? failure = null;
        try
        {
            var state = "start";
            while (!ct.IsCancellationRequested)
            {
                if (state == "end")
                    state = "start";
                var edge = await ChooseAndRunAsync(state, ct).ConfigureAwait(false);
                state = edge.Destination;
                if (_finSent && _finReceived)
                    break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            failure = new PtException(PtErrorKind.Cancelled, "marionette: the connection was closed");
        }
        catch (Exception e)
        {
            failure = e is PtException ? e : PtException.Wrap(e, "marionette");
        }
        finally
        {
            _firstMessage.TrySetException(failure ?? new PtException(PtErrorKind.Eof, "marionette: the connection ended"));
            await _toApp.Writer.CompleteAsync(_finReceived ? null : failure).ConfigureAwait(false);
            await _fromApp.Reader.CompleteAsync(failure).ConfigureAwait(false);
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
            (chosen, var cell) = await DetectAsync(normal, error, ct).ConfigureAwait(false);
            await DeliverAsync(chosen.Block.Messages[0], cell, ct).ConfigureAwait(false);
            skipFirst = true;
        }
        var messages = chosen.Block.Messages;
        // The error transition applies to the block's first message on the wire (model.sleep lines are not).
        var firstOnWire = messages.ToList().FindIndex(x => x is not SleepMessage);
        for (var i = skipFirst ? 1 : 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is SleepMessage sleep)
            {
                if (sleep.Sender == _me)
                    await Task.Delay(sleep.Sample(_rng.NextDouble()), _time, ct).ConfigureAwait(false);
            }
            else if (m.Sender == _me)
            {
                await SendAsync(m, ct).ConfigureAwait(false);
            }
            else
            {
                var (_, cell) = await DetectAsync([chosen with { Block = new MarBlock(chosen.Block.Name, [m]) }], i == firstOnWire ? error : null, ct).ConfigureAwait(false);
                await DeliverAsync(m, cell, ct).ConfigureAwait(false);
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
                    var (cell, payloadLength) = await NextCellAsync(cellLength - MarionetteCell.HeaderLength, ct).ConfigureAwait(false);
                    var plain = new byte[cellLength];
                    cell.Write(plain);
                    wire = new byte[fte.CovertextLength];
                    new FteCipher(fte.Ranker, _send).Encrypt(plain, [], wire);
                    PayloadBytesSent += payloadLength;
                    break;
                }
            case TemplateMessage tg:
                {
                    var max = tg.Template.MaxRecord - RecordCipher.Overhead - MarionetteCell.HeaderLength;
                    var (cell, payloadLength) = await NextCellAsync(max, ct).ConfigureAwait(false);
                    // Random padding hides the exact payload length (up to 255 bytes, never past the record limit).
                    var padding = Math.Min(_rng.Next(0, 256), max - cell.Payload.Length);
                    var plain = new byte[MarionetteCell.HeaderLength + cell.Payload.Length + padding];
                    cell.Write(plain);
                    var record = new byte[plain.Length + RecordCipher.Overhead];
                    _send.Seal(plain, [], record);
                    wire = tg.Template.Encode(record, _host, _rng, _time.GetUtcNow());
                    PayloadBytesSent += payloadLength;
                    break;
                }
            default:
                throw new InvalidOperationException("unknown message kind");
        }
        await _wire.WriteAsync(wire, ct).ConfigureAwait(false);
        await _wire.FlushAsync(ct).ConfigureAwait(false);
        WireBytesSent += wire.Length;
    }

    private async Task<(MarionetteCell Cell, int PayloadLength)> NextCellAsync(int maxPayload, CancellationToken ct)
    {
        var reader = _fromApp.Reader;
        byte[] payload = [];
        var fin = false;
        // The client's first cell on a connection says when it was made (see MarionetteCell).
        var hello = _me == MarParty.Client && _sendSeq == 0;
        if (hello)
            maxPayload -= MarionetteCell.ClockLength;
        if (!_finSent)
        {
            if (!reader.TryRead(out var result))
            {
                var hold = TimeSpan.FromMilliseconds(1 << Math.Min(_idleRounds, 9));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(hold);
                try
                {
                    result = await reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    result = default;
                    if (!reader.TryRead(out result))
                        result = default;
                }
            }
            if (result.Buffer.Length > 0 || result.IsCompleted)
            {
                var take = (int)Math.Min(result.Buffer.Length, maxPayload);
                payload = result.Buffer.Slice(0, take).ToArray();
                fin = result.IsCompleted && take == result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.GetPosition(take));
            }
        }
        if (payload.Length > 0)
            _idleRounds = 0;
        else
            _idleRounds++;
        if (fin)
            _finSent = true;
        var appBytes = payload.Length;
        var flags = (byte)((fin ? MarionetteCell.FinFlag : 0) | (hello ? MarionetteCell.HelloFlag : 0));
        if (hello)
        {
            var withClock = new byte[MarionetteCell.ClockLength + payload.Length];
            BinaryPrimitives.WriteInt64BigEndian(withClock, _time.GetUtcNow().ToUnixTimeSeconds());
            payload.CopyTo(withClock, MarionetteCell.ClockLength);
            payload = withClock;
        }
        return (new MarionetteCell(flags, StreamId, _sendSeq++, payload), appBytes);
    }

    private async Task DeliverAsync(MarMessage received, MarionetteCell cell, CancellationToken ct)
    {
        // io.puts/io.gets text carries no cell, so it takes no sequence number (the sender's
        // SendAsync does not count it either).
        if (received is LiteralMessage)
            return;
        if (cell.Sequence != _receiveSeq++)
            throw new PtException(PtErrorKind.PeerProtocol, $"marionette: cell {cell.Sequence} out of order (expected {_receiveSeq - 1})");
        if (cell.StreamId != StreamId)
            throw new PtException(PtErrorKind.PeerProtocol, $"marionette: unknown stream {cell.StreamId}");
        if (cell.IsHello != (_me == MarParty.Server && cell.Sequence == 0))
            throw new PtException(PtErrorKind.PeerProtocol, "marionette: HELLO must be the client's first cell, and only that");
        if (cell.IsHello)
            cell = cell with { Payload = cell.Payload[MarionetteCell.ClockLength..] };
        if (cell.Payload.Length > 0)
        {
            _idleRounds = 0;
            if (_finReceived)
                throw new PtException(PtErrorKind.PeerProtocol, "marionette: payload after FIN");
            await _toApp.Writer.WriteAsync(cell.Payload, ct).ConfigureAwait(false);
        }
        if (cell.IsFin && !_finReceived)
        {
            _finReceived = true;
            await _toApp.Writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads until one candidate's first message decodes and authenticates. With no candidate left
    /// it takes the error transition (decoy answer) and fails.
    /// </summary>
    private async Task<(MarEdge Edge, MarionetteCell Cell)> DetectAsync(List<MarEdge> candidates, MarEdge? error, CancellationToken ct)
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
                    if (FreshHelloProblem(edge.Block.Messages[0], cell) is { } problem)
                    {
                        // A replayed or stale first message: answer as a stranger would.
                        if (error is not null)
                            await RunErrorBlockAsync(error, ct).ConfigureAwait(false);
                        throw new PtException(PtErrorKind.Handshake, "marionette: " + problem);
                    }
                    _rxStart += consumed;
                    _firstMessage.TrySetResult();
                    return (edge, cell);
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

    /// <summary>
    /// Server, client's first cell: null when it is a HELLO whose clock is within
    /// <see cref="MaxClockSkew"/> of ours and whose record this server has not seen; else why not.
    /// Later cells, the client's side and io text: null.
    /// </summary>
    private string? FreshHelloProblem(MarMessage message, MarionetteCell cell)
    {
        if (_me != MarParty.Server || _receiveSeq != 0 || message is LiteralMessage)
            return null;
        if (!cell.IsHello)
            return "the first cell is not a HELLO";
        var now = _time.GetUtcNow();
        var clock = BinaryPrimitives.ReadInt64BigEndian(cell.Payload.Span);
        if (Math.Abs(now.ToUnixTimeSeconds() - clock) > (long)MaxClockSkew.TotalSeconds)
            return "the client's clock is too far from ours (or the message is an old replay)";
        if (_replays is not null && _replays.TestAndSet(now, _lastRecord))
            return "a replayed first message";
        return null;
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
                    cell = default; // no cell: see DeliverAsync
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
                    if (_me == MarParty.Server && _receiveSeq == 0)
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
