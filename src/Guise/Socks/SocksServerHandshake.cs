// Wire formats read here (server side). Numbers are field lengths in bytes.
//
// SOCKS5 greeting (RFC 1928 §3)        method selection reply
//   +-----+----------+----------+        +-----+--------+
//   | VER | NMETHODS | METHODS  |        | VER | METHOD |
//   | 05  |    1     | 0 to 255 |        | 05  |   1    |   00 no auth, 02 user/pass, FF none acceptable
//   +-----+----------+----------+        +-----+--------+
//
// RFC 1929 username/password            status reply
//   +-----+------+----------+------+----------+    +-----+--------+
//   | VER | ULEN |  UNAME   | PLEN |  PASSWD  |    | VER | STATUS |
//   | 01  |  1   | 0 to 255 |  1   | 0 to 255 |    | 01  |   1    |   00 success, anything else fails
//   +-----+------+----------+------+----------+    +-----+--------+
//   pt-spec §3.5: UNAME || PASSWD is the escaped k=v;k=v argument string; a PASSWD of a single
//   NUL means "no second half". RFC 1929 says 1 to 255 but tor accepts 0 since 0.4.0, so do we.
//
// SOCKS5 request (RFC 1928 §4)
//   +-----+-----+-----+------+----------+----------+
//   | VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT |
//   | 05  |  1  | 00  |  1   | Variable |    2     |   CMD 01 CONNECT (02 BIND, 03 UDP refused)
//   +-----+-----+-----+------+----------+----------+   ATYP 01 IPv4(4), 03 LEN+name, 04 IPv6(16)
//
// SOCKS4 / SOCKS4a request (no authentication exchange; replies are in SocksServer.cs)
//   +----+----+---------+--------+-----------+-----+--------------+-----+
//   | VN | CD | DSTPORT | DSTIP  | USERID    | NUL | DOMAIN (4a)  | NUL |
//   | 04 | 01 |    2    |   4    | variable  | 00  | variable     | 00  |
//   +----+----+---------+--------+-----------+-----+--------------+-----+
//   DSTIP 0.0.0.x with x != 0 means "4a": a domain follows the USERID. USERID carries the args.
//
// All integers are big-endian.

using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Socks;

/// <summary>
/// The server side of a SOCKS4a/SOCKS5 handshake as a pure state machine: bytes in, reply bytes
/// out, no I/O. <see cref="SocksServer.ReadRequestAsync"/> is a thin pump over it; tests and
/// fuzzers drive it directly.
/// </summary>
/// <remarks>
/// <see cref="Process"/> consumes whole messages only, so a caller keeps the unconsumed tail
/// and calls again with more bytes appended. It never asks for more than the current message
/// needs (<see cref="MinimumInput"/>), which lets the pump avoid reading past the request:
/// the client stream can then be relayed as it is. Failure is terminal; the failure reply (if
/// the protocol has one) is written to the output before <see cref="OperationStatus.InvalidData"/>
/// is returned.
/// </remarks>
public sealed class SocksServerHandshake
{
    /// <summary>Longest SOCKS4 USERID accepted (it carries the args; tor's own limit is lower).</summary>
    public const int MaxSocks4UserIdLength = 1024;

    /// <summary>The largest <see cref="MinimumInput"/> can become: a buffer this big always suffices.</summary>
    public const int MaxMessageLength = 8 + MaxSocks4UserIdLength + 1 + 255 + 1;

    private const byte AuthNone = 0x00;
    private const byte AuthUserPass = 0x02;
    private const byte AuthNoAcceptable = 0xFF;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private enum State { Start, Socks5Auth, Socks5Request, Done, Failed }

    private State _state = State.Start;
    private PtArgs _args = PtArgs.Empty;

    /// <summary>
    /// How many unconsumed input bytes the next <see cref="Process"/> call needs at least. After
    /// <see cref="OperationStatus.NeedMoreData"/> it is larger than what was left unconsumed.
    /// Never exceeds <see cref="MaxMessageLength"/>.
    /// </summary>
    public int MinimumInput { get; private set; } = 2;

    /// <summary>The request, once <see cref="Process"/> returned <see cref="OperationStatus.Done"/>.</summary>
    public SocksRequest? Request { get; private set; }

    /// <summary>Why the handshake failed, once <see cref="Process"/> returned <see cref="OperationStatus.InvalidData"/>.</summary>
    public PtException? Error { get; private set; }

    /// <summary>
    /// Advances the handshake over <paramref name="input"/> (the bytes not consumed so far, plus
    /// new ones). Writes any reply due to <paramref name="output"/>; the caller must send it
    /// before waiting for more input, because the client waits for it.
    /// </summary>
    /// <returns>
    /// Done when the CONNECT request is complete (<see cref="Request"/>; no reply sent yet: that
    /// is <see cref="SocksServer.SendReplyAsync"/>'s job once the outcome is known);
    /// NeedMoreData; or InvalidData (<see cref="Error"/>), after which the connection is useless.
    /// </returns>
    public OperationStatus Process(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        while (true)
        {
            var rest = input[consumed..];
            int n;
            var status = _state switch
            {
                State.Start => Start(rest, output, out n),
                State.Socks5Auth => Socks5Auth(rest, output, out n),
                State.Socks5Request => Socks5Request(rest, output, out n),
                State.Done => Finished(OperationStatus.Done, out n),
                _ => Finished(OperationStatus.InvalidData, out n),
            };
            consumed += n;
            // A message finished but the handshake goes on: parse the next one from what is left.
            if (status != OperationStatus.Done || _state == State.Done)
                return status;
        }
    }

    private static OperationStatus Finished(OperationStatus status, out int consumed)
    {
        consumed = 0;
        return status;
    }

    private OperationStatus Start(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        if (input.Length < 1)
            return More(2);
        return input[0] switch
        {
            5 => Socks5Greeting(input, output, out consumed),
            4 => Socks4Request(input, output, out consumed),
            // No reply: whatever spoke to us does not understand SOCKS (often an HTTP client).
            _ => Fail(PtErrorKind.PeerProtocol, $"not a SOCKS client (first byte 0x{input[0]:X2})"),
        };
    }

    private OperationStatus Socks5Greeting(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        if (input.Length < 2)
            return More(2);
        var length = 2 + input[1];
        if (input.Length < length)
            return More(length);
        var methods = input[2..length];
        // Prefer user/pass when offered: it is the only way the args reach us (goptlib does the same).
        var method = methods.Contains(AuthUserPass) ? AuthUserPass
            : methods.Contains(AuthNone) ? AuthNone
            : AuthNoAcceptable;
        Write(output, [5, method]);
        consumed = length;
        if (method == AuthNoAcceptable)
            return Fail(PtErrorKind.PeerProtocol, "SOCKS5 client offered neither no-auth nor username/password");
        _state = method == AuthUserPass ? State.Socks5Auth : State.Socks5Request;
        MinimumInput = 2;
        return OperationStatus.Done;
    }

    private OperationStatus Socks5Auth(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        if (input.Length < 1)
            return More(2);
        if (input[0] != 1)
            return AuthFail(output, PtErrorKind.PeerProtocol, $"RFC 1929 version 0x{input[0]:X2}, expected 0x01");
        if (input.Length < 2)
            return More(2);
        var userLength = input[1];
        if (input.Length < 2 + userLength + 1)
            return More(2 + userLength + 1);
        var passwordLength = input[2 + userLength];
        var length = 2 + userLength + 1 + passwordLength;
        if (input.Length < length)
            return More(length);

        var user = input.Slice(2, userLength);
        var password = input.Slice(3 + userLength, passwordLength);
        // pt-spec §3.5: a lone NUL password only satisfies RFC 1929's "at least one byte".
        if (password is [0])
            password = [];
        Span<byte> joined = stackalloc byte[user.Length + password.Length];
        user.CopyTo(joined);
        password.CopyTo(joined[user.Length..]);
        consumed = length;
        if (!TryParseArgs(joined, out var args, out var error))
            return AuthFail(output, PtErrorKind.Config, error);
        _args = args;
        Write(output, [1, 0]);
        _state = State.Socks5Request;
        MinimumInput = 4;
        return OperationStatus.Done;
    }

    private OperationStatus AuthFail(IBufferWriter<byte> output, PtErrorKind kind, string message)
    {
        Write(output, [1, 1]);
        return Fail(kind, message);
    }

    private OperationStatus Socks5Request(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        // Check each fixed byte as soon as it arrives, so a client that sends a BIND and waits
        // gets its 0x07 without us waiting for an address we would not use.
        if (input.Length >= 1 && input[0] != 5)
            return Socks5Fail(output, SocksReply.GeneralFailure, $"SOCKS5 request version 0x{input[0]:X2}");
        if (input.Length >= 2 && input[1] != 1)
            return Socks5Fail(output, SocksReply.CommandNotSupported, input[1] switch
            {
                2 => "SOCKS5 BIND is not supported",
                3 => "SOCKS5 UDP ASSOCIATE is not supported",
                _ => $"SOCKS5 command 0x{input[1]:X2} is not supported",
            });
        if (input.Length >= 3 && input[2] != 0)
            return Socks5Fail(output, SocksReply.GeneralFailure, $"SOCKS5 reserved byte is 0x{input[2]:X2}, not 0x00");
        if (input.Length < 4)
            return More(4);

        string host;
        int addressEnd;
        switch (input[3])
        {
            case 1:
                addressEnd = 4 + 4;
                if (input.Length < addressEnd + 2)
                    return More(addressEnd + 2);
                host = new IPAddress(input[4..addressEnd]).ToString();
                break;
            case 4:
                addressEnd = 4 + 16;
                if (input.Length < addressEnd + 2)
                    return More(addressEnd + 2);
                host = new IPAddress(input[4..addressEnd]).ToString();
                break;
            case 3:
                if (input.Length < 5)
                    return More(5);
                if (input[4] == 0)
                    return Socks5Fail(output, SocksReply.GeneralFailure, "SOCKS5 domain name is empty");
                addressEnd = 5 + input[4];
                if (input.Length < addressEnd + 2)
                    return More(addressEnd + 2);
                if (!TryDecodeHostName(input[5..addressEnd], out host, out var why))
                    return Socks5Fail(output, SocksReply.GeneralFailure, why);
                break;
            default:
                return Socks5Fail(output, SocksReply.AddressTypeNotSupported, $"SOCKS5 address type 0x{input[3]:X2} is not supported");
        }
        var port = BinaryPrimitives.ReadUInt16BigEndian(input[addressEnd..]);
        consumed = addressEnd + 2;
        return Succeed(new SocksRequest(SocksVersion.Socks5, host, port, _args));
    }

    private OperationStatus Socks5Fail(IBufferWriter<byte> output, SocksReply reply, string message)
    {
        SocksServer.WriteReply(SocksVersion.Socks5, reply, output);
        return Fail(PtErrorKind.PeerProtocol, message);
    }

    private OperationStatus Socks4Request(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        consumed = 0;
        if (input.Length < 2)
            return More(2);
        if (input[1] != 1)
            return Socks4Fail(output, PtErrorKind.PeerProtocol, input[1] == 2
                ? "SOCKS4 BIND is not supported"
                : $"SOCKS4 command 0x{input[1]:X2} is not supported");
        if (input.Length < 8)
            return More(8);
        var port = BinaryPrimitives.ReadUInt16BigEndian(input[2..]);
        var ip = input[4..8];

        // Search only as far as a legal field can reach, so oversized input fails at the limit
        // whether it arrives in one piece or byte by byte.
        if (!TryFindNul(input[8..], MaxSocks4UserIdLength, out var userIdLength))
        {
            return userIdLength < 0
                ? Socks4Fail(output, PtErrorKind.PeerProtocol, $"SOCKS4 USERID is longer than {MaxSocks4UserIdLength} bytes")
                : More(input.Length + 1);
        }
        var userId = input.Slice(8, userIdLength);
        var end = 8 + userIdLength + 1;

        string host;
        if (ip is [0, 0, 0, not 0])
        {
            if (!TryFindNul(input[end..], 255, out var domainLength))
            {
                return domainLength < 0
                    ? Socks4Fail(output, PtErrorKind.PeerProtocol, "SOCKS4a domain name is longer than 255 bytes")
                    : More(input.Length + 1);
            }
            if (domainLength == 0)
                return Socks4Fail(output, PtErrorKind.PeerProtocol, "SOCKS4a domain name is empty");
            if (!TryDecodeHostName(input.Slice(end, domainLength), out host, out var why))
                return Socks4Fail(output, PtErrorKind.PeerProtocol, why);
            end += domainLength + 1;
        }
        else if (ip is [0, 0, 0, 0])
        {
            return Socks4Fail(output, PtErrorKind.PeerProtocol, "SOCKS4 destination 0.0.0.0");
        }
        else
        {
            host = new IPAddress(ip).ToString();
        }

        consumed = end;
        if (!TryParseArgs(userId, out var args, out var error))
            return Socks4Fail(output, PtErrorKind.Config, error);
        return Succeed(new SocksRequest(SocksVersion.Socks4a, host, port, args));
    }

    private OperationStatus Socks4Fail(IBufferWriter<byte> output, PtErrorKind kind, string message)
    {
        SocksServer.WriteReply(SocksVersion.Socks4a, SocksReply.GeneralFailure, output);
        return Fail(kind, message);
    }

    /// <summary>
    /// Finds the NUL ending a field of at most <paramref name="maxLength"/> bytes. When there is
    /// none yet, <paramref name="length"/> is 0 if more input may still bring it, -1 if the field
    /// is already too long.
    /// </summary>
    private static bool TryFindNul(ReadOnlySpan<byte> input, int maxLength, out int length)
    {
        var window = input[..Math.Min(input.Length, maxLength + 1)];
        length = window.IndexOf((byte)0);
        if (length >= 0)
            return true;
        length = window.Length > maxLength ? -1 : 0;
        return false;
    }

    private OperationStatus More(int minimumInput)
    {
        MinimumInput = minimumInput;
        return OperationStatus.NeedMoreData;
    }

    private OperationStatus Succeed(SocksRequest request)
    {
        Request = request;
        _state = State.Done;
        MinimumInput = 0;
        return OperationStatus.Done;
    }

    private OperationStatus Fail(PtErrorKind kind, string message)
    {
        Error = new PtException(kind, message);
        _state = State.Failed;
        MinimumInput = 0;
        return OperationStatus.InvalidData;
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    private static bool TryParseArgs(ReadOnlySpan<byte> bytes, out PtArgs args, out string error)
    {
        args = PtArgs.Empty;
        error = "";
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            error = "SOCKS args are not UTF-8";
            return false;
        }
        try
        {
            args = PtArgs.ParseSocks(text);
            return true;
        }
        catch (PtException e)
        {
            // The message quotes the args; they are the user's bridge line, not an address.
            error = $"bad SOCKS args: {e.Message}";
            return false;
        }
    }

    // A name goes into "host:port" and then to DNS: reject what neither can carry.
    private static bool TryDecodeHostName(ReadOnlySpan<byte> bytes, out string host, out string error)
    {
        host = "";
        error = "";
        try
        {
            host = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            error = "domain name is not UTF-8";
            return false;
        }
        foreach (var c in host)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                error = "domain name contains a control or space character";
                return false;
            }
        }
        return true;
    }
}
