using Guise.Net;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>A client method: a SOCKS proxy the PT opened for <paramref name="Transport"/>.</summary>
public sealed record PtClientMethod(string Transport, string Protocol, HostPort Address);

/// <summary>A server method: where the PT listens for <paramref name="Transport"/>, and what clients need.</summary>
public sealed record PtServerMethod(string Transport, HostPort Address, PtArgs Args)
{
    /// <summary>
    /// The torrc <c>Bridge</c> line for this method: <c>obfs4 1.2.3.4:443 FINGERPRINT cert=... iat-mode=0</c>.
    /// A listener on 0.0.0.0 or :: needs the bridge's public address in <paramref name="publicAddress"/>.
    /// </summary>
    public string BridgeLine(string fingerprint, string? publicAddress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        var address = publicAddress ?? Address.ToString();
        var line = $"{Transport} {address} {fingerprint}";
        return Args.Count == 0 ? line : $"{line} {Args.ToBridgeLineArgs()}";
    }

    public bool Equals(PtServerMethod? other) =>
        other is not null && Transport == other.Transport && Address == other.Address && Args.SequenceEqual(other.Args);

    public override int GetHashCode() => HashCode.Combine(Transport, Address, Args.Count);
}

/// <summary>A transport the PT said it could not launch (CMETHOD-ERROR / SMETHOD-ERROR).</summary>
public sealed record PtMethodError(string Transport, bool Server, string Message);

/// <summary>What a PT reported before it said DONE: it is ready for use.</summary>
public sealed record PtReady(
    int ProcessId,
    string Version,
    IReadOnlyList<PtClientMethod> ClientMethods,
    IReadOnlyList<PtServerMethod> ServerMethods,
    IReadOnlyList<PtMethodError> Errors,
    bool ProxyAccepted,
    string? Implementation,
    string? ImplementationVersion)
{
    public PtClientMethod? Client(string transport) => ClientMethods.FirstOrDefault(m => m.Transport == transport);

    public PtServerMethod? Server(string transport) => ServerMethods.FirstOrDefault(m => m.Transport == transport);
}
