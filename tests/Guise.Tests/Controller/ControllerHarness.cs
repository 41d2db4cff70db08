using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Hosting;
using Guise.Hosting.Controller;
using Guise.Socks;
using Guise.Tests.Support;
using Guise.Transports;

namespace Guise.Tests.Controller;

/// <summary>Every event a controller raises, in the order raised, with a way to wait for one.</summary>
public sealed class EventRecorder
{
    private readonly List<object> _events = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _changed = new(0);

    public EventRecorder(PtController controller)
    {
        controller.Started += (_, e) => Add(e);
        controller.ConnectionOpened += (_, e) => Add(e);
        controller.ConnectionClosed += (_, e) => Add(e);
        controller.Failed += (_, e) => Add(e);
        controller.Stopped += (_, e) => Add(e);
    }

    public IReadOnlyList<object> All
    {
        get { lock (_lock) return [.. _events]; }
    }

    private void Add(object e)
    {
        lock (_lock)
            _events.Add(e);
        _changed.Release();
    }

    public async Task<T> WaitForAsync<T>(Func<T, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            if (All.OfType<T>().FirstOrDefault(e => match?.Invoke(e) ?? true) is { } hit)
                return hit;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _changed.WaitAsync(left))
                throw new Xunit.Sdk.XunitException($"no {typeof(T).Name} event; got: {string.Join(", ", All)}");
        }
    }
}

/// <summary>An echo target, SOCKS connections and refused ports for controller tests.</summary>
public static class ControllerHarness
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    public static ConnectionListener StartEcho() =>
        ConnectionListener.Start(new IPEndPoint(IPAddress.Loopback, 0), async (socket, ct) =>
        {
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var buffer = new byte[16 * 1024];
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
                await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        }, NullPtLog.Instance);

    /// <summary>Connects to <paramref name="socks"/> and asks for <paramref name="target"/> with SOCKS5.</summary>
    public static async Task<NetworkStream> SocksConnectAsync(IPEndPoint socks, IPEndPoint target, PtArgs? args, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(socks, ct);
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, target.Address.ToString(), target.Port, args ?? PtArgs.Empty, ct);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends <paramref name="payload"/>, reads the echo back, then closes our side.</summary>
    public static async Task<byte[]> EchoThroughAsync(NetworkStream stream, byte[] payload, CancellationToken ct)
    {
        await stream.WriteAsync(payload, ct);
        var back = new byte[payload.Length];
        await stream.ReadExactlyAsync(back, ct);
        stream.Socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await stream.ReadAsync(new byte[1], ct));
        return back;
    }

    /// <summary>A loopback port nothing listens on (bound a moment ago, then released).</summary>
    public static IPEndPoint ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    public static bool Accepts(IPEndPoint endPoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(endPoint);
            return true;
        }
        catch (SocketException e) when (PtException.FromSocketError(e.SocketErrorCode) == PtErrorKind.Refused)
        {
            return false;
        }
    }

    public static PtController NewController(TempDirectory state, PtControllerOptions? options = null) => new(state.Path, options);
}
