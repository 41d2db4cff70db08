using System.Buffers.Binary;

namespace Guise.Transports.Marionette;

/// <summary>
/// The plaintext inside every sealed record:
/// <code>
///   flags(1) | stream id(4, BE) | sequence(4, BE) | payload length(4, BE) | payload | zero padding
/// </code>
/// Flags: bit 0 = FIN (the sender will send no more payload on this stream); bit 1 = HELLO (the
/// client's first cell on a connection: the payload starts with the client's clock, 8 bytes,
/// big-endian Unix seconds, which the server checks, with a replay filter, before it answers as
/// Marionette; see <see cref="MarionetteEngine"/>). The sequence number
/// counts cells per direction from 0; a gap, a repeat or a reordering is a protocol error (records
/// are also bound to their direction by separate keys). Padding must be zero.
/// </summary>
public readonly record struct MarionetteCell(byte Flags, uint StreamId, uint Sequence, ReadOnlyMemory<byte> Payload)
{
    public const int HeaderLength = 13;
    public const byte FinFlag = 1;
    public const byte HelloFlag = 2;
    public const int ClockLength = 8;

    public bool IsFin => (Flags & FinFlag) != 0;
    public bool IsHello => (Flags & HelloFlag) != 0;

    /// <summary>Writes the cell into exactly <paramref name="destination"/>.Length bytes (header + payload + padding).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < HeaderLength + Payload.Length)
            throw new ArgumentException("destination too small for the cell", nameof(destination));
        destination[0] = Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[9..], (uint)Payload.Length);
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
        if ((flags & ~(FinFlag | HelloFlag)) != 0)
        {
            error = $"unknown cell flags 0x{flags:x2}";
            return false;
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(s[9..]);
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
        cell = new MarionetteCell(flags, BinaryPrimitives.ReadUInt32BigEndian(s[1..]), BinaryPrimitives.ReadUInt32BigEndian(s[5..]),
            plaintext.Slice(HeaderLength, (int)length));
        return true;
    }
}
