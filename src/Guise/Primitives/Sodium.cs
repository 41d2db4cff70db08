using System.Runtime.InteropServices;

namespace Guise.Primitives;

/// <summary>
/// The few libsodium entry points Guise needs. The native library comes with NSec's
/// <c>libsodium</c> package, so nothing extra ships; calling it directly keeps the hot path
/// (secretbox, SipHash) free of wrapper allocations.
/// </summary>
internal static unsafe partial class Sodium
{
    private const string Lib = "libsodium";

    public const int SecretBoxKeyBytes = 32;
    public const int SecretBoxNonceBytes = 24;
    public const int SecretBoxMacBytes = 16;

    static Sodium()
    {
        // sodium_init is idempotent and thread-safe; 1 means "already initialised".
        if (sodium_init() < 0)
            throw new InvalidOperationException("libsodium failed to initialise");
    }

    /// <summary>Forces the static constructor (and so sodium_init) to run.</summary>
    public static void EnsureInitialized() { }

    /// <summary>X25519: <paramref name="q"/> = clamp(<paramref name="n"/>) * <paramref name="p"/>. False when the result is all zero (small-order input).</summary>
    public static bool ScalarMult(Span<byte> q, ReadOnlySpan<byte> n, ReadOnlySpan<byte> p)
    {
        Check(q, 32); Check(n, 32); Check(p, 32);
        fixed (byte* qp = q)
        fixed (byte* np = n)
        fixed (byte* pp = p)
            return crypto_scalarmult_curve25519(qp, np, pp) == 0;
    }

    /// <summary>X25519 with the standard base point (clean public key).</summary>
    public static void ScalarMultBase(Span<byte> q, ReadOnlySpan<byte> n)
    {
        Check(q, 32); Check(n, 32);
        fixed (byte* qp = q)
        fixed (byte* np = n)
            _ = crypto_scalarmult_curve25519_base(qp, np);
    }

    /// <summary>Edwards25519 n*B without clamping; <paramref name="q"/> is the compressed point.</summary>
    public static bool Ed25519BaseNoClamp(Span<byte> q, ReadOnlySpan<byte> n)
    {
        Check(q, 32); Check(n, 32);
        fixed (byte* qp = q)
        fixed (byte* np = n)
            return crypto_scalarmult_ed25519_base_noclamp(qp, np) == 0;
    }

    /// <summary>Edwards25519 point addition on compressed points (any order, but on the curve).</summary>
    public static bool Ed25519Add(Span<byte> r, ReadOnlySpan<byte> p, ReadOnlySpan<byte> q)
    {
        Check(r, 32); Check(p, 32); Check(q, 32);
        fixed (byte* rp = r)
        fixed (byte* pp = p)
        fixed (byte* qp = q)
            return crypto_core_ed25519_add(rp, pp, qp) == 0;
    }

    /// <summary>XSalsa20-Poly1305: writes tag‖ciphertext (message length + 16) to <paramref name="c"/>.</summary>
    public static void SecretBoxSeal(Span<byte> c, ReadOnlySpan<byte> m, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        if (c.Length < m.Length + SecretBoxMacBytes)
            throw new ArgumentException("output too small", nameof(c));
        Check(nonce, SecretBoxNonceBytes); Check(key, SecretBoxKeyBytes);
        fixed (byte* cp = c)
        fixed (byte* mp = m)
        fixed (byte* np = nonce)
        fixed (byte* kp = key)
            _ = crypto_secretbox_easy(cp, mp, (ulong)m.Length, np, kp);
    }

    /// <summary>Opens tag‖ciphertext into <paramref name="m"/>; false when the tag does not verify.</summary>
    public static bool SecretBoxOpen(Span<byte> m, ReadOnlySpan<byte> c, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        if (c.Length < SecretBoxMacBytes || m.Length < c.Length - SecretBoxMacBytes)
            throw new ArgumentException("bad secretbox lengths");
        Check(nonce, SecretBoxNonceBytes); Check(key, SecretBoxKeyBytes);
        fixed (byte* mp = m)
        fixed (byte* cp = c)
        fixed (byte* np = nonce)
        fixed (byte* kp = key)
            return crypto_secretbox_open_easy(mp, cp, (ulong)c.Length, np, kp) == 0;
    }

    /// <summary>SipHash-2-4 with a 16-byte key; the 8-byte digest is little-endian, as in dchest/siphash's Sum.</summary>
    public static void SipHash24(Span<byte> output, ReadOnlySpan<byte> input, ReadOnlySpan<byte> key)
    {
        Check(output, 8); Check(key, 16);
        fixed (byte* op = output)
        fixed (byte* ip = input)
        fixed (byte* kp = key)
            _ = crypto_shorthash_siphash24(op, ip, (ulong)input.Length, kp);
    }

    /// <summary>HSalsa20: the XSalsa20 subkey for <paramref name="key"/> and the first 16 nonce bytes.</summary>
    public static void HSalsa20(Span<byte> subkey, ReadOnlySpan<byte> noncePrefix, ReadOnlySpan<byte> key)
    {
        Check(subkey, 32); Check(noncePrefix, 16); Check(key, 32);
        fixed (byte* op = subkey)
        fixed (byte* np = noncePrefix)
        fixed (byte* kp = key)
            _ = crypto_core_hsalsa20(op, np, kp, null);
    }

    /// <summary>Salsa20 keystream from block <paramref name="block"/> on, XORed into <paramref name="output"/> (may be <paramref name="input"/> itself).</summary>
    public static void Salsa20Xor(Span<byte> output, ReadOnlySpan<byte> input, ReadOnlySpan<byte> nonce, ulong block, ReadOnlySpan<byte> key)
    {
        if (output.Length < input.Length)
            throw new ArgumentException("output too small", nameof(output));
        Check(nonce, 8); Check(key, 32);
        fixed (byte* op = output)
        fixed (byte* ip = input)
        fixed (byte* np = nonce)
        fixed (byte* kp = key)
            _ = crypto_stream_salsa20_xor_ic(op, ip, (ulong)input.Length, np, block, kp);
    }

    public static void Poly1305(Span<byte> tag, ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        Check(tag, 16); Check(key, 32);
        fixed (byte* tp = tag)
        fixed (byte* mp = message)
        fixed (byte* kp = key)
            _ = crypto_onetimeauth_poly1305(tp, mp, (ulong)message.Length, kp);
    }

    /// <summary>Constant-time check of a Poly1305 tag.</summary>
    public static bool Poly1305Verify(ReadOnlySpan<byte> tag, ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        Check(tag, 16); Check(key, 32);
        fixed (byte* tp = tag)
        fixed (byte* mp = message)
        fixed (byte* kp = key)
            return crypto_onetimeauth_poly1305_verify(tp, mp, (ulong)message.Length, kp) == 0;
    }

    private static void Check(ReadOnlySpan<byte> span, int length)
    {
        if (span.Length != length)
            throw new ArgumentException($"expected {length} bytes, got {span.Length}");
    }

    [LibraryImport(Lib)]
    private static partial int sodium_init();

    [LibraryImport(Lib)]
    private static partial int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);

    [LibraryImport(Lib)]
    private static partial int crypto_scalarmult_curve25519_base(byte* q, byte* n);

    [LibraryImport(Lib)]
    private static partial int crypto_scalarmult_ed25519_base_noclamp(byte* q, byte* n);

    [LibraryImport(Lib)]
    private static partial int crypto_core_ed25519_add(byte* r, byte* p, byte* q);

    [LibraryImport(Lib)]
    private static partial int crypto_secretbox_easy(byte* c, byte* m, ulong mlen, byte* n, byte* k);

    [LibraryImport(Lib)]
    private static partial int crypto_secretbox_open_easy(byte* m, byte* c, ulong clen, byte* n, byte* k);

    [LibraryImport(Lib)]
    private static partial int crypto_core_hsalsa20(byte* output, byte* input, byte* k, byte* c);

    [LibraryImport(Lib)]
    private static partial int crypto_stream_salsa20_xor_ic(byte* c, byte* m, ulong mlen, byte* n, ulong ic, byte* k);

    [LibraryImport(Lib)]
    private static partial int crypto_onetimeauth_poly1305(byte* output, byte* input, ulong inlen, byte* k);

    [LibraryImport(Lib)]
    private static partial int crypto_onetimeauth_poly1305_verify(byte* h, byte* input, ulong inlen, byte* k);

    [LibraryImport(Lib)]
    private static partial int crypto_shorthash_siphash24(byte* output, byte* input, ulong inlen, byte* k);
}
