using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>Raw limbs, for tests that push the arithmetic to its bounds; each must be below 2^52.</summary>
    internal static Fe FromLimbs(ulong l0, ulong l1, ulong l2, ulong l3, ulong l4)
    {
        if (((l0 | l1 | l2 | l3 | l4) >> 52) != 0)
            throw new ArgumentOutOfRangeException(nameof(l0), "limbs must be below 2^52");
        return new Fe { _l0 = l0, _l1 = l1, _l2 = l2, _l3 = l3, _l4 = l4 };
    }

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

    // Products are accumulated as (lo, hi) pairs with MULX (high) + IMUL (low) and an
    // explicit carry: UInt128's operators are not inlined by the JIT, which made the old Mul
    // ~120 ns. With limbs below 2^52 and the 19 (or 38) folded into one factor, every product is
    // below 2^109 and a sum of five below 2^112, so hi never overflows. The carry is a SETB
    // (a bool reinterpreted as a byte), never a branch, so timing does not depend on the limbs.

    // The high half of a 64x64 product, register to register. Math.BigMul's "out low" makes the
    // JIT spill every product through the stack; the low half is a plain (wrapping) multiply.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MulHigh(ulong a, ulong b)
    {
        if (Bmi2.X64.IsSupported)
            return Bmi2.X64.MultiplyNoFlags(a, b);
        if (ArmBase.Arm64.IsSupported)
            return ArmBase.Arm64.MultiplyHigh(a, b);
        return MulHighPortable(a, b);
    }

    // NativeAOT compiles for the x86-64 baseline, which has no MULX, and there Math.BigMul
    // becomes a call to its software fallback that is not inlined (a tenth of an obfs4
    // handshake's CPU in perf). Four 32x32 products, inlined, cost less.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong MulHighPortable(ulong a, ulong b)
    {
        ulong aLo = (uint)a, aHi = a >> 32, bLo = (uint)b, bHi = b >> 32;
        ulong lh = aLo * bHi, hl = aHi * bLo;
        var mid = ((aLo * bLo) >> 32) + (uint)lh + (uint)hl;
        return (aHi * bHi) + (lh >> 32) + (hl >> 32) + (mid >> 32);
    }

    /// <summary>A 128-bit column sum as two registers (a two-ulong struct the JIT promotes).</summary>
    private struct Wide128
    {
        public ulong Lo;
        public ulong Hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Wide128 M(ulong a, ulong b) => new() { Lo = a * b, Hi = MulHigh(a, b) };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Wide128 Sum(Wide128 x, Wide128 y)
    {
        var lo = x.Lo + y.Lo;
        return new() { Lo = lo, Hi = x.Hi + y.Hi + Unsafe.BitCast<bool, byte>(lo < y.Lo) };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Wide128 Sum(Wide128 x, Wide128 y, Wide128 z) => Sum(Sum(x, y), z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Wide128 Sum(Wide128 x, Wide128 y, Wide128 z, Wide128 v, Wide128 w) => Sum(Sum(Sum(Sum(x, y), z), v), w);

    public static Fe Mul(in Fe a, in Fe b)
    {
        ulong a0 = a._l0, a1 = a._l1, a2 = a._l2, a3 = a._l3, a4 = a._l4;
        ulong b0 = b._l0, b1 = b._l1, b2 = b._l2, b3 = b._l3, b4 = b._l4;
        ulong b1x = b1 * 19, b2x = b2 * 19, b3x = b3 * 19, b4x = b4 * 19;

        var r0 = Sum(M(a0, b0), M(a1, b4x), M(a2, b3x), M(a3, b2x), M(a4, b1x));
        var r1 = Sum(M(a0, b1), M(a1, b0), M(a2, b4x), M(a3, b3x), M(a4, b2x));
        var r2 = Sum(M(a0, b2), M(a1, b1), M(a2, b0), M(a3, b4x), M(a4, b3x));
        var r3 = Sum(M(a0, b3), M(a1, b2), M(a2, b1), M(a3, b0), M(a4, b4x));
        var r4 = Sum(M(a0, b4), M(a1, b3), M(a2, b2), M(a3, b1), M(a4, b0));
        return Wide(r0, r1, r2, r3, r4);
    }

    /// <summary>a^2 with 15 products instead of 25 (the cross terms are doubled once).</summary>
    public static Fe Square(in Fe a)
    {
        ulong a0 = a._l0, a1 = a._l1, a2 = a._l2, a3 = a._l3, a4 = a._l4;
        ulong a0d = a0 * 2, a1d = a1 * 2;
        ulong a1x = a1 * 38, a2x = a2 * 38, a3x = a3 * 38;
        ulong a3y = a3 * 19, a4y = a4 * 19;

        var r0 = Sum(M(a0, a0), M(a1x, a4), M(a2x, a3));   // a0^2 + 2*19*(a1*a4 + a2*a3)
        var r1 = Sum(M(a0d, a1), M(a2x, a4), M(a3y, a3));  // 2*a0*a1 + 2*19*a2*a4 + 19*a3^2
        var r2 = Sum(M(a0d, a2), M(a1, a1), M(a3x, a4));   // 2*a0*a2 + a1^2 + 2*19*a3*a4
        var r3 = Sum(M(a0d, a3), M(a1d, a2), M(a4y, a4));  // 2*a0*a3 + 2*a1*a2 + 19*a4^2
        var r4 = Sum(M(a0d, a4), M(a1d, a3), M(a2, a2));   // 2*a0*a4 + 2*a1*a3 + a2^2
        return Wide(r0, r1, r2, r3, r4);
    }

    // Splits each 128-bit column at bit 51, moves the high part one limb up (the top one wraps
    // around times 19), then one carry pass: limbs end below 2^52.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Fe Wide(Wide128 r0, Wide128 r1, Wide128 r2, Wide128 r3, Wide128 r4)
    {
        var c0 = (r0.Hi << 13) | (r0.Lo >> 51);
        var c1 = (r1.Hi << 13) | (r1.Lo >> 51);
        var c2 = (r2.Hi << 13) | (r2.Lo >> 51);
        var c3 = (r3.Hi << 13) | (r3.Lo >> 51);
        var c4 = (r4.Hi << 13) | (r4.Lo >> 51);
        return new Fe
        {
            _l0 = (r0.Lo & Mask51) + c4 * 19,
            _l1 = (r1.Lo & Mask51) + c0,
            _l2 = (r2.Lo & Mask51) + c1,
            _l3 = (r3.Lo & Mask51) + c2,
            _l4 = (r4.Lo & Mask51) + c3,
        }.Carried();
    }

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
