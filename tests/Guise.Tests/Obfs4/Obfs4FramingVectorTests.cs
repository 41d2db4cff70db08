using System.Buffers;
using System.Buffers.Binary;
using Guise.Primitives;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

public class Obfs4FramingVectorTests
{
    private static byte[] Okm()
    {
        var okm = new byte[144];
        Ntor.Kdf(Obfs4Vectors.Hex("KEY_SEED"), okm);
        return okm;
    }

    private static byte[] VectorSeed() => Enumerable.Range(0x30, 24).Select(i => (byte)i).ToArray();

    [Fact]
    public void The_length_mask_blocks_are_the_vectors_siphash_ofb_blocks()
    {
        var drbg = new HashDrbg(Okm().AsSpan(48, 24));
        var block = new byte[8];
        for (var i = 1; i <= 3; i++)
        {
            drbg.NextBlock(block);
            Assert.Equal(Obfs4Vectors.LineAfter($"siphash OFB block {i} = "), Convert.ToHexStringLower(block));
        }
    }

    [Fact]
    public void The_first_two_client_frames_are_the_vectors()
    {
        var encoder = new Obfs4FrameEncoder(Okm().AsSpan(0, 72));
        var frame = new byte[Obfs4Wire.MaximumSegmentLength];
        var n = encoder.EncodePacket(Obfs4Wire.PacketTypePayload, "hello"u8, 0, frame);
        Assert.Equal(26, n);
        Assert.Equal(Obfs4Vectors.LineAfter("frame1 (TYPE_PAYLOAD 'hello', no pad) len 26 = "), Convert.ToHexStringLower(frame.AsSpan(0, n)));
        n = encoder.EncodePacket(Obfs4Wire.PacketTypePrngSeed, VectorSeed(), 0, frame);
        Assert.Equal(Obfs4Vectors.LineAfter("frame2 (TYPE_PRNG_SEED seed=30..47, no pad) len 45 = "), Convert.ToHexStringLower(frame.AsSpan(0, n)));
    }

    [Fact]
    public void The_decoder_opens_the_vector_frames_and_the_client_adopts_the_seed()
    {
        var okm = Okm();
        var frames = Convert.FromHexString(Obfs4Vectors.LineAfter("frame1 (TYPE_PAYLOAD 'hello', no pad) len 26 = ") +
                                           Obfs4Vectors.LineAfter("frame2 (TYPE_PRNG_SEED seed=30..47, no pad) len 45 = "));
        var lenDist = new WeightedDist(new byte[24], 0, Obfs4Wire.MaximumSegmentLength);
        var before = lenDist.ToString();
        // A client whose decoder uses the key the vector's frames were encoded with.
        var codec = new Obfs4Codec(okm.AsSpan(72, 72), okm.AsSpan(0, 72), lenDist, null, Obfs4IatMode.None, isServer: false);
        var payload = new byte[Obfs4Wire.MaxPacketPayloadLength * 4];
        var status = codec.Decode(frames, payload, out var consumed, out var written, out var error);
        Assert.True(status == OperationStatus.Done, error);
        Assert.Equal(frames.Length, consumed);
        Assert.Equal("hello"u8.ToArray(), payload.AsSpan(0, written).ToArray());
        Assert.NotEqual(before, lenDist.ToString());
        Assert.Equal(new WeightedDist(VectorSeed(), 0, Obfs4Wire.MaximumSegmentLength).ToString(), lenDist.ToString());
    }

    [Fact]
    public void Frames_fed_one_byte_at_a_time_decode_the_same()
    {
        var okm = Okm();
        var frames = Convert.FromHexString(Obfs4Vectors.LineAfter("frame1 (TYPE_PAYLOAD 'hello', no pad) len 26 = "));
        var decoder = new Obfs4FrameDecoder(okm.AsSpan(0, 72));
        var packet = new byte[Obfs4Wire.MaximumFramePayloadLength];
        var buffered = new List<byte>();
        var done = false;
        foreach (var b in frames)
        {
            buffered.Add(b);
            var status = decoder.Decode(buffered.ToArray(), packet, out var consumed, out var written);
            buffered.RemoveRange(0, consumed);
            if (status == OperationStatus.Done)
            {
                done = true;
                Assert.Equal(8, written);
            }
        }
        Assert.True(done);
    }

    [Fact]
    public void An_out_of_range_frame_length_fails_only_after_a_random_valid_length_of_bytes()
    {
        var okm = Okm();
        var decoder = new Obfs4FrameDecoder(okm.AsSpan(0, 72));
        // Length 0 after unmasking: below the minimum frame length.
        var mask = new HashDrbg(okm.AsSpan(48, 24)).NextUInt16Mask();
        var wire = new byte[Obfs4Wire.MaximumSegmentLength];
        BinaryPrimitives.WriteUInt16BigEndian(wire, mask);
        var packet = new byte[Obfs4Wire.MaximumFramePayloadLength];
        // 16 bytes (the minimum) are never enough to judge: the decoder keeps waiting.
        Assert.Equal(OperationStatus.NeedMoreData, decoder.Decode(wire.AsSpan(0, 2 + Obfs4Wire.MinFrameLength - 1), packet, out var consumed, out _));
        Assert.Equal(2, consumed);
        Assert.Equal(OperationStatus.InvalidData, decoder.Decode(wire.AsSpan(2), packet, out _, out _));
    }
}
