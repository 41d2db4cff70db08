using Guise.Errors;

namespace Guise.Transports;

/// <summary>
/// Opens a raw byte stream to <paramref name="target"/> ("host:port"). The host owns dialing so
/// that an upstream proxy (TOR_PT_PROXY), an app's VPN socket or an in-memory pipe can plug in.
/// </summary>
public delegate ValueTask<Stream> DialAsync(string target, CancellationToken cancellationToken);

/// <summary>What a transport may use from its host: state, time and logging are injected.</summary>
public sealed record TransportContext(string? StateDirectory, TimeProvider Time, IPtLog Log)
{
    public static TransportContext ForTests(string? stateDirectory = null) =>
        new(stateDirectory, TimeProvider.System, NullPtLog.Instance);
}

/// <summary>A pluggable transport: a name and factories for both ends.</summary>
public interface ITransport
{
    /// <summary>The transport name as used in torrc and pt-spec (a C identifier).</summary>
    string Name { get; }

    /// <summary>One line for <c>guise transports</c>.</summary>
    string Description { get; }

    IClientFactory CreateClientFactory(TransportContext context);

    /// <summary>
    /// Validates server options once and loads or creates the bridge's persistent state.
    /// Throws <see cref="PtException"/> of kind Config for bad options or an unreadable state file.
    /// </summary>
    IServerFactory CreateServerFactory(TransportContext context, PtArgs options);
}

public interface IClientFactory
{
    /// <summary>
    /// Validates per-bridge args and does all pre-dial work (e.g. keypair generation) so no
    /// socket waits on CPU. Throws a Config <see cref="PtException"/> on bad args.
    /// </summary>
    IClientSession Prepare(PtArgs args);
}

/// <summary>A prepared client connection attempt; used once.</summary>
public interface IClientSession
{
    /// <summary>Dials <paramref name="target"/> and runs the transport handshake; returns the payload stream.</summary>
    ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken);
}

public interface IServerFactory
{
    /// <summary>What clients need: goes into SMETHOD ARGS and the bridge line.</summary>
    PtArgs ClientArgs { get; }

    /// <summary>
    /// Runs the server side of the handshake on an accepted connection and returns the payload
    /// stream. Applies the transport's anti-probing policy before throwing.
    /// </summary>
    ValueTask<Stream> AcceptAsync(Stream inbound, CancellationToken cancellationToken);
}

/// <summary>
/// A server whose connections are not streams: one connection may carry several streams, and one
/// stream may continue on another connection (Marionette behind an HTTP proxy). Hosts that know
/// this interface serve each accepted connection with <see cref="ServeAsync"/> instead of
/// <see cref="IServerFactory.AcceptAsync"/>.
/// </summary>
public interface IMultiplexingServerFactory : IServerFactory
{
    /// <summary>
    /// Serves one accepted connection until it ends. Each payload stream that a message on it opens
    /// goes to <paramref name="onStream"/> (not awaited; the callback owns the stream, which may
    /// outlive the connection). Throws when the connection failed before its first authentic
    /// message (after the anti-probing answer); returns normally once an authentic connection ends.
    /// </summary>
    Task ServeAsync(Stream inbound, Func<Stream, Task> onStream, CancellationToken cancellationToken);
}
