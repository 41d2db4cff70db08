using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Guise.Primitives;

/// <summary>
/// An element of GF(2^255-19) in five 51-bit limbs. Exists because Elligator2 needs field
/// arithmetic that no .NET library exposes. Every operation is branch-free on secret data;
/// limbs are kept below 2^52 after each operation so that products fit in 128 bits.
/// Encoding: 32 bytes little-endian; decoding ignores bit 255 and accepts non-canonical values
/// (as filippo.io/edwards25519/field does), encoding is always canonical.
/// </summary>
internal struct Fe
{
    private const ulong Mask51 = (1UL << 51) - 1;

    private ulong _l0, _l1, _l2, _l3, _l4;

    public static Fe Zero => default;

    public static Fe One => new() { _l0 = 1 };

    public static Fe FromUInt64(ulong x) => new() { _l0 = x & Mask51, _l1 = x >> 51 };

    public static Fe FromBytes(ReadOnlySpan<byte> b)
    {
        if (b.Length != 32)
            throw new ArgumentException("field element must be 32 bytes", nameof(b));
        return new Fe
        {
            _l0 = BinaryPrimitives.ReadUInt64LittleEndian(b) & Mask51,
            _l1 = (BinaryPrimitives.ReadUInt64LittleEndian(b[6..]) >> 3) & Mask51,
            _l2 = (BinaryPrimitives.ReadUInt64LittleEndian(b[12..]) >> 6) & Mask51,
            _l3 = (BinaryPrimitives.ReadUInt64LittleEndian(b[19..]) >> 1) & Mask51,
            _l4 = (BinaryPrimitives.ReadUInt64LittleEndian(b[24..]) >> 12) & Mask51,
        };
    }

    public readonly void ToBytes(Span<byte> output)
    {
        if (output.Length < 32)
            throw new ArgumentException("need 32 bytes", nameof(output));
        var v = Reduced();
        BinaryPrimitives.WriteUInt64LittleEndian(output, v._l0 | (v._l1 << 51));
        BinaryPrimitives.WriteUInt64LittleEndian(output[8..], (v._l1 >> 13) | (v._l2 << 38));
        BinaryPrimitives.WriteUInt64LittleEndian(output[16..], (v._l2 >> 26) | (v._l3 << 25));
        BinaryPrimitives.WriteUInt64LittleEndian(output[24..], (v._l3 >> 39) | (v._l4 << 12));
    }

    /// <summary>The "sign" of RFC 8032 / ristretto: the low bit of the canonical encoding.</summary>
    public readonly int IsNegative() => (int)(Reduced()._l0 & 1);

    public readonly int IsZero() => Equal(this, Zero);

    /// <summary>1 when equal, 0 otherwise (compares canonical forms without branching).</summary>
    public static int Equal(in Fe a, in Fe b)
    {
        var x = a.Reduced();
        var y = b.Reduced();
        var d = (x._l0 ^ y._l0) | (x._l1 ^ y._l1) | (x._l2 ^ y._l2) | (x._l3 ^ y._l3) | (x._l4 ^ y._l4);
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
        };
    }

    public static Fe Add(in Fe a, in Fe b) => new Fe
    {
        _l0 = a._l0 + b._l0,
        _l1 = a._l1 + b._l1,
        _l2 = a._l2 + b._l2,
        _l3 = a._l3 + b._l3,
        _l4 = a._l4 + b._l4,
    }.Carried();

    public static Fe Sub(in Fe a, in Fe b) => new Fe
    {
        // Add 2p first so that no limb underflows (inputs are below 2^52).
        _l0 = (a._l0 + 0xFFFFFFFFFFFDAUL * 2) - b._l0,
        _l1 = (a._l1 + 0xFFFFFFFFFFFFEUL * 2) - b._l1,
        _l2 = (a._l2 + 0xFFFFFFFFFFFFEUL * 2) - b._l2,
        _l3 = (a._l3 + 0xFFFFFFFFFFFFEUL * 2) - b._l3,
        _l4 = (a._l4 + 0xFFFFFFFFFFFFEUL * 2) - b._l4,
    }.Carried();

    public static Fe Negate(in Fe a) => Sub(Zero, a);

    /// <summary>|a|: a or -a, whichever has a zero sign bit.</summary>
    public static Fe Absolute(in Fe a) => Select(Negate(a), a, a.IsNegative());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static UInt128 M(ulong a, ulong b) => (UInt128)a * b;

    public static Fe Mul(in Fe a, in Fe b)
    {
        ulong a0 = a._l0, a1 = a._l1, a2 = a._l2, a3 = a._l3, a4 = a._l4;
        ulong b0 = b._l0, b1 = b._l1, b2 = b._l2, b3 = b._l3, b4 = b._l4;
        ulong b1x = b1 * 19, b2x = b2 * 19, b3x = b3 * 19, b4x = b4 * 19;

        var r0 = M(a0, b0) + M(a1, b4x) + M(a2, b3x) + M(a3, b2x) + M(a4, b1x);
        var r1 = M(a0, b1) + M(a1, b0) + M(a2, b4x) + M(a3, b3x) + M(a4, b2x);
        var r2 = M(a0, b2) + M(a1, b1) + M(a2, b0) + M(a3, b4x) + M(a4, b3x);
        var r3 = M(a0, b3) + M(a1, b2) + M(a2, b1) + M(a3, b0) + M(a4, b4x);
        var r4 = M(a0, b4) + M(a1, b3) + M(a2, b2) + M(a3, b1) + M(a4, b0);
        return Wide(r0, r1, r2, r3, r4);
    }

    public static Fe Square(in Fe a) => Mul(a, a);

    private static Fe Wide(UInt128 r0, UInt128 r1, UInt128 r2, UInt128 r3, UInt128 r4)
    {
        r1 += (ulong)(r0 >> 51);
        r2 += (ulong)(r1 >> 51);
        r3 += (ulong)(r2 >> 51);
        r4 += (ulong)(r3 >> 51);
        var c = (ulong)(r4 >> 51);
        return new Fe
        {
            _l0 = ((ulong)r0 & Mask51) + c * 19,
            _l1 = (ulong)r1 & Mask51,
            _l2 = (ulong)r2 & Mask51,
            _l3 = (ulong)r3 & Mask51,
            _l4 = (ulong)r4 & Mask51,
        }.Carried();
    }

    public static Fe MulSmall(in Fe a, uint k) => Mul(a, FromUInt64(k));

    private readonly Fe Carried()
    {
        ulong c0 = _l0 >> 51, c1 = _l1 >> 51, c2 = _l2 >> 51, c3 = _l3 >> 51, c4 = _l4 >> 51;
        return new Fe
        {
            _l0 = (_l0 & Mask51) + c4 * 19,
            _l1 = (_l1 & Mask51) + c0,
            _l2 = (_l2 & Mask51) + c1,
            _l3 = (_l3 & Mask51) + c2,
            _l4 = (_l4 & Mask51) + c3,
        };
    }

    /// <summary>The unique representative below p.</summary>
    private readonly Fe Reduced()
    {
        var v = Carried();
        // v < 2^255 + small; adding 19 overflows 2^255 exactly when v >= p.
        var c = (v._l0 + 19) >> 51;
        c = (v._l1 + c) >> 51;
        c = (v._l2 + c) >> 51;
        c = (v._l3 + c) >> 51;
        c = (v._l4 + c) >> 51;
        v._l0 += 19 * c;
        v._l1 += v._l0 >> 51; v._l0 &= Mask51;
        v._l2 += v._l1 >> 51; v._l1 &= Mask51;
        v._l3 += v._l2 >> 51; v._l2 &= Mask51;
        v._l4 += v._l3 >> 51; v._l3 &= Mask51;
        v._l4 &= Mask51;
        return v;
    }

    private static Fe SquareTimes(Fe a, int n)
    {
        for (var i = 0; i < n; i++)
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
