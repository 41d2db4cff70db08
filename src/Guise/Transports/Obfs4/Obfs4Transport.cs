using System.Buffers;
using System.Globalization;
using Guise.Errors;
using Guise.Primitives;

namespace Guise.Transports.Obfs4;

/// <summary>
/// obfs4 (obfs4proxy 0.0.14 / lyrebird on the wire): an ntor handshake hidden by Elligator2,
/// then XSalsa20-Poly1305 frames with obfuscated lengths, padding shaped by the bridge's seed.
/// </summary>
public sealed class Obfs4Transport : ITransport
{
    public string Name => "obfs4";

    public string Description => "obfs4: looks like uniform random bytes; interoperates with obfs4proxy and lyrebird";

    public IClientFactory CreateClientFactory(TransportContext context) => new Obfs4ClientFactory(context);

    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options) =>
        new Obfs4ServerFactory(context, Obfs4Identity.LoadOrCreate(context.StateDirectory, options));
}

/// <summary>Parses bridge-line args and prepares sessions (session keys are made before dialing).</summary>
public sealed class Obfs4ClientFactory(TransportContext context) : IClientFactory
{
    private readonly Obfs4SessionKeyPool _keys = new();

    internal Obfs4SessionKeyPool SessionKeys => _keys;

    public IClientSession Prepare(PtArgs args)
    {
        byte[] nodeId, publicKey;
        if (args.TryGet("cert", out var cert))
        {
            (nodeId, publicKey) = Obfs4Identity.ParseCert(cert);
        }
        else
        {
            // Bridge lines of obfs4proxy ≤ 0.0.2: separate hex arguments.
            nodeId = ParseHex(args.Require("node-id", "obfs4"), "node-id", Ntor.NodeIdLength);
            publicKey = ParseHex(args.Require("public-key", "obfs4"), "public-key", 32);
        }
        var iatText = args.Require("iat-mode", "obfs4");
        if (!int.TryParse(iatText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var iat) || iat is < 0 or > 2)
            throw new PtException(PtErrorKind.Config, $"obfs4: invalid iat-mode '{iatText}'");

        // Elligator2 rejects about half the keys: the key is drawn before the socket exists (from
        // the pool, made in the background) so that the rejection sampling's timing is not
        // visible on the wire and not on the connection's critical path.
        return new Obfs4ClientSession(context, nodeId, publicKey, (Obfs4IatMode)iat, _keys.Take());
    }

    private static byte[] ParseHex(string text, string name, int length)
    {
        byte[] b;
        try
        {
            b = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new PtException(PtErrorKind.Config, $"obfs4: '{name}' is not hex");
        }
        if (b.Length != length)
            throw new PtException(PtErrorKind.Config, $"obfs4: '{name}' must be {length} bytes");
        return b;
    }
}

/// <summary>One prepared client connection.</summary>
public sealed class Obfs4ClientSession : IClientSession
{
    private readonly TransportContext _context;
    private readonly byte[] _nodeId;
    private readonly byte[] _identityPublic;
    private readonly Obfs4IatMode _iatMode;
    private readonly Obfs4SessionKey _sessionKey;
    private int _used;

    internal Obfs4ClientSession(TransportContext context, byte[] nodeId, byte[] identityPublic, Obfs4IatMode iatMode, Obfs4SessionKey sessionKey)
    {
        _context = context;
        _nodeId = nodeId;
        _identityPublic = identityPublic;
        _iatMode = iatMode;
        _sessionKey = sessionKey;
    }

    /// <summary>obfs4proxy's client handshake timeout.</summary>
    internal TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(60);

    internal Obfs4SessionKey SessionKey => _sessionKey;

    public async ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _used, 1) != 0)
            throw new InvalidOperationException("an obfs4 client session is used once (its session key must not be reused)");
        var wire = await dial(target, cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(HandshakeTimeout, _context.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var buffer = ArrayPool<byte>.Shared.Rent(Obfs4HandshakeLimits.MaxHandshakeLength + Obfs4Wire.MaximumSegmentLength * 16);
        try
        {
            var hour = Obfs4HandshakeLimits.EpochHour(_context.Time.GetUtcNow());
            var hs = new Obfs4ClientHandshake(_nodeId, _identityPublic, _sessionKey, hour, Obfs4ClientHandshake.RandomPadding());
            await wire.WriteAsync(hs.CreateRequest(), linked.Token).ConfigureAwait(false);
            await wire.FlushAsync(linked.Token).ConfigureAwait(false);
            // While the bridge decodes the request and does its two scalar multiplications.
            hs.PrecomputeIdentityShare();

            var filled = 0;
            var keySeed = new byte[Ntor.KeySeedLength];
            while (true)
            {
                var n = await wire.ReadAsync(buffer.AsMemory(filled), linked.Token).ConfigureAwait(false);
                if (n == 0)
                    throw new PtException(PtErrorKind.Eof, "obfs4: the bridge closed the connection during the handshake");
                filled += n;
                var status = hs.TryParseResponse(buffer.AsSpan(0, filled), keySeed, out var consumed, out var error);
                if (status == OperationStatus.NeedMoreData)
                {
                    if (filled == buffer.Length)
                        throw new PtException(PtErrorKind.Handshake, "obfs4: server handshake too long");
                    continue;
                }
                if (status != OperationStatus.Done)
                    throw new PtException(PtErrorKind.Handshake, "obfs4: " + error);

                Span<byte> okm = stackalloc byte[Obfs4Wire.KeyLength * 2];
                Ntor.Kdf(keySeed, okm);
                // The client's own shape until the bridge's seed frame arrives (obfs4 does the same).
                var seed = System.Security.Cryptography.RandomNumberGenerator.GetBytes(HashDrbg.SeedLength);
                var (len, iat) = Obfs4Codec.CreateDistributions(seed, _iatMode);
                var codec = new Obfs4Codec(okm[..Obfs4Wire.KeyLength], okm[Obfs4Wire.KeyLength..], len, iat, _iatMode, isServer: false);
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(okm);
                return new Obfs4Stream(wire, codec, buffer.AsSpan(consumed, filled - consumed), _context.Time);
            }
        }
        catch (Exception e)
        {
            await wire.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                throw new PtException(PtErrorKind.Timeout, "obfs4: handshake timed out", e);
            if (e is OperationCanceledException)
                throw;
            throw PtException.Wrap(e, "obfs4 handshake");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }
}

/// <summary>The bridge side: identity, replay filter and anti-probing policy shared by all connections.</summary>
public sealed class Obfs4ServerFactory : IServerFactory
{
    /// <summary>How long a replayed MAC is remembered (obfs4: 3 h; the MAC covers E±1 anyway).</summary>
    public static readonly TimeSpan ReplayTtl = TimeSpan.FromHours(3);

    private const int MaxCloseDelaySeconds = 60;

    private static readonly TimeSpan MinimumTopUp = TimeSpan.FromMilliseconds(1);

    private readonly TransportContext _context;
    private readonly ReplayFilter _replay = new(ReplayTtl);
    private readonly Obfs4SessionKeyPool _keys = new();
    private readonly WeightedDist _lenDist;
    private readonly WeightedDist? _iatDist;

    public Obfs4ServerFactory(TransportContext context, Obfs4Identity identity)
    {
        _context = context;
        Identity = identity;
        ClientArgs = identity.ClientArgs;
        (_lenDist, _iatDist) = Obfs4Codec.CreateDistributions(identity.DrbgSeed, identity.IatMode);
        // A per-bridge constant, so a prober cannot learn it varies per connection; from the
        // first draw of Go's rand over the seed DRBG, exactly as obfs4proxy.
        var closeSeconds = new GoRand(new HashDrbg(identity.DrbgSeed)).Intn(MaxCloseDelaySeconds);
        CloseDelay = TimeSpan.FromSeconds(closeSeconds);
        if (identity.IatMode == Obfs4IatMode.Paranoid && Obfs4Codec.LengthTableCanDrawZero(identity.DrbgSeed))
        {
            context.Log.Log(PtLogSeverity.Warning,
                "obfs4: this bridge's drbg-seed has 0 in its length table; obfs4proxy and lyrebird clients in iat-mode=2 " +
                "exit with \"BUG: Write(), iat length was 0\" on it (their bug; Guise clients are not affected). " +
                "A new drbg-seed in obfs4_state.json fixes it without changing the bridge line (the seed is not in it); " +
                "Guise gives new bridges only seeds without 0 and never rewrites an existing state file.");
        }
        // A bridge exists to accept connections: have session keys ready for the first ones.
        _keys.ScheduleRefill();
    }

    public Obfs4Identity Identity { get; }

    public PtArgs ClientArgs { get; }

    internal Obfs4SessionKeyPool SessionKeys => _keys;

    /// <summary>obfs4proxy's server handshake timeout.</summary>
    internal TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The per-bridge extra delay before a failed connection is closed (0–59 s).</summary>
    public TimeSpan CloseDelay { get; internal set; }

    public async ValueTask<Stream> AcceptAsync(Stream inbound, CancellationToken cancellationToken)
    {
        var start = _context.Time.GetTimestamp();
        // Drawn before reading anything (made in the background by the pool), so the rejection
        // sampling can be timed by no client and delays none.
        var sessionKey = _keys.Take();
        using var timeout = new CancellationTokenSource(HandshakeTimeout, _context.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var buffer = ArrayPool<byte>.Shared.Rent(Obfs4HandshakeLimits.MaxHandshakeLength * 2);
        PtException failure;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var hs = new Obfs4ServerHandshake(Identity, sessionKey, _replay);
            var keySeed = new byte[Ntor.KeySeedLength];
            var filled = 0;
            while (true)
            {
                var n = await inbound.ReadAsync(buffer.AsMemory(filled, Obfs4HandshakeLimits.MaxHandshakeLength + 1 - filled), linked.Token).ConfigureAwait(false);
                if (n == 0)
                    throw new PtException(PtErrorKind.Eof, "obfs4: client closed during the handshake");
                filled += n;
                var status = hs.TryParseRequest(buffer.AsSpan(0, filled), _context.Time.GetUtcNow(), keySeed, out var kind, out var error);
                if (status == OperationStatus.NeedMoreData)
                    continue;
                if (status != OperationStatus.Done)
                    throw new PtException(kind, "obfs4: " + error);

                Span<byte> okm = stackalloc byte[Obfs4Wire.KeyLength * 2];
                Ntor.Kdf(keySeed, okm);
                var codec = new Obfs4Codec(okm[Obfs4Wire.KeyLength..], okm[..Obfs4Wire.KeyLength], _lenDist, _iatDist, Identity.IatMode, isServer: true);
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(okm);

                // The seed frame rides unpadded with the handshake (the client's minimum padding accounts for it).
                var response = hs.CreateResponse(Obfs4ServerHandshake.RandomPadding());
                var reply = new byte[response.Length + Obfs4HandshakeLimits.InlineSeedFrameLength];
                response.CopyTo(reply, 0);
                codec.EncodePacket(Obfs4Wire.PacketTypePrngSeed, Identity.DrbgSeed, 0, reply.AsSpan(response.Length));
                await inbound.WriteAsync(reply, linked.Token).ConfigureAwait(false);
                await inbound.FlushAsync(linked.Token).ConfigureAwait(false);
                return new Obfs4Stream(inbound, codec, [], _context.Time);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await inbound.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            failure = new PtException(PtErrorKind.Timeout, "obfs4: client handshake timed out", e);
        }
        catch (Exception e)
        {
            failure = PtException.Wrap(e, "obfs4 handshake");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }

        await CloseAfterDelayAsync(inbound, start, cancellationToken).ConfigureAwait(false);
        throw failure;
    }

    /// <summary>
    /// Reads and discards until handshake timeout + the bridge's close delay after the connection
    /// began, then closes, whatever the client sent: a prober sees the same silence for random
    /// data, a wrong cert or a replay.
    /// </summary>
    private async Task CloseAfterDelayAsync(Stream inbound, long start, CancellationToken cancellationToken)
    {
        try
        {
            var remaining = HandshakeTimeout + CloseDelay - _context.Time.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero)
                return;
            using var until = new CancellationTokenSource(remaining, _context.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, until.Token);
            var sink = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                while (await inbound.ReadAsync(sink, linked.Token).ConfigureAwait(false) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(sink);
            }

            // Timers run on a coarse clock and can fire a millisecond or two early; the promise is
            // "not before the deadline", so wait out what the high-resolution clock says is left.
            // (When the client hung up first, there is nothing to hold open.)
            if (until.IsCancellationRequested)
            {
                TimeSpan left;
                while ((left = HandshakeTimeout + CloseDelay - _context.Time.GetElapsedTime(start)) > TimeSpan.Zero)
                    await Task.Delay(left < MinimumTopUp ? MinimumTopUp : left, _context.Time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await inbound.DisposeAsync().ConfigureAwait(false);
        }
    }
}
