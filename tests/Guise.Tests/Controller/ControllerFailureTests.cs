using System.Net;
using System.Net.Sockets;
using TransportContext = Guise.Transports.TransportContext;
using Guise.Errors;
using Guise.Hosting;
using Guise.Net;
using Guise.Hosting.Controller;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;
using static Guise.Tests.Controller.ControllerHarness;

namespace Guise.Tests.Controller;

public class ControllerFailureTests
{
    [Fact]
    public async Task A_bridge_that_refuses_the_connection_is_a_failed_event_of_kind_refused_with_backoff_advice()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var socks = await controller.StartClientAsync("plain");
        var dead = ClosedPort();

        var e = await Assert.ThrowsAsync<PtException>(() => SocksConnectAsync(socks, dead, null, cts.Token));
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase); // SOCKS reply 5

        var failed = await events.WaitForAsync<PtFailedEvent>();
        Assert.Equal(PtErrorKind.Refused, failed.Kind);
        Assert.Equal(RetryAdvice.RetryWithBackoff, failed.Advice);
        Assert.Equal(ConnectionRole.Client, failed.Role);
        Assert.Equal(HostPort.Format(dead), failed.Peer);
        Assert.Empty(events.All.OfType<PtConnectionOpenedEvent>());
    }

    [Fact]
    public async Task A_dial_that_never_completes_is_a_failed_event_of_kind_timeout_after_the_connect_timeout()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        DialAsync silent = async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        };
        await using var controller = NewController(state, new PtControllerOptions { Dial = silent, ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        var events = new EventRecorder(controller);
        var socks = await controller.StartClientAsync("plain");

        await Assert.ThrowsAsync<PtException>(() => SocksConnectAsync(socks, ClosedPort(), null, cts.Token));

        var failed = await events.WaitForAsync<PtFailedEvent>();
        Assert.Equal(PtErrorKind.Timeout, failed.Kind);
        Assert.Equal(RetryAdvice.RetryWithBackoff, failed.Advice);
        Assert.Contains("timed out", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_obfs4_bridge_given_the_wrong_cert_is_a_failed_event_of_kind_handshake_with_do_not_retry()
    {
        using var state = new TempDirectory();
        using var bridgeState = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        // A real obfs4 bridge with short timers, so its silent close after a bad handshake comes in 300 ms, not 30-89 s.
        var bridge = (Obfs4ServerFactory)new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(bridgeState.Path), PtArgs.Empty);
        bridge.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
        bridge.CloseDelay = TimeSpan.Zero;
        var bridgeFailure = new TaskCompletionSource<PtException>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = ConnectionListener.Start(new IPEndPoint(IPAddress.Loopback, 0), async (socket, ct) =>
        {
            try
            {
                await using var payload = await bridge.AcceptAsync(new NetworkStream(socket, ownsSocket: false), ct);
            }
            catch (PtException e)
            {
                bridgeFailure.TrySetResult(e);
            }
        }, NullPtLog.Instance);
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var wrong = Obfs4Identity.Generate().ClientArgs;
        var socks = await controller.StartClientAsync("obfs4", defaultArgs: wrong);

        await Assert.ThrowsAsync<PtException>(() => SocksConnectAsync(socks, listener.LocalEndPoint, null, cts.Token));

        var failed = await events.WaitForAsync<PtFailedEvent>();
        Assert.Equal(PtErrorKind.Handshake, failed.Kind);
        Assert.Equal(RetryAdvice.DoNotRetry, failed.Advice);
        Assert.Contains("cert", failed.Message, StringComparison.Ordinal);
        // The bridge never answered: it could not find its mark and timed out on us.
        Assert.Equal(PtErrorKind.Timeout, (await bridgeFailure.Task.WaitAsync(cts.Token)).Kind);
    }

    [Fact]
    public async Task An_obfs4_request_without_args_and_without_defaults_is_a_failed_event_of_kind_config()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var socks = await controller.StartClientAsync("obfs4");

        await Assert.ThrowsAsync<PtException>(() => SocksConnectAsync(socks, ClosedPort(), null, cts.Token));

        var failed = await events.WaitForAsync<PtFailedEvent>();
        Assert.Equal(PtErrorKind.Config, failed.Kind);
        Assert.Equal(RetryAdvice.FixConfiguration, failed.Advice);
        Assert.Contains("missing argument", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_whose_target_refuses_reports_a_refused_failure_for_the_server_role()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var controller = NewController(state);
        var events = new EventRecorder(controller);
        var server = await controller.StartServerAsync("plain", "127.0.0.1:0", HostPort.Format(ClosedPort()));
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint, cts.Token);

        var failed = await events.WaitForAsync<PtFailedEvent>();

        Assert.Equal(ConnectionRole.Server, failed.Role);
        Assert.Equal(PtErrorKind.Refused, failed.Kind);
    }
}
