using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Pt;
using Guise.Relay;
using Guise.Transports;

namespace Guise.Hosting;

/// <summary>
/// Where a server transport delivers its clients' bytes: Tor's Extended ORPort (which learns the
/// client address and transport name for its statistics) or, without one, the plain ORPort.
/// </summary>
public sealed record ForwardTarget(string Address, string? ExtOrPortCookieFile)
{
    public bool IsExtended => ExtOrPortCookieFile is not null;

    public static ForwardTarget OrPort(string address) => new(address, null);

    public static ForwardTarget ExtOrPort(string address, string cookieFile) => new(address, cookieFile);
}

/// <summary>
/// The server side of one transport: accepts on the bind address, runs the transport's server
/// handshake (which applies its anti-probing policy), then forwards to the ORPort / ExtORPort.
/// </summary>
public sealed class ServerEndpoint : IAsyncDisposable
{
    private readonly ITransport _transport;
    private readonly IServerFactory _factory;
    private readonly ForwardTarget _target;
    private readonly DialAsync _dial;
    private readonly IHostObserver _observer;
    private ConnectionListener? _listener;

    // Streams of a multiplexing transport are forwarded apart from the connection that opened
    // them (they may outlive it); kept here so that stopping waits for them too.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, Task> _forwards = new();
    private long _forwardIds;

    /// <summary>Tor answers the Extended ORPort handshake at once; goptlib allows 5 s, we allow a little more under load.</summary>
    private static readonly TimeSpan ExtOrPortHandshakeTimeout = TimeSpan.FromSeconds(10);

    private ServerEndpoint(ITransport transport, IServerFactory factory, ForwardTarget target, DialAsync dial, IHostObserver observer)
    {
        _transport = transport;
        _factory = factory;
        _target = target;
        _dial = dial;
        _observer = observer;
    }

    public string TransportName => _transport.Name;

    public IPEndPoint LocalEndPoint => _listener!.LocalEndPoint;

    /// <summary>What clients must put in their bridge line (SMETHOD ARGS).</summary>
    public PtArgs ClientArgs => _factory.ClientArgs;

    /// <summary>Creates the transport's server state (keys) first, so bad options fail before anything listens.</summary>
    public static ServerEndpoint Start(ITransport transport, TransportContext context, PtArgs options, IPEndPoint bind,
        ForwardTarget target, DialAsync dial, IHostObserver observer)
    {
        var factory = transport.CreateServerFactory(context, options);
        var endpoint = new ServerEndpoint(transport, factory, target, dial, observer);
        endpoint._listener = ConnectionListener.Start(bind, endpoint.HandleAsync, context.Log);
        return endpoint;
    }

    private async Task HandleAsync(Socket socket, CancellationToken stopping)
    {
        // Dual-mode sockets report IPv4 clients as ::ffff:a.b.c.d; Tor wants the IPv4 form in USERADDR.
        var peer = socket.RemoteEndPoint is IPEndPoint ep
            ? Net.HostPort.Format(ep.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep)
            : "unknown";
        await using var inbound = new NetworkStream(socket, ownsSocket: false);
        if (_factory is IMultiplexingServerFactory multiplexing)
        {
            // Streams opened by this connection's messages may outlive it (they continue on the
            // client's next connection); each is forwarded on its own.
            try
            {
                await multiplexing.ServeAsync(inbound, payload => TrackForward(payload, peer, stopping), stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var error = SocksClientEndpoint.Describe(e, stopping, $"{_transport.Name} handshake from a client");
                if (error.Kind != PtErrorKind.Cancelled)
                    _observer.ConnectionFailed(_transport.Name, ConnectionRole.Server, peer, error);
            }
            return;
        }
        Stream payload;
        try
        {
            payload = await _factory.AcceptAsync(inbound, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var error = SocksClientEndpoint.Describe(e, stopping, $"{_transport.Name} handshake from a client");
            if (error.Kind != PtErrorKind.Cancelled)
                _observer.ConnectionFailed(_transport.Name, ConnectionRole.Server, peer, error);
            return;
        }
        await ForwardAsync(payload, peer, stopping).ConfigureAwait(false);
    }

    private Task TrackForward(Stream payload, string peer, CancellationToken stopping)
    {
        var id = Interlocked.Increment(ref _forwardIds);
        var forward = ForwardAsync(payload, peer, stopping);
        _forwards[id] = forward;
        _ = forward.ContinueWith(_ => _forwards.TryRemove(id, out Task? _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return forward;
    }

    /// <summary>Relays one payload stream to the ORPort / Extended ORPort until both sides end; owns <paramref name="payload"/>.</summary>
    private async Task ForwardAsync(Stream payload, string peer, CancellationToken stopping)
    {
        await using (payload.ConfigureAwait(false))
        {
            Stream upstream;
            try
            {
                upstream = await _dial(_target.Address, stopping).ConfigureAwait(false);
                if (_target.ExtOrPortCookieFile is { } cookie)
                {
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                    deadline.CancelAfter(ExtOrPortHandshakeTimeout);
                    try
                    {
                        await ExtOrPortClient.HandshakeAsync(upstream, cookie, peer, _transport.Name, deadline.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        await upstream.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var what = _target.IsExtended ? "Extended ORPort" : "ORPort";
                var error = SocksClientEndpoint.Describe(e, stopping, $"forwarding to the {what} {_target.Address}");
                if (error.Kind != PtErrorKind.Cancelled)
                    _observer.ConnectionFailed(_transport.Name, ConnectionRole.Server, peer, error);
                return;
            }

            await using (upstream.ConfigureAwait(false))
            {
                _observer.ConnectionOpened(_transport.Name, ConnectionRole.Server, peer);
                var result = await DuplexRelay.RunAsync(payload, upstream, stopping).ConfigureAwait(false);
                _observer.ConnectionClosed(_transport.Name, ConnectionRole.Server, peer, result);
            }
        }
    }

    public async Task StopAsync()
    {
        if (_listener is not null)
            await _listener.StopAsync().ConfigureAwait(false);
        // The listener's stop cancelled them; wait until their sockets are closed.
        try
        {
            await Task.WhenAll(_forwards.Values).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Each stream reported its own end to the observer.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
    }
}
