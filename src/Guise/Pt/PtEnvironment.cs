using System.Net;
using System.Net.Sockets;
using System.Text;
using Guise.Errors;
using Guise.Net;
using Guise.Transports;

namespace Guise.Pt;

// The managed-proxy environment (pt-spec §3.2). An unset variable and an empty one mean the same
// (goptlib does the same, and the spec tells parents to pass TOR_PT_EXTENDED_SERVER_PORT="" for
// "not supported").
//
//   TOR_PT_MANAGED_TRANSPORT_VER    = version *("," version)          required; must contain "1"
//   TOR_PT_STATE_LOCATION           = absolute path                   required
//   TOR_PT_EXIT_ON_STDIN_CLOSE      = "0" / "1"
//   TOR_PT_OUTBOUND_BIND_ADDRESS_V4 = IPv4 literal
//   TOR_PT_OUTBOUND_BIND_ADDRESS_V6 = "[" IPv6 literal "]"             (brackets optional here)
//   TOR_PT_CLIENT_TRANSPORTS        = name *("," name)                 "*" is kept, not expanded
//   TOR_PT_PROXY                    = scheme "://" [user [":" pass] "@"] host ":" port
//                                     scheme = socks5 / socks4a / http
//   TOR_PT_SERVER_TRANSPORTS        = name *("," name)
//   TOR_PT_SERVER_BINDADDR          = name "-" ip ":" port *("," name "-" ip ":" port)
//   TOR_PT_SERVER_TRANSPORT_OPTIONS = name ":" key "=" value *(";" name ":" key "=" value)
//                                     "\" escapes the next character anywhere; a name ends at an
//                                     unescaped ":" (and may not hold an unescaped "=" or ";"),
//                                     a key at "=", a value at ";"
//   TOR_PT_ORPORT                   = host ":" port
//   TOR_PT_EXTENDED_SERVER_PORT     = host ":" port
//   TOR_PT_AUTH_COOKIE_FILE         = path                             required with the extended port
//
// At least one of the client and server transport lists must be set; a server needs an ORPort or
// an extended ORPort.

/// <summary>Parses the managed-proxy environment from a dictionary; never reads the process environment.</summary>
public static class PtEnvironment
{
    public const string SupportedVersion = "1";

    /// <summary>The pt-spec variable names.</summary>
    public static class Vars
    {
        public const string ManagedTransportVer = "TOR_PT_MANAGED_TRANSPORT_VER";
        public const string StateLocation = "TOR_PT_STATE_LOCATION";
        public const string ExitOnStdinClose = "TOR_PT_EXIT_ON_STDIN_CLOSE";
        public const string OutboundBindAddressV4 = "TOR_PT_OUTBOUND_BIND_ADDRESS_V4";
        public const string OutboundBindAddressV6 = "TOR_PT_OUTBOUND_BIND_ADDRESS_V6";
        public const string ClientTransports = "TOR_PT_CLIENT_TRANSPORTS";
        public const string Proxy = "TOR_PT_PROXY";
        public const string ServerTransports = "TOR_PT_SERVER_TRANSPORTS";
        public const string ServerBindAddr = "TOR_PT_SERVER_BINDADDR";
        public const string ServerTransportOptions = "TOR_PT_SERVER_TRANSPORT_OPTIONS";
        public const string OrPort = "TOR_PT_ORPORT";
        public const string ExtendedServerPort = "TOR_PT_EXTENDED_SERVER_PORT";
        public const string AuthCookieFile = "TOR_PT_AUTH_COOKIE_FILE";
    }

    /// <summary>
    /// Parses and validates every pt-spec variable. Throws <see cref="PtEnvironmentException"/>;
    /// the version is checked first so that VERSION-ERROR wins over any ENV-ERROR.
    /// </summary>
    public static ManagedConfig Parse(IReadOnlyDictionary<string, string> env)
    {
        ArgumentNullException.ThrowIfNull(env);

        var version = ParseVersion(env);

        var state = Get(env, Vars.StateLocation)
            ?? throw Error($"no {Vars.StateLocation} environment variable", Vars.StateLocation);
        // The spec promises an absolute path; a relative one would put state wherever we were started.
        if (!Path.IsPathFullyQualified(state))
            throw Error($"{Vars.StateLocation} {Quote(state)} is not an absolute path", Vars.StateLocation);

        var exitOnStdinClose = Get(env, Vars.ExitOnStdinClose) switch
        {
            null or "0" => false,
            "1" => true,
            var other => throw Error($"{Vars.ExitOnStdinClose} must be \"0\" or \"1\", not {Quote(other)}", Vars.ExitOnStdinClose),
        };

        var bindV4 = ParseOutboundAddress(env, Vars.OutboundBindAddressV4, AddressFamily.InterNetwork);
        var bindV6 = ParseOutboundAddress(env, Vars.OutboundBindAddressV6, AddressFamily.InterNetworkV6);
        var proxy = ParseProxy(env);

        ClientConfig? client = null;
        if (Get(env, Vars.ClientTransports) is { } clientList)
            client = new ClientConfig(SplitNames(clientList));

        ServerConfig? server = null;
        if (Get(env, Vars.ServerTransports) is { } serverList)
            server = ParseServer(env, SplitNames(serverList));

        if (client is null && server is null)
            throw Error($"neither {Vars.ClientTransports} nor {Vars.ServerTransports} is set", null);

        return new ManagedConfig(version, state, exitOnStdinClose, client, server, proxy, bindV4, bindV6);
    }

    /// <summary>
    /// Creates the state directory (and missing parents) with mode 0700 where the OS has modes.
    /// An existing directory is left as it is, as goptlib's MakeStateDir does: its owner chose
    /// its mode. Returns <paramref name="path"/>.
    /// </summary>
    /// <exception cref="PtEnvironmentException">The directory cannot be created (for ENV-ERROR).</exception>
    public static string EnsureStateDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(path);
            else
                Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new PtEnvironmentException(
                $"cannot create {Vars.StateLocation} {Quote(path)}: {CStringCodec.Escape(e.Message)}", false, Vars.StateLocation, e);
        }
    }

    private static string ParseVersion(IReadOnlyDictionary<string, string> env)
    {
        var offered = Get(env, Vars.ManagedTransportVer)
            ?? throw Error($"no {Vars.ManagedTransportVer} environment variable", Vars.ManagedTransportVer);
        // "All PTs MUST accept any well-formed list, as long as a compatible version is present."
        foreach (var v in offered.Split(','))
        {
            if (v == SupportedVersion)
                return v;
        }
        throw new PtEnvironmentException("no-version", isVersionError: true, Vars.ManagedTransportVer);
    }

    private static IPAddress? ParseOutboundAddress(IReadOnlyDictionary<string, string> env, string name, AddressFamily family)
    {
        if (Get(env, name) is not { } text)
            return null;
        var literal = text;
        if (family == AddressFamily.InterNetworkV6 && text.Length >= 2 && text[0] == '[' && text[^1] == ']')
            literal = text[1..^1];
        // IPAddress.TryParse also accepts "[v6]:port" and drops the port, so brackets that are
        // still there after the strip above are an error.
        if (literal.Contains('[', StringComparison.Ordinal) || !IPAddress.TryParse(literal, out var ip) || ip.AddressFamily != family
            // IPAddress.TryParse accepts "1" and "1.2" as IPv4; a bind address should be a full quad.
            || (family == AddressFamily.InterNetwork && literal.Count(c => c == '.') != 3))
        {
            var what = family == AddressFamily.InterNetwork ? "an IPv4" : "an IPv6";
            throw Error($"{name} {Quote(text)} is not {what} address", name);
        }
        return ip;
    }

    private static string? ParseProxy(IReadOnlyDictionary<string, string> env)
    {
        if (Get(env, Vars.Proxy) is not { } uri)
            return null;
        // The URI may carry a password, so no error below echoes it.
        var sep = uri.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
            throw Error($"{Vars.Proxy} is not a URI of the form scheme://host:port", Vars.Proxy);
        var scheme = uri[..sep];
        if (!scheme.Equals("socks5", StringComparison.OrdinalIgnoreCase)
            && !scheme.Equals("socks4a", StringComparison.OrdinalIgnoreCase)
            && !scheme.Equals("http", StringComparison.OrdinalIgnoreCase))
        {
            throw Error($"{Vars.Proxy} scheme {Quote(scheme)} is not socks5, socks4a or http", Vars.Proxy);
        }
        var authority = uri[(sep + 3)..];
        if (authority.EndsWith('/'))
            authority = authority[..^1];
        var at = authority.LastIndexOf('@');
        if (at >= 0)
            authority = authority[(at + 1)..];
        if (authority.Contains('/', StringComparison.Ordinal) || authority.Contains('?', StringComparison.Ordinal)
            || authority.Contains('#', StringComparison.Ordinal))
        {
            throw Error($"{Vars.Proxy} must not have a path, query or fragment", Vars.Proxy);
        }
        if (!HostPort.TryParse(authority, out var hp) || hp.Value.Host.Length == 0 || hp.Value.Port == 0)
            throw Error($"{Vars.Proxy} does not name a host and a non-zero port", Vars.Proxy);
        return uri;
    }

    private static ServerConfig ParseServer(IReadOnlyDictionary<string, string> env, IReadOnlyList<string> transports)
    {
        var options = ParseTransportOptions(Get(env, Vars.ServerTransportOptions));
        foreach (var t in transports)
            options.TryAdd(t, new PtArgs());

        var bind = ParseBindAddresses(Get(env, Vars.ServerBindAddr));

        var orPort = ParseConnectAddress(env, Vars.OrPort);
        var extPort = ParseConnectAddress(env, Vars.ExtendedServerPort);
        var cookie = Get(env, Vars.AuthCookieFile);
        if (extPort is not null && cookie is null)
            throw Error($"need {Vars.AuthCookieFile} environment variable with {Vars.ExtendedServerPort}", Vars.AuthCookieFile);
        if (orPort is null && extPort is null)
            throw Error($"need {Vars.OrPort} or {Vars.ExtendedServerPort} environment variable", Vars.OrPort);

        return new ServerConfig(transports, bind, options, orPort, extPort, cookie);
    }

    private static Dictionary<string, IPEndPoint> ParseBindAddresses(string? text)
    {
        var result = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        if (text is null)
            return result;
        // No escaping is defined for this variable, so a plain split is the whole grammar.
        foreach (var spec in text.Split(','))
        {
            var dash = spec.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
                throw Error($"{Vars.ServerBindAddr}: {Quote(spec)} does not contain \"-\"", Vars.ServerBindAddr);
            var name = spec[..dash];
            if (name.Length == 0)
                throw Error($"{Vars.ServerBindAddr}: {Quote(spec)} has an empty transport name", Vars.ServerBindAddr);
            // "Applications MUST NOT set more than one <address>:<port> pair per PT name."
            if (result.ContainsKey(name))
                throw Error($"{Vars.ServerBindAddr}: duplicate transport {Quote(name)}", Vars.ServerBindAddr);
            IPEndPoint ep;
            try
            {
                ep = HostPort.ParseIPEndPoint(spec[(dash + 1)..], Vars.ServerBindAddr);
                // IPAddress.Parse reads "1.2" as 1.0.0.2; nobody means that in a bind address.
                if (ep.AddressFamily == AddressFamily.InterNetwork && HostPort.Parse(spec[(dash + 1)..], Vars.ServerBindAddr).Host.Count(c => c == '.') != 3)
                    throw new PtException(PtErrorKind.Config, "short IPv4 literal");
            }
            catch (PtException)
            {
                // "The <address>:<port> combination MUST be an IP address supported by bind(), and MUST NOT be a host name."
                throw Error($"{Vars.ServerBindAddr}: {Quote(spec)} is not transport-ip:port", Vars.ServerBindAddr);
            }
            result.Add(name, ep);
        }
        return result;
    }

    private static string? ParseConnectAddress(IReadOnlyDictionary<string, string> env, string name)
    {
        if (Get(env, name) is not { } text)
            return null;
        if (!HostPort.TryParse(text, out var hp) || hp.Value.Host.Length == 0 || hp.Value.Port == 0)
            throw Error($"{name} {Quote(text)} is not host:port", name);
        return hp.Value.ToString();
    }

    /// <summary>Parses TOR_PT_SERVER_TRANSPORT_OPTIONS, following goptlib's escaping rules.</summary>
    internal static Dictionary<string, PtArgs> ParseTransportOptions(string? text)
    {
        var result = new Dictionary<string, PtArgs>(StringComparer.Ordinal);
        if (text is null)
            return result;
        var i = 0;
        while (true)
        {
            var begin = i;
            var name = ReadUnescaped(text, ref i, ":=;");
            if (i >= text.Length || text[i] != ':')
                throw OptionsError($"no colon in {Quote(text[begin..i])}");
            i++;
            var key = ReadUnescaped(text, ref i, "=;");
            if (i >= text.Length || text[i] != '=')
                throw OptionsError($"no equals sign in {Quote(text[begin..i])}");
            i++;
            var value = ReadUnescaped(text, ref i, ";");
            if (name.Length == 0)
                throw OptionsError($"empty transport name in {Quote(text[begin..i])}");
            if (key.Length == 0)
                throw OptionsError($"empty key in {Quote(text[begin..i])}");
            if (!result.TryGetValue(name, out var args))
                result.Add(name, args = new PtArgs());
            // PtArgs holds one value per key; goptlib would keep both, but a transport that reads
            // one of two contradicting values is worse than a loud error.
            if (args.TryGet(key, out _))
                throw OptionsError($"duplicate option {Quote(key)} for transport {Quote(name)}");
            args.Add(key, value);
            if (i >= text.Length)
                return result;
            i++; // the ';'
        }

        static PtEnvironmentException OptionsError(string message) =>
            Error($"{Vars.ServerTransportOptions}: {message}", Vars.ServerTransportOptions);
    }

    // Reads up to the first unescaped terminator (or the end), unescaping as it goes.
    private static string ReadUnescaped(string text, ref int i, string terminators)
    {
        var sb = new StringBuilder();
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (terminators.Contains(c, StringComparison.Ordinal))
                break;
            if (c == '\\')
            {
                i++;
                if (i >= text.Length)
                    throw Error($"{Vars.ServerTransportOptions}: nothing follows the final backslash", Vars.ServerTransportOptions);
                c = text[i];
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static string[] SplitNames(string list)
    {
        // "PTs SHOULD ignore PT names that it does not recognize": an empty or repeated name is
        // dropped here so the host does not open two listeners for one transport.
        return list.Split(',').Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
    }

    private static string? Get(IReadOnlyDictionary<string, string> env, string name) =>
        env.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

    private static PtEnvironmentException Error(string message, string? variable) => new(message, false, variable);

    // Env values are untrusted text; quoting keeps an ENV-ERROR line a single valid line.
    private static string Quote(string value) => CStringCodec.Encode(value);
}
