using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Guise.Primitives;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

/// <summary>Frames built and opened in place give the same bytes as the vectors and the copying decoder.</summary>
public class Obfs4InPlaceFramingTests
{
    private static byte[] Okm()
    {
        var okm = new byte[144];
        Ntor.Kdf(Obfs4Vectors.Hex("KEY_SEED"), okm);
        return okm;
    }

    private static byte[] VectorFrames() => Convert.FromHexString(
        Obfs4Vectors.LineAfter("frame1 (TYPE_PAYLOAD 'hello', no pad) len 26 = ") +
        Obfs4Vectors.LineAfter("frame2 (TYPE_PRNG_SEED seed=30..47, no pad) len 45 = "));

    [Fact]
    public void The_vector_frames_open_in_place_and_the_client_adopts_the_seed()
    {
        var okm = Okm();
        var wire = VectorFrames();
        var lenDist = new WeightedDist(new byte[24], 0, Obfs4Wire.MaximumSegmentLength);
        var codec = new Obfs4Codec(okm.AsSpan(72, 72), okm.AsSpan(0, 72), lenDist, null, Obfs4IatMode.None, isServer: false);

        var status = codec.DecodeFrameInPlace(wire, out var consumed, out var offset, out var length, out var error);
        Assert.True(status == OperationStatus.Done, error);
        Assert.Equal(26, consumed);
        Assert.Equal("hello"u8.ToArray(), wire.AsSpan(offset, length).ToArray());

        status = codec.DecodeFrameInPlace(wire.AsSpan(consumed), out var consumed2, out _, out length, out error);
        Assert.True(status == OperationStatus.Done, error);
        Assert.Equal(wire.Length, consumed + consumed2);
        Assert.Equal(0, length); // a seed packet carries no payload for the caller
        var seed = Enumerable.Range(0x30, 24).Select(i => (byte)i).ToArray();
        Assert.Equal(new WeightedDist(seed, 0, Obfs4Wire.MaximumSegmentLength).ToString(), lenDist.ToString());
    }

    [Fact]
    public void Bytes_arriving_one_at_a_time_open_in_place_once_the_frame_is_whole()
    {
        var okm = Okm();
        var frames = Convert.FromHexString(Obfs4Vectors.LineAfter("frame1 (TYPE_PAYLOAD 'hello', no pad) len 26 = "));
        var decoder = new Obfs4FrameDecoder(okm.AsSpan(0, 72));
        var buffer = new byte[frames.Length];
        int start = 0, end = 0, opened = 0;
        foreach (var b in frames)
        {
            buffer[end++] = b;
            var status = decoder.DecodeInPlace(buffer.AsSpan(start, end - start), out var consumed, out var offset, out var length);
            if (status == OperationStatus.Done)
            {
                opened++;
                // type | length | "hello"
                Assert.Equal(8, length);
                var packet = buffer.AsSpan(start + offset, length);
                Assert.Equal(Obfs4Wire.PacketTypePayload, packet[0]);
                Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(packet[1..]));
                Assert.Equal("hello"u8.ToArray(), packet[3..].ToArray());
            }
            start += consumed;
        }
        Assert.Equal(1, opened);
        Assert.Equal(frames.Length, start);
    }

    [Fact]
    public void A_packet_built_in_a_dirty_buffer_has_zero_padding_and_matches_the_copying_encoder()
    {
        var key = RandomNumberGenerator.GetBytes(Obfs4Wire.KeyLength);
        var data = RandomNumberGenerator.GetBytes(1000);
        const int pad = 400;

        // Reference: the packet laid out by hand and sealed by Encode.
        var packet = new byte[Obfs4Wire.PacketOverhead + data.Length + pad];
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(1), (ushort)data.Length);
        data.CopyTo(packet, Obfs4Wire.PacketOverhead);
        var expected = new byte[Obfs4Wire.MaximumSegmentLength];
        var n = new Obfs4FrameEncoder(key).Encode(packet, expected);

        var frame = new byte[Obfs4Wire.MaximumSegmentLength];
        frame.AsSpan().Fill(0xA5);
        var m = new Obfs4FrameEncoder(key).EncodePacket(Obfs4Wire.PacketTypePayload, data, pad, frame);
        Assert.Equal(n, m);
        Assert.Equal(expected.AsSpan(0, n).ToArray(), frame.AsSpan(0, m).ToArray());

        var opened = new byte[Obfs4Wire.MaximumFramePayloadLength];
        Assert.Equal(OperationStatus.Done, new Obfs4FrameDecoder(key).Decode(frame.AsSpan(0, m), opened, out _, out var written));
        Assert.Equal(packet, opened.AsSpan(0, written).ToArray());
    }

    [Fact]
    public void A_tampered_frame_fails_in_place_and_stays_failed()
    {
        var key = RandomNumberGenerator.GetBytes(Obfs4Wire.KeyLength);
        var frame = new byte[Obfs4Wire.MaximumSegmentLength];
        var n = new Obfs4FrameEncoder(key).EncodePacket(Obfs4Wire.PacketTypePayload, "data"u8, 0, frame);
        frame[n - 1] ^= 1;
        var decoder = new Obfs4FrameDecoder(key);
        Assert.Equal(OperationStatus.InvalidData, decoder.DecodeInPlace(frame.AsSpan(0, n), out _, out _, out _));
        Assert.Equal(OperationStatus.InvalidData, decoder.DecodeInPlace(frame.AsSpan(2, n - 2), out _, out _, out _));
    }
}
