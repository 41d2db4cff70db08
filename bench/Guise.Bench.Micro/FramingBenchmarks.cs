using System.Buffers;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Transports.Obfs4;

namespace Guise.Bench.Micro;

/// <summary>
/// One obfs4 frame (a full 1445-byte payload packet, the steady-state bulk case) sealed and
/// opened: Encode alone, and Encode + Decode (decoding needs the matching encoder's output,
/// so Decode ≈ RoundTrip − Encode).
/// </summary>
[MemoryDiagnoser]
public class FramingBenchmarks
{
    private readonly byte[] _payload = RandomNumberGenerator.GetBytes(Obfs4Wire.MaxPacketPayloadLength);
    private readonly byte[] _frame = new byte[Obfs4Wire.MaximumSegmentLength];
    private readonly byte[] _packet = new byte[Obfs4Wire.MaximumFramePayloadLength];
    private Obfs4FrameEncoder _encoder = null!;
    private Obfs4FrameEncoder _pairedEncoder = null!;
    private Obfs4FrameDecoder _pairedDecoder = null!;
    private Obfs4FrameEncoder _inPlaceEncoder = null!;
    private Obfs4FrameDecoder _inPlaceDecoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        var key = RandomNumberGenerator.GetBytes(Obfs4Wire.KeyLength);
        _encoder = new Obfs4FrameEncoder(key);
        _pairedEncoder = new Obfs4FrameEncoder(key);
        _pairedDecoder = new Obfs4FrameDecoder(key);
        _inPlaceEncoder = new Obfs4FrameEncoder(key);
        _inPlaceDecoder = new Obfs4FrameDecoder(key);
    }

    [Benchmark(Description = "frame encode (1445 B payload)")]
    public int EncodeFrame() => _encoder.EncodePacket(Obfs4Wire.PacketTypePayload, _payload, 0, _frame);

    [Benchmark(Description = "frame encode + decode (1445 B payload)")]
    public int RoundTripFrame()
    {
        var n = _pairedEncoder.EncodePacket(Obfs4Wire.PacketTypePayload, _payload, 0, _frame);
        var status = _pairedDecoder.Decode(_frame.AsSpan(0, n), _packet, out _, out var written);
        return status == OperationStatus.Done ? written : throw new InvalidOperationException(status.ToString());
    }

    [Benchmark(Description = "frame encode + in-place decode (1445 B payload)")]
    public int RoundTripFrameInPlace()
    {
        var n = _inPlaceEncoder.EncodePacket(Obfs4Wire.PacketTypePayload, _payload, 0, _frame);
        var status = _inPlaceDecoder.DecodeInPlace(_frame.AsSpan(0, n), out _, out _, out var length);
        return status == OperationStatus.Done ? length : throw new InvalidOperationException(status.ToString());
    }
}

/// <summary>
/// The codec's burst path as the stream pump uses it: 16 KiB of payload chopped into packets,
/// padded (iat-mode 0), then opened by the peer's codec. Per-frame cost = per-op / 12 frames.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private const int BurstPayload = 16 << 10;
    private readonly byte[] _payload = RandomNumberGenerator.GetBytes(BurstPayload);
    private readonly byte[] _burst = new byte[Obfs4Codec.BurstBufferSize];
    private readonly byte[] _plain = new byte[BurstPayload + 16 * Obfs4Wire.MaxPacketPayloadLength];
    private Obfs4Codec _client = null!;
    private Obfs4Codec _server = null!;

    [GlobalSetup]
    public void Setup()
    {
        var c2s = RandomNumberGenerator.GetBytes(Obfs4Wire.KeyLength);
        var s2c = RandomNumberGenerator.GetBytes(Obfs4Wire.KeyLength);
        var seed = RandomNumberGenerator.GetBytes(24);
        var (cl, _) = Obfs4Codec.CreateDistributions(seed, Obfs4IatMode.None);
        var (sl, _) = Obfs4Codec.CreateDistributions(seed, Obfs4IatMode.None);
        _client = new Obfs4Codec(c2s, s2c, cl, null, Obfs4IatMode.None, isServer: false);
        _server = new Obfs4Codec(s2c, c2s, sl, null, Obfs4IatMode.None, isServer: true);
    }

    [Benchmark(Description = "burst encode (16 KiB payload)")]
    public int EncodeBurst() => _client.EncodeBurst(_payload, _burst);

    [Benchmark(Description = "burst encode + decode (16 KiB payload)")]
    public int RoundTripBurst()
    {
        // The client's encoder feeds the server's decoder; EncodeBurst above advances a
        // different pair of counters, so this pair stays in step.
        var n = _server.EncodeBurst(_payload, _burst);
        var status = _client.Decode(_burst.AsSpan(0, n), _plain, out var consumed, out var written, out var error);
        return status == OperationStatus.Done && consumed == n ? written : throw new InvalidOperationException(error ?? status.ToString());
    }
}
