using System.Net;
using System.Net.Sockets;

namespace Guise.Bench.Harness;

/// <summary>
/// A TCP forwarder put between the client-side and the server-side managed proxy, counting the
/// bytes that cross it each way: what a tap in front of the bridge's listening port would see
/// as TCP payload (IP/TCP headers are not counted; they are the same for every transport
/// moving the same number of segments, and loopback segments are not the Internet's).
/// </summary>
internal sealed class CountingForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private long _toServer, _toClient;
    private int _open;

    public CountingForwarder(IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>Bytes from the client-side proxy towards the server-side one.</summary>
    public long ToServer => Interlocked.Read(ref _toServer);

    /// <summary>Bytes from the server-side proxy back to the client-side one.</summary>
    public long ToClient => Interlocked.Read(ref _toClient);

    /// <summary>Forwarded connections not yet closed on both sides.</summary>
    public int Open => Volatile.Read(ref _open);

    public void Reset()
    {
        Interlocked.Exchange(ref _toServer, 0);
        Interlocked.Exchange(ref _toClient, 0);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref _open);
            _ = Task.Run(() => ForwardAsync(inbound));
        }
    }

    private async Task ForwardAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        try
        {
            await outbound.ConnectAsync(_upstream, _stop.Token).ConfigureAwait(false);
            await Task.WhenAll(PumpAsync(inbound, outbound, toServer: true), PumpAsync(outbound, inbound, toServer: false)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            inbound.Dispose();
            outbound.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool toServer)
    {
        var buffer = new byte[64 << 10];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                    break;
                Interlocked.Add(ref toServer ? ref _toServer : ref _toClient, n);
                for (var sent = 0; sent < n;)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A reset on one side: close both so the other pump ends too.
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
