using System.Net;
using System.Net.Sockets;
using Guise.Hosting;
using Guise.Transports;

namespace Guise.Tests.Hosting;

public class ConnectionListenerTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connections_that_end_before_their_handler_first_waits_leave_no_entry_behind()
    {
        // A handler that is done at once, as an obfs4 bridge is for a peer that connects and
        // closes: it finishes before the accept loop has even stored its task.
        await using var listener = ConnectionListener.Start(new IPEndPoint(IPAddress.Loopback, 0), (_, _) => Task.CompletedTask, NullPtLog.Instance);
        for (var i = 0; i < 200; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint);
        }

        await Eventually(() => listener.ActiveConnections == 0);
        Assert.Equal(0, listener.ActiveConnections);
    }

    [Fact]
    public async Task A_connection_whose_handler_waits_is_counted_until_it_ends()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = ConnectionListener.Start(new IPEndPoint(IPAddress.Loopback, 0), (_, _) => release.Task, NullPtLog.Instance);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint);

        await Eventually(() => listener.ActiveConnections == 1);
        Assert.Equal(1, listener.ActiveConnections);
        release.SetResult();
        await Eventually(() => listener.ActiveConnections == 0);
        Assert.Equal(0, listener.ActiveConnections);
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the hang guard passes; the caller asserts.</summary>
    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + HangGuard;
        while (!condition() && DateTime.UtcNow < deadline)
            await Task.Delay(10);
    }
}
