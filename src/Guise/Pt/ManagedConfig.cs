using System.Net;
using Guise.Transports;

namespace Guise.Pt;

/// <summary>What the parent process asked of a managed proxy, parsed from TOR_PT_* variables.</summary>
/// <param name="Version">The negotiated pt-spec version; always "1" today.</param>
/// <param name="StateLocation">TOR_PT_STATE_LOCATION; not created by parsing, see <see cref="PtEnvironment.EnsureStateDirectory"/>.</param>
/// <param name="ExitOnStdinClose">TOR_PT_EXIT_ON_STDIN_CLOSE was "1".</param>
/// <param name="Client">Set when TOR_PT_CLIENT_TRANSPORTS was given.</param>
/// <param name="Server">Set when TOR_PT_SERVER_TRANSPORTS was given.</param>
/// <param name="Proxy">The raw TOR_PT_PROXY URI (scheme socks5, socks4a or http, a host and a port), or null.</param>
/// <param name="OutboundBindV4">TOR_PT_OUTBOUND_BIND_ADDRESS_V4, or null.</param>
/// <param name="OutboundBindV6">TOR_PT_OUTBOUND_BIND_ADDRESS_V6, or null.</param>
public sealed record ManagedConfig(string Version, string StateLocation, bool ExitOnStdinClose,
    ClientConfig? Client, ServerConfig? Server, string? Proxy,
    IPAddress? OutboundBindV4, IPAddress? OutboundBindV6);

/// <param name="Transports">Requested names in order, duplicates and empty names removed; "*" is kept as "*".</param>
public sealed record ClientConfig(IReadOnlyList<string> Transports);

/// <param name="Transports">Requested names in order, duplicates and empty names removed.</param>
/// <param name="BindAddresses">Transport → endpoint from TOR_PT_SERVER_BINDADDR; transports without one are absent.</param>
/// <param name="Options">Transport → options from TOR_PT_SERVER_TRANSPORT_OPTIONS; every name in
/// <paramref name="Transports"/> has an entry (empty when none were given).</param>
/// <param name="OrPort">TOR_PT_ORPORT as "host:port", or null.</param>
/// <param name="ExtendedOrPort">TOR_PT_EXTENDED_SERVER_PORT as "host:port", or null (also when set to the empty string).</param>
/// <param name="AuthCookieFile">TOR_PT_AUTH_COOKIE_FILE; never null when <paramref name="ExtendedOrPort"/> is set.</param>
public sealed record ServerConfig(IReadOnlyList<string> Transports,
    IReadOnlyDictionary<string, IPEndPoint> BindAddresses,
    IReadOnlyDictionary<string, PtArgs> Options,
    string? OrPort, string? ExtendedOrPort, string? AuthCookieFile);

/// <summary>
/// The environment cannot be used. <see cref="Exception.Message"/> is the text to write after
/// <c>ENV-ERROR </c>, or "no-version" for <c>VERSION-ERROR no-version</c>; it is always a valid
/// pt-spec argument (printable ASCII; untrusted values inside it are CString-escaped).
/// </summary>
public sealed class PtEnvironmentException : Exception
{
    public PtEnvironmentException(string message, bool isVersionError = false, string? variable = null, Exception? inner = null)
        : base(message, inner)
    {
        IsVersionError = isVersionError;
        Variable = variable;
    }

    /// <summary>True: write <c>VERSION-ERROR no-version</c>; false: write <c>ENV-ERROR {Message}</c>.</summary>
    public bool IsVersionError { get; }

    /// <summary>The variable at fault, when there is one (e.g. "TOR_PT_PROXY", which a host may prefer to report as PROXY-ERROR).</summary>
    public string? Variable { get; }
}
