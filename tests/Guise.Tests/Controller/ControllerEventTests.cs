using System.Security.Cryptography;
using Guise.Hosting;
using Guise.Net;
using Guise.Hosting.Controller;
using Guise.Tests.Support;
using static Guise.Tests.Controller.ControllerHarness;

namespace Guise.Tests.Controller;

public class ControllerEventTests
{
    [Fact]
    public async Task An_obfs4_tunnel_raises_started_opened_closed_with_byte_counts_then_stopped_in_that_order()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var echo = StartEcho();
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var server = await controller.StartServerAsync("obfs4", "127.0.0.1:0", HostPort.Format(echo.LocalEndPoint));
        var socks = await controller.StartClientAsync("obfs4", defaultArgs: server.ClientArgs);

        var payload = RandomNumberGenerator.GetBytes(200_000);
        await using (var stream = await SocksConnectAsync(socks, server.EndPoint, null, cts.Token))
            Assert.Equal(payload, await EchoThroughAsync(stream, payload, cts.Token));
        await events.WaitForAsync<PtConnectionClosedEvent>(e => e.Role == ConnectionRole.Client);
        await events.WaitForAsync<PtConnectionClosedEvent>(e => e.Role == ConnectionRole.Server);
        await controller.StopAsync("obfs4");

        var client = events.All.Where(e => Role(e) == ConnectionRole.Client).ToList();
        Assert.Collection(client,
            e => Assert.Equal(socks, Assert.IsType<PtStartedEvent>(e).EndPoint),
            e => Assert.Equal(HostPort.Format(server.EndPoint), Assert.IsType<PtConnectionOpenedEvent>(e).Peer),
            e =>
            {
                var closed = Assert.IsType<PtConnectionClosedEvent>(e);
                Assert.Equal(payload.Length, closed.BytesUp);
                Assert.Equal(payload.Length, closed.BytesDown);
                Assert.Null(closed.FailureKind);
            },
            e => Assert.Equal("obfs4", Assert.IsType<PtStoppedEvent>(e).Transport));
        var bridge = events.All.Where(e => Role(e) == ConnectionRole.Server).ToList();
        Assert.Equal([typeof(PtStartedEvent), typeof(PtConnectionOpenedEvent), typeof(PtConnectionClosedEvent), typeof(PtStoppedEvent)],
            bridge.Select(e => e.GetType()));
        Assert.Equal(server.ClientArgs.ToSocksString(), ((PtStartedEvent)bridge[0]).ClientArgs!.ToSocksString());
        Assert.Empty(events.All.OfType<PtFailedEvent>());
    }

    [Fact]
    public async Task A_throwing_event_handler_is_logged_and_the_tunnel_still_works()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var echo = StartEcho();
        var log = new RecordingLog();
        await using var controller = NewController(state, new PtControllerOptions { Log = log });
        controller.ConnectionOpened += (_, _) => throw new InvalidOperationException("app bug");
        var server = await controller.StartServerAsync("plain", "127.0.0.1:0", HostPort.Format(echo.LocalEndPoint));
        var socks = await controller.StartClientAsync("plain");

        await using var stream = await SocksConnectAsync(socks, server.EndPoint, null, cts.Token);
        Assert.Equal("still fine"u8.ToArray(), await EchoThroughAsync(stream, "still fine"u8.ToArray(), cts.Token));

        Assert.Contains(log.Lines, l => l.Contains("InvalidOperationException: app bug", StringComparison.Ordinal));
    }

    private static ConnectionRole Role(object e) => e switch
    {
        PtStartedEvent s => s.Role,
        PtConnectionOpenedEvent o => o.Role,
        PtConnectionClosedEvent c => c.Role,
        PtFailedEvent f => f.Role,
        PtStoppedEvent s => s.Role,
        _ => throw new ArgumentException(e.ToString()),
    };
}
