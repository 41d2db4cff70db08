using System.Buffers.Binary;
using Guise.Primitives;

namespace Guise.Tests.Primitives;

/// <summary>The prefixed box against libsodium's crypto_secretbox_easy, byte for byte.</summary>
public class PrefixedSecretBoxTests
{
    // Around the 32 bytes that share block 0 with the Poly1305 key, block edges, and obfs4's sizes.
    private static readonly int[] Lengths = [0, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 500, 1430, 1432, 1448, 4096];

    private static (byte[] Key, byte[] Prefix) RandomKey(Random rng)
    {
        var key = new byte[32];
        var prefix = new byte[16];
        rng.NextBytes(key);
        rng.NextBytes(prefix);
        return (key, prefix);
    }

    private static byte[] Nonce(byte[] prefix, ulong counter)
    {
        var nonce = new byte[24];
        prefix.CopyTo(nonce, 0);
        BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(16), counter);
        return nonce;
    }

    [Fact]
    public void Sealing_in_place_gives_the_bytes_of_crypto_secretbox_easy()
    {
        var rng = new Random(1448);
        foreach (var length in Lengths)
        {
            var (key, prefix) = RandomKey(rng);
            var box = new PrefixedSecretBox(key, prefix);
            foreach (var counter in new ulong[] { 1, 2, 0x0102030405060708, ulong.MaxValue })
            {
                var message = new byte[length];
                rng.NextBytes(message);
                var expected = new byte[length + 16];
                Sodium.SecretBoxSeal(expected, message, Nonce(prefix, counter), key);

                var frame = new byte[16 + length];
                message.CopyTo(frame, 16);
                box.SealInPlace(frame.AsSpan(0, 16), frame.AsSpan(16), counter);
                Assert.Equal(expected, frame);
            }
        }
    }

    [Fact]
    public void Opening_recovers_what_crypto_secretbox_easy_sealed_in_place_or_into_another_buffer()
    {
        var rng = new Random(2);
        foreach (var length in Lengths)
        {
            var (key, prefix) = RandomKey(rng);
            var box = new PrefixedSecretBox(key, prefix);
            var message = new byte[length];
            rng.NextBytes(message);
            var sealedBox = new byte[length + 16];
            Sodium.SecretBoxSeal(sealedBox, message, Nonce(prefix, 7), key);

            var elsewhere = new byte[length];
            Assert.True(box.Open(sealedBox.AsSpan(0, 16), sealedBox.AsSpan(16), elsewhere, 7));
            Assert.Equal(message, elsewhere);

            Assert.True(box.Open(sealedBox.AsSpan(0, 16), sealedBox.AsSpan(16), sealedBox.AsSpan(16), 7));
            Assert.Equal(message, sealedBox[16..]);
        }
    }

    [Fact]
    public void A_flipped_bit_anywhere_or_the_wrong_counter_fails_and_leaves_the_output_untouched()
    {
        var rng = new Random(3);
        var (key, prefix) = RandomKey(rng);
        var box = new PrefixedSecretBox(key, prefix);
        var message = new byte[100];
        rng.NextBytes(message);
        var sealedBox = new byte[116];
        Sodium.SecretBoxSeal(sealedBox, message, Nonce(prefix, 9), key);

        for (var i = 0; i < sealedBox.Length; i++)
        {
            var tampered = (byte[])sealedBox.Clone();
            tampered[i] ^= (byte)(1 << (i % 8));
            var output = new byte[100];
            Assert.False(box.Open(tampered.AsSpan(0, 16), tampered.AsSpan(16), output, 9));
            Assert.All(output, b => Assert.Equal(0, b));
        }
        Assert.False(box.Open(sealedBox.AsSpan(0, 16), sealedBox.AsSpan(16), new byte[100], 10));
    }

    [Fact]
    public void An_output_that_starts_inside_the_ciphertext_is_refused()
    {
        var rng = new Random(4);
        var (key, prefix) = RandomKey(rng);
        var box = new PrefixedSecretBox(key, prefix);
        var buffer = new byte[16 + 100 + 4];
        Sodium.SecretBoxSeal(buffer.AsSpan(0, 116), new byte[100], Nonce(prefix, 1), key);
        Assert.Throws<ArgumentException>(() => box.Open(buffer.AsSpan(0, 16), buffer.AsSpan(16, 100), buffer.AsSpan(20, 100), 1));
        Assert.Throws<ArgumentException>(() => box.SealInPlace(buffer.AsSpan(10, 16), buffer.AsSpan(16, 100), 1));
    }
}
