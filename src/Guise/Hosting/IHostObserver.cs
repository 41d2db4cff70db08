using Guise.Errors;
using Guise.Relay;

namespace Guise.Hosting;

public enum ConnectionRole { Client, Server }

/// <summary>
/// What happens to connections, reported once, where it happens. Managed mode turns these into
/// STATUS and LOG lines, the in-process controller into events, the probe into verdicts.
/// </summary>
public interface IHostObserver
{
    void ConnectionOpened(string transport, ConnectionRole role, string peer);

    void ConnectionFailed(string transport, ConnectionRole role, string? peer, PtException error);

    void ConnectionClosed(string transport, ConnectionRole role, string peer, RelayResult result);
}

public sealed class NullHostObserver : IHostObserver
{
    public static NullHostObserver Instance { get; } = new();
    public void ConnectionOpened(string transport, ConnectionRole role, string peer) { }
    public void ConnectionFailed(string transport, ConnectionRole role, string? peer, PtException error) { }
    public void ConnectionClosed(string transport, ConnectionRole role, string peer, RelayResult result) { }
}
