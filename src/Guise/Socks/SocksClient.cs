// Client side of the formats drawn in SocksServerHandshake.cs (requests) and SocksServer.cs
// (replies). What this side adds:
//
// SOCKS5 reply as read back (RFC 1928 §6): a server may bind any address type, so the length
// is only known after ATYP (and, for a name, after its length byte).
//   | 05 | REP | 00 | ATYP | BND.ADDR (4, 16 or 1+LEN) | BND.PORT (2) |
//
// pt-spec §3.5 args in RFC 1929 credentials:
//   args (escaped k=v;k=v, UTF-8) of 1..255 bytes   -> UNAME = args,          PASSWD = 00
//   args of 256..510 bytes                          -> UNAME = first 255 bytes, PASSWD = the rest
//   no args                                         -> offer only NO AUTHENTICATION (00)
// The split is by bytes, so it may cut a UTF-8 sequence; servers join before decoding.

using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Socks;

/// <summary>
/// Asks a SOCKS server for a CONNECT: what tor does towards a PT, and what the upstream proxy
/// dialer does towards a TOR_PT_PROXY. Encoders are separate from I/O so they can be checked
/// byte for byte.
/// </summary>
/// <remarks>
/// Every failure is a <see cref="PtException"/> of kind <see cref="PtErrorKind.Proxy"/> (the
/// server refused or spoke wrongly) or <see cref="PtErrorKind.Config"/> (the request cannot be
/// encoded); I/O errors of the stream pass through unchanged. The stream is left open for the
/// caller to dispose. Replies are read exactly, so
/// after success the stream carries only the tunnelled bytes.
/// </remarks>
public static class SocksClient
{
    /// <summary>The most argument bytes pt-spec can carry over SOCKS5 (255 in UNAME, 255 in PASSWD).</summary>
    public const int MaxSocks5ArgsLength = 2 * 255;

    /// <summary>
    /// Splits pt-spec args into RFC 1929 credentials (see the table at the top of this file).
    /// Returns null for empty args: the client then offers no authentication at all.
    /// </summary>
    public static (byte[] UserName, byte[] Password)? ArgsToCredentials(PtArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0)
            return null;
        var bytes = Encoding.UTF8.GetBytes(args.ToSocksString());
        if (bytes.Length > MaxSocks5ArgsLength)
            throw new PtException(PtErrorKind.Config, $"SOCKS5 args are {bytes.Length} bytes; at most {MaxSocks5ArgsLength} fit in RFC 1929 username and password");
        return bytes.Length <= 255
            ? (bytes, [0])
            : (bytes[..255], bytes[255..]);
    }

    /// <summary>
    /// Connects through a SOCKS server as tor does for a PT: <paramref name="args"/> go in the
    /// RFC 1929 credentials (SOCKS5) or in the USERID (SOCKS4a).
    /// </summary>
    public static ValueTask ConnectAsync(Stream server, SocksVersion version, string host, int port, PtArgs args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        return version switch
        {
            SocksVersion.Socks5 => ArgsToCredentials(args) is var (user, password)
                ? ConnectSocks5Async(server, host, port, user, password, cancellationToken)
                : ConnectSocks5Async(server, host, port, null, null, cancellationToken),
            SocksVersion.Socks4a => ConnectSocks4aAsync(server, host, port, Encoding.UTF8.GetBytes(args.ToSocksString()), cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(version), version, "unknown SOCKS version"),
        };
    }

    /// <summary>
    /// SOCKS5 CONNECT. With a <paramref name="userName"/>, only username/password is offered
    /// (a server must not be able to skip the credentials); without one, only no-auth.
    /// </summary>
    public static async ValueTask ConnectSocks5Async(Stream server, string host, int port, byte[]? userName, byte[]? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var request = EncodeSocks5Connect(host, port);
        var useAuth = userName is not null;
        var auth = useAuth ? EncodeUserPass(userName!, password ?? []) : null;

        await WriteAsync(server, EncodeSocks5Greeting(useAuth), cancellationToken).ConfigureAwait(false);
        var selection = new byte[2];
        await ReadExactlyAsync(server, selection, "SOCKS5 method selection", cancellationToken).ConfigureAwait(false);
        if (selection[0] != 5)
            throw new PtException(PtErrorKind.Proxy, $"SOCKS5 server answered with version 0x{selection[0]:X2}");
        var expected = useAuth ? (byte)2 : (byte)0;
        if (selection[1] != expected)
        {
            throw new PtException(PtErrorKind.Proxy, selection[1] == 0xFF
                ? $"SOCKS5 server accepts no {(useAuth ? "username/password" : "unauthenticated")} clients"
                : $"SOCKS5 server chose method 0x{selection[1]:X2}, which was not offered");
        }

        if (auth is not null)
        {
            await WriteAsync(server, auth, cancellationToken).ConfigureAwait(false);
            var status = new byte[2];
            await ReadExactlyAsync(server, status, "SOCKS5 authentication", cancellationToken).ConfigureAwait(false);
            if (status[0] != 1)
                throw new PtException(PtErrorKind.Proxy, $"SOCKS5 server answered authentication with version 0x{status[0]:X2}");
            if (status[1] != 0)
                throw new PtException(PtErrorKind.Proxy, $"SOCKS5 server rejected the credentials (status 0x{status[1]:X2})");
        }

        await WriteAsync(server, request, cancellationToken).ConfigureAwait(false);
        var head = new byte[5];
        await ReadExactlyAsync(server, head, "SOCKS5 reply", cancellationToken).ConfigureAwait(false);
        if (head[0] != 5)
            throw new PtException(PtErrorKind.Proxy, $"SOCKS5 reply has version 0x{head[0]:X2}");
        var rest = head[3] switch
        {
            1 => 4 - 1 + 2,
            4 => 16 - 1 + 2,
            3 => head[4] + 2,
            _ => throw new PtException(PtErrorKind.Proxy, $"SOCKS5 reply has address type 0x{head[3]:X2}"),
        };
        await ReadExactlyAsync(server, new byte[rest], "SOCKS5 reply", cancellationToken).ConfigureAwait(false);
        if (head[1] != 0)
            throw new PtException(PtErrorKind.Proxy, $"SOCKS5 server failed the CONNECT: {Describe((SocksReply)head[1])}");
    }

    /// <summary>SOCKS4a CONNECT; IPv4 literals go in DSTIP, names after the USERID.</summary>
    public static async ValueTask ConnectSocks4aAsync(Stream server, string host, int port, byte[] userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        await WriteAsync(server, EncodeSocks4aConnect(host, port, userId), cancellationToken).ConfigureAwait(false);
        var reply = new byte[SocksServer.Socks4ReplyLength];
        await ReadExactlyAsync(server, reply, "SOCKS4 reply", cancellationToken).ConfigureAwait(false);
        if (reply[0] != 0)
            throw new PtException(PtErrorKind.Proxy, $"SOCKS4 reply has version 0x{reply[0]:X2}");
        if (reply[1] != 0x5A)
            throw new PtException(PtErrorKind.Proxy, $"SOCKS4 server rejected the CONNECT (code 0x{reply[1]:X2})");
    }

    /// <summary>VER NMETHODS METHODS offering exactly one method.</summary>
    public static byte[] EncodeSocks5Greeting(bool userNamePassword) => [5, 1, userNamePassword ? (byte)2 : (byte)0];

    /// <summary>The RFC 1929 request.</summary>
    public static byte[] EncodeUserPass(byte[] userName, byte[] password)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        if (userName.Length > 255 || password.Length > 255)
            throw new PtException(PtErrorKind.Config, "RFC 1929 username and password are limited to 255 bytes each");
        var bytes = new byte[3 + userName.Length + password.Length];
        bytes[0] = 1;
        bytes[1] = (byte)userName.Length;
        userName.CopyTo(bytes, 2);
        bytes[2 + userName.Length] = (byte)password.Length;
        password.CopyTo(bytes, 3 + userName.Length);
        return bytes;
    }

    /// <summary>The SOCKS5 CONNECT request; IP literals use ATYP 1 or 4, anything else is a name.</summary>
    public static byte[] EncodeSocks5Connect(string host, int port)
    {
        CheckTarget(host, port);
        byte[] address;
        byte type;
        if (IPAddress.TryParse(host, out var ip))
        {
            address = ip.GetAddressBytes();
            type = ip.AddressFamily == AddressFamily.InterNetwork ? (byte)1 : (byte)4;
        }
        else
        {
            var name = Encoding.UTF8.GetBytes(host);
            if (name.Length > 255)
                throw new PtException(PtErrorKind.Config, "SOCKS5 domain names are limited to 255 bytes");
            address = [(byte)name.Length, .. name];
            type = 3;
        }
        var bytes = new byte[4 + address.Length + 2];
        bytes[0] = 5;
        bytes[1] = 1;
        bytes[3] = type;
        address.CopyTo(bytes, 4);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + address.Length), (ushort)port);
        return bytes;
    }

    /// <summary>The SOCKS4(a) CONNECT request.</summary>
    public static byte[] EncodeSocks4aConnect(string host, int port, byte[] userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        CheckTarget(host, port);
        if (userId.AsSpan().Contains((byte)0))
            throw new PtException(PtErrorKind.Config, "SOCKS4 USERID cannot contain NUL");
        byte[] ip = [0, 0, 0, 1];
        byte[] name = [];
        if (IPAddress.TryParse(host, out var literal))
        {
            if (literal.AddressFamily != AddressFamily.InterNetwork)
                throw new PtException(PtErrorKind.Config, "SOCKS4a cannot carry an IPv6 destination");
            ip = literal.GetAddressBytes();
        }
        else
        {
            name = Encoding.UTF8.GetBytes(host);
            if (name.Length > 255)
                throw new PtException(PtErrorKind.Config, "SOCKS4a domain names are limited to 255 bytes");
        }
        var bytes = new List<byte>(8 + userId.Length + 1 + name.Length + 1) { 4, 1, (byte)(port >> 8), (byte)port };
        bytes.AddRange(ip);
        bytes.AddRange(userId);
        bytes.Add(0);
        if (name.Length > 0)
        {
            bytes.AddRange(name);
            bytes.Add(0);
        }
        return [.. bytes];
    }

    private static void CheckTarget(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Length == 0 || host.Contains('\0', StringComparison.Ordinal))
            throw new PtException(PtErrorKind.Config, "SOCKS destination host is empty or contains NUL");
        if (port is < 0 or > 65535)
            throw new PtException(PtErrorKind.Config, $"SOCKS destination port {port} is out of range");
    }

    internal static string Describe(SocksReply reply) => reply switch
    {
        SocksReply.GeneralFailure => "general failure (0x01)",
        SocksReply.NotAllowedByRuleset => "not allowed by ruleset (0x02)",
        SocksReply.NetworkUnreachable => "network unreachable (0x03)",
        SocksReply.HostUnreachable => "host unreachable (0x04)",
        SocksReply.ConnectionRefused => "connection refused (0x05)",
        SocksReply.TtlExpired => "TTL expired (0x06)",
        SocksReply.CommandNotSupported => "command not supported (0x07)",
        SocksReply.AddressTypeNotSupported => "address type not supported (0x08)",
        _ => $"reply 0x{(byte)reply:X2}",
    };

    private static async ValueTask WriteAsync(Stream server, byte[] bytes, CancellationToken cancellationToken)
    {
        await server.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await server.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask ReadExactlyAsync(Stream server, byte[] buffer, string what, CancellationToken cancellationToken)
    {
        try
        {
            await server.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new PtException(PtErrorKind.Proxy, $"SOCKS server closed the connection before the {what}", e);
        }
    }
}
