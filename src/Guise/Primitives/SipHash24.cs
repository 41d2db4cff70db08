using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Guise.Primitives;

/// <summary>
/// Streaming SipHash-2-4 over whole 8-byte words. obfs4's DRBG never resets its SipHash: block n
/// is the digest of IV | block1 | ... | block(n-1), the running hash of everything fed so far.
/// One-shot libraries cannot reproduce that without rehashing the whole history, so the state
/// is kept here and each block costs one compression plus one finalisation.
/// </summary>
internal struct SipHash24
{
    private ulong _v0, _v1, _v2, _v3;
    private ulong _length;

    public SipHash24(ReadOnlySpan<byte> key)
    {
        var k0 = BinaryPrimitives.ReadUInt64LittleEndian(key);
        var k1 = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
        _v0 = k0 ^ 0x736f6d6570736575UL;
        _v1 = k1 ^ 0x646f72616e646f6dUL;
        _v2 = k0 ^ 0x6c7967656e657261UL;
        _v3 = k1 ^ 0x7465646279746573UL;
        _length = 0;
    }

    /// <summary>Absorbs one little-endian 8-byte word.</summary>
    public void Write(ulong m)
    {
        _v3 ^= m;
        Round(ref _v0, ref _v1, ref _v2, ref _v3);
        Round(ref _v0, ref _v1, ref _v2, ref _v3);
        _v0 ^= m;
        _length += 8;
    }

    /// <summary>The digest of everything written so far (the state is not changed).</summary>
    public readonly ulong Sum()
    {
        ulong v0 = _v0, v1 = _v1, v2 = _v2, v3 = _v3;
        var b = (_length & 0xff) << 56;
        v3 ^= b;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= b;
        v2 ^= 0xff;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1; v1 = BitOperations.RotateLeft(v1, 13); v1 ^= v0; v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3; v3 = BitOperations.RotateLeft(v3, 16); v3 ^= v2;
        v0 += v3; v3 = BitOperations.RotateLeft(v3, 21); v3 ^= v0;
        v2 += v1; v1 = BitOperations.RotateLeft(v1, 17); v1 ^= v2; v2 = BitOperations.RotateLeft(v2, 32);
    }
}
