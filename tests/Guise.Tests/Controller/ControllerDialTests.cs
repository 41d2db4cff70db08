using System.Collections.Concurrent;
using Guise.Errors;
using Guise.Hosting.Controller;
using Guise.Net;
using Guise.Tests.Support;
using Guise.Transports;
using static Guise.Tests.Controller.ControllerHarness;

namespace Guise.Tests.Controller;

public class ControllerDialTests
{
    [Fact]
    public async Task Every_client_connection_goes_through_the_injected_dial_delegate()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var echo = StartEcho();
        var dialed = new ConcurrentQueue<string>();
        var tcp = new TcpDialer();
        DialAsync appSocket = (target, ct) =>
        {
            dialed.Enqueue(target);
            return tcp.DialAsync(target, ct);
        };
        await using var controller = NewController(state, new PtControllerOptions { Dial = appSocket });
        var server = await controller.StartServerAsync("obfs4", "127.0.0.1:0", HostPort.Format(echo.LocalEndPoint));
        var socks = await controller.StartClientAsync("obfs4", defaultArgs: server.ClientArgs);

        await using (var stream = await SocksConnectAsync(socks, server.EndPoint, null, cts.Token))
            Assert.Equal("via the app"u8.ToArray(), await EchoThroughAsync(stream, "via the app"u8.ToArray(), cts.Token));

        Assert.Equal([HostPort.Format(server.EndPoint)], dialed);
    }

    [Fact]
    public async Task Default_args_apply_only_to_requests_without_args_and_can_change_while_running()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var echo = StartEcho();
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var server = await controller.StartServerAsync("obfs4", "127.0.0.1:0", HostPort.Format(echo.LocalEndPoint));
        var socks = await controller.StartClientAsync("obfs4");

        // Args in the SOCKS request win even when no defaults exist.
        await using (var stream = await SocksConnectAsync(socks, server.EndPoint, server.ClientArgs, cts.Token))
            Assert.Equal("a"u8.ToArray(), await EchoThroughAsync(stream, "a"u8.ToArray(), cts.Token));

        // Defaults stored after the start are used by the next request that has none.
        controller.SetDefaultArgs("obfs4", server.ClientArgs);
        await using (var stream = await SocksConnectAsync(socks, server.EndPoint, null, cts.Token))
            Assert.Equal("b"u8.ToArray(), await EchoThroughAsync(stream, "b"u8.ToArray(), cts.Token));

        controller.SetDefaultArgs("obfs4", null);
        await Assert.ThrowsAsync<PtException>(() => SocksConnectAsync(socks, server.EndPoint, null, cts.Token));
        Assert.Equal(PtErrorKind.Config, (await events.WaitForAsync<PtFailedEvent>()).Kind);
    }

    [Fact]
    public async Task Bad_default_args_are_refused_when_stored_not_at_the_first_connection()
    {
        using var state = new TempDirectory();
        await using var controller = NewController(state);

        var e = Assert.Throws<PtException>(() => controller.SetDefaultArgs("obfs4", new PtArgs().Add("cert", "not-a-cert")));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Null(controller.GetDefaultArgs("obfs4"));
    }
}
