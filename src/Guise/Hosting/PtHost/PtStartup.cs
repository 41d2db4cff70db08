using Guise.Errors;
using Guise.Pt;

namespace Guise.Hosting.PtHost;

// The start-up conversation a parent holds with a PT, as a pure state machine (no process, no
// clock), so every path is a unit test:
//
//   (LOG | STATUS | unknown | malformed)*                 any time: events, never fatal
//   VERSION-ERROR <msg>              -> Failed(Config)   the PT speaks none of the offered versions
//   ENV-ERROR <msg>                  -> Failed(Config)   before or after VERSION
//   VERSION <v>, v offered           -> expect methods   v not offered -> Failed(PeerProtocol)
//   a method line before VERSION     -> Failed(PeerProtocol)   (Tor refuses this too)
//   PROXY DONE | PROXY-ERROR <msg>   -> proxy accepted | Failed(Proxy)
//   CMETHOD / CMETHOD-ERROR ...  CMETHODS DONE
//   SMETHOD / SMETHOD-ERROR ...  SMETHODS DONE
//   every requested role DONE        -> Ready; a proxy was offered but never accepted -> Failed(Proxy)
//
// STATUS TYPE=version before Ready fills in the implementation name and version.

public enum PtStartupState { Starting, Ready, Failed }

/// <summary>Feeds a PT's start-up lines in order; tells when it is ready and why it failed.</summary>
public sealed class PtStartup
{
    private readonly bool _client;
    private readonly bool _server;
    private readonly bool _proxyOffered;
    private readonly List<PtClientMethod> _clientMethods = [];
    private readonly List<PtServerMethod> _serverMethods = [];
    private readonly List<PtMethodError> _errors = [];
    private string? _version;
    private bool _clientDone;
    private bool _serverDone;
    private bool _proxyAccepted;
    private string? _implementation;
    private string? _implementationVersion;

    public PtStartup(bool client, bool server, bool proxyOffered)
    {
        if (!client && !server)
            throw new ArgumentException("a PT needs a client role, a server role or both");
        _client = client;
        _server = server;
        _proxyOffered = proxyOffered && client;
    }

    public PtStartupState State { get; private set; }

    /// <summary>Why start-up failed (set with <see cref="PtStartupState.Failed"/>).</summary>
    public PtException? Error { get; private set; }

    /// <summary>What the PT reported (set with <see cref="PtStartupState.Ready"/>).</summary>
    public PtReady? Ready { get; private set; }

    /// <summary>What is still awaited, for timeout and crash messages: "VERSION", "CMETHODS DONE"...</summary>
    public string Awaiting =>
        _version is null ? "VERSION"
        : string.Join(" and ", new[] { _client && !_clientDone ? "CMETHODS DONE" : null, _server && !_serverDone ? "SMETHODS DONE" : null }.OfType<string>());

    /// <summary>Advances on one line. Returns the new state. Lines after Ready or Failed change nothing.</summary>
    public PtStartupState Feed(PtMessage message, int processId)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (State != PtStartupState.Starting)
            return State;
        switch (message)
        {
            case PtMessage.VersionError e:
                return Fail(PtErrorKind.Config, $"the PT supports none of the managed-proxy versions offered ({PtEnvironment.SupportedVersion}): VERSION-ERROR {e.Message}".TrimEnd());
            case PtMessage.EnvError e:
                return Fail(PtErrorKind.Config, $"the PT rejected its environment: {e.Message}");
            case PtMessage.Version v:
                if (_version is not null)
                    return Fail(PtErrorKind.PeerProtocol, "the PT sent VERSION twice");
                if (v.ProtocolVersion != PtEnvironment.SupportedVersion)
                    return Fail(PtErrorKind.PeerProtocol, $"the PT chose version {PtOutput.Sanitize(v.ProtocolVersion)}, which was not offered");
                _version = v.ProtocolVersion;
                return State;
            case PtMessage.Log or PtMessage.Unknown:
                return State;
            case PtMessage.Status s:
                if (s.Get("TYPE") == "version")
                {
                    _implementation = s.Get("IMPLEMENTATION");
                    _implementationVersion = s.Get("VERSION");
                }
                return State;
        }
        if (_version is null)
            return Fail(PtErrorKind.PeerProtocol, $"the PT sent {Keyword(message)} before VERSION");
        switch (message)
        {
            case PtMessage.ProxyDone:
                _proxyAccepted = true;
                break;
            case PtMessage.ProxyError e:
                return Fail(PtErrorKind.Proxy, $"the PT cannot use the upstream proxy: {e.Message}");
            case PtMessage.Cmethod m:
                _clientMethods.Add(new PtClientMethod(m.Transport, m.Protocol, m.Address));
                break;
            case PtMessage.CmethodError e:
                _errors.Add(new PtMethodError(e.Transport, false, e.Message));
                break;
            case PtMessage.CmethodsDone:
                _clientDone = true;
                break;
            case PtMessage.Smethod m:
                _serverMethods.Add(new PtServerMethod(m.Transport, m.Address, m.Args ?? new()));
                break;
            case PtMessage.SmethodError e:
                _errors.Add(new PtMethodError(e.Transport, true, e.Message));
                break;
            case PtMessage.SmethodsDone:
                _serverDone = true;
                break;
        }
        if ((_client && !_clientDone) || (_server && !_serverDone))
            return State;
        if (_proxyOffered && !_proxyAccepted)
            return Fail(PtErrorKind.Proxy, "the PT was given TOR_PT_PROXY but never said PROXY DONE (it does not support upstream proxies)");
        Ready = new PtReady(processId, _version, [.. _clientMethods], [.. _serverMethods], [.. _errors], _proxyAccepted, _implementation, _implementationVersion);
        State = PtStartupState.Ready;
        return State;
    }

    /// <summary>The error for a PT whose stdout ended before it was ready.</summary>
    public PtException Exited(string exitDescription, string? stderrTail)
    {
        var message = $"the PT {exitDescription} before {Awaiting}";
        if (!string.IsNullOrWhiteSpace(stderrTail))
            message += $"; its last stderr: {stderrTail}";
        Error ??= new PtException(PtErrorKind.Internal, message);
        State = PtStartupState.Failed;
        return Error;
    }

    private PtStartupState Fail(PtErrorKind kind, string message)
    {
        Error = new PtException(kind, message);
        State = PtStartupState.Failed;
        return State;
    }

    private static string Keyword(PtMessage message) => message.Kind switch
    {
        PtMessageKind.ProxyDone => "PROXY DONE",
        PtMessageKind.ProxyError => "PROXY-ERROR",
        PtMessageKind.Cmethod => "CMETHOD",
        PtMessageKind.CmethodError => "CMETHOD-ERROR",
        PtMessageKind.CmethodsDone => "CMETHODS DONE",
        PtMessageKind.Smethod => "SMETHOD",
        PtMessageKind.SmethodError => "SMETHOD-ERROR",
        PtMessageKind.SmethodsDone => "SMETHODS DONE",
        _ => message.Kind.ToString(),
    };
}
