using Guise.Net;
using Guise.Transports;

namespace Guise.Socks;

/// <summary>The SOCKS dialect a client spoke; the reply must be in the same one.</summary>
public enum SocksVersion
{
    /// <summary>SOCKS4 and its 4a extension (domain names); one reply format covers both.</summary>
    Socks4a = 4,
    Socks5 = 5,
}

/// <summary>SOCKS5 reply codes (RFC 1928 §6). SOCKS4 has only granted/rejected; see <see cref="SocksServer.SendReplyAsync"/>.</summary>
public enum SocksReply : byte
{
    Succeeded = 0,
    GeneralFailure = 1,
    NotAllowedByRuleset = 2,
    NetworkUnreachable = 3,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    TtlExpired = 6,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}

/// <summary>
/// A CONNECT request read from a SOCKS client. <paramref name="Host"/> is an IP literal (IPv6
/// without brackets) or a DNS name; <paramref name="Args"/> are the pt-spec per-connection
/// arguments carried in the authentication fields (empty when the client sent none).
/// </summary>
public sealed record SocksRequest(SocksVersion Version, string Host, int Port, PtArgs Args)
{
    /// <summary>"host:port" with IPv6 in brackets, as <see cref="DialAsync"/> expects.</summary>
    public string Target => HostPort.Format(Host, Port);
}
