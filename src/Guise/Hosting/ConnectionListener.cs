using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Hosting;

/// <summary>
/// A TCP accept loop that owns every connection it accepts: stopping it stops accepting and
/// cancels and awaits all connections, so no listener or socket outlives its owner.
/// </summary>
public sealed class ConnectionListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Func<Socket, CancellationToken, Task> _handler;
    private readonly IPtLog _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private long _nextId;
    private Task? _acceptLoop;

    private ConnectionListener(Socket socket, Func<Socket, CancellationToken, Task> handler, IPtLog log)
    {
        _socket = socket;
        _handler = handler;
        _log = log;
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public int ActiveConnections => _connections.Count;

    /// <summary>Binds and starts accepting. Bind failures are Config errors naming the address.</summary>
    public static ConnectionListener Start(IPEndPoint bind, Func<Socket, CancellationToken, Task> handler, IPtLog log)
    {
        var socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (bind.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = bind.Address.Equals(IPAddress.IPv6Any);
            socket.Bind(bind);
            socket.Listen(512);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new PtException(PtErrorKind.Config, $"cannot listen on {Net.HostPort.Format(bind)}: {e.Message}", e);
        }
        var listener = new ConnectionListener(socket, handler, log);
        listener._acceptLoop = listener.AcceptLoopAsync();
        return listener;
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE and friends: keep serving, but do not spin.
                _log.Log(PtLogSeverity.Warning, $"accept failed: {e.Message}");
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            accepted.NoDelay = true;
            var id = Interlocked.Increment(ref _nextId);
            // The handler may finish before RunConnectionAsync returns (a peer that connects and
            // closes at once), and its last act is to remove its entry: so the entry exists first,
            // as a placeholder, and becomes the task only if the handler has not removed it yet.
            _connections[id] = Task.CompletedTask;
            var connection = RunConnectionAsync(id, accepted, token);
            _connections.TryUpdate(id, connection, Task.CompletedTask);
        }
    }

    // Runs on the accepting thread until the handler first waits (typically for the client's
    // first bytes), then wherever its I/O completes. No hand-off to a thread-pool worker first:
    // that cost a futex wake and a context switch on both proxies of every new tunnel.
    private async Task RunConnectionAsync(long id, Socket socket, CancellationToken token)
    {
        try
        {
            await _handler(socket, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Handlers report their own failures; this only catches bugs so one connection can't kill the listener.
            if (!token.IsCancellationRequested)
                _log.Log(PtLogSeverity.Warning, $"connection handler failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            socket.Dispose();
            _connections.TryRemove(id, out _);
        }
    }

    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_acceptLoop is not null)
            await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
