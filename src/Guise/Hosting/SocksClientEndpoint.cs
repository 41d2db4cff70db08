using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Relay;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Hosting;

public sealed record ClientEndpointOptions
{
    /// <summary>How long a SOCKS client may take to send its request.</summary>
    public TimeSpan SocksHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long dialing plus the transport handshake may take (Tor itself gives up after about 2 minutes).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Args used when a SOCKS request carries none (the in-process controller's per-transport defaults).</summary>
    public PtArgs? DefaultArgs { get; init; }
}

/// <summary>
/// The client side of one transport as Tor uses it: a SOCKS listener on loopback; each request
/// names a bridge (target) and carries its args; Guise dials it through the transport and relays.
/// Each failure gets the SOCKS reply code for its kind and is reported to the observer.
/// </summary>
public sealed class SocksClientEndpoint : IAsyncDisposable
{
    private readonly ITransport _transport;
    private readonly IClientFactory _factory;
    private readonly DialAsync _dial;
    private readonly IHostObserver _observer;
    private readonly ClientEndpointOptions _options;
    private ConnectionListener? _listener;

    private SocksClientEndpoint(ITransport transport, IClientFactory factory, DialAsync dial, IHostObserver observer, ClientEndpointOptions options)
    {
        _transport = transport;
        _factory = factory;
        _dial = dial;
        _observer = observer;
        _options = options;
    }

    public string TransportName => _transport.Name;

    public IPEndPoint LocalEndPoint => _listener!.LocalEndPoint;

    public static SocksClientEndpoint Start(ITransport transport, TransportContext context, DialAsync dial, IPEndPoint bind,
        IHostObserver observer, ClientEndpointOptions? options = null)
    {
        var endpoint = new SocksClientEndpoint(transport, transport.CreateClientFactory(context), dial, observer, options ?? new());
        endpoint._listener = ConnectionListener.Start(bind, endpoint.HandleAsync, context.Log);
        return endpoint;
    }

    private async Task HandleAsync(Socket socket, CancellationToken stopping)
    {
        await using var local = new NetworkStream(socket, ownsSocket: false);
        SocksRequest request;
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            handshake.CancelAfter(_options.SocksHandshakeTimeout);
            try
            {
                request = await SocksServer.ReadRequestAsync(local, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var error = Describe(e, stopping, "SOCKS request");
                if (error.Kind != PtErrorKind.Cancelled)
                    _observer.ConnectionFailed(_transport.Name, ConnectionRole.Client, null, error);
                return;
            }
        }

        Stream remote;
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            connect.CancelAfter(_options.ConnectTimeout);
            try
            {
                var args = request.Args.Count == 0 && _options.DefaultArgs is { } defaults ? defaults : request.Args;
                var session = _factory.Prepare(args);
                remote = await session.ConnectAsync(request.Target, _dial, connect.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var error = Describe(e, stopping, $"{_transport.Name} connection to the bridge");
                await TryReplyAsync(local, request, SocksServer.ReplyFor(error.Kind)).ConfigureAwait(false);
                _observer.ConnectionFailed(_transport.Name, ConnectionRole.Client, request.Target, error);
                return;
            }
        }

        await using (remote.ConfigureAwait(false))
        {
            try
            {
                await SocksServer.SendReplyAsync(local, request, SocksReply.Succeeded, stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _observer.ConnectionFailed(_transport.Name, ConnectionRole.Client, request.Target, Describe(e, stopping, "SOCKS reply"));
                return;
            }
            _observer.ConnectionOpened(_transport.Name, ConnectionRole.Client, request.Target);
            var result = await DuplexRelay.RunAsync(local, remote, stopping).ConfigureAwait(false);
            _observer.ConnectionClosed(_transport.Name, ConnectionRole.Client, request.Target, result);
        }
    }

    /// <summary>Names a failure; a deadline we set ourselves is a timeout, not a cancellation.</summary>
    internal static PtException Describe(Exception e, CancellationToken stopping, string what)
    {
        if (e is OperationCanceledException && !stopping.IsCancellationRequested)
            return new PtException(PtErrorKind.Timeout, $"{what} timed out", e);
        var wrapped = PtException.Wrap(e);
        return ReferenceEquals(wrapped, e)
            ? new PtException(wrapped.Kind, $"{what}: {e.Message}", e)
            : new PtException(wrapped.Kind, $"{what}: {wrapped.Message}", e);
    }

    private static async Task TryReplyAsync(Stream local, SocksRequest request, SocksReply reply)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await SocksServer.SendReplyAsync(local, request, reply, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Tor already hung up; the failure is reported through the observer anyway.
        }
    }

    public Task StopAsync() => _listener?.StopAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
    }
}
