using System.Collections.Concurrent;
using System.Net;
using Guise.Errors;
using Guise.Net;
using Guise.Proxy;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting.Controller;

/// <summary>
/// The in-process equivalent of managed mode, for apps: start transports by name, get their
/// endpoints back, learn what happens to every connection from events instead of log lines.
/// </summary>
/// <remarks>
/// <para>Each transport runs at most once per role: one client SOCKS listener and one server
/// listener per name, any number of names at once. Client listeners always bind an OS-chosen
/// port on <see cref="PtControllerOptions.ClientBindAddress"/>.</para>
/// <para>Events are raised synchronously on whichever thread the connection runs on (thread-pool
/// threads), so handlers must be quick and thread-safe. An exception from a handler is logged and
/// swallowed. A handler must not wait for <see cref="StopAsync(string)"/> or
/// <see cref="DisposeAsync"/>: both wait for every connection, including the one raising the event.</para>
/// <para>Per connection the order is Failed, or Opened then Closed; per listener, Started comes
/// before its first connection event and Stopped after its last.</para>
/// </remarks>
public sealed class PtController : IAsyncDisposable
{
    private readonly PtControllerOptions _options;
    private readonly TransportContext _context;
    private readonly ControllerObserver _observer;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(string Transport, ConnectionRole Role), Running> _running = [];
    private readonly ConcurrentDictionary<string, PtArgs> _defaultArgs = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <param name="stateDirectory">Where transports keep persistent state (obfs4: the bridge's keys); created if missing.</param>
    public PtController(string stateDirectory, PtControllerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        _options = options ?? new();
        try
        {
            StateDirectory = PtEnvironment.EnsureStateDirectory(Path.GetFullPath(stateDirectory));
        }
        catch (PtEnvironmentException e)
        {
            throw new PtException(PtErrorKind.Config, $"state directory: {e.Message}", e);
        }
        _context = new TransportContext(StateDirectory, _options.Time, _options.Log);
        _observer = new ControllerObserver(this);
    }

    public string StateDirectory { get; }

    public event EventHandler<PtStartedEvent>? Started;

    public event EventHandler<PtConnectionOpenedEvent>? ConnectionOpened;

    public event EventHandler<PtConnectionClosedEvent>? ConnectionClosed;

    public event EventHandler<PtFailedEvent>? Failed;

    public event EventHandler<PtStoppedEvent>? Stopped;

    /// <summary>The endpoints running now, by transport and role.</summary>
    public IReadOnlyDictionary<(string Transport, ConnectionRole Role), IPEndPoint> Endpoints
    {
        get
        {
            lock (_running)
                return _running.ToDictionary(kv => kv.Key, kv => kv.Value.EndPoint);
        }
    }

    /// <summary>
    /// Stores the args used by connections to <paramref name="transport"/> whose SOCKS request
    /// carries none (e.g. obfs4's <c>cert=...;iat-mode=0</c>); null removes them. They are checked
    /// now, so bad args fail here and not at the first connection. Takes effect for the next connection.
    /// </summary>
    public void SetDefaultArgs(string transport, PtArgs? args)
    {
        var t = _options.Registry.Get(transport);
        if (args is null || args.Count == 0)
        {
            _defaultArgs.TryRemove(t.Name, out _);
            return;
        }
        t.CreateClientFactory(_context).Prepare(args);
        _defaultArgs[t.Name] = args;
    }

    public PtArgs? GetDefaultArgs(string transport) => _defaultArgs.TryGetValue(transport, out var a) ? a : null;

    /// <summary>
    /// Starts <paramref name="transport"/>'s client: a SOCKS5/4a listener on an OS-chosen loopback
    /// port. Apps connect through it to a bridge; bridge args go in the SOCKS username/password or
    /// come from <see cref="SetDefaultArgs"/>.
    /// </summary>
    /// <param name="proxy">Upstream proxy URL (socks5://, socks4a://, http://) that wraps the dialer.</param>
    /// <param name="defaultArgs">Shorthand for <see cref="SetDefaultArgs"/> before starting.</param>
    /// <returns>The SOCKS endpoint.</returns>
    /// <exception cref="PtException">Config: unknown transport, already running, bad proxy URL or args.</exception>
    public async Task<IPEndPoint> StartClientAsync(string transport, string? proxy = null, PtArgs? defaultArgs = null,
        CancellationToken cancellationToken = default)
    {
        var t = _options.Registry.Get(transport);
        DialAsync dial = _options.Dial ?? new TcpDialer().DialAsync;
        if (!string.IsNullOrEmpty(proxy))
            dial = UpstreamProxy.Parse(proxy).Wrap(dial);
        if (defaultArgs is not null)
            SetDefaultArgs(t.Name, defaultArgs);

        return await StartAsync(t.Name, ConnectionRole.Client, () =>
        {
            var wrapped = new ControllerClientTransport(t, () => GetDefaultArgs(t.Name));
            var endpoint = SocksClientEndpoint.Start(wrapped, _context, dial, new IPEndPoint(_options.ClientBindAddress, 0), _observer,
                new ClientEndpointOptions { ConnectTimeout = _options.ConnectTimeout, SocksHandshakeTimeout = _options.SocksHandshakeTimeout });
            return new Running(endpoint, endpoint.LocalEndPoint, null, endpoint.StopAsync);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts <paramref name="transport"/>'s server: accepts on <paramref name="listen"/> (an IP
    /// literal with port; port 0 lets the OS choose), runs the transport handshake and forwards
    /// each client to <paramref name="target"/> ("host:port").
    /// </summary>
    /// <param name="options">Server options, as TOR_PT_SERVER_TRANSPORT_OPTIONS would give (obfs4: <c>iat-mode</c>).</param>
    /// <exception cref="PtException">Config: unknown transport, already running, bad address, options or state.</exception>
    public async Task<PtServerInfo> StartServerAsync(string transport, string listen, string target, PtArgs? options = null,
        CancellationToken cancellationToken = default)
    {
        var t = _options.Registry.Get(transport);
        var bind = HostPort.ParseIPEndPoint(listen, "listen address");
        var forward = ForwardTarget.OrPort(HostPort.Parse(target, "target address").ToString());
        DialAsync dial = _options.ServerDial ?? new TcpDialer().DialAsync;

        PtArgs? clientArgs = null;
        var endPoint = await StartAsync(t.Name, ConnectionRole.Server, () =>
        {
            var endpoint = ServerEndpoint.Start(t, _context, options ?? PtArgs.Empty, bind, forward, dial, _observer);
            clientArgs = endpoint.ClientArgs;
            return new Running(endpoint, endpoint.LocalEndPoint, endpoint.ClientArgs, endpoint.StopAsync);
        }, cancellationToken).ConfigureAwait(false);
        return new PtServerInfo(t.Name, endPoint, clientArgs!);
    }

    private async Task<IPEndPoint> StartAsync(string name, ConnectionRole role, Func<Running> start, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        Running running;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            lock (_running)
            {
                if (_running.TryGetValue((name, role), out var existing))
                    throw new PtException(PtErrorKind.Config,
                        $"the {name} {Describe(role)} is already running on {HostPort.Format(existing.EndPoint)}; stop it first");
            }
            running = start();
            lock (_running)
                _running[(name, role)] = running;
        }
        finally
        {
            _gate.Release();
        }
        _options.Log.Log(PtLogSeverity.Notice, $"{name} {Describe(role)} listening on {HostPort.Format(running.EndPoint)}");
        Raise(new PtStartedEvent(name, role, running.EndPoint, running.ClientArgs));
        return running.EndPoint;
    }

    /// <summary>Stops the client and the server of <paramref name="transport"/>, whichever run.</summary>
    /// <returns>False when neither was running.</returns>
    public async Task<bool> StopAsync(string transport)
    {
        var client = await StopAsync(transport, ConnectionRole.Client).ConfigureAwait(false);
        var server = await StopAsync(transport, ConnectionRole.Server).ConfigureAwait(false);
        return client || server;
    }

    /// <summary>
    /// Stops one listener: no new connections, open ones are cancelled, and this completes when
    /// all of them have ended (their Closed events raised). Then raises Stopped.
    /// </summary>
    /// <returns>False when it was not running.</returns>
    public async Task<bool> StopAsync(string transport, ConnectionRole role)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        Running? running;
        try
        {
            lock (_running)
            {
                if (!_running.Remove((transport, role), out running))
                    return false;
            }
            await running.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
        _options.Log.Log(PtLogSeverity.Notice, $"{transport} {Describe(role)} stopped");
        Raise(new PtStoppedEvent(transport, role));
        return true;
    }

    /// <summary>Stops every transport (each raises Stopped); later starts throw <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        List<KeyValuePair<(string Transport, ConnectionRole Role), Running>> all;
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            lock (_running)
            {
                all = [.. _running];
                _running.Clear();
            }
            // In parallel: each waits for its own connections to wind down.
            await Task.WhenAll(all.Select(kv => kv.Value.DisposeAsync().AsTask())).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
        foreach (var (key, _) in all)
            Raise(new PtStoppedEvent(key.Transport, key.Role));
    }

    private static string Describe(ConnectionRole role) => role == ConnectionRole.Client ? "client" : "server";

    internal void Raise<T>(T e)
    {
        try
        {
            switch (e)
            {
                case PtStartedEvent s: Started?.Invoke(this, s); break;
                case PtConnectionOpenedEvent o: ConnectionOpened?.Invoke(this, o); break;
                case PtConnectionClosedEvent c: ConnectionClosed?.Invoke(this, c); break;
                case PtFailedEvent f: Failed?.Invoke(this, f); break;
                case PtStoppedEvent s: Stopped?.Invoke(this, s); break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _options.Log.Log(PtLogSeverity.Warning, $"a {typeof(T).Name} handler threw {ex.GetType().Name}: {ex.Message}");
        }
    }

    private sealed class Running(IAsyncDisposable endpoint, IPEndPoint endPoint, PtArgs? clientArgs, Func<Task> stop) : IAsyncDisposable
    {
        public IPEndPoint EndPoint { get; } = endPoint;

        public PtArgs? ClientArgs { get; } = clientArgs;

        public async ValueTask DisposeAsync()
        {
            await stop().ConfigureAwait(false);
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }
    }
}
