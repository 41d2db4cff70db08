using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Guise.Errors;
using Guise.Net;

namespace Guise.Pt;

// Extended ORPort, client (= server-side PT) half, per ext-orport-spec:
//
//   cookie file  = "! Extended ORPort Auth Cookie !\x0a" (32 octets) | cookie (32 octets), nothing more
//
//   S→C  AuthTypes (1..255 each) | 0x00
//   C→S  AuthType = 0x01 (SAFE_COOKIE)     (0x00 = "none of those", then we give up)
//   C→S  ClientNonce [32]
//   S→C  ServerHash [32] | ServerNonce [32]
//          ServerHash = HMAC-SHA256(cookie, "ExtORPort authentication server-to-client hash" | ClientNonce | ServerNonce)
//   C→S  ClientHash [32]
//          ClientHash = HMAC-SHA256(cookie, "ExtORPort authentication client-to-server hash" | ClientNonce | ServerNonce)
//   S→C  Status [1]                        1 = success, 0 = failure
//
//   then commands: COMMAND [2, BE] | BODYLEN [2, BE] | BODY
//   C→S  0x0001 USERADDR "1.2.3.4:5678" / "[1:2::3:4]:5678"   0x0002 TRANSPORT name   0x0000 DONE
//   S→C  0x1000 OKAY   0x1001 DENY   0x1002 CONTROL (not used)
//
// Fatal, each one: a bad cookie file (Config), no SAFE_COOKIE offered, a wrong server hash, a
// status of 0 or a DENY (Handshake), anything malformed or CONTROL (PeerProtocol), EOF (Eof).
// The reply is read byte-exactly, so whatever tor sends after OKAY stays in the stream for the
// relay.

/// <summary>Authenticates to tor's Extended ORPort and announces one client connection.</summary>
public static class ExtOrPortClient
{
    public const int CookieLength = 32;
    public const int NonceLength = 32;
    public const int HashLength = 32;

    private const byte AuthTypeSafeCookie = 1;
    private const ushort CmdDone = 0x0000;
    private const ushort CmdUserAddr = 0x0001;
    private const ushort CmdTransport = 0x0002;
    private const ushort ReplyOkay = 0x1000;
    private const ushort ReplyDeny = 0x1001;
    private const ushort ReplyControl = 0x1002;

    // "Parties MUST ignore command codes that they do not understand", but a peer that sends
    // nothing else must not keep us reading forever.
    private const int MaxIgnoredReplies = 16;

    private static readonly byte[] CookieHeader = "! Extended ORPort Auth Cookie !\n"u8.ToArray();
    private static readonly byte[] ServerHashLabel = "ExtORPort authentication server-to-client hash"u8.ToArray();
    private static readonly byte[] ClientHashLabel = "ExtORPort authentication client-to-server hash"u8.ToArray();

    /// <summary>
    /// Runs the whole exchange on <paramref name="stream"/> (already connected to
    /// TOR_PT_EXTENDED_SERVER_PORT) and returns once tor said OKAY; the stream then carries the
    /// OR connection. The cookie file is read on every call because tor may rewrite it after
    /// the PT was launched (tor bug 15240).
    /// </summary>
    /// <param name="userAddr">The client's address as "ip:port" / "[ipv6]:port", or null to send no USERADDR.</param>
    /// <param name="transport">The transport name for TRANSPORT (a C identifier).</param>
    /// <exception cref="PtException">See the kinds in the file header.</exception>
    public static async Task HandshakeAsync(Stream stream, string cookieFile, string? userAddr, string transport, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(cookieFile);
        ArgumentNullException.ThrowIfNull(transport);
        // Both are programming errors, so check them before a byte goes out.
        if (!PtOutput.IsTransportName(transport))
            throw new ArgumentException($"\"{PtOutput.Sanitize(transport)}\" is not a transport name", nameof(transport));
        if (userAddr is not null && !IsUserAddr(userAddr))
            throw new ArgumentException($"USERADDR \"{PtOutput.Sanitize(userAddr)}\" is not ip:port or [ipv6]:port", nameof(userAddr));

        var cookie = ReadCookieFile(cookieFile);
        try
        {
            await AuthenticateAsync(stream, cookie, ct).ConfigureAwait(false);
            await SendCommandsAsync(stream, userAddr, transport, ct).ConfigureAwait(false);
            await ReadReplyAsync(stream, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not PtException and not OperationCanceledException)
        {
            throw PtException.Wrap(e, "ExtORPort");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(cookie);
        }
    }

    /// <summary>ServerHash of ext-orport-spec §2.1.3.</summary>
    public static byte[] ComputeServerHash(ReadOnlySpan<byte> cookie, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce) =>
        Hmac(cookie, ServerHashLabel, clientNonce, serverNonce);

    /// <summary>ClientHash of ext-orport-spec §2.1.3.</summary>
    public static byte[] ComputeClientHash(ReadOnlySpan<byte> cookie, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce) =>
        Hmac(cookie, ClientHashLabel, clientNonce, serverNonce);

    /// <summary>
    /// Reads and checks a cookie file: exactly the 32-byte header and a 32-byte cookie.
    /// "Extended ORPort clients MUST make sure that the StaticHeader is present in the cookie file".
    /// </summary>
    /// <exception cref="PtException">Config: unreadable, wrong size or wrong header.</exception>
    public static byte[] ReadCookieFile(string path)
    {
        byte[] content;
        try
        {
            // Larger files are refused without reading them whole.
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            content = new byte[CookieHeader.Length + CookieLength + 1];
            var n = file.ReadAtLeast(content, content.Length, throwOnEndOfStream: false);
            if (n != CookieHeader.Length + CookieLength)
                throw new PtException(PtErrorKind.Config, $"ExtORPort cookie file \"{PtOutput.Sanitize(path)}\" is {(n > 64 ? "longer" : "shorter")} than 64 bytes");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PtException(PtErrorKind.Config, $"cannot read ExtORPort cookie file \"{PtOutput.Sanitize(path)}\": {PtOutput.Sanitize(e.Message)}", e);
        }
        try
        {
            if (!content.AsSpan(0, CookieHeader.Length).SequenceEqual(CookieHeader))
                throw new PtException(PtErrorKind.Config, $"ExtORPort cookie file \"{PtOutput.Sanitize(path)}\" lacks the cookie header");
            return content.AsSpan(CookieHeader.Length, CookieLength).ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    private static async Task AuthenticateAsync(Stream stream, byte[] cookie, CancellationToken ct)
    {
        var one = new byte[1];
        var offered = false;
        for (var count = 0; ; count++)
        {
            if (count >= 256)
                throw new PtException(PtErrorKind.PeerProtocol, "ExtORPort sent 256 auth types without the 0 terminator");
            await ReadExactlyAsync(stream, one, "auth types", ct).ConfigureAwait(false);
            if (one[0] == 0)
                break;
            offered |= one[0] == AuthTypeSafeCookie;
        }
        if (!offered)
        {
            // "A value of 0 means that the client did not like the authentication types offered".
            await WriteAsync(stream, new byte[] { 0 }, ct).ConfigureAwait(false);
            throw new PtException(PtErrorKind.Handshake, "ExtORPort does not offer SAFE_COOKIE authentication");
        }

        var clientNonce = RandomNumberGenerator.GetBytes(NonceLength);
        var hello = new byte[1 + NonceLength];
        hello[0] = AuthTypeSafeCookie;
        clientNonce.CopyTo(hello, 1);
        await WriteAsync(stream, hello, ct).ConfigureAwait(false);

        var reply = new byte[HashLength + NonceLength];
        await ReadExactlyAsync(stream, reply, "server hash and nonce", ct).ConfigureAwait(false);
        var serverHash = reply.AsSpan(0, HashLength);
        var serverNonce = reply.AsSpan(HashLength, NonceLength);

        var expected = ComputeServerHash(cookie, clientNonce, serverNonce);
        // Constant time, so a prober cannot learn the expected hash a byte at a time.
        if (!CryptographicOperations.FixedTimeEquals(serverHash, expected))
            throw new PtException(PtErrorKind.Handshake, "ExtORPort server hash mismatch (wrong or stale auth cookie?)");

        var clientHash = ComputeClientHash(cookie, clientNonce, serverNonce);
        await WriteAsync(stream, clientHash, ct).ConfigureAwait(false);

        await ReadExactlyAsync(stream, one, "auth status", ct).ConfigureAwait(false);
        switch (one[0])
        {
            case 1:
                return;
            case 0:
                throw new PtException(PtErrorKind.Handshake, "ExtORPort rejected our authentication");
            default:
                throw new PtException(PtErrorKind.PeerProtocol, $"ExtORPort sent auth status {one[0]}, neither 0 nor 1");
        }
    }

    private static async Task SendCommandsAsync(Stream stream, string? userAddr, string transport, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        if (userAddr is not null)
            AppendCommand(buffer, CmdUserAddr, Encoding.ASCII.GetBytes(userAddr));
        AppendCommand(buffer, CmdTransport, Encoding.ASCII.GetBytes(transport));
        AppendCommand(buffer, CmdDone, []);
        await WriteAsync(stream, buffer.ToArray(), ct).ConfigureAwait(false);
    }

    private static async Task ReadReplyAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[4];
        for (var ignored = 0; ; ignored++)
        {
            await ReadExactlyAsync(stream, header, "reply", ct).ConfigureAwait(false);
            var command = BinaryPrimitives.ReadUInt16BigEndian(header);
            var length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
            // The body is ignored for every reply, but it must be consumed to keep the stream aligned.
            if (length > 0)
                await ReadExactlyAsync(stream, new byte[length], "reply body", ct).ConfigureAwait(false);
            switch (command)
            {
                case ReplyOkay:
                    return;
                case ReplyDeny:
                    throw new PtException(PtErrorKind.Handshake, "ExtORPort denied the connection (DENY)");
                case ReplyControl:
                    throw new PtException(PtErrorKind.PeerProtocol, "ExtORPort sent CONTROL, which is not used");
                default:
                    // "Parties MUST ignore command codes that they do not understand."
                    if (ignored + 1 >= MaxIgnoredReplies)
                        throw new PtException(PtErrorKind.PeerProtocol, $"ExtORPort sent {MaxIgnoredReplies} unknown replies and no OKAY");
                    continue;
            }
        }
    }

    private static void AppendCommand(MemoryStream buffer, ushort command, byte[] body)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(header, command);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], checked((ushort)body.Length));
        buffer.Write(header);
        buffer.Write(body);
    }

    private static bool IsUserAddr(string text) =>
        HostPort.TryParse(text, out var hp) && IPAddress.TryParse(hp.Value.Host, out var ip)
        && HostPort.Format(hp.Value.Host, hp.Value.Port) == text
        && (ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || hp.Value.Host.Count(c => c == '.') == 3);

    private static byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> label, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce)
    {
        var message = new byte[label.Length + clientNonce.Length + serverNonce.Length];
        label.CopyTo(message);
        clientNonce.CopyTo(message.AsSpan(label.Length));
        serverNonce.CopyTo(message.AsSpan(label.Length + clientNonce.Length));
        return HMACSHA256.HashData(key, message);
    }

    private static async Task WriteAsync(Stream stream, byte[] data, CancellationToken ct)
    {
        await stream.WriteAsync(data, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task ReadExactlyAsync(Stream stream, byte[] buffer, string what, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new PtException(PtErrorKind.Eof, $"ExtORPort closed the connection while we waited for the {what}", e);
        }
    }
}
