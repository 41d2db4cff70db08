using System.Buffers.Binary;

namespace Guise.Transports.Marionette;

/// <summary>
/// The plaintext inside every sealed record (one cell per message):
/// <code>
///   flags(1) | session(8) | counter(4, BE) | stream(4, BE) | offset(4, BE) | ack(4, BE) | payload length(4, BE) | payload | zero padding
/// </code>
/// <list type="bullet">
/// <item><b>session</b>: chosen at random by the client; all its connections (and every request an
/// HTTP proxy forwards on a connection of its own) belong to it. 0 = no session yet (a server that
/// must speak before it heard anyone sends padding).</item>
/// <item><b>counter</b>: the sender's cells in this session, from 0, across all its connections;
/// the server refuses a counter it has already seen (a replayed request gets the decoy answer).</item>
/// <item><b>stream</b>: the SOCKS stream the payload belongs to (opened by the client, numbered
/// from 1); 0 = no stream (padding only).</item>
/// <item><b>offset</b>: where the payload starts in the stream, in bytes (low 32 bits; the
/// receiver takes the value nearest what it expects, so streams may exceed 4 GiB).</item>
/// <item><b>ack</b>: bytes of the peer's stream this side's application has read, plus 1 once it
/// has read the peer's FIN (low 32 bits). The peer may send at most
/// <see cref="MuxStream.Window"/> bytes past it and resends from it after losing a connection.</item>
/// </list>
/// Flags: bit 0 = FIN (the stream ends after this payload); bit 1 = HELLO (the client has not
/// heard from the server in this session yet: the payload starts with the client's clock, 8 bytes,
/// big-endian Unix seconds, which the server checks, with a replay filter, before it creates the
/// session); bit 2 = RST (the sender abandoned the stream, or has no such stream any more);
/// bit 3 = RESUME (the client lost a connection: the server sends again everything not
/// acknowledged, as the client does). Padding must be zero.
/// </summary>
public readonly record struct MarionetteCell(byte Flags, ulong SessionId, uint Counter, uint StreamId, uint Offset, uint Ack, ReadOnlyMemory<byte> Payload)
{
    public const int HeaderLength = 29;
    public const byte FinFlag = 1;
    public const byte HelloFlag = 2;
    public const byte RstFlag = 4;
    public const byte ResumeFlag = 8;
    public const int ClockLength = 8;

    public bool IsFin => (Flags & FinFlag) != 0;
    public bool IsHello => (Flags & HelloFlag) != 0;
    public bool IsRst => (Flags & RstFlag) != 0;
    public bool IsResume => (Flags & ResumeFlag) != 0;

    /// <summary>Writes the cell into exactly <paramref name="destination"/>.Length bytes (header + payload + padding).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < HeaderLength + Payload.Length)
            throw new ArgumentException("destination too small for the cell", nameof(destination));
        destination[0] = Flags;
        BinaryPrimitives.WriteUInt64BigEndian(destination[1..], SessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[9..], Counter);
        BinaryPrimitives.WriteUInt32BigEndian(destination[13..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[17..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[21..], Ack);
        BinaryPrimitives.WriteUInt32BigEndian(destination[25..], (uint)Payload.Length);
        Payload.Span.CopyTo(destination[HeaderLength..]);
        destination[(HeaderLength + Payload.Length)..].Clear();
    }

    public static bool TryRead(ReadOnlyMemory<byte> plaintext, out MarionetteCell cell, out string? error)
    {
        cell = default;
        error = null;
        var s = plaintext.Span;
        if (s.Length < HeaderLength)
        {
            error = "cell shorter than its header";
            return false;
        }
        var flags = s[0];
        if ((flags & ~(FinFlag | HelloFlag | RstFlag | ResumeFlag)) != 0)
        {
            error = $"unknown cell flags 0x{flags:x2}";
            return false;
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(s[25..]);
        if (length > (uint)(s.Length - HeaderLength))
        {
            error = "cell payload length exceeds the record";
            return false;
        }
        if ((flags & HelloFlag) != 0 && length < ClockLength)
        {
            error = "HELLO cell without the client's clock";
            return false;
        }
        if (s[(HeaderLength + (int)length)..].ContainsAnyExcept((byte)0))
        {
            error = "non-zero cell padding";
            return false;
        }
        cell = new MarionetteCell(flags, BinaryPrimitives.ReadUInt64BigEndian(s[1..]), BinaryPrimitives.ReadUInt32BigEndian(s[9..]),
            BinaryPrimitives.ReadUInt32BigEndian(s[13..]), BinaryPrimitives.ReadUInt32BigEndian(s[17..]), BinaryPrimitives.ReadUInt32BigEndian(s[21..]),
            plaintext.Slice(HeaderLength, (int)length));
        return true;
    }

    /// <summary>The 64-bit value whose low 32 bits are <paramref name="wire"/> and which is nearest <paramref name="reference"/>.</summary>
    public static ulong Unwrap(uint wire, ulong reference)
    {
        var candidate = (reference & ~0xFFFF_FFFFUL) | wire;
        if (candidate + 0x8000_0000UL < reference && candidate <= ulong.MaxValue - 0x1_0000_0000UL)
            candidate += 0x1_0000_0000UL;
        else if (candidate > reference + 0x8000_0000UL && candidate >= 0x1_0000_0000UL)
            candidate -= 0x1_0000_0000UL;
        return candidate;
    }
}
