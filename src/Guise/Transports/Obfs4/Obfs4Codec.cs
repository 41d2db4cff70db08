using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Guise.Primitives;

namespace Guise.Transports.Obfs4;

/// <summary>Inter-arrival-time obfuscation (the bridge line's iat-mode).</summary>
public enum Obfs4IatMode
{
    /// <summary>Frames go out as written, padded once per write (burst).</summary>
    None = 0,
    /// <summary>Bursts are cut into 1448-byte writes with a random 0–10 ms pause after each.</summary>
    Enabled = 1,
    /// <summary>Every write has a length drawn from the length distribution, padded to it, then a pause.</summary>
    Paranoid = 2,
}

/// <summary>
/// The obfs4 data phase without I/O: payload in, wire bytes out (with padding and IAT chunking
/// as obfs4.go's Write), and wire bytes in, payload out (as packet.go's readPackets). The write
/// half and the read half share nothing but the distributions (which lock), so one reader and
/// one writer may run concurrently.
/// </summary>
public sealed class Obfs4Codec
{
    /// <summary>Delays are multiples of 100 µs, up to 10 ms (obfs4's maxIATDelay = 100).</summary>
    public const int MaxIatDelay = 100;

    private readonly Obfs4FrameEncoder _encoder;
    private readonly Obfs4FrameDecoder _decoder;
    private readonly WeightedDist _lenDist;
    private readonly WeightedDist? _iatDist;
    private readonly bool _isServer;
    private readonly Obfs4IatMode _iatMode;

    public Obfs4Codec(ReadOnlySpan<byte> encoderKey, ReadOnlySpan<byte> decoderKey, WeightedDist lenDist,
        WeightedDist? iatDist, Obfs4IatMode iatMode, bool isServer)
    {
        _encoder = new Obfs4FrameEncoder(encoderKey);
        _decoder = new Obfs4FrameDecoder(decoderKey);
        _lenDist = lenDist;
        _iatDist = iatDist;
        _iatMode = iatMode;
        _isServer = isServer;
        if (iatMode != Obfs4IatMode.None && iatDist is null)
            throw new ArgumentException("IAT modes need an IAT distribution", nameof(iatDist));
    }

    public Obfs4IatMode IatMode => _iatMode;

    /// <summary>Creates both distributions from a seed: length from the seed, IAT from SHA-256(seed)[..24].</summary>
    public static (WeightedDist Length, WeightedDist? Iat) CreateDistributions(ReadOnlySpan<byte> seed, Obfs4IatMode iatMode)
    {
        var len = new WeightedDist(seed, 0, Obfs4Wire.MaximumSegmentLength);
        if (iatMode == Obfs4IatMode.None)
            return (len, null);
        Span<byte> iatSeed = stackalloc byte[32];
        SHA256.HashData(seed[..HashDrbg.SeedLength], iatSeed);
        return (len, new WeightedDist(iatSeed[..HashDrbg.SeedLength], 0, MaxIatDelay));
    }

    /// <summary>
    /// Whether a seed's length table can draw 0. obfs4proxy (0.0.14) and lyrebird in paranoid
    /// mode panic when they draw it ("BUG: Write(), iat length was 0") and the whole client
    /// process exits; a bridge hands its seed to every client, so with such a seed its paranoid
    /// obfs4proxy clients crash again and again. About 3% of seeds are like that.
    /// </summary>
    public static bool LengthTableCanDrawZero(ReadOnlySpan<byte> seed) =>
        WeightedDist.CanDraw(seed[..HashDrbg.SeedLength], 0, Obfs4Wire.MaximumSegmentLength, 0);

    /// <summary>The most payload <see cref="EncodeBurst"/> accepts at once, and the buffer it needs.</summary>
    public const int MaxBurstPayload = Obfs4Wire.MaxPacketPayloadLength * 44;
    public const int BurstBufferSize = (MaxBurstPayload / Obfs4Wire.MaxPacketPayloadLength + 3) * Obfs4Wire.MaximumSegmentLength;

    /// <summary>Seals one packet (no padding) into <paramref name="output"/>, e.g. the server's inline seed frame.</summary>
    public int EncodePacket(byte type, ReadOnlySpan<byte> data, int padLength, Span<byte> output) =>
        _encoder.EncodePacket(type, data, padLength, output);

    /// <summary>
    /// Chops <paramref name="payload"/> (at most <see cref="MaxBurstPayload"/>) into payload packets
    /// and, except in paranoid mode, pads the burst to a length drawn from the distribution.
    /// Returns the bytes written to <paramref name="burst"/>.
    /// </summary>
    public int EncodeBurst(ReadOnlySpan<byte> payload, Span<byte> burst)
    {
        if (payload.Length > MaxBurstPayload)
            throw new ArgumentOutOfRangeException(nameof(payload));
        var n = 0;
        while (payload.Length > 0)
        {
            var chunk = Math.Min(payload.Length, Obfs4Wire.MaxPacketPayloadLength);
            n += _encoder.EncodePacket(Obfs4Wire.PacketTypePayload, payload[..chunk], 0, burst[n..]);
            payload = payload[chunk..];
        }
        if (_iatMode != Obfs4IatMode.Paranoid)
            n += PadBurst(n, _lenDist.Sample(), burst[n..]);
        return n;
    }

    /// <summary>
    /// Pads so that the burst's last segment ends at <paramref name="toPadTo"/> bytes (modulo 1448):
    /// one padding packet, or two when the gap is too small for a frame header.
    /// </summary>
    private int PadBurst(int burstLength, int toPadTo, Span<byte> output)
    {
        var tail = burstLength % Obfs4Wire.MaximumSegmentLength;
        var padLen = toPadTo >= tail ? toPadTo - tail : Obfs4Wire.MaximumSegmentLength - tail + toPadTo;
        if (padLen > Obfs4Wire.HeaderLength)
            return _encoder.EncodePacket(Obfs4Wire.PacketTypePayload, [], padLen - Obfs4Wire.HeaderLength, output);
        if (padLen > 0)
        {
            var n = _encoder.EncodePacket(Obfs4Wire.PacketTypePayload, [], Obfs4Wire.MaxPacketPayloadLength, output);
            return n + _encoder.EncodePacket(Obfs4Wire.PacketTypePayload, [], padLen, output[n..]);
        }
        return 0;
    }

    /// <summary>
    /// How many of the <paramref name="pending"/> burst bytes go into the next socket write, and
    /// the pause after it. Paranoid mode may append padding to the burst first (so the buffer
    /// behind <paramref name="pending"/> needs <see cref="Obfs4Wire.MaximumSegmentLength"/> * 2 spare
    /// bytes); <paramref name="pending"/> grows by <paramref name="appended"/>.
    /// </summary>
    public int NextIatWrite(Span<byte> pendingAndSpare, int pending, out int appended, out TimeSpan delay)
    {
        appended = 0;
        delay = TimeSpan.Zero;
        if (_iatMode == Obfs4IatMode.None)
            return pending;
        int take;
        if (_iatMode == Obfs4IatMode.Enabled)
        {
            take = Math.Min(pending, Obfs4Wire.MaximumSegmentLength);
        }
        else
        {
            while (true)
            {
                var target = _lenDist.Sample();
                if (target == 0)
                    continue; // obfs4proxy would panic on a zero-length write; draw again.
                if (pending + appended < target)
                {
                    appended += PadBurst(pending + appended, target, pendingAndSpare[(pending + appended)..]);
                    if (pending + appended != target)
                        continue;
                }
                take = Math.Min(target, pending + appended);
                break;
            }
        }
        delay = TimeSpan.FromTicks(_iatDist!.Sample() * 100 * TimeSpan.TicksPerMicrosecond);
        return take;
    }

    /// <summary>
    /// Opens as many frames of <paramref name="wire"/> as fit and appends their payload bytes to
    /// <paramref name="payload"/>. Done: all of <paramref name="wire"/> that forms whole frames
    /// was used (the rest is a partial frame; keep it). DestinationTooSmall: stopped for room
    /// (needs <see cref="Obfs4Wire.MaximumFramePayloadLength"/> free). InvalidData: fatal, see
    /// <paramref name="error"/>. <paramref name="consumed"/> is valid for every status.
    /// </summary>
    public OperationStatus Decode(ReadOnlySpan<byte> wire, Span<byte> payload, out int consumed, out int written, out string? error)
    {
        consumed = 0;
        written = 0;
        error = null;
        Span<byte> packet = stackalloc byte[Obfs4Wire.MaximumFramePayloadLength];
        while (true)
        {
            if (payload.Length - written < Obfs4Wire.MaxPacketPayloadLength)
                return OperationStatus.DestinationTooSmall;
            var status = _decoder.Decode(wire[consumed..], packet, out var used, out var len);
            consumed += used;
            if (status == OperationStatus.NeedMoreData)
                return OperationStatus.Done;
            if (status != OperationStatus.Done)
            {
                error = "frame authentication failed";
                return OperationStatus.InvalidData;
            }
            if (!TakePacket(packet[..len], out var bodyOffset, out var bodyLength, out error))
                return OperationStatus.InvalidData;
            packet.Slice(bodyOffset, bodyLength).CopyTo(payload[written..]);
            written += bodyLength;
        }
    }

    /// <summary>
    /// Opens the next frame of <paramref name="wire"/> where it lies (no copy). Done: one frame
    /// was opened and its payload bytes (possibly none: padding or a seed packet) are
    /// <paramref name="wire"/>[<paramref name="payloadOffset"/>..][..<paramref name="payloadLength"/>].
    /// NeedMoreData: no whole frame (a length field may have been consumed). InvalidData: fatal,
    /// see <paramref name="error"/>. <paramref name="consumed"/> is valid for every status.
    /// </summary>
    public OperationStatus DecodeFrameInPlace(Span<byte> wire, out int consumed, out int payloadOffset, out int payloadLength, out string? error)
    {
        payloadOffset = 0;
        payloadLength = 0;
        error = null;
        var status = _decoder.DecodeInPlace(wire, out consumed, out var packetOffset, out var packetLength);
        if (status == OperationStatus.NeedMoreData)
            return status;
        if (status != OperationStatus.Done)
        {
            error = "frame authentication failed";
            return OperationStatus.InvalidData;
        }
        if (!TakePacket(wire.Slice(packetOffset, packetLength), out var bodyOffset, out payloadLength, out error))
            return OperationStatus.InvalidData;
        payloadOffset = packetOffset + bodyOffset;
        return OperationStatus.Done;
    }

    /// <summary>
    /// Checks one opened packet and acts on it. True with the payload's place inside the packet
    /// (length 0 for padding, seeds and unknown types); false when the packet is malformed (fatal).
    /// </summary>
    private bool TakePacket(ReadOnlySpan<byte> packet, out int bodyOffset, out int bodyLength, out string? error)
    {
        bodyOffset = Obfs4Wire.PacketOverhead;
        bodyLength = 0;
        error = null;
        if (packet.Length < Obfs4Wire.PacketOverhead)
        {
            error = $"invalid packet length {packet.Length}";
            return false;
        }
        var type = packet[0];
        var payloadLen = BinaryPrimitives.ReadUInt16BigEndian(packet[1..]);
        if (payloadLen > packet.Length - Obfs4Wire.PacketOverhead)
        {
            error = $"invalid payload length {payloadLen}";
            return false;
        }
        var body = packet.Slice(Obfs4Wire.PacketOverhead, payloadLen);
        switch (type)
        {
            case Obfs4Wire.PacketTypePayload:
                bodyLength = payloadLen;
                break;
            case Obfs4Wire.PacketTypePrngSeed when body.Length == Obfs4Wire.SeedPacketPayloadLength && !_isServer:
                // The server tells the client which shape its traffic should have.
                _lenDist.Reset(body);
                if (_iatDist is not null)
                {
                    Span<byte> iatSeed = stackalloc byte[32];
                    SHA256.HashData(body, iatSeed);
                    _iatDist.Reset(iatSeed[..HashDrbg.SeedLength]);
                }
                break;
            default:
                break; // unknown packet types are ignored, as in obfs4
        }
        return true;
    }
}
