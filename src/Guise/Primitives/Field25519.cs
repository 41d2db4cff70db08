using System.Buffers.Binary;

namespace Guise.Primitives;

/// <summary>
/// An element of GF(2^255-19) in ten limbs of alternately 26 and 25 bits (radix 2^25.5): limb k
/// sits at bit ceil(25.5 k). Exists because Elligator2 needs field arithmetic that no .NET
/// library exposes. Every operation is branch-free on secret data.
/// <para>Why this radix: every partial product is a 32x32-bit multiply into 64 bits, one IMUL
/// on any x86-64 or ARM64. Five 51-bit limbs need the high half of 64x64-bit products, which
/// NativeAOT's x86-64 baseline (no MULX) can only emulate with four multiplies each; that made
/// an Elligator2 map 2.6x slower in the shipped binary than under the JIT.</para>
/// <para>Bounds: each operation accepts limbs below 2^27 and returns them carried (even limbs
/// below 2^26, odd ones below 2^25 except limb 1, below 2^25 + 2^16), so that a sum of ten
/// products, the largest 2 * 19 * 2^27 * 2^27, stays below 2^64.</para>
/// Encoding: 32 bytes little-endian; decoding ignores bit 255 and accepts non-canonical values
/// (as filippo.io/edwards25519/field does), encoding is always canonical.
/// </summary>
internal struct Fe
{
    private const ulong Mask26 = (1UL << 26) - 1;
    private const ulong Mask25 = (1UL << 25) - 1;

    /// <summary>The largest limb value the operations accept (exclusive).</summary>
    internal const ulong LimbBound = 1UL << 27;

    private ulong _l0, _l1, _l2, _l3, _l4, _l5, _l6, _l7, _l8, _l9;

    public static Fe Zero => default;

    public static Fe One => new() { _l0 = 1 };

    /// <summary>A small constant (below 2^77).</summary>
    public static Fe FromUInt64(ulong x) => new() { _l0 = x & Mask26, _l1 = (x >> 26) & Mask25, _l2 = x >> 51 };

    /// <summary>Raw limbs, for tests that push the arithmetic to its bounds; each must be below <see cref="LimbBound"/>.</summary>
    internal static Fe FromLimbs(ReadOnlySpan<ulong> l)
    {
        if (l.Length != 10)
            throw new ArgumentException("ten limbs", nameof(l));
        foreach (var x in l)
        {
            if (x >= LimbBound)
                throw new ArgumentOutOfRangeException(nameof(l), "limbs must be below 2^27");
        }
        return new Fe { _l0 = l[0], _l1 = l[1], _l2 = l[2], _l3 = l[3], _l4 = l[4], _l5 = l[5], _l6 = l[6], _l7 = l[7], _l8 = l[8], _l9 = l[9] };
    }

    public static Fe FromBytes(ReadOnlySpan<byte> b)
    {
        if (b.Length != 32)
            throw new ArgumentException("field element must be 32 bytes", nameof(b));
        var w0 = BinaryPrimitives.ReadUInt64LittleEndian(b);
        var w1 = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        var w2 = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]);
        var w3 = BinaryPrimitives.ReadUInt64LittleEndian(b[24..]) & (ulong.MaxValue >> 1);
        return new Fe
        {
            _l0 = w0 & Mask26,
            _l1 = (w0 >> 26) & Mask25,
            _l2 = ((w0 >> 51) | (w1 << 13)) & Mask26,
            _l3 = (w1 >> 13) & Mask25,
            _l4 = w1 >> 38,
            _l5 = w2 & Mask25,
            _l6 = (w2 >> 25) & Mask26,
            _l7 = ((w2 >> 51) | (w3 << 13)) & Mask25,
            _l8 = (w3 >> 12) & Mask26,
            _l9 = w3 >> 38,
        };
    }

    public readonly void ToBytes(Span<byte> output)
    {
        if (output.Length < 32)
            throw new ArgumentException("need 32 bytes", nameof(output));
        var v = Reduced();
        BinaryPrimitives.WriteUInt64LittleEndian(output, v._l0 | (v._l1 << 26) | (v._l2 << 51));
        BinaryPrimitives.WriteUInt64LittleEndian(output[8..], (v._l2 >> 13) | (v._l3 << 13) | (v._l4 << 38));
        BinaryPrimitives.WriteUInt64LittleEndian(output[16..], v._l5 | (v._l6 << 25) | (v._l7 << 51));
        BinaryPrimitives.WriteUInt64LittleEndian(output[24..], (v._l7 >> 13) | (v._l8 << 12) | (v._l9 << 38));
    }

    /// <summary>The "sign" of RFC 8032 / ristretto: the low bit of the canonical encoding.</summary>
    public readonly int IsNegative() => (int)(Reduced()._l0 & 1);

    public readonly int IsZero() => Equal(this, Zero);

    /// <summary>1 when equal, 0 otherwise (compares canonical forms without branching).</summary>
    public static int Equal(in Fe a, in Fe b)
    {
        var x = a.Reduced();
        var y = b.Reduced();
        var d = (x._l0 ^ y._l0) | (x._l1 ^ y._l1) | (x._l2 ^ y._l2) | (x._l3 ^ y._l3) | (x._l4 ^ y._l4)
            | (x._l5 ^ y._l5) | (x._l6 ^ y._l6) | (x._l7 ^ y._l7) | (x._l8 ^ y._l8) | (x._l9 ^ y._l9);
        // d == 0 -> 1, else 0, without a branch.
        return (int)(((d | (0 - d)) >> 63) ^ 1);
    }

    /// <summary>Returns <paramref name="a"/> when <paramref name="cond"/> is 1, <paramref name="b"/> when 0.</summary>
    public static Fe Select(in Fe a, in Fe b, int cond)
    {
        var m = 0 - (ulong)(cond & 1);
        return new Fe
        {
            _l0 = (a._l0 & m) | (b._l0 & ~m),
            _l1 = (a._l1 & m) | (b._l1 & ~m),
            _l2 = (a._l2 & m) | (b._l2 & ~m),
            _l3 = (a._l3 & m) | (b._l3 & ~m),
            _l4 = (a._l4 & m) | (b._l4 & ~m),
            _l5 = (a._l5 & m) | (b._l5 & ~m),
            _l6 = (a._l6 & m) | (b._l6 & ~m),
            _l7 = (a._l7 & m) | (b._l7 & ~m),
            _l8 = (a._l8 & m) | (b._l8 & ~m),
            _l9 = (a._l9 & m) | (b._l9 & ~m),
        };
    }

    public static Fe Add(in Fe a, in Fe b) => Carry(
        a._l0 + b._l0, a._l1 + b._l1, a._l2 + b._l2, a._l3 + b._l3, a._l4 + b._l4,
        a._l5 + b._l5, a._l6 + b._l6, a._l7 + b._l7, a._l8 + b._l8, a._l9 + b._l9);

    // 8p in this radix: every limb of it exceeds the input bound 2^27 (the odd ones are
    // 2^28 - 8; 4p's would be 2^27 - 4, just short), so no limb underflows.
    private const ulong EightP0 = (Mask26 - 18) * 8, EightPEven = Mask26 * 8, EightPOdd = Mask25 * 8;

    public static Fe Sub(in Fe a, in Fe b) => Carry(
        a._l0 + EightP0 - b._l0, a._l1 + EightPOdd - b._l1, a._l2 + EightPEven - b._l2, a._l3 + EightPOdd - b._l3,
        a._l4 + EightPEven - b._l4, a._l5 + EightPOdd - b._l5, a._l6 + EightPEven - b._l6, a._l7 + EightPOdd - b._l7,
        a._l8 + EightPEven - b._l8, a._l9 + EightPOdd - b._l9);

    public static Fe Negate(in Fe a) => Sub(Zero, a);

    /// <summary>|a|: a or -a, whichever has a zero sign bit.</summary>
    public static Fe Absolute(in Fe a) => Select(Negate(a), a, a.IsNegative());

    /// <summary>
    /// f * g. The product of limbs i and j lands in limb i + j; it counts twice when both are
    /// odd (their offsets sum to half a bit more than limb i + j's: 2 * 25.5k + 1), and 19 times
    /// when i + j is 10 or more (2^255 = 19 mod p).
    /// </summary>
    public static Fe Mul(in Fe f, in Fe g)
    {
        ulong f0 = f._l0, f1 = f._l1, f2 = f._l2, f3 = f._l3, f4 = f._l4, f5 = f._l5, f6 = f._l6, f7 = f._l7, f8 = f._l8, f9 = f._l9;
        ulong g0 = g._l0, g1 = g._l1, g2 = g._l2, g3 = g._l3, g4 = g._l4, g5 = g._l5, g6 = g._l6, g7 = g._l7, g8 = g._l8, g9 = g._l9;
        ulong f1x2 = f1 * 2, f3x2 = f3 * 2, f5x2 = f5 * 2, f7x2 = f7 * 2, f9x2 = f9 * 2;
        ulong g1x19 = g1 * 19, g2x19 = g2 * 19, g3x19 = g3 * 19, g4x19 = g4 * 19, g5x19 = g5 * 19;
        ulong g6x19 = g6 * 19, g7x19 = g7 * 19, g8x19 = g8 * 19, g9x19 = g9 * 19;

        var h0 = f0 * g0 + f1x2 * g9x19 + f2 * g8x19 + f3x2 * g7x19 + f4 * g6x19
            + f5x2 * g5x19 + f6 * g4x19 + f7x2 * g3x19 + f8 * g2x19 + f9x2 * g1x19;
        var h1 = f0 * g1 + f1 * g0 + f2 * g9x19 + f3 * g8x19 + f4 * g7x19
            + f5 * g6x19 + f6 * g5x19 + f7 * g4x19 + f8 * g3x19 + f9 * g2x19;
        var h2 = f0 * g2 + f1x2 * g1 + f2 * g0 + f3x2 * g9x19 + f4 * g8x19
            + f5x2 * g7x19 + f6 * g6x19 + f7x2 * g5x19 + f8 * g4x19 + f9x2 * g3x19;
        var h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9x19
            + f5 * g8x19 + f6 * g7x19 + f7 * g6x19 + f8 * g5x19 + f9 * g4x19;
        var h4 = f0 * g4 + f1x2 * g3 + f2 * g2 + f3x2 * g1 + f4 * g0
            + f5x2 * g9x19 + f6 * g8x19 + f7x2 * g7x19 + f8 * g6x19 + f9x2 * g5x19;
        var h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1
            + f5 * g0 + f6 * g9x19 + f7 * g8x19 + f8 * g7x19 + f9 * g6x19;
        var h6 = f0 * g6 + f1x2 * g5 + f2 * g4 + f3x2 * g3 + f4 * g2
            + f5x2 * g1 + f6 * g0 + f7x2 * g9x19 + f8 * g8x19 + f9x2 * g7x19;
        var h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3
            + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9x19 + f9 * g8x19;
        var h8 = f0 * g8 + f1x2 * g7 + f2 * g6 + f3x2 * g5 + f4 * g4
            + f5x2 * g3 + f6 * g2 + f7x2 * g1 + f8 * g0 + f9x2 * g9x19;
        var h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5
            + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
        return Carry(h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
    }

    /// <summary>f^2: as <see cref="Mul"/>, with each cross product computed once and doubled.</summary>
    public static Fe Square(in Fe f)
    {
        ulong f0 = f._l0, f1 = f._l1, f2 = f._l2, f3 = f._l3, f4 = f._l4, f5 = f._l5, f6 = f._l6, f7 = f._l7, f8 = f._l8, f9 = f._l9;
        ulong f1x2 = f1 * 2, f2x2 = f2 * 2, f3x2 = f3 * 2, f4x2 = f4 * 2, f5x2 = f5 * 2, f6x2 = f6 * 2, f7x2 = f7 * 2, f8x2 = f8 * 2, f9x2 = f9 * 2;
        ulong f5x38 = f5 * 38, f6x38 = f6 * 38, f7x38 = f7 * 38, f8x38 = f8 * 38, f9x38 = f9 * 38;
        ulong f6x19 = f6 * 19, f8x19 = f8 * 19;

        var h0 = f0 * f0 + f1x2 * f9x38 + f2 * f8x38 + f3x2 * f7x38 + f4 * f6x38
            + f5 * f5x38;
        var h1 = f0 * f1x2 + f2 * f9x38 + f3 * f8x38 + f4 * f7x38 + f5 * f6x38;
        var h2 = f0 * f2x2 + f1 * f1x2 + f3x2 * f9x38 + f4 * f8x38 + f5x2 * f7x38
            + f6 * f6x19;
        var h3 = f0 * f3x2 + f1 * f2x2 + f4 * f9x38 + f5 * f8x38 + f6 * f7x38;
        var h4 = f0 * f4x2 + f1x2 * f3x2 + f2 * f2 + f5x2 * f9x38 + f6 * f8x38
            + f7 * f7x38;
        var h5 = f0 * f5x2 + f1 * f4x2 + f2 * f3x2 + f6 * f9x38 + f7 * f8x38;
        var h6 = f0 * f6x2 + f1x2 * f5x2 + f2 * f4x2 + f3 * f3x2 + f7x2 * f9x38
            + f8 * f8x19;
        var h7 = f0 * f7x2 + f1 * f6x2 + f2 * f5x2 + f3 * f4x2 + f8 * f9x38;
        var h8 = f0 * f8x2 + f1x2 * f7x2 + f2 * f6x2 + f3x2 * f5x2 + f4 * f4
            + f9 * f9x38;
        var h9 = f0 * f9x2 + f1 * f8x2 + f2 * f7x2 + f3 * f6x2 + f4 * f5x2;
        return Carry(h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
    }

    /// <summary>
    /// One carry pass up the limbs, the carry out of the top folded back times 19, then limb 0's
    /// carry into limb 1. Inputs below 2^64 leave every limb in its width except limb 1 (below
    /// 2^25 + 2^16).
    /// </summary>
    private static Fe Carry(ulong h0, ulong h1, ulong h2, ulong h3, ulong h4, ulong h5, ulong h6, ulong h7, ulong h8, ulong h9)
    {
        h1 += h0 >> 26; h0 &= Mask26;
        h2 += h1 >> 25; h1 &= Mask25;
        h3 += h2 >> 26; h2 &= Mask26;
        h4 += h3 >> 25; h3 &= Mask25;
        h5 += h4 >> 26; h4 &= Mask26;
        h6 += h5 >> 25; h5 &= Mask25;
        h7 += h6 >> 26; h6 &= Mask26;
        h8 += h7 >> 25; h7 &= Mask25;
        h9 += h8 >> 26; h8 &= Mask26;
        h0 += (h9 >> 25) * 19; h9 &= Mask25;
        h1 += h0 >> 26; h0 &= Mask26;
        return new Fe { _l0 = h0, _l1 = h1, _l2 = h2, _l3 = h3, _l4 = h4, _l5 = h5, _l6 = h6, _l7 = h7, _l8 = h8, _l9 = h9 };
    }

    /// <summary>The unique representative below p.</summary>
    private readonly Fe Reduced()
    {
        // Carried, the value is below 2^255 + 2^42 < 2p: adding 19 carries out of bit 255
        // exactly when it is at least p. Then subtract p as "add 19, drop bit 255".
        var v = Carry(_l0, _l1, _l2, _l3, _l4, _l5, _l6, _l7, _l8, _l9);
        var c = (v._l0 + 19) >> 26;
        c = (v._l1 + c) >> 25;
        c = (v._l2 + c) >> 26;
        c = (v._l3 + c) >> 25;
        c = (v._l4 + c) >> 26;
        c = (v._l5 + c) >> 25;
        c = (v._l6 + c) >> 26;
        c = (v._l7 + c) >> 25;
        c = (v._l8 + c) >> 26;
        c = (v._l9 + c) >> 25;
        v._l0 += 19 * c;
        v._l1 += v._l0 >> 26; v._l0 &= Mask26;
        v._l2 += v._l1 >> 25; v._l1 &= Mask25;
        v._l3 += v._l2 >> 26; v._l2 &= Mask26;
        v._l4 += v._l3 >> 25; v._l3 &= Mask25;
        v._l5 += v._l4 >> 26; v._l4 &= Mask26;
        v._l6 += v._l5 >> 25; v._l5 &= Mask25;
        v._l7 += v._l6 >> 26; v._l6 &= Mask26;
        v._l8 += v._l7 >> 25; v._l7 &= Mask25;
        v._l9 += v._l8 >> 26; v._l8 &= Mask26;
        v._l9 &= Mask25;
        return v;
    }

    private static Fe SquareTimes(in Fe z, int n)
    {
        var a = Square(z);
        for (var i = 1; i < n; i++)
            a = Square(a);
        return a;
    }

    /// <summary>Returns (z^(2^250-1), z^11) — the shared prefix of the inversion and square-root chains.</summary>
    private static (Fe Z250, Fe Z11) Pow250(in Fe z)
    {
        var z2 = Square(z);
        var z9 = Mul(SquareTimes(z2, 2), z);
        var z11 = Mul(z9, z2);
        var z5 = Mul(Square(z11), z9);              // 2^5 - 1
        var z10 = Mul(SquareTimes(z5, 5), z5);      // 2^10 - 1
        var z20 = Mul(SquareTimes(z10, 10), z10);   // 2^20 - 1
        var z40 = Mul(SquareTimes(z20, 20), z20);   // 2^40 - 1
        var z50 = Mul(SquareTimes(z40, 10), z10);   // 2^50 - 1
        var z100 = Mul(SquareTimes(z50, 50), z50);  // 2^100 - 1
        var z200 = Mul(SquareTimes(z100, 100), z100); // 2^200 - 1
        var z250 = Mul(SquareTimes(z200, 50), z50); // 2^250 - 1
        return (z250, z11);
    }

    /// <summary>z^(p-2); 0 maps to 0.</summary>
    public static Fe Invert(in Fe z)
    {
        var (z250, z11) = Pow250(z);
        return Mul(SquareTimes(z250, 5), z11); // 2^255 - 21
    }

    /// <summary>z^((p-5)/8) = z^(2^252-3).</summary>
    public static Fe Pow22523(in Fe z)
    {
        var (z250, _) = Pow250(z);
        return Mul(SquareTimes(z250, 2), z);
    }

    public static readonly Fe SqrtM1 = FromBytes(Convert.FromHexString("b0a00e4a271beec478e42fad0618432fa7d7fb3d99004d2b0bdfc14f8024832b"));

    /// <summary>
    /// (r, wasSquare) with r = sqrt(u/v) when u/v is square, otherwise r = sqrt(i*u/v); r is
    /// non-negative. u = 0 gives (0, 1); v = 0 with u != 0 gives (0, 0). Same contract as
    /// filippo.io/edwards25519/field.Element.SqrtRatio, which obfs4 0.0.14 uses.
    /// </summary>
    public static Fe SqrtRatio(in Fe u, in Fe v, out int wasSquare)
    {
        var v2 = Square(v);
        var uv3 = Mul(u, Mul(v2, v));
        var uv7 = Mul(uv3, Square(v2));
        var r = Mul(uv3, Pow22523(uv7));

        var check = Mul(v, Square(r));
        var uNeg = Negate(u);
        var correct = Equal(check, u);
        var flipped = Equal(check, uNeg);
        var flippedI = Equal(check, Mul(uNeg, SqrtM1));

        var rPrime = Mul(r, SqrtM1);
        r = Select(rPrime, r, flipped | flippedI);
        wasSquare = correct | flipped;
        return Absolute(r);
    }
}
