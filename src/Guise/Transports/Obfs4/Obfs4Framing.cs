using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Guise.Primitives;

namespace Guise.Transports.Obfs4;

// Wire format (obfs4 framing.go), one direction, keyed by 72 bytes of the ntor okm
// (okm[0:72] client→server, okm[72:144] server→client):
//
//   key material:  secretbox key (32) | nonce prefix (16) | SipHash-2-4 key (16) | SipHash IV (8)
//   frame:         uint16 obfuscated length (big endian) | secretbox: tag (16) | packet
//   length mask:   first 2 bytes (big endian) of the next HashDrbg block (SipHash OFB)
//   nonce:         prefix (16) | uint64 counter (big endian), counter starts at 1, never wraps
//   segment:       at most 1448 bytes (1500 - 40 IP/TCP - 12 TCP options) including the length
//
// A packet (packet.go) inside a frame:
//   uint8 type (0 payload, 1 PRNG seed) | uint16 payload length (big endian) | payload | zero padding

/// <summary>Sizes shared by the framing and the packet layer.</summary>
public static class Obfs4Wire
{
    public const int MaximumSegmentLength = 1500 - (40 + 12);
    public const int LengthLength = 2;
    public const int FrameOverhead = LengthLength + Sodium.SecretBoxMacBytes;
    public const int MaximumFramePayloadLength = MaximumSegmentLength - FrameOverhead;
    public const int MaxFrameLength = MaximumSegmentLength - LengthLength;
    public const int MinFrameLength = FrameOverhead - LengthLength;
    public const int KeyLength = 32 + 16 + HashDrbg.SeedLength;

    public const int PacketOverhead = 3;
    public const int MaxPacketPayloadLength = MaximumFramePayloadLength - PacketOverhead;
    public const int HeaderLength = FrameOverhead + PacketOverhead;
    public const int SeedPacketPayloadLength = HashDrbg.SeedLength;
    public const byte PacketTypePayload = 0;
    public const byte PacketTypePrngSeed = 1;
}

/// <summary>Seals packets into frames for one direction. Not thread-safe: one writer.</summary>
public sealed class Obfs4FrameEncoder
{
    private readonly PrefixedSecretBox _box;
    private readonly HashDrbg _drbg;
    private ulong _counter = 1;

    public Obfs4FrameEncoder(ReadOnlySpan<byte> keyMaterial)
    {
        if (keyMaterial.Length != Obfs4Wire.KeyLength)
            throw new ArgumentException("obfs4 framing keys are 72 bytes", nameof(keyMaterial));
        _box = new PrefixedSecretBox(keyMaterial[..32], keyMaterial[32..48]);
        _drbg = new HashDrbg(keyMaterial[48..]);
    }

    /// <summary>Seals <paramref name="payload"/> (a whole packet) into <paramref name="frame"/>; returns the frame length.</summary>
    public int Encode(ReadOnlySpan<byte> payload, Span<byte> frame)
    {
        if (payload.Length > Obfs4Wire.MaximumFramePayloadLength)
            throw new ArgumentOutOfRangeException(nameof(payload), "frame payload too long");
        if (frame.Length < payload.Length + Obfs4Wire.FrameOverhead)
            throw new ArgumentException("frame buffer too small", nameof(frame));
        payload.CopyTo(frame[Obfs4Wire.FrameOverhead..]);
        return SealInPlace(frame, payload.Length);
    }

    /// <summary>
    /// Builds one packet (type | length | data | padLength zero bytes) directly where the frame
    /// will carry it and seals it in place: no intermediate packet buffer. Returns the frame length.
    /// </summary>
    public int EncodePacket(byte type, ReadOnlySpan<byte> data, int padLength, Span<byte> frame)
    {
        if (data.Length + padLength > Obfs4Wire.MaxPacketPayloadLength)
            throw new ArgumentOutOfRangeException(nameof(padLength), "packet too long");
        var length = Obfs4Wire.PacketOverhead + data.Length + padLength;
        if (frame.Length < length + Obfs4Wire.FrameOverhead)
            throw new ArgumentException("frame buffer too small", nameof(frame));
        var packet = frame.Slice(Obfs4Wire.FrameOverhead, length);
        packet[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(packet[1..], (ushort)data.Length);
        data.CopyTo(packet[Obfs4Wire.PacketOverhead..]);
        packet[(Obfs4Wire.PacketOverhead + data.Length)..].Clear();
        return SealInPlace(frame, length);
    }

    // The plaintext is at frame[FrameOverhead..][..length]: it is encrypted where it lies and
    // the tag goes in front of it, so the box (tag | ciphertext) starts at frame[LengthLength..].
    private int SealInPlace(Span<byte> frame, int length)
    {
        if (_counter == 0)
            throw new CryptographicException("obfs4 nonce counter wrapped");
        var total = length + Obfs4Wire.FrameOverhead;
        _box.SealInPlace(frame[Obfs4Wire.LengthLength..Obfs4Wire.FrameOverhead], frame[Obfs4Wire.FrameOverhead..total], _counter);
        _counter++;
        var boxLength = (ushort)(total - Obfs4Wire.LengthLength);
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(boxLength ^ _drbg.NextUInt16Mask()));
        return total;
    }
}

/// <summary>
/// Opens frames for one direction. Not thread-safe: one reader. A length outside
/// [<see cref="Obfs4Wire.MinFrameLength"/>, <see cref="Obfs4Wire.MaxFrameLength"/>] is not reported at
/// once: as obfs4 does (after Albrecht–Paterson–Watson's attacks on SSH framing), a random valid
/// length is assumed and the frame fails authentication when that many bytes have arrived, so an
/// attacker learns nothing from when the connection drops.
/// </summary>
public sealed class Obfs4FrameDecoder
{
    private readonly PrefixedSecretBox _box;
    private readonly HashDrbg _drbg;
    private ulong _counter = 1;
    private int _nextLength;
    private bool _nextLengthInvalid;

    public Obfs4FrameDecoder(ReadOnlySpan<byte> keyMaterial)
    {
        if (keyMaterial.Length != Obfs4Wire.KeyLength)
            throw new ArgumentException("obfs4 framing keys are 72 bytes", nameof(keyMaterial));
        _box = new PrefixedSecretBox(keyMaterial[..32], keyMaterial[32..48]);
        _drbg = new HashDrbg(keyMaterial[48..]);
    }

    /// <summary>
    /// Decodes at most one frame. Done: one frame opened, its packet is in
    /// <paramref name="packet"/>[..<paramref name="written"/>]. NeedMoreData: feed more bytes
    /// (some may have been consumed: the length field is taken as soon as it is there).
    /// InvalidData: authentication failed, fatal.
    /// </summary>
    public OperationStatus Decode(ReadOnlySpan<byte> input, Span<byte> packet, out int consumed, out int written)
    {
        written = 0;
        var status = TakeLength(input, out consumed);
        if (status != OperationStatus.Done)
            return status;
        input = input[consumed..];
        if (input.Length < _nextLength)
            return OperationStatus.NeedMoreData;
        if (packet.Length < _nextLength - Sodium.SecretBoxMacBytes)
            return OperationStatus.DestinationTooSmall;
        if (!Open(packet, input[.._nextLength]))
            return OperationStatus.InvalidData;
        consumed += _nextLength;
        written = _nextLength - Sodium.SecretBoxMacBytes;
        _nextLength = 0;
        return OperationStatus.Done;
    }

    /// <summary>
    /// As <see cref="Decode"/>, but opens the frame where it lies: on Done the packet is
    /// <paramref name="input"/>[<paramref name="packetOffset"/>..][..<paramref name="packetLength"/>]
    /// (the bytes before it in the frame are overwritten). No packet buffer and no copy.
    /// </summary>
    public OperationStatus DecodeInPlace(Span<byte> input, out int consumed, out int packetOffset, out int packetLength)
    {
        packetOffset = 0;
        packetLength = 0;
        var status = TakeLength(input, out consumed);
        if (status != OperationStatus.Done)
            return status;
        if (input.Length - consumed < _nextLength)
            return OperationStatus.NeedMoreData;
        var box = input.Slice(consumed, _nextLength);
        var plain = box[Sodium.SecretBoxMacBytes..];
        if (!Open(plain, box))
            return OperationStatus.InvalidData;
        packetOffset = consumed + Sodium.SecretBoxMacBytes;
        packetLength = plain.Length;
        consumed += _nextLength;
        _nextLength = 0;
        return OperationStatus.Done;
    }

    // Done: the next frame's (checked or substituted) length is in _nextLength. consumed counts
    // the length field if it was taken now.
    private OperationStatus TakeLength(ReadOnlySpan<byte> input, out int consumed)
    {
        consumed = 0;
        if (_nextLength != 0)
            return OperationStatus.Done;
        if (input.Length < Obfs4Wire.LengthLength)
            return OperationStatus.NeedMoreData;
        if (_counter == 0)
            return OperationStatus.InvalidData;
        var length = BinaryPrimitives.ReadUInt16BigEndian(input) ^ _drbg.NextUInt16Mask();
        consumed = Obfs4Wire.LengthLength;
        if (length is > Obfs4Wire.MaxFrameLength or < Obfs4Wire.MinFrameLength)
        {
            _nextLengthInvalid = true;
            length = RandomNumberGenerator.GetInt32(Obfs4Wire.MinFrameLength, Obfs4Wire.MaxFrameLength + 1);
        }
        _nextLength = length;
        return OperationStatus.Done;
    }

    // The tag is checked before anything is decrypted; plain may be the ciphertext itself.
    private bool Open(Span<byte> plain, ReadOnlySpan<byte> box)
    {
        var ciphertext = box[PrefixedSecretBox.TagLength..];
        if (!_box.Open(box[..PrefixedSecretBox.TagLength], ciphertext, plain[..ciphertext.Length], _counter) || _nextLengthInvalid)
            return false;
        _counter++;
        return true;
    }
}
