// TOR_PT_PROXY (pt-spec §3.2.2): "<proxy_type>://[<user_name>[:<password>][@]<ip>:<port>"
//   socks5://[user[:pass]@]host:port    RFC 1928 + RFC 1929; user and pass up to 255 bytes each
//   socks4a://[user@]host:port          the user name goes in the USERID; SOCKS4 has no password
//   http://[user[:pass]@]host:port      CONNECT with Basic Proxy-Authorization
// Userinfo is percent-decoded, as goptlib's url.Parse does; it is split at the last '@' and the
// first ':' because tor pastes Socks5ProxyPassword in unescaped. A hostname is accepted though
// tor only writes IP literals (goptlib accepts one too): apps embedding Guise may name a proxy.
// The wire formats are in SocksServerHandshake.cs / SocksClient.cs and HttpConnectClient.cs.

using System.Text;
using Guise.Errors;
using Guise.Net;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Proxy;

/// <summary>The kinds of upstream proxy pt-spec defines for TOR_PT_PROXY.</summary>
public enum ProxyKind
{
    Socks5,
    Socks4a,
    Http,
}

/// <summary>
/// An upstream proxy every outgoing dial must go through (TOR_PT_PROXY). <see cref="Host"/> is
/// an IP literal (IPv6 without brackets) or a name.
/// </summary>
public sealed record UpstreamProxy(ProxyKind Kind, string Host, int Port, string? UserName, string? Password)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The scheme <see cref="Parse"/> reads for this kind.</summary>
    public string Scheme => Kind switch
    {
        ProxyKind.Socks5 => "socks5",
        ProxyKind.Socks4a => "socks4a",
        _ => "http",
    };

    /// <summary>
    /// Parses a TOR_PT_PROXY value (format at the top of this file). Anything else is a
    /// <see cref="PtErrorKind.Config"/> error whose message does not repeat the credentials.
    /// </summary>
    public static UpstreamProxy Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var schemeEnd = uri.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
            throw Bad("has no scheme; expected socks5://, socks4a:// or http://");
        var scheme = uri[..schemeEnd].ToLowerInvariant();
        var kind = scheme switch
        {
            "socks5" => ProxyKind.Socks5,
            "socks4a" => ProxyKind.Socks4a,
            "http" => ProxyKind.Http,
            "socks4" => throw Bad("scheme socks4 is not supported; pt-spec names socks4a"),
            _ => throw Bad($"scheme \"{Printable(scheme)}\" is not supported; expected socks5, socks4a or http"),
        };

        var rest = uri[(schemeEnd + 3)..];
        string? user = null;
        string? password = null;
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = rest[..at];
            rest = rest[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = PercentDecode(colon < 0 ? userInfo : userInfo[..colon]);
            password = colon < 0 ? null : PercentDecode(userInfo[(colon + 1)..]);
            if (user.Length == 0)
                throw Bad($"{scheme} has an empty user name before '@'");
        }
        if (rest.EndsWith('/'))
            rest = rest[..^1];
        if (rest.IndexOfAny(['/', '?', '#']) >= 0)
            throw Bad($"{scheme} proxy must not have a path, query or fragment");
        if (!HostPort.TryParse(rest, out var hostPort) || hostPort.Value.Port == 0 || hostPort.Value.Host.Length == 0)
            throw Bad($"{scheme} proxy needs host:port with a port from 1 to 65535 (IPv6 in brackets)");

        switch (kind)
        {
            case ProxyKind.Socks4a when password is not null:
                throw Bad("socks4a has no password; use socks4a://user@host:port");
            case ProxyKind.Socks4a when user is not null && user.Contains('\0', StringComparison.Ordinal):
                throw Bad("socks4a user name cannot contain NUL");
            case ProxyKind.Socks5 when Encoding.UTF8.GetByteCount(user ?? "") > 255 || Encoding.UTF8.GetByteCount(password ?? "") > 255:
                throw Bad("socks5 user name and password are limited to 255 bytes each (RFC 1929)");
            case ProxyKind.Http when user is not null && user.Contains(':', StringComparison.Ordinal):
                throw Bad("http user name cannot contain ':' (Basic authentication)");
        }
        return new UpstreamProxy(kind, hostPort.Value.Host, hostPort.Value.Port, user, password);
    }

    /// <summary>
    /// A dialer that reaches every target through this proxy: it dials the proxy with
    /// <paramref name="direct"/> and asks it for the target.
    /// </summary>
    /// <remarks>
    /// When the proxy cannot be reached the failure keeps its kind (Refused, Timeout...) with a
    /// message starting "proxy"; when the proxy refuses or misbehaves it is
    /// <see cref="PtErrorKind.Proxy"/>; a target the proxy kind cannot carry (IPv6 over
    /// SOCKS4a) is Config and no connection is made. On failure the proxy connection is
    /// disposed; on success the caller owns the returned stream.
    /// </remarks>
    public DialAsync Wrap(DialAsync direct)
    {
        ArgumentNullException.ThrowIfNull(direct);
        var proxyAddress = HostPort.Format(Host, Port);
        var user = UserName is null ? null : Encoding.UTF8.GetBytes(UserName);
        var password = Password is null ? null : Encoding.UTF8.GetBytes(Password);
        // The record can be built without Parse; check here what Parse would have refused.
        if (Kind == ProxyKind.Socks5 && (user?.Length > 255 || password?.Length > 255))
            throw new PtException(PtErrorKind.Config, "socks5 proxy user name and password are limited to 255 bytes each (RFC 1929)");
        if (Kind == ProxyKind.Socks4a && (Password is not null || user?.Contains((byte)0) == true))
            throw new PtException(PtErrorKind.Config, "socks4a proxy takes a user name without NUL and no password");

        return async (target, cancellationToken) =>
        {
            var (host, port) = HostPort.Parse(target, "dial target");
            // Encode first: a request the proxy cannot carry should not cost a connection.
            _ = Kind switch
            {
                ProxyKind.Socks5 => SocksClient.EncodeSocks5Connect(host, port),
                ProxyKind.Socks4a => SocksClient.EncodeSocks4aConnect(host, port, user ?? []),
                _ => HttpConnectClient.EncodeRequest(host, port, UserName, Password),
            };

            Stream stream;
            try
            {
                stream = await direct(proxyAddress, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var kind = PtException.Classify(e);
                throw new PtException(kind, $"proxy {Scheme} unreachable: {e.Message}", e);
            }

            try
            {
                switch (Kind)
                {
                    case ProxyKind.Socks5:
                        await SocksClient.ConnectSocks5Async(stream, host, port, user, user is null ? null : password ?? [], cancellationToken).ConfigureAwait(false);
                        break;
                    case ProxyKind.Socks4a:
                        await SocksClient.ConnectSocks4aAsync(stream, host, port, user ?? [], cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        await HttpConnectClient.ConnectAsync(stream, host, port, UserName, Password, cancellationToken).ConfigureAwait(false);
                        break;
                }
                return stream;
            }
            catch (Exception e)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                if (e is OperationCanceledException or PtException { Kind: PtErrorKind.Proxy or PtErrorKind.Config })
                    throw;
                throw new PtException(PtErrorKind.Proxy, $"proxy {Scheme} handshake failed: {e.Message}", e);
            }
        };
    }

    /// <summary>The proxy as a URI with the password masked, so a log line cannot leak it.</summary>
    public override string ToString()
    {
        var userInfo = UserName is null ? "" : Password is null ? $"{UserName}@" : $"{UserName}:***@";
        return $"{Scheme}://{userInfo}{HostPort.Format(Host, Port)}";
    }

    private static PtException Bad(string why) => new(PtErrorKind.Config, $"TOR_PT_PROXY: {why}");

    private static string PercentDecode(string text)
    {
        if (!text.Contains('%', StringComparison.Ordinal))
            return text;
        var bytes = new List<byte>(text.Length);
        var run = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
                continue;
            // Literal runs are encoded whole so surrogate pairs stay together.
            bytes.AddRange(Encoding.UTF8.GetBytes(text[run..i]));
            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                throw Bad("user info has a '%' that is not followed by two hex digits");
            bytes.Add(Convert.FromHexString(text.AsSpan(i + 1, 2))[0]);
            i += 2;
            run = i + 1;
        }
        bytes.AddRange(Encoding.UTF8.GetBytes(text[run..]));
        try
        {
            return StrictUtf8.GetString([.. bytes]);
        }
        catch (DecoderFallbackException e)
        {
            throw new PtException(PtErrorKind.Config, "TOR_PT_PROXY: percent-decoded user info is not UTF-8", e);
        }
    }

    private static string Printable(string text) =>
        new([.. text.Take(20).Select(c => c is >= ' ' and < '\x7f' ? c : '?')]);
}
