using System.Buffers.Binary;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Primitives;

namespace Guise.Transports.Marionette;

/// <summary>
/// A client's session with one bridge: every SOCKS stream to that bridge (same format and key)
/// shares it. It keeps one connection (model instance) running while streams are open, dials a new
/// one when a connection is lost — the streams resume from their acks, nothing is lost — and gives
/// up, failing the streams with the reason, after <see cref="MaxFailures"/> attempts in a row make
/// no progress. With no stream left for <see cref="IdleLinger"/> it closes.
/// </summary>
internal sealed class MarionetteClientMux : MarionetteMux
{
    public const int MaxFailures = 4;
    public static readonly TimeSpan SpawnBackoff = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan IdleLinger = TimeSpan.FromSeconds(5);

    private readonly MarionetteFormat _format;
    private readonly byte[] _key;
    private readonly string _host;
    private readonly string _target;
    private readonly TransportContext _context;
    private readonly Action<MarionetteClientMux> _onClosed;
    private readonly CancellationTokenSource _stop = new();
    private DialAsync? _dial;
    private Task? _firstDial;
    private bool _running, _closed, _confirmed;
    private uint _nextStream = 1;
    private int _lingerGeneration;
    private int _instances; // connection loops running (model instances)
    private DateTimeOffset _spawnAgainAt; // after a spawned connection failed, not before this

    public MarionetteClientMux(MarionetteFormat format, byte[] key, string host, string target, TransportContext context, Action<MarionetteClientMux> onClosed)
        : base(RandomSessionId())
    {
        _format = format;
        _key = key;
        _host = host;
        _target = target;
        _context = context;
        _onClosed = onClosed;
    }

    private static ulong RandomSessionId()
    {
        Span<byte> id = stackalloc byte[8];
        ulong value;
        do
        {
            RandomNumberGenerator.Fill(id);
            value = BinaryPrimitives.ReadUInt64BigEndian(id);
        }
        while (value == 0);
        return value;
    }

    /// <summary>Connections this session has dialed (for tests and diagnostics).</summary>
    public int ConnectionsDialed { get; private set; }

    /// <summary>Set when the session closed (idle or failed); a new stream then needs a new session.</summary>
    public bool IsClosed
    {
        get { lock (Gate) return _closed; }
    }

    protected override bool HelloPending => !_confirmed;

    protected override bool SendsResume => true;

    /// <summary>A cell of this session came from the server: it knows the session, HELLO is no longer needed.</summary>
    internal void Confirm()
    {
        lock (Gate)
        {
            _confirmed = true;
            _cellsHeard++;
        }
    }

    private long _cellsHeard;

    /// <summary>Opens a stream; the first one dials the bridge (a dial failure is this call's failure).</summary>
    public async ValueTask<MuxStream> OpenStreamAsync(DialAsync dial, CancellationToken cancellationToken)
    {
        Task connecting;
        lock (Gate)
        {
            if (_closed)
                throw new ObjectDisposedException(nameof(MarionetteClientMux));
            _dial = dial;
            // A first dial that failed (even synchronously, before it could clear itself) is
            // not this caller's answer: dial again.
            if (_firstDial is { IsFaulted: true } or { IsCanceled: true })
                _firstDial = null;
            connecting = _running ? Task.CompletedTask : (_firstDial ??= DialFirstAsync(dial));
        }
        await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (Gate)
        {
            if (_closed)
                throw new ObjectDisposedException(nameof(MarionetteClientMux));
            _lingerGeneration++;
            var stream = AddLocked(_nextStream++);
            NotifyLocked();
            return stream;
        }
    }

    private async Task DialFirstAsync(DialAsync dial)
    {
        Stream wire;
        try
        {
            wire = await dial(_target, _stop.Token).ConfigureAwait(false);
        }
        catch
        {
            lock (Gate)
                _firstDial = null;
            throw;
        }
        lock (Gate)
        {
            _running = true;
            _firstDial = null;
            ConnectionsDialed++;
            _instances++;
            // Every caller may have given up (cancelled) while the dial ran: then no stream
            // will come, and the idle timer must still close the session.
            if (StreamCountLocked == 0)
                _ = LingerAsync(++_lingerGeneration);
        }
        _ = Task.Run(() => RunConnectionsAsync(wire));
    }

    /// <summary><c>model.spawn</c>: at least <paramref name="total"/> instances (connections) run for this session.</summary>
    internal void EnsureConnections(int total)
    {
        lock (Gate)
        {
            if (_closed || !_running || _dial is not { } dial || _context.Time.GetUtcNow() < _spawnAgainAt)
                return;
            for (; _instances < total; _instances++)
                _ = Task.Run(() => RunSpawnedAsync(dial));
        }
    }

    /// <summary>A spawned instance: one connection; when it ends the streams resume on the others (the next spawn line starts another).</summary>
    private async Task RunSpawnedAsync(DialAsync dial)
    {
        var connected = false;
        try
        {
            var wire = await dial(_target, _stop.Token).ConfigureAwait(false);
            connected = true;
            lock (Gate)
                ConnectionsDialed++;
            await using (wire.ConfigureAwait(false))
            {
                var engine = new MarionetteEngine(wire, _format, MarParty.Client, _key, _context.Time, _host, client: this);
                await engine.RunAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            _context.Log.Log(PtLogSeverity.Info, "marionette: a spawned connection ended: " + e.Message);
            // A bridge or proxy that refuses more connections gets no dial storm.
            lock (Gate)
                _spawnAgainAt = _context.Time.GetUtcNow() + SpawnBackoff;
        }
        catch (Exception)
        {
            // the session is closing
        }
        finally
        {
            lock (Gate)
                _instances--;
            if (connected && !_stop.IsCancellationRequested)
                ConnectionLost();
        }
    }

    private async Task RunConnectionsAsync(Stream wire)
    {
        var failures = 0;
        while (true)
        {
            var engine = new MarionetteEngine(wire, _format, MarParty.Client, _key, _context.Time, _host, client: this);
            long heardBefore;
            lock (Gate)
                heardBefore = _cellsHeard;
            Exception? error = null;
            try
            {
                await engine.RunAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = e;
            }
            await wire.DisposeAsync().ConfigureAwait(false);
            if (_stop.IsCancellationRequested)
                return;
            // Progress is a few cells from the bridge, not just its first answer: a bridge that
            // answers once and then always fails must not keep the client redialing forever.
            long heard;
            lock (Gate)
                heard = _cellsHeard - heardBefore;
            failures = heard >= 3 ? 1 : failures + 1;
            ConnectionLost();
            _context.Log.Log(PtLogSeverity.Notice, $"marionette: connection to the bridge lost ({error?.Message ?? "closed"}); resuming the session on a new one");
            while (true)
            {
                if (CloseIfIdle())
                    return;
                if (failures >= MaxFailures)
                {
                    var unknown = error is PtException { Kind: PtErrorKind.Handshake or PtErrorKind.PeerProtocol };
                    var why = unknown ? "the bridge no longer knows this session (did it restart?)" : error?.Message ?? "the connection closed";
                    Close(new PtException(unknown ? PtErrorKind.Handshake : PtErrorKind.Eof,
                        $"marionette: lost the connection to the bridge and could not resume the session after {failures} attempts: {why}", error));
                    return;
                }
                try
                {
                    // 0.25 s, 0.5 s, 1 s: a bridge that restarts or a proxy that drops idle connections is back quickly.
                    await Task.Delay(TimeSpan.FromMilliseconds(125 << Math.Min(failures, 4)), _context.Time, _stop.Token).ConfigureAwait(false);
                    wire = await _dial!(_target, _stop.Token).ConfigureAwait(false);
                    lock (Gate)
                        ConnectionsDialed++;
                    break;
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    error = e;
                    failures++;
                }
            }
        }
    }

    protected override void OnStreamRemovedLocked()
    {
        if (StreamCountLocked != 0)
            return;
        var generation = ++_lingerGeneration;
        _ = LingerAsync(generation);
    }

    private int StreamCountLocked => base.StreamCount;

    private async Task LingerAsync(int generation)
    {
        try
        {
            await Task.Delay(IdleLinger, _context.Time, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (Gate)
        {
            if (generation != _lingerGeneration)
                return;
        }
        CloseIfIdle();
    }

    /// <summary>Closes the session if it has no stream, deciding under the lock so that a stream opened meanwhile is not lost.</summary>
    private bool CloseIfIdle()
    {
        lock (Gate)
        {
            if (_closed)
                return true;
            if (StreamCountLocked != 0)
                return false;
            _closed = true;
        }
        Shut(new PtException(PtErrorKind.Cancelled, "marionette: the session was closed"));
        return true;
    }

    /// <summary>Ends the session: no new streams; open ones fail with <paramref name="failure"/>.</summary>
    public void Close(Exception? failure)
    {
        lock (Gate)
        {
            if (_closed)
                return;
            _closed = true;
        }
        Shut(failure ?? new PtException(PtErrorKind.Cancelled, "marionette: the session was closed"));
    }

    private void Shut(Exception failure)
    {
        FailAll(failure);
        _stop.Cancel();
        _onClosed(this);
    }
}

/// <summary>
/// A server's sessions, shared by all its connections: finds the session a client's cell belongs
/// to, or creates it from a fresh HELLO, or says why the message must get the decoy answer.
/// A session that has not heard from its client for <see cref="Linger"/> expires and its streams fail.
/// </summary>
internal sealed class MarionetteServerSessions(TimeProvider time)
{
    /// <summary>How far a client's clock (in its HELLO cell) may be from the server's.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromHours(1);

    /// <summary>How long a server remembers session-creating records: past the skew window both ways, the clock check rejects a replay.</summary>
    public static readonly TimeSpan ReplayWindow = 2 * MaxClockSkew + TimeSpan.FromMinutes(5);

    public static readonly TimeSpan Linger = TimeSpan.FromMinutes(2);

    private readonly Dictionary<ulong, MarionetteServerMux> _sessions = [];
    private readonly ReplayFilter _replays = new(ReplayWindow);

    public int Count
    {
        get { lock (_sessions) return _sessions.Count; }
    }

    /// <summary>The session of <paramref name="cell"/>, or null and why it is not to be answered as Marionette.</summary>
    public MarionetteServerMux? Admit(in MarionetteCell cell, ReadOnlySpan<byte> record, out string? problem)
    {
        problem = null;
        lock (_sessions)
        {
            if (cell.SessionId != 0 && _sessions.TryGetValue(cell.SessionId, out var known))
            {
                if (known.AcceptCounter(cell.Counter))
                    return known;
                problem = "a replayed message";
                return null;
            }
            if (!cell.IsHello)
            {
                problem = "a message for a session this server does not know";
                return null;
            }
            var now = time.GetUtcNow();
            var clock = BinaryPrimitives.ReadInt64BigEndian(cell.Payload.Span);
            var seconds = now.ToUnixTimeSeconds();
            var skew = (long)MaxClockSkew.TotalSeconds;
            if (clock < seconds - skew || clock > seconds + skew) // compared, not subtracted: any 64-bit clock is safe
            {
                problem = "the client's clock is too far from ours (or the message is an old replay)";
                return null;
            }
            if (_replays.TestAndSet(now, record))
            {
                problem = "a replayed first message";
                return null;
            }
            var created = new MarionetteServerMux(cell.SessionId, this, time);
            created.AcceptCounter(cell.Counter);
            _sessions.Add(cell.SessionId, created);
            _ = created.WatchAsync();
            return created;
        }
    }

    /// <summary>Removes <paramref name="session"/> if <paramref name="stillIdle"/> holds, checked under the table's lock and then the session's.</summary>
    internal bool RemoveIf(MarionetteServerMux session, Func<bool> stillIdle)
    {
        lock (_sessions)
        {
            lock (session.Gate)
            {
                if (!stillIdle())
                    return false;
            }
            return _sessions.Remove(session.SessionId);
        }
    }
}

/// <summary>The server's side of one client session.</summary>
internal sealed class MarionetteServerMux(ulong sessionId, MarionetteServerSessions table, TimeProvider time) : MarionetteMux(sessionId)
{
    private const int CounterWindow = 256;
    private readonly System.Collections.BitArray _seen = new(CounterWindow);
    private uint _highest;
    private bool _any;
    private DateTimeOffset _lastHeard = time.GetUtcNow();

    /// <summary>Sliding-window replay check on the client's cell counter (cells may come over several connections, slightly out of order).</summary>
    public bool AcceptCounter(uint counter)
    {
        lock (Gate)
        {
            _lastHeard = time.GetUtcNow();
            if (!_any)
            {
                _any = true;
                _highest = counter;
                _seen[(int)(counter % CounterWindow)] = true;
                return true;
            }
            if (counter > _highest)
            {
                if (counter - _highest >= CounterWindow)
                    _seen.SetAll(false);
                else
                    for (var c = _highest + 1; c != counter; c++)
                        _seen[(int)(c % CounterWindow)] = false;
                _highest = counter;
                _seen[(int)(counter % CounterWindow)] = true;
                return true;
            }
            if (_highest - counter >= CounterWindow || _seen[(int)(counter % CounterWindow)])
                return false;
            _seen[(int)(counter % CounterWindow)] = true;
            return true;
        }
    }

    /// <summary>
    /// Expires the session once no cell of it arrived for <see cref="MarionetteServerSessions.Linger"/>.
    /// Activity, not attached connections, keeps it: a proxy's keep-alive connection may have
    /// carried it once and live on for others, while a live client sends at least padding.
    /// </summary>
    public async Task WatchAsync()
    {
        var linger = MarionetteServerSessions.Linger;
        while (true)
        {
            await Task.Delay(linger, time).ConfigureAwait(false);
            // Table first, then the session (the order Admit uses): once removed, no connection
            // can find it; one that found it just before gets "the session has ended" and closes.
            if (table.RemoveIf(this, () => time.GetUtcNow() - _lastHeard >= linger))
                break;
        }
        FailAll(new PtException(PtErrorKind.Eof, $"marionette: the client's session expired (nothing from it for {linger.TotalMinutes} min)"));
    }
}
