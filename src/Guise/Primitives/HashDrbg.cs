using System.Buffers.Binary;

namespace Guise.Primitives;

/// <summary>
/// obfs4's deterministic generator (common/drbg): SipHash-2-4 in OFB mode.
/// <code>
/// seed (24 bytes) = SipHash key (16) | IV (8)
/// block[n]        = SipHash(key, IV | block[1] | ... | block[n-1]): Go's hash.Hash64 is written to
///                   and never reset, so each block is the running digest of all earlier ones;
///                   the 8-byte digest is little-endian
/// Int63           = big-endian uint64 of the next block, top bit cleared
/// </code>
/// The same construction masks frame lengths, so its byte order is part of the wire format.
/// </summary>
public sealed class HashDrbg : IInt63Source
{
    public const int SeedLength = 24;

    private SipHash24 _sip;

    public HashDrbg(ReadOnlySpan<byte> seed)
    {
        if (seed.Length < SeedLength)
            throw new ArgumentException($"a DRBG seed is {SeedLength} bytes", nameof(seed));
        _sip = new SipHash24(seed[..16]);
        _ofb = BinaryPrimitives.ReadUInt64LittleEndian(seed[16..SeedLength]);
    }

    private ulong _ofb;

    /// <summary>Advances and writes the next 8-byte block.</summary>
    public void NextBlock(Span<byte> block)
    {
        _sip.Write(_ofb);
        _ofb = _sip.Sum();
        BinaryPrimitives.WriteUInt64LittleEndian(block, _ofb);
    }

    /// <summary>The first two bytes of the next block as a big-endian mask (frame-length obfuscation).</summary>
    public ushort NextUInt16Mask()
    {
        Span<byte> block = stackalloc byte[8];
        NextBlock(block);
        return BinaryPrimitives.ReadUInt16BigEndian(block);
    }

    public long Int63()
    {
        Span<byte> block = stackalloc byte[8];
        NextBlock(block);
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(block) & long.MaxValue);
    }
}
