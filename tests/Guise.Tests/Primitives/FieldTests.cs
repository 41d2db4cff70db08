using System.Numerics;
using Guise.Primitives;

namespace Guise.Tests.Primitives;

/// <summary>
/// Property tests of GF(2^255-19) against System.Numerics.BigInteger: random inputs (seeded, so a
/// failure reproduces), encodings near and above p, and raw limbs at the 2^52 bound the
/// multiplication is specified for.
/// </summary>
public class FieldTests
{
    private static readonly BigInteger P = (BigInteger.One << 255) - 19;
    private const ulong LimbMax = (1UL << 52) - 1;

    private static BigInteger ToBig(in Fe a)
    {
        var b = new byte[32];
        a.ToBytes(b);
        return new BigInteger(b, isUnsigned: true);
    }

    private static BigInteger Limbs(ulong l0, ulong l1, ulong l2, ulong l3, ulong l4) =>
        (new BigInteger(l0) + (new BigInteger(l1) << 51) + (new BigInteger(l2) << 102) +
         (new BigInteger(l3) << 153) + (new BigInteger(l4) << 204)) % P;

    private static byte[] Encode(BigInteger v)
    {
        var b = new byte[32];
        Assert.True(v.TryWriteBytes(b, out _, isUnsigned: true));
        return b;
    }

    /// <summary>Encodings: 0, 1, 2, p-2, p-1, p, p+1, 2^255-1 (non-canonical ones decode mod p), random.</summary>
    public static IEnumerable<BigInteger> EncodedValues(int randomCount, int seed)
    {
        BigInteger[] edges = [0, 1, 2, 19, P - 2, P - 1, P, P + 1, P + 18, (BigInteger.One << 255) - 1, (BigInteger.One << 254), (BigInteger.One << 51) - 1, BigInteger.One << 51];
        foreach (var e in edges)
            yield return e;
        var rng = new Random(seed);
        var buf = new byte[32];
        for (var i = 0; i < randomCount; i++)
        {
            rng.NextBytes(buf);
            buf[31] &= 127;
            yield return new BigInteger(buf, isUnsigned: true);
        }
    }

    /// <summary>Raw limb vectors: every limb at the maximum the arithmetic accepts, zero, mixed, random.</summary>
    public static IEnumerable<ulong[]> LimbValues(int randomCount, int seed)
    {
        yield return [LimbMax, LimbMax, LimbMax, LimbMax, LimbMax];
        yield return [0, 0, 0, 0, 0];
        yield return [LimbMax, 0, LimbMax, 0, LimbMax];
        yield return [0, LimbMax, 0, LimbMax, 0];
        yield return [(1UL << 51) - 19, (1UL << 51) - 1, (1UL << 51) - 1, (1UL << 51) - 1, (1UL << 51) - 1]; // p
        var rng = new Random(seed);
        for (var i = 0; i < randomCount; i++)
        {
            var v = new ulong[5];
            for (var j = 0; j < 5; j++)
                v[j] = (ulong)rng.NextInt64() & (rng.Next(4) == 0 ? LimbMax : (1UL << 51) - 1);
            yield return v;
        }
    }

    [Fact]
    public void Encodings_round_trip_mod_p()
    {
        foreach (var v in EncodedValues(200, 1))
            Assert.Equal(v % P, ToBig(Fe.FromBytes(Encode(v))));
    }

    [Fact]
    public void Mul_square_add_sub_match_BigInteger_on_encoded_values()
    {
        var values = EncodedValues(150, 2).ToArray();
        var rng = new Random(3);
        foreach (var x in values)
        {
            var y = values[rng.Next(values.Length)];
            var a = Fe.FromBytes(Encode(x));
            var b = Fe.FromBytes(Encode(y));
            Assert.Equal(x * y % P, ToBig(Fe.Mul(a, b)));
            Assert.Equal(x * x % P, ToBig(Fe.Square(a)));
            Assert.Equal((x + y) % P, ToBig(Fe.Add(a, b)));
            Assert.Equal(((x - y) % P + P) % P, ToBig(Fe.Sub(a, b)));
        }
    }

    [Fact]
    public void Mul_and_square_are_exact_for_limbs_at_the_bound()
    {
        var values = LimbValues(300, 4).ToArray();
        var rng = new Random(5);
        foreach (var x in values)
        {
            var y = values[rng.Next(values.Length)];
            var a = Fe.FromLimbs(x[0], x[1], x[2], x[3], x[4]);
            var b = Fe.FromLimbs(y[0], y[1], y[2], y[3], y[4]);
            var bx = Limbs(x[0], x[1], x[2], x[3], x[4]);
            var by = Limbs(y[0], y[1], y[2], y[3], y[4]);
            Assert.Equal(bx * by % P, ToBig(Fe.Mul(a, b)));
            Assert.Equal(bx * bx % P, ToBig(Fe.Square(a)));
            // Results feed further products: chain a few to check the output bound holds.
            var c = Fe.Mul(Fe.Square(Fe.Mul(a, b)), Fe.Add(a, b));
            Assert.Equal(BigInteger.ModPow(bx * by, 2, P) * (bx + by) % P, ToBig(c));
        }
    }

    [Fact]
    public void Invert_is_the_p_minus_2_power_and_maps_zero_to_zero()
    {
        foreach (var x in EncodedValues(40, 6))
        {
            var expected = BigInteger.ModPow(x % P, P - 2, P);
            Assert.Equal(expected, ToBig(Fe.Invert(Fe.FromBytes(Encode(x)))));
        }
        foreach (var x in LimbValues(20, 7))
        {
            var bx = Limbs(x[0], x[1], x[2], x[3], x[4]);
            Assert.Equal(BigInteger.ModPow(bx, P - 2, P), ToBig(Fe.Invert(Fe.FromLimbs(x[0], x[1], x[2], x[3], x[4]))));
        }
    }

    [Fact]
    public void SqrtRatio_matches_its_contract()
    {
        var sqrtM1 = ToBig(Fe.SqrtM1);
        Assert.Equal(P - 1, sqrtM1 * sqrtM1 % P);
        var values = EncodedValues(60, 8).ToArray();
        var rng = new Random(9);
        foreach (var ux in values)
        {
            var vx = values[rng.Next(values.Length)];
            var u = ux % P;
            var v = vx % P;
            var r = ToBig(Fe.SqrtRatio(Fe.FromBytes(Encode(ux)), Fe.FromBytes(Encode(vx)), out var wasSquare));
            Assert.Equal(0, (int)(r & 1)); // the non-negative root
            if (u == 0)
            {
                Assert.Equal((1, BigInteger.Zero), (wasSquare, r));
                continue;
            }
            if (v == 0)
            {
                Assert.Equal((0, BigInteger.Zero), (wasSquare, r));
                continue;
            }
            // Euler's criterion on u/v.
            var ratio = u * BigInteger.ModPow(v, P - 2, P) % P;
            var isSquare = BigInteger.ModPow(ratio, (P - 1) / 2, P) == 1;
            Assert.Equal(isSquare ? 1 : 0, wasSquare);
            var target = isSquare ? ratio : sqrtM1 * ratio % P;
            Assert.Equal(target, r * r % P);
        }
    }

    [Fact]
    public void The_portable_high_product_matches_128_bit_multiplication()
    {
        // The path NativeAOT takes on x86-64 without MULX; the JIT here may never take it.
        ulong[] edges = [0, 1, 2, uint.MaxValue, (ulong)uint.MaxValue + 1, LimbMax, LimbMax * 38, ulong.MaxValue, ulong.MaxValue - 1, 1UL << 63];
        var rng = new Random(25519);
        var values = edges.Concat(Enumerable.Range(0, 2000).Select(_ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63))).ToArray();
        foreach (var a in values)
        {
            foreach (var b in values.Take(60))
                Assert.Equal((ulong)(((UInt128)a * b) >> 64), Fe.MulHighPortable(a, b));
        }
    }
}
