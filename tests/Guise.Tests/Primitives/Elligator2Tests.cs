using System.Security.Cryptography;
using Guise.Primitives;
using Guise.Tests.Obfs4;

namespace Guise.Tests.Primitives;

public class Elligator2Tests
{
    public static TheoryData<string> OkRaws => new() { "02*32", "03*32", "04*32", "05*32", "06*32" };

    private static (byte[] Priv, byte Tweak) KeyFromRaw(string raw)
    {
        var digest = SHA512.HashData(Obfs4Vectors.Raw(raw));
        return (digest[..32], digest[63]);
    }

    [Theory]
    [MemberData(nameof(OkRaws))]
    public void Keys_with_a_representative_match_obfs4proxy_0_0_14(string raw)
    {
        var after = "raw=" + raw;
        var (priv, tweak) = KeyFromRaw(raw);
        Assert.Equal(Obfs4Vectors.Get("priv", after), Convert.ToHexStringLower(priv));
        Assert.Equal(Obfs4Vectors.Get("tweak", after), tweak.ToString("x2", null));

        var pub = new byte[32];
        var repr = new byte[32];
        Assert.True(Elligator2.TryScalarBaseMult(priv, tweak, pub, repr));
        Assert.Equal(Obfs4Vectors.Get("repr", after), Convert.ToHexStringLower(repr));
        Assert.Equal(Obfs4Vectors.Get("pubDirty", after), Convert.ToHexStringLower(pub));

        var back = new byte[32];
        Elligator2.RepresentativeToPublicKey(repr, back);
        Assert.Equal(Obfs4Vectors.Get("repr->pub", after), Convert.ToHexStringLower(back));
    }

    [Fact]
    public void A_key_without_a_representative_is_rejected_like_obfs4proxy()
    {
        var (priv, tweak) = KeyFromRaw("01*32");
        Assert.Equal("false", Obfs4Vectors.Get("ok", "raw=01*32"));
        Assert.False(Elligator2.TryScalarBaseMult(priv, tweak, new byte[32], new byte[32]));
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]
    public void The_direct_map_matches_obfs4proxy(string repr)
    {
        var u = new byte[32];
        Elligator2.RepresentativeToPublicKey(Convert.FromHexString(repr), u);
        Assert.Equal(Obfs4Vectors.Get("u", "map repr=" + repr), Convert.ToHexStringLower(u));
    }

    [Fact]
    public void The_dirty_public_key_gives_the_same_shared_secret_as_the_clean_one()
    {
        var (priv, tweak) = KeyFromRaw("02*32");
        var dirty = new byte[32];
        Assert.True(Elligator2.TryScalarBaseMult(priv, tweak, dirty, new byte[32]));
        var clean = new byte[32];
        Sodium.ScalarMultBase(clean, priv);
        Assert.NotEqual(clean, dirty);

        var other = RandomNumberGenerator.GetBytes(32);
        var viaDirty = new byte[32];
        var viaClean = new byte[32];
        Assert.True(Sodium.ScalarMult(viaDirty, other, dirty));
        Assert.True(Sodium.ScalarMult(viaClean, other, clean));
        Assert.Equal(viaClean, viaDirty);
    }

    [Fact]
    public void The_inversion_free_public_key_matches_libsodiums_point_addition_for_every_low_order_point()
    {
        // Seeded so a failure reproduces; 512 keys cover all eight low-order points many times over.
        var rng = new Random(8);
        var seen = new HashSet<int>();
        var key = new byte[32];
        for (var i = 0; i < 512; i++)
        {
            rng.NextBytes(key);
            seen.Add(key[0] & 7);
            var (n, d) = Elligator2.DirtyPublicRatio(key);
            var expected = Elligator2.DirtyPublicUBySodiumAddition(key);
            Assert.Equal(1, Fe.Equal(Fe.Mul(n, Fe.Invert(d)), expected));

            // The representative from the fraction is the representative of u itself.
            var fromRatio = new byte[32];
            var fromU = new byte[32];
            var tweak = (byte)rng.Next(256);
            var ok = Elligator2.TryRatioToRepresentative(n, d, tweak, fromRatio, out var inverseD);
            Assert.Equal(ok, Elligator2.TryUToRepresentative(expected, tweak, fromU));
            Assert.Equal(fromU, fromRatio);
            // ... and the inverse it derives from the same square root is 1/d (for kept keys).
            if (ok)
                Assert.Equal(1, Fe.Equal(Fe.Mul(inverseD, d), Fe.One));
        }
        Assert.Equal(8, seen.Count);
    }

    [Fact]
    public void Generated_keypairs_round_trip_through_their_representative()
    {
        for (var i = 0; i < 32; i++)
        {
            var priv = new byte[32];
            var pub = new byte[32];
            var repr = new byte[32];
            Elligator2.GenerateKeypair(RandomNumberGenerator.Fill, priv, pub, repr);
            var back = new byte[32];
            Elligator2.RepresentativeToPublicKey(repr, back);
            Assert.Equal(pub, back);
        }
    }

    [Fact]
    public void The_top_two_representative_bits_are_the_tweak_bits()
    {
        // Over many keys both top bits must take both values, or the representative is distinguishable.
        var seen = new bool[4];
        for (var i = 0; i < 64; i++)
        {
            var repr = new byte[32];
            Elligator2.GenerateKeypair(RandomNumberGenerator.Fill, new byte[32], new byte[32], repr);
            seen[repr[31] >> 6] = true;
        }
        Assert.All(seen, Assert.True);
    }
}
