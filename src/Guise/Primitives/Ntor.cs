using System.Security.Cryptography;
using System.Text;

namespace Guise.Primitives;

/// <summary>
/// The ntor handshake (Tor proposal 216) exactly as obfs4 computes it (common/ntor/ntor.go):
/// <code>
/// secret_input = EXP(Y,x) | EXP(B,x) | suffix          (client; the server uses EXP(X,y) | EXP(X,b))
/// suffix       = B | B | X | Y | PROTOID | NODEID       (sic: B twice and NODEID last, unlike tor's ID|B|X|Y)
/// KEY_SEED     = HMAC-SHA256(t_key,    secret_input)
/// verify       = HMAC-SHA256(t_verify, secret_input)
/// AUTH         = HMAC-SHA256(t_mac,    verify | suffix | "Server")
/// okm          = HKDF-SHA256(salt = t_key, ikm = KEY_SEED, info = m_expand)
/// </code>
/// X and Y are the (dirty) Curve25519 public keys, not their Elligator2 representatives.
/// </summary>
public static class Ntor
{
    public const int KeySeedLength = 32;
    public const int AuthLength = 32;
    public const int NodeIdLength = 20;
    public const int KeyLength = 32;

    private static readonly byte[] ProtoId = Encoding.ASCII.GetBytes("ntor-curve25519-sha256-1");
    private static readonly byte[] TMac = Encoding.ASCII.GetBytes("ntor-curve25519-sha256-1:mac");
    private static readonly byte[] TKey = Encoding.ASCII.GetBytes("ntor-curve25519-sha256-1:key_extract");
    private static readonly byte[] TVerify = Encoding.ASCII.GetBytes("ntor-curve25519-sha256-1:key_verify");
    private static readonly byte[] MExpand = Encoding.ASCII.GetBytes("ntor-curve25519-sha256-1:key_expand");

    private const int SuffixLength = 4 * KeyLength + 24 + NodeIdLength;

    /// <summary>Client side: x, X, Y, B, NODEID → KEY_SEED, AUTH. False when a DH result is zero (abort).</summary>
    public static bool ClientHandshake(ReadOnlySpan<byte> clientPrivate, ReadOnlySpan<byte> clientPublic,
        ReadOnlySpan<byte> serverPublic, ReadOnlySpan<byte> identityPublic, ReadOnlySpan<byte> nodeId,
        Span<byte> keySeed, Span<byte> auth)
    {
        Span<byte> identityShare = stackalloc byte[32];
        try
        {
            var ok = ClientIdentityShare(clientPrivate, identityPublic, identityShare);
            return ClientHandshake(clientPrivate, clientPublic, serverPublic, identityPublic, nodeId, identityShare, keySeed, auth) & ok;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(identityShare);
        }
    }

    /// <summary>
    /// EXP(B,x): needs nothing from the server, so a client can compute it while the server
    /// works on its reply. False when the result is zero (abort).
    /// </summary>
    public static bool ClientIdentityShare(ReadOnlySpan<byte> clientPrivate, ReadOnlySpan<byte> identityPublic, Span<byte> share) =>
        Sodium.ScalarMult(share, clientPrivate, identityPublic);

    /// <summary>Client side with EXP(B,x) already computed (<see cref="ClientIdentityShare"/>).</summary>
    public static bool ClientHandshake(ReadOnlySpan<byte> clientPrivate, ReadOnlySpan<byte> clientPublic,
        ReadOnlySpan<byte> serverPublic, ReadOnlySpan<byte> identityPublic, ReadOnlySpan<byte> nodeId,
        ReadOnlySpan<byte> identityShare, Span<byte> keySeed, Span<byte> auth)
    {
        Span<byte> secret = stackalloc byte[64 + SuffixLength];
        try
        {
            var ok = Sodium.ScalarMult(secret[..32], clientPrivate, serverPublic);
            identityShare.CopyTo(secret[32..64]);
            Common(secret, identityPublic, clientPublic, serverPublic, nodeId, keySeed, auth);
            return ok;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>Server side: X, y, Y, b, B, NODEID → KEY_SEED, AUTH. False when a DH result is zero (abort).</summary>
    public static bool ServerHandshake(ReadOnlySpan<byte> clientPublic, ReadOnlySpan<byte> serverPrivate,
        ReadOnlySpan<byte> serverPublic, ReadOnlySpan<byte> identityPrivate, ReadOnlySpan<byte> identityPublic,
        ReadOnlySpan<byte> nodeId, Span<byte> keySeed, Span<byte> auth)
    {
        Span<byte> secret = stackalloc byte[64 + SuffixLength];
        try
        {
            var ok = Sodium.ScalarMult(secret[..32], serverPrivate, clientPublic);
            ok &= Sodium.ScalarMult(secret[32..64], identityPrivate, clientPublic);
            Common(secret, identityPublic, clientPublic, serverPublic, nodeId, keySeed, auth);
            return ok;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static void Common(Span<byte> secret, ReadOnlySpan<byte> b, ReadOnlySpan<byte> x, ReadOnlySpan<byte> y,
        ReadOnlySpan<byte> nodeId, Span<byte> keySeed, Span<byte> auth)
    {
        if (nodeId.Length != NodeIdLength)
            throw new ArgumentException("node ID must be 20 bytes", nameof(nodeId));
        var suffix = secret[64..];
        b.CopyTo(suffix);
        b.CopyTo(suffix[32..]);
        x.CopyTo(suffix[64..]);
        y.CopyTo(suffix[96..]);
        ProtoId.CopyTo(suffix[128..]);
        nodeId.CopyTo(suffix[152..]);

        HMACSHA256.HashData(TKey, secret, keySeed);

        Span<byte> authInput = stackalloc byte[32 + SuffixLength + 6];
        HMACSHA256.HashData(TVerify, secret, authInput[..32]);
        suffix.CopyTo(authInput[32..]);
        "Server"u8.CopyTo(authInput[(32 + SuffixLength)..]);
        HMACSHA256.HashData(TMac, authInput, auth);
        CryptographicOperations.ZeroMemory(authInput);
    }

    /// <summary>Expands KEY_SEED into <paramref name="okm"/> (obfs4 takes 144 bytes).</summary>
    public static void Kdf(ReadOnlySpan<byte> keySeed, Span<byte> okm) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, keySeed, okm, TKey, MExpand);
}
