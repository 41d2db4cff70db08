using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Primitives;

namespace Guise.Transports.Obfs4;

// Wire format (obfs4 handshake_ntor.go). K = B | NODEID (the bridge's identity key and node ID),
// E = the decimal number of hours since the Unix epoch, as ASCII.
//
//   client → server:  X' | P_C | M_C | MAC_C
//     X'    Elligator2 representative of the client's session key (32)
//     P_C   77..8128 random bytes (77 makes the request as long as the server's minimal reply + seed frame)
//     M_C   HMAC-SHA256-128(K, X')
//     MAC_C HMAC-SHA256-128(K, X' | P_C | M_C | E)
//
//   server → client:  Y' | AUTH | P_S | M_S | MAC_S, then at once the inline PRNG-seed frame
//     Y'    representative of the server's session key (32), AUTH the ntor AUTH (32)
//     P_S   0..8051 random bytes
//     M_S   HMAC-SHA256-128(K, Y')
//     MAC_S HMAC-SHA256-128(K, Y' | AUTH | P_S | M_S | E), E as accepted from the client
//
// Neither side's handshake exceeds 8192 bytes. The server accepts E-1, E, E+1, finds M_C only at
// the tail (the client cannot send anything after MAC_C before it knows the server's key), and
// rejects trailing bytes and replayed MACs. The client searches for M_S, since the server's
// frames follow its handshake in the same segment.

/// <summary>Lengths and limits of the obfs4 handshake.</summary>
public static class Obfs4HandshakeLimits
{
    public const int MaxHandshakeLength = 8192;
    public const int MarkLength = 16;
    public const int MacLength = 16;
    public const int InlineSeedFrameLength = Obfs4Wire.FrameOverhead + Obfs4Wire.PacketOverhead + Obfs4Wire.SeedPacketPayloadLength;
    public const int ClientMinHandshakeLength = 32 + MarkLength + MacLength;
    public const int ServerMinHandshakeLength = 32 + 32 + MarkLength + MacLength;
    public const int ClientMinPadLength = ServerMinHandshakeLength + InlineSeedFrameLength - ClientMinHandshakeLength;
    public const int ClientMaxPadLength = MaxHandshakeLength - ClientMinHandshakeLength;
    public const int ServerMinPadLength = 0;
    public const int ServerMaxPadLength = MaxHandshakeLength - (ServerMinHandshakeLength + InlineSeedFrameLength);

    /// <summary>Hours since the Unix epoch, the E of the handshake MACs.</summary>
    public static long EpochHour(DateTimeOffset now) => now.ToUnixTimeSeconds() / 3600;

    internal static byte[] EpochHourBytes(long hour) =>
        System.Text.Encoding.ASCII.GetBytes(hour.ToString(CultureInfo.InvariantCulture));
}

/// <summary>An X25519 session keypair with its Elligator2 representative.</summary>
public sealed class Obfs4SessionKey
{
    public Obfs4SessionKey(byte[] privateKey, byte[] publicKey, byte[] representative)
    {
        PrivateKey = privateKey;
        PublicKey = publicKey;
        Representative = representative;
    }

    public byte[] PrivateKey { get; }
    public byte[] PublicKey { get; }
    public byte[] Representative { get; }

    /// <summary>Draws keys (SHA-512 of 32 random bytes, as ntor.NewKeypair) until one has a representative.</summary>
    public static Obfs4SessionKey Generate(Action<Span<byte>>? random = null)
    {
        var priv = new byte[32];
        var pub = new byte[32];
        var repr = new byte[32];
        Elligator2.GenerateKeypair(random ?? RandomNumberGenerator.Fill, priv, pub, repr);
        return new Obfs4SessionKey(priv, pub, repr);
    }
}

/// <summary>The client half of the obfs4 handshake, without I/O.</summary>
public sealed class Obfs4ClientHandshake
{
    private readonly byte[] _macKey;
    private readonly byte[] _nodeId;
    private readonly byte[] _identityPublic;
    private readonly Obfs4SessionKey _session;
    private readonly byte[] _epochHour;
    private readonly byte[] _padding;
    private byte[]? _serverMark;
    private byte[]? _identityShare;
    private bool _identityShareOk;

    /// <param name="padding">P_C itself (77..8128 bytes); random in production, fixed for known-answer tests.</param>
    public Obfs4ClientHandshake(ReadOnlySpan<byte> nodeId, ReadOnlySpan<byte> identityPublic, Obfs4SessionKey session,
        long epochHour, byte[] padding)
    {
        if (padding.Length is < Obfs4HandshakeLimits.ClientMinPadLength or > Obfs4HandshakeLimits.ClientMaxPadLength)
            throw new ArgumentOutOfRangeException(nameof(padding), "client padding out of range");
        _nodeId = nodeId.ToArray();
        _identityPublic = identityPublic.ToArray();
        _macKey = [.. _identityPublic, .. _nodeId];
        _session = session;
        _epochHour = Obfs4HandshakeLimits.EpochHourBytes(epochHour);
        _padding = padding;
    }

    /// <summary>Random padding of a random length in [77, 8128], as obfs4's csrand.IntRange.</summary>
    public static byte[] RandomPadding() =>
        RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(Obfs4HandshakeLimits.ClientMinPadLength, Obfs4HandshakeLimits.ClientMaxPadLength + 1));

    /// <summary>X' | P_C | M_C | MAC_C.</summary>
    public byte[] CreateRequest()
    {
        var length = 32 + _padding.Length + Obfs4HandshakeLimits.MarkLength + Obfs4HandshakeLimits.MacLength;
        var request = new byte[length];
        _session.Representative.CopyTo(request, 0);
        _padding.CopyTo(request, 32);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_macKey, _session.Representative, mac);
        mac[..Obfs4HandshakeLimits.MarkLength].CopyTo(request.AsSpan(32 + _padding.Length));
        var upToMark = length - Obfs4HandshakeLimits.MacLength;
        HmacWithEpoch(_macKey, request.AsSpan(0, upToMark), _epochHour, mac);
        mac[..Obfs4HandshakeLimits.MacLength].CopyTo(request.AsSpan(upToMark));
        return request;
    }

    /// <summary>
    /// Computes the client's half of ntor that needs nothing from the server (EXP(B,x)), for
    /// the time the server spends on its reply; <see cref="TryParseResponse"/> does it otherwise.
    /// </summary>
    public void PrecomputeIdentityShare()
    {
        if (_identityShare is not null)
            return;
        var share = new byte[32];
        _identityShareOk = Ntor.ClientIdentityShare(_session.PrivateKey, _identityPublic, share);
        _identityShare = share;
    }

    /// <summary>
    /// Parses the server's reply. NeedMoreData: keep reading. Done: <paramref name="consumed"/>
    /// bytes were the handshake (the rest are frames) and <paramref name="keySeed"/> holds
    /// KEY_SEED. InvalidData: fatal, <paramref name="error"/> says why.
    /// </summary>
    public OperationStatus TryParseResponse(ReadOnlySpan<byte> received, Span<byte> keySeed, out int consumed, out string? error)
    {
        consumed = 0;
        error = null;
        if (received.Length < Obfs4HandshakeLimits.ServerMinHandshakeLength)
            return OperationStatus.NeedMoreData;
        if (_serverMark is null)
        {
            var full = new byte[32];
            HMACSHA256.HashData(_macKey, received[..32], full);
            _serverMark = full[..Obfs4HandshakeLimits.MarkLength];
        }

        var pos = FindMark(received, _serverMark);
        if (pos < 0)
        {
            if (received.Length >= Obfs4HandshakeLimits.MaxHandshakeLength)
            {
                error = "server handshake mark not found";
                return OperationStatus.InvalidData;
            }
            return OperationStatus.NeedMoreData;
        }

        Span<byte> mac = stackalloc byte[32];
        var macAt = pos + Obfs4HandshakeLimits.MarkLength;
        HmacWithEpoch(_macKey, received[..macAt], _epochHour, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..Obfs4HandshakeLimits.MacLength], received.Slice(macAt, Obfs4HandshakeLimits.MacLength)))
        {
            error = "server handshake MAC mismatch";
            return OperationStatus.InvalidData;
        }

        Span<byte> serverPublic = stackalloc byte[32];
        Elligator2.RepresentativeToPublicKey(received[..32], serverPublic);
        Span<byte> auth = stackalloc byte[32];
        PrecomputeIdentityShare();
        var share = _identityShare!;
        var agreed = Ntor.ClientHandshake(_session.PrivateKey, _session.PublicKey, serverPublic, _identityPublic, _nodeId, share, keySeed, auth);
        CryptographicOperations.ZeroMemory(share);
        _identityShare = null;
        if (!(agreed & _identityShareOk))
        {
            error = "ntor handshake failure";
            return OperationStatus.InvalidData;
        }
        if (!CryptographicOperations.FixedTimeEquals(auth, received.Slice(32, 32)))
        {
            error = "ntor AUTH mismatch (wrong bridge cert?)";
            return OperationStatus.InvalidData;
        }
        consumed = macAt + Obfs4HandshakeLimits.MacLength;
        return OperationStatus.Done;
    }

    // The server's frames follow its handshake, so search rather than look at the tail.
    private static int FindMark(ReadOnlySpan<byte> buf, ReadOnlySpan<byte> mark)
    {
        const int start = 32 + 32 + Obfs4HandshakeLimits.ServerMinPadLength;
        var end = Math.Min(buf.Length, Obfs4HandshakeLimits.MaxHandshakeLength);
        if (start > buf.Length || end - start < Obfs4HandshakeLimits.MarkLength + Obfs4HandshakeLimits.MacLength)
            return -1;
        var pos = buf[start..end].IndexOf(mark);
        if (pos < 0 || start + pos + Obfs4HandshakeLimits.MarkLength + Obfs4HandshakeLimits.MacLength > end)
            return -1;
        return start + pos;
    }

    internal static void HmacWithEpoch(byte[] key, ReadOnlySpan<byte> data, byte[] epochHour, Span<byte> mac)
    {
        using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        h.AppendData(data);
        h.AppendData(epochHour);
        h.GetHashAndReset(mac);
    }
}

/// <summary>The server half of the obfs4 handshake, without I/O.</summary>
public sealed class Obfs4ServerHandshake
{
    private readonly Obfs4Identity _identity;
    private readonly Obfs4SessionKey _session;
    private readonly ReplayFilter _replay;
    private readonly byte[] _macKey;
    private byte[]? _clientMark;
    private byte[]? _epochHour;
    private readonly byte[] _auth = new byte[32];

    public Obfs4ServerHandshake(Obfs4Identity identity, Obfs4SessionKey session, ReplayFilter replay)
    {
        _identity = identity;
        _session = session;
        _replay = replay;
        _macKey = [.. identity.PublicKey, .. identity.NodeId];
    }

    /// <summary>
    /// Parses the client's request. NeedMoreData: keep reading. Done: <paramref name="keySeed"/>
    /// holds KEY_SEED and <see cref="CreateResponse"/> may be called. InvalidData: fatal; the kind
    /// is Replay for a replayed MAC, Handshake otherwise.
    /// </summary>
    public OperationStatus TryParseRequest(ReadOnlySpan<byte> received, DateTimeOffset now, Span<byte> keySeed, out PtErrorKind errorKind, out string? error)
    {
        errorKind = PtErrorKind.Handshake;
        error = null;
        if (received.Length < Obfs4HandshakeLimits.ClientMinHandshakeLength)
            return OperationStatus.NeedMoreData;
        if (_clientMark is null)
        {
            var full = new byte[32];
            HMACSHA256.HashData(_macKey, received[..32], full);
            _clientMark = full[..Obfs4HandshakeLimits.MarkLength];
        }

        // Only the tail can hold M_C | MAC_C.
        const int start = 32 + Obfs4HandshakeLimits.ClientMinPadLength;
        var end = Math.Min(received.Length, Obfs4HandshakeLimits.MaxHandshakeLength);
        var pos = end - (Obfs4HandshakeLimits.MarkLength + Obfs4HandshakeLimits.MacLength);
        var found = start <= received.Length && pos >= start &&
            CryptographicOperations.FixedTimeEquals(received.Slice(pos, Obfs4HandshakeLimits.MarkLength), _clientMark);
        if (!found)
        {
            if (received.Length >= Obfs4HandshakeLimits.MaxHandshakeLength)
            {
                error = "client handshake mark not found";
                return OperationStatus.InvalidData;
            }
            return OperationStatus.NeedMoreData;
        }

        var macAt = pos + Obfs4HandshakeLimits.MarkLength;
        var macRx = received.Slice(macAt, Obfs4HandshakeLimits.MacLength);
        var hour = Obfs4HandshakeLimits.EpochHour(now);
        Span<byte> mac = stackalloc byte[32];
        var macFound = false;
        // The three MACs share everything but E: hash the (up to 8 KiB) request once and finish
        // a copy of that state per hour. All three are evaluated whatever matches, to keep the
        // timing flat.
        using var prefix = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _macKey);
        prefix.AppendData(received[..macAt]);
        foreach (var offset in (ReadOnlySpan<int>)[0, -1, 1])
        {
            var e = Obfs4HandshakeLimits.EpochHourBytes(hour + offset);
            using (var h = prefix.Clone())
            {
                h.AppendData(e);
                h.GetHashAndReset(mac);
            }
            if (CryptographicOperations.FixedTimeEquals(mac[..Obfs4HandshakeLimits.MacLength], macRx))
            {
                if (_replay.TestAndSet(now, macRx))
                {
                    errorKind = PtErrorKind.Replay;
                    error = "replayed client handshake";
                    return OperationStatus.InvalidData;
                }
                macFound = true;
                _epochHour = e;
            }
        }
        if (!macFound)
        {
            error = "client handshake MAC mismatch (clock skew or wrong cert)";
            return OperationStatus.InvalidData;
        }
        if (received.Length != macAt + Obfs4HandshakeLimits.MacLength)
        {
            error = "trailing bytes after the client handshake";
            return OperationStatus.InvalidData;
        }

        Span<byte> clientPublic = stackalloc byte[32];
        Elligator2.RepresentativeToPublicKey(received[..32], clientPublic);
        if (!Ntor.ServerHandshake(clientPublic, _session.PrivateKey, _session.PublicKey, _identity.PrivateKey,
                _identity.PublicKey, _identity.NodeId, keySeed, _auth))
        {
            error = "ntor handshake failure";
            return OperationStatus.InvalidData;
        }
        return OperationStatus.Done;
    }

    /// <summary>Y' | AUTH | P_S | M_S | MAC_S, with the client's accepted E. Call after Done.</summary>
    public byte[] CreateResponse(ReadOnlySpan<byte> padding)
    {
        if (_epochHour is null)
            throw new InvalidOperationException("the client handshake has not been accepted");
        if (padding.Length > Obfs4HandshakeLimits.ServerMaxPadLength)
            throw new ArgumentOutOfRangeException(nameof(padding));
        var length = 64 + padding.Length + Obfs4HandshakeLimits.MarkLength + Obfs4HandshakeLimits.MacLength;
        var response = new byte[length];
        _session.Representative.CopyTo(response, 0);
        _auth.CopyTo(response, 32);
        padding.CopyTo(response.AsSpan(64));
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_macKey, _session.Representative, mac);
        mac[..Obfs4HandshakeLimits.MarkLength].CopyTo(response.AsSpan(64 + padding.Length));
        var upToMark = length - Obfs4HandshakeLimits.MacLength;
        Obfs4ClientHandshake.HmacWithEpoch(_macKey, response.AsSpan(0, upToMark), _epochHour, mac);
        mac[..Obfs4HandshakeLimits.MacLength].CopyTo(response.AsSpan(upToMark));
        return response;
    }

    /// <summary>Random padding of a random length in [0, 8051].</summary>
    public static byte[] RandomPadding() =>
        RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(Obfs4HandshakeLimits.ServerMinPadLength, Obfs4HandshakeLimits.ServerMaxPadLength + 1));
}
