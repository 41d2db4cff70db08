using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using Guise.Errors;

namespace Guise.Net;

/// <summary>
/// "host:port" as Tor writes it: IPv4 <c>1.2.3.4:80</c>, IPv6 <c>[::1]:80</c>, or a DNS name.
/// </summary>
public readonly record struct HostPort(string Host, int Port)
{
    public static bool TryParse(string text, [NotNullWhen(true)] out HostPort? result)
    {
        result = null;
        if (string.IsNullOrEmpty(text))
            return false;
        string host;
        string portText;
        if (text[0] == '[')
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
                return false;
            host = text[1..close];
            portText = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                return false;
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
                return false;
            host = text[..colon];
            portText = text[(colon + 1)..];
        }
        if (portText.Length == 0 || portText.Length > 5 || !portText.All(char.IsAsciiDigit))
            return false;
        var port = int.Parse(portText, CultureInfo.InvariantCulture);
        if (port > 65535 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return false;
        result = new HostPort(host, port);
        return true;
    }

    public static HostPort Parse(string text, string what) =>
        TryParse(text, out var hp) ? hp.Value
            : throw new PtException(PtErrorKind.Config, $"{what}: \"{text}\" is not host:port");

    /// <summary>Parses an IP literal with port (no DNS names), as bind addresses must be.</summary>
    public static IPEndPoint ParseIPEndPoint(string text, string what)
    {
        var hp = Parse(text, what);
        if (!IPAddress.TryParse(hp.Host, out var ip))
            throw new PtException(PtErrorKind.Config, $"{what}: \"{hp.Host}\" is not an IP address");
        return new IPEndPoint(ip, hp.Port);
    }

    public static string Format(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";

    public static string Format(IPEndPoint ep) => Format(ep.Address.ToString(), ep.Port);

    public override string ToString() => Format(Host, Port);
}
