using System.Numerics;
using Guise.Primitives;

namespace Guise.Tests.Primitives;

/// <summary>
/// Property tests of GF(2^255-19) against System.Numerics.BigInteger: random inputs (seeded, so a
/// failure reproduces), encodings near and above p, and raw limbs at the 2^27 bound the
/// arithmetic is specified for.
/// </summary>
public class FieldTests
{
    private static readonly BigInteger P = (BigInteger.One << 255) - 19;
    private const ulong LimbMax = Fe.LimbBound - 1;

    // Limb k of the radix-2^25.5 representation sits at bit ceil(25.5 k).
    private static readonly int[] Offsets = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];

    private static BigInteger ToBig(in Fe a)
    {
        var b = new byte[32];
        a.ToBytes(b);
        return new BigInteger(b, isUnsigned: true);
    }

    private static BigInteger Limbs(ulong[] l) =>
        l.Select((x, k) => new BigInteger(x) << Offsets[k]).Aggregate(BigInteger.Zero, (a, b) => a + b) % P;

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

    /// <summary>Raw limb vectors: every limb at the maximum the arithmetic accepts, zero, mixed, p, random.</summary>
    public static IEnumerable<ulong[]> LimbValues(int randomCount, int seed)
    {
        yield return Enumerable.Repeat(LimbMax, 10).ToArray();
        yield return new ulong[10];
        yield return Enumerable.Range(0, 10).Select(k => k % 2 == 0 ? LimbMax : 0).ToArray();
        yield return Enumerable.Range(0, 10).Select(k => k % 2 == 1 ? LimbMax : 0).ToArray();
        yield return Enumerable.Range(0, 10).Select(k => k == 0 ? (1UL << 26) - 19 : k % 2 == 0 ? (1UL << 26) - 1 : (1UL << 25) - 1).ToArray(); // p
        var rng = new Random(seed);
        for (var i = 0; i < randomCount; i++)
        {
            var v = new ulong[10];
            for (var j = 0; j < 10; j++)
                v[j] = (ulong)rng.NextInt64() & (rng.Next(4) == 0 ? LimbMax : (1UL << (j % 2 == 0 ? 26 : 25)) - 1);
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
    public void Mul_square_add_and_sub_are_exact_for_limbs_at_the_bound()
    {
        var values = LimbValues(300, 4).ToArray();
        var rng = new Random(5);
        foreach (var x in values)
        {
            var y = values[rng.Next(values.Length)];
            var a = Fe.FromLimbs(x);
            var b = Fe.FromLimbs(y);
            var bx = Limbs(x);
            var by = Limbs(y);
            Assert.Equal(bx * by % P, ToBig(Fe.Mul(a, b)));
            Assert.Equal(bx * bx % P, ToBig(Fe.Square(a)));
            Assert.Equal((bx + by) % P, ToBig(Fe.Add(a, b)));
            Assert.Equal(((bx - by) % P + P) % P, ToBig(Fe.Sub(a, b)));
            // Results feed further products: chain a few to check the output bound holds.
            var c = Fe.Mul(Fe.Square(Fe.Mul(a, b)), Fe.Add(a, b));
            Assert.Equal(BigInteger.ModPow(bx * by, 2, P) * (bx + by) % P, ToBig(c));
        }
    }

    [Fact]
    public void Every_pair_of_edge_limb_vectors_multiplies_adds_and_subtracts_exactly()
    {
        // The fixed vectors of LimbValues (all at the bound, zero, alternating, p) in every
        // order: random pairing rarely puts zero against a vector at the bound, which is where
        // a subtraction would underflow.
        var edges = LimbValues(0, 0).ToArray();
        foreach (var x in edges)
        {
            foreach (var y in edges)
            {
                var (a, b) = (Fe.FromLimbs(x), Fe.FromLimbs(y));
                var (bx, by) = (Limbs(x), Limbs(y));
                Assert.Equal(bx * by % P, ToBig(Fe.Mul(a, b)));
                Assert.Equal((bx + by) % P, ToBig(Fe.Add(a, b)));
                Assert.Equal(((bx - by) % P + P) % P, ToBig(Fe.Sub(a, b)));
            }
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
            Assert.Equal(BigInteger.ModPow(Limbs(x), P - 2, P), ToBig(Fe.Invert(Fe.FromLimbs(x))));
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
}
