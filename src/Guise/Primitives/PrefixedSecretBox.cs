using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Guise.Primitives;

/// <summary>
/// libsodium's secretbox (XSalsa20-Poly1305) for a run of nonces that share their first 16
/// bytes, as obfs4's do (prefix | 64-bit big-endian counter): the same bytes on the wire as
/// <c>crypto_secretbox_easy</c>, built from libsodium's own pieces so that the HSalsa20 subkey
/// is derived once per direction rather than once per frame, and the ciphertext is written in
/// place of the plaintext (no move of the message). About a tenth of a 1448-byte frame's seal.
/// <code>
/// subkey    = HSalsa20(key, nonce[0..16])
/// stream    = Salsa20(subkey, nonce[16..24]), block counter from 0
/// poly key  = stream[0..32]
/// c         = m XOR stream[32..32+len]
/// tag       = Poly1305(c, poly key)            box = tag | c
/// </code>
/// </summary>
internal sealed class PrefixedSecretBox
{
    public const int TagLength = 16;

    private readonly byte[] _subkey = new byte[32];

    public PrefixedSecretBox(ReadOnlySpan<byte> key, ReadOnlySpan<byte> noncePrefix) => Sodium.HSalsa20(_subkey, noncePrefix, key);

    /// <summary>Encrypts <paramref name="data"/> where it lies and writes its tag to <paramref name="tag"/> (which must not overlap it).</summary>
    public void SealInPlace(Span<byte> tag, Span<byte> data, ulong counter)
    {
        if (tag.Length < TagLength)
            throw new ArgumentException("the tag is 16 bytes", nameof(tag));
        if (((ReadOnlySpan<byte>)tag[..TagLength]).Overlaps(data))
            throw new ArgumentException("the tag must not overlap the data", nameof(tag));
        Span<byte> nonce = stackalloc byte[8];
        Span<byte> block0 = stackalloc byte[64];
        try
        {
            FirstBlock(counter, nonce, block0);
            XorWithStream(data, data, nonce, block0);
            Sodium.Poly1305(tag[..TagLength], data, block0[..32]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(block0);
        }
    }

    /// <summary>
    /// Checks <paramref name="tag"/> over <paramref name="ciphertext"/> and only then decrypts into
    /// <paramref name="plain"/>, which is either <paramref name="ciphertext"/> itself or does not
    /// overlap it (the stream is XORed front to back; libsodium's open would move the bytes first).
    /// False: forged or corrupted, and <paramref name="plain"/> is untouched.
    /// </summary>
    public bool Open(ReadOnlySpan<byte> tag, ReadOnlySpan<byte> ciphertext, Span<byte> plain, ulong counter)
    {
        if (plain.Length < ciphertext.Length)
            throw new ArgumentException("output too small", nameof(plain));
        if (((ReadOnlySpan<byte>)plain).Overlaps(ciphertext, out var offset) && offset != 0)
            throw new ArgumentException("output must be the ciphertext itself or apart from it", nameof(plain));
        Span<byte> nonce = stackalloc byte[8];
        Span<byte> block0 = stackalloc byte[64];
        try
        {
            FirstBlock(counter, nonce, block0);
            if (!Sodium.Poly1305Verify(tag[..TagLength], ciphertext, block0[..32]))
                return false;
            XorWithStream(plain, ciphertext, nonce, block0);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(block0);
        }
    }

    private void FirstBlock(ulong counter, Span<byte> nonce, Span<byte> block0)
    {
        BinaryPrimitives.WriteUInt64BigEndian(nonce, counter);
        block0.Clear();
        Sodium.Salsa20Xor(block0, block0, nonce, 0, _subkey);
    }

    // The message starts at byte 32 of the stream: its first 32 bytes take the rest of block 0
    // (already computed), the remainder continues from block 1.
    private void XorWithStream(Span<byte> output, ReadOnlySpan<byte> input, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> block0)
    {
        var head = Math.Min(32, input.Length);
        for (var i = 0; i < head; i++)
            output[i] = (byte)(input[i] ^ block0[32 + i]);
        if (input.Length > head)
            Sodium.Salsa20Xor(output[head..], input[head..], nonce, 1, _subkey);
    }
}
