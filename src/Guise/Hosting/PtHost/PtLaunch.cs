using System.Net;
using System.Text;
using Guise.Net;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>The client role Tor would give a PT: which transports to offer as SOCKS proxies.</summary>
public sealed record PtClientRole(IReadOnlyList<string> Transports);

/// <summary>
/// The server role: transports to listen with, where (optional per transport), their options,
/// and where to forward (an ORPort, or an Extended ORPort with its cookie file).
/// </summary>
public sealed record PtServerRole(IReadOnlyList<string> Transports)
{
    public IReadOnlyDictionary<string, IPEndPoint> BindAddresses { get; init; } = new Dictionary<string, IPEndPoint>();

    public IReadOnlyDictionary<string, PtArgs> Options { get; init; } = new Dictionary<string, PtArgs>();

    public string? OrPort { get; init; }

    public string? ExtendedOrPort { get; init; }

    public string? AuthCookieFile { get; init; }
}

/// <summary>How to launch one PT binary, as Tor would (pt-spec §3.2).</summary>
public sealed record PtLaunch
{
    public required string Program { get; init; }

    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>TOR_PT_STATE_LOCATION; must be an absolute path (created by the PT).</summary>
    public required string StateDirectory { get; init; }

    public PtClientRole? Client { get; init; }

    public PtServerRole? Server { get; init; }

    /// <summary>TOR_PT_PROXY for the client role: socks5://, socks4a:// or http:// URI.</summary>
    public string? Proxy { get; init; }

    public IPAddress? OutboundBindV4 { get; init; }

    public IPAddress? OutboundBindV6 { get; init; }

    /// <summary>More variables for the child (applied last; they may override TOR_PT_*).</summary>
    public IReadOnlyDictionary<string, string> ExtraEnvironment { get; init; } = new Dictionary<string, string>();

    public string? WorkingDirectory { get; init; }
}

/// <summary>Builds the TOR_PT_* environment for a launch; the inverse of <see cref="PtEnvironment.Parse"/>.</summary>
public static class PtLaunchEnvironment
{
    public static Dictionary<string, string> Build(PtLaunch launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (launch.Client is null && launch.Server is null)
            throw new ArgumentException("a PT needs a client role, a server role or both", nameof(launch));
        if (!Path.IsPathFullyQualified(launch.StateDirectory))
            throw new ArgumentException($"the state directory '{launch.StateDirectory}' is not an absolute path", nameof(launch));

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [PtEnvironment.Vars.ManagedTransportVer] = PtEnvironment.SupportedVersion,
            [PtEnvironment.Vars.StateLocation] = launch.StateDirectory,
            // The host holds the child's stdin open and closes it to say "stop" (and the kernel
            // closes it when the host dies), so every PT that honours this exits with its parent.
            [PtEnvironment.Vars.ExitOnStdinClose] = "1",
        };
        if (launch.OutboundBindV4 is { } v4)
            env[PtEnvironment.Vars.OutboundBindAddressV4] = v4.ToString();
        if (launch.OutboundBindV6 is { } v6)
            env[PtEnvironment.Vars.OutboundBindAddressV6] = $"[{v6}]";
        if (launch.Client is { } client)
        {
            CheckNames(client.Transports);
            env[PtEnvironment.Vars.ClientTransports] = string.Join(',', client.Transports);
            if (launch.Proxy is { } proxy)
                env[PtEnvironment.Vars.Proxy] = proxy;
        }
        if (launch.Server is { } server)
        {
            CheckNames(server.Transports);
            env[PtEnvironment.Vars.ServerTransports] = string.Join(',', server.Transports);
            if (server.BindAddresses.Count > 0)
                env[PtEnvironment.Vars.ServerBindAddr] = string.Join(',', server.BindAddresses.Select(kv => $"{kv.Key}-{HostPort.Format(kv.Value)}"));
            if (FormatOptions(server.Options) is { Length: > 0 } options)
                env[PtEnvironment.Vars.ServerTransportOptions] = options;
            if (server.OrPort is null && server.ExtendedOrPort is null)
                throw new ArgumentException("a server role needs an ORPort or an Extended ORPort", nameof(launch));
            if (server.OrPort is { } or)
                env[PtEnvironment.Vars.OrPort] = or;
            if (server.ExtendedOrPort is { } ext)
            {
                env[PtEnvironment.Vars.ExtendedServerPort] = ext;
                env[PtEnvironment.Vars.AuthCookieFile] = server.AuthCookieFile
                    ?? throw new ArgumentException("an Extended ORPort needs an auth cookie file", nameof(launch));
            }
        }
        foreach (var (k, v) in launch.ExtraEnvironment)
            env[k] = v;
        return env;
    }

    /// <summary>TOR_PT_SERVER_TRANSPORT_OPTIONS: <c>name:k=v;name:k=v</c>, with <c>\</c> before <c>\ : = ;</c>.</summary>
    public static string FormatOptions(IReadOnlyDictionary<string, PtArgs> options)
    {
        var sb = new StringBuilder();
        foreach (var (name, args) in options)
        {
            foreach (var (k, v) in args)
            {
                if (sb.Length > 0)
                    sb.Append(';');
                Escape(sb, name);
                sb.Append(':');
                Escape(sb, k);
                sb.Append('=');
                Escape(sb, v);
            }
        }
        return sb.ToString();

        static void Escape(StringBuilder sb, string text)
        {
            foreach (var c in text)
            {
                if (c is '\\' or ':' or '=' or ';')
                    sb.Append('\\');
                sb.Append(c);
            }
        }
    }

    private static void CheckNames(IReadOnlyList<string> names)
    {
        if (names.Count == 0)
            throw new ArgumentException("a role needs at least one transport name");
        foreach (var n in names)
        {
            if (n != "*" && !PtOutput.IsTransportName(n))
                throw new ArgumentException($"'{n}' is not a transport name");
        }
    }
}
