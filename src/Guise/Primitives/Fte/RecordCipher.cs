using System.Security.Cryptography;

namespace Guise.Primitives.Fte;

/// <summary>
/// The authenticated cipher under FTE: ChaCha20-Poly1305 (RFC 8439) with a random 96-bit nonce
/// carried in front. Record = nonce(12) ‖ ciphertext ‖ tag(16). The output is indistinguishable
/// from random bytes, which is what unranking needs.
/// </summary>
public sealed class RecordCipher : IDisposable
{
    public const int NonceLength = 12;
    public const int TagLength = 16;
    public const int Overhead = NonceLength + TagLength;

    private readonly ChaCha20Poly1305 _aead;

    public RecordCipher(ReadOnlySpan<byte> key)
    {
        if (key.Length != 32)
            throw new ArgumentException("key must be 32 bytes", nameof(key));
        _aead = new ChaCha20Poly1305(key);
    }

    /// <summary>Derives a direction key from a shared secret (HKDF-SHA256, RFC 5869).</summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> secret, string label) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.ToArray(), 32, salt: "guise-marionette-v1"u8.ToArray(), info: System.Text.Encoding.ASCII.GetBytes(label));

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="record"/> (plaintext.Length + <see cref="Overhead"/> bytes).</summary>
    public void Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> record)
    {
        if (record.Length != plaintext.Length + Overhead)
            throw new ArgumentException("record length must be plaintext + overhead", nameof(record));
        var nonce = record[..NonceLength];
        RandomNumberGenerator.Fill(nonce);
        _aead.Encrypt(nonce, plaintext, record.Slice(NonceLength, plaintext.Length), record[(NonceLength + plaintext.Length)..], associatedData);
    }

    /// <summary>Opens a record; false if it is not authentic (wrong key, tampered, not ours).</summary>
    public bool TryOpen(ReadOnlySpan<byte> record, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        if (record.Length < Overhead || plaintext.Length != record.Length - Overhead)
            return false;
        try
        {
            _aead.Decrypt(record[..NonceLength], record[NonceLength..^TagLength], record[^TagLength..], plaintext, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            plaintext.Clear();
            return false;
        }
    }

    public void Dispose() => _aead.Dispose();
}

/// <summary>
/// Format-transforming encryption of fixed-size messages: AEAD-seal, read the record as a
/// big-endian integer, unrank it into the regex's language at a fixed covertext length.
/// Decryption ranks the covertext back and opens the record.
/// </summary>
public sealed class FteCipher(FteRanker ranker, RecordCipher cipher)
{
    public FteRanker Ranker => ranker;

    /// <summary>Covertext length in bytes.</summary>
    public int CovertextLength => ranker.Length;

    /// <summary>Plaintext bytes per covertext (fixed): capacity minus the AEAD overhead.</summary>
    public int PlaintextLength => ranker.CapacityBytes - RecordCipher.Overhead;

    public void Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> covertext)
    {
        if (PlaintextLength <= 0)
            throw new InvalidOperationException($"the language has too few strings of length {CovertextLength} to carry a record");
        if (plaintext.Length != PlaintextLength)
            throw new ArgumentException($"plaintext must be exactly {PlaintextLength} bytes", nameof(plaintext));
        var record = new byte[ranker.CapacityBytes];
        cipher.Seal(plaintext, associatedData, record);
        ranker.Unrank(new System.Numerics.BigInteger(record, isUnsigned: true, isBigEndian: true), covertext);
    }

    public bool TryDecrypt(ReadOnlySpan<byte> covertext, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        if (PlaintextLength <= 0 || !ranker.TryRank(covertext, out var rank))
            return false;
        var k = ranker.CapacityBytes;
        if (rank.GetByteCount(isUnsigned: true) > k)
            return false; // a string of the language, but not one we could have produced
        var record = new byte[k];
        var n = rank.GetByteCount(isUnsigned: true);
        if (!rank.TryWriteBytes(record.AsSpan(k - n), out _, isUnsigned: true, isBigEndian: true))
            return false;
        return cipher.TryOpen(record, associatedData, plaintext);
    }
}
