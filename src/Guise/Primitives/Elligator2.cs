using System.Security.Cryptography;

namespace Guise.Primitives;

/// <summary>
/// Obfuscated X25519 keys as obfs4proxy 0.0.14 makes them (internal/x25519ell2):
/// <list type="bullet">
/// <item>The public key is "dirty": the clamped scalar times the Edwards base point, plus one of the
/// eight low-order points chosen by the low 3 bits of the unclamped private key, converted to
/// Montgomery u. X25519 with a clamped scalar (a multiple of 8) kills the low-order part, so the
/// shared secret is unchanged, but the representatives now cover the whole curve rather than the
/// prime-order subgroup only, which is what made ≤0.0.11 representatives distinguishable.</item>
/// <item>The representative r = sqrt(-u / (2(u+A))) or sqrt(-(u+A) / (2u)) (tweak bit 0 picks),
/// the non-negative root, encoded in 254 bits; the top two bits are random (tweak bits 6 and 7).</item>
/// <item>Decoding masks the top two bits and applies the direct map.</item>
/// </list>
/// </summary>
public static class Elligator2
{
    private static readonly Fe A = Fe.FromUInt64(486662);
    private static readonly Fe NegTwo = Fe.Negate(Fe.FromUInt64(2));
    private static readonly Fe ASquared = Fe.FromUInt64(486662UL * 486662UL);
    private static readonly Fe NegA = Fe.Negate(A);

    // sqrt(-1) * sqrt(A+2) / ... constants of the direct map, as in edwards25519-extra/internal/montgomery.
    private static readonly Fe UFactor = Fe.FromBytes(Convert.FromHexString("8dbee26bb1c923760e37a0a5f2cf79a1b1500884cdfe65a9e9417c60ffb6f928"));

    // Low-order point: x = sqrt((sqrt(d+1)+1)/d), y = -x*sqrt(-1).
    private static readonly Fe LopX = Fe.FromBytes(Convert.FromHexString("4ad145c54646a1de38e2e513703c195cbb4ade38329933e9284a3906a0b9d51f"));
    private static readonly Fe LopY = Fe.FromBytes(Convert.FromHexString("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"));

    /// <summary>
    /// Computes the dirty public key and the representative for a 32-byte private key (the full
    /// entropy, not clamped) and a random tweak byte. False for about half of all keys: then there
    /// is no representative and the caller must draw a new key.
    /// </summary>
    public static bool TryScalarBaseMult(ReadOnlySpan<byte> privateKey, byte tweak, Span<byte> publicKey, Span<byte> representative)
    {
        if (privateKey.Length != 32 || publicKey.Length != 32 || representative.Length != 32)
            throw new ArgumentException("keys are 32 bytes");
        var (n, d) = DirtyPublicRatio(privateKey);
        if (!TryRatioToRepresentative(n, d, tweak, representative, out var inverseD))
            return false;
        Fe.Mul(n, inverseD).ToBytes(publicKey);
        return true;
    }

    private static readonly Fe EdwardsD = Fe.Mul(Fe.Negate(Fe.FromUInt64(121665)), Fe.Invert(Fe.FromUInt64(121666)));

    /// <summary>
    /// The Montgomery u of clamp(k)*B + L[k[0] &amp; 7] as a fraction N/D, without an inversion.
    /// libsodium multiplies (its point comes back compressed); the low-order point is added here
    /// in affine Edwards coordinates, after one square root to recover x:
    /// y3 = (y1 y2 + x1 x2) / (1 - d x1 x2 y1 y2), and u = (1 + y3) / (1 - y3) = (den + num) / (den - num).
    /// </summary>
    internal static (Fe N, Fe D) DirtyPublicRatio(ReadOnlySpan<byte> privateKey)
    {
        Span<byte> point = stackalloc byte[32];
        try
        {
            ClampedBaseMult(privateKey, point);

            // Decompress: x^2 = (y^2 - 1) / (d y^2 + 1), x's sign in bit 255.
            var xSign = point[31] >> 7;
            point[31] &= 127;
            var y1 = Fe.FromBytes(point);
            var yy = Fe.Square(y1);
            var x1 = Fe.SqrtRatio(Fe.Sub(yy, Fe.One), Fe.Add(Fe.Mul(EdwardsD, yy), Fe.One), out var onCurve);
            if (onCurve == 0)
                throw new CryptographicException("ed25519 base multiplication gave a point off the curve");
            x1 = Fe.Select(Fe.Negate(x1), x1, xSign ^ x1.IsNegative());

            var c = privateKey[0];
            var x2 = SelectLowOrder(LopX, Fe.SqrtM1, c);
            var y2 = SelectLowOrder(LopY, Fe.One, (byte)(c + 2));

            var xx = Fe.Mul(x1, x2);
            var num = Fe.Add(Fe.Mul(y1, y2), xx);
            var den = Fe.Sub(Fe.One, Fe.Mul(EdwardsD, Fe.Mul(xx, Fe.Mul(y1, y2))));
            return (Fe.Add(den, num), Fe.Sub(den, num));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(point);
        }
    }

    /// <summary>clamp(k)*B, compressed, by libsodium.</summary>
    private static void ClampedBaseMult(ReadOnlySpan<byte> privateKey, Span<byte> point)
    {
        Span<byte> scalar = stackalloc byte[32];
        try
        {
            privateKey.CopyTo(scalar);
            scalar[0] &= 248;
            scalar[31] &= 127;
            scalar[31] |= 64;
            if (!Sodium.Ed25519BaseNoClamp(point, scalar))
                throw new CryptographicException("ed25519 base multiplication failed");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scalar);
        }
    }

    /// <summary>
    /// The same u by libsodium's point addition (both points compressed), then (1+y)/(1-y): the
    /// straightforward construction, kept as the reference the tests hold <see cref="DirtyPublicRatio"/> to.
    /// </summary>
    internal static Fe DirtyPublicUBySodiumAddition(ReadOnlySpan<byte> privateKey)
    {
        Span<byte> point = stackalloc byte[32];
        Span<byte> lop = stackalloc byte[32];
        try
        {
            ClampedBaseMult(privateKey, point);

            var c = privateKey[0];
            var x = SelectLowOrder(LopX, Fe.SqrtM1, c);
            var y = SelectLowOrder(LopY, Fe.One, (byte)(c + 2));
            y.ToBytes(lop);
            lop[31] |= (byte)(x.IsNegative() << 7);
            if (!Sodium.Ed25519Add(point, point, lop))
                throw new CryptographicException("ed25519 point addition failed");

            // Compressed Edwards is y with the sign of x in bit 255; Montgomery u ignores the sign.
            point[31] &= 127;
            var ey = Fe.FromBytes(point);
            return Fe.Mul(Fe.Add(Fe.One, ey), Fe.Invert(Fe.Sub(Fe.One, ey)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(point);
        }
    }

    // Bit 1 picks k, bit 0 picks x (over k), bit 2 negates: this walks the eight points of order
    // dividing 8 when applied to (x, y) with bytes c and c+2.
    private static Fe SelectLowOrder(in Fe x, in Fe k, byte cofactor)
    {
        var o = Fe.Select(k, Fe.Zero, (cofactor >> 1) & 1);
        o = Fe.Select(x, o, cofactor & 1);
        return Fe.Select(Fe.Negate(o), o, (cofactor >> 2) & 1);
    }

    internal static bool TryUToRepresentative(in Fe u, byte tweak, Span<byte> representative) =>
        TryRatioToRepresentative(u, Fe.One, tweak, representative, out _);

    /// <summary>
    /// The representative of u = n/d, and 1/d for the public key, from one square root.
    /// With u = n/d, -2u(u+A) = -2n(n+Ad)/d^2 = t/d^2 for t = -2n(n+Ad), and
    /// r = u / sqrt(-2u(u+A)) = n / sqrt(t) up to sign (likewise (u+A) for tweak bit 0); the sign
    /// is fixed at the end either way. t is square exactly when t d^2 is (d is never 0 here: that
    /// would be the identity, and no key hits it), and w = 1/sqrt(t d^2) gives both
    /// 1/sqrt(t) = w d and 1/d = w^2 t d, so the kept keys need no separate inversion.
    /// </summary>
    internal static bool TryRatioToRepresentative(in Fe n, in Fe d, byte tweak, Span<byte> representative, out Fe inverseD)
    {
        var t1 = n;
        var t2 = Fe.Add(t1, Fe.Mul(A, d));
        var t = Fe.Mul(Fe.Mul(t1, t2), NegTwo);
        var w = Fe.SqrtRatio(Fe.One, Fe.Mul(t, Fe.Square(d)), out var isSquare);
        if (isSquare == 0)
        {
            inverseD = Fe.Zero;
            return false;
        }
        inverseD = Fe.Mul(Fe.Mul(Fe.Square(w), t), d);
        var t3 = Fe.Mul(w, d);
        t1 = Fe.Select(t2, t1, tweak & 1);
        t3 = Fe.Mul(t1, t3);
        t1 = Fe.Add(t3, t3);
        t2 = Fe.Negate(t3);
        t3 = Fe.Select(t2, t3, t1.IsNegative());
        t3.ToBytes(representative);
        representative[31] |= (byte)(tweak & 0xc0);
        return true;
    }

    /// <summary>Maps a representative (top two bits ignored) to the Montgomery u it stands for.</summary>
    public static void RepresentativeToPublicKey(ReadOnlySpan<byte> representative, Span<byte> publicKey)
    {
        if (representative.Length != 32 || publicKey.Length != 32)
            throw new ArgumentException("keys are 32 bytes");
        Span<byte> clamped = stackalloc byte[32];
        representative.CopyTo(clamped);
        clamped[31] &= 63;
        MapToU(Fe.FromBytes(clamped)).ToBytes(publicKey);
    }

    // Elligator2 direct map, Monocypher-style (as edwards25519-extra's MontgomeryFlavor, u only).
    internal static Fe MapToU(in Fe r)
    {
        var t1 = Fe.Add(Fe.Square(r), Fe.Square(r)); // 2r^2
        var u = Fe.Add(t1, Fe.One);
        var t2 = Fe.Square(u);
        var t3 = Fe.Mul(Fe.Sub(Fe.Mul(ASquared, t1), t2), A);
        t1 = Fe.Mul(Fe.Mul(t2, u), t3);
        t1 = Fe.SqrtRatio(Fe.One, t1, out var isSquare);
        u = Fe.Mul(Fe.Square(r), UFactor);
        u = Fe.Select(Fe.One, u, isSquare);
        t1 = Fe.Square(t1);
        u = Fe.Mul(Fe.Mul(Fe.Mul(Fe.Mul(u, NegA), t3), t2), t1);
        return u;
    }

    /// <summary>
    /// Draws private keys from <paramref name="random"/> until one has a representative, as
    /// ntor.NewKeypair(true) does: raw 32 bytes → SHA-512 → private = digest[0..32], tweak = digest[63].
    /// </summary>
    public static void GenerateKeypair(Action<Span<byte>> random, Span<byte> privateKey, Span<byte> publicKey, Span<byte> representative)
    {
        Span<byte> raw = stackalloc byte[32];
        Span<byte> digest = stackalloc byte[64];
        try
        {
            while (true)
            {
                random(raw);
                SHA512.HashData(raw, digest);
                digest[..32].CopyTo(privateKey);
                if (TryScalarBaseMult(privateKey, digest[63], publicKey, representative))
                    return;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
            CryptographicOperations.ZeroMemory(digest);
        }
    }
}
