using System.Net;
using Guise.Errors;
using Guise.Hosting;
using Guise.Net;
using Guise.Hosting.Controller;
using Guise.Tests.Support;
using static Guise.Tests.Controller.ControllerHarness;

namespace Guise.Tests.Controller;

public class ControllerLifecycleTests
{
    [Fact]
    public async Task Many_transports_run_at_once_each_on_its_own_os_chosen_port_and_stopping_one_leaves_the_rest()
    {
        using var state = new TempDirectory();
        await using var echo = StartEcho();
        await using var controller = NewController(state);
        var target = HostPort.Format(echo.LocalEndPoint);

        var obfs4Client = await controller.StartClientAsync("obfs4");
        var plainClient = await controller.StartClientAsync("plain");
        var obfs4Server = await controller.StartServerAsync("obfs4", "127.0.0.1:0", target);
        var plainServer = await controller.StartServerAsync("plain", "127.0.0.1:0", target);

        IPEndPoint[] all = [obfs4Client, plainClient, obfs4Server.EndPoint, plainServer.EndPoint];
        Assert.All(all, e => Assert.NotEqual(0, e.Port));
        Assert.Equal(4, all.Select(e => e.Port).Distinct().Count());
        Assert.All(all, e => Assert.Equal(IPAddress.Loopback, e.Address));
        Assert.Equal(4, controller.Endpoints.Count);
        Assert.Equal(obfs4Client, controller.Endpoints[("obfs4", ConnectionRole.Client)]);
        Assert.True(obfs4Server.ClientArgs.TryGet("cert", out _));
        Assert.All(all, e => Assert.True(Accepts(e), $"{e} does not accept"));

        Assert.True(await controller.StopAsync("obfs4"));

        Assert.False(Accepts(obfs4Client));
        Assert.False(Accepts(obfs4Server.EndPoint));
        Assert.True(Accepts(plainClient));
        Assert.True(Accepts(plainServer.EndPoint));
        Assert.Equal([("plain", ConnectionRole.Client), ("plain", ConnectionRole.Server)],
            controller.Endpoints.Keys.OrderBy(k => k.Role));
        Assert.False(await controller.StopAsync("obfs4"));
    }

    [Fact]
    public async Task Starting_a_client_twice_is_a_config_error_that_says_where_the_first_one_runs()
    {
        using var state = new TempDirectory();
        await using var controller = NewController(state);
        var first = await controller.StartClientAsync("plain");

        var e = await Assert.ThrowsAsync<PtException>(() => controller.StartClientAsync("plain"));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("plain client is already running", e.Message, StringComparison.Ordinal);
        Assert.Contains(HostPort.Format(first), e.Message, StringComparison.Ordinal);
        Assert.True(Accepts(first));
    }

    [Fact]
    public async Task Starting_a_server_twice_is_a_config_error_but_a_client_of_the_same_name_may_run_beside_it()
    {
        using var state = new TempDirectory();
        await using var controller = NewController(state);
        await controller.StartServerAsync("plain", "127.0.0.1:0", "127.0.0.1:9");

        var e = await Assert.ThrowsAsync<PtException>(() => controller.StartServerAsync("plain", "127.0.0.1:0", "127.0.0.1:9"));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("plain server is already running", e.Message, StringComparison.Ordinal);

        await controller.StartClientAsync("plain");
        Assert.Equal(2, controller.Endpoints.Count);
    }

    [Fact]
    public async Task An_unknown_transport_is_a_config_error_naming_the_available_ones()
    {
        using var state = new TempDirectory();
        await using var controller = NewController(state);

        var e = await Assert.ThrowsAsync<PtException>(() => controller.StartClientAsync("nosuch"));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("nosuch", e.Message, StringComparison.Ordinal);
        Assert.Contains("obfs4", e.Message, StringComparison.Ordinal);
        Assert.Empty(controller.Endpoints);
    }

    [Fact]
    public async Task A_bad_proxy_url_fails_the_start_and_leaves_nothing_listening()
    {
        using var state = new TempDirectory();
        await using var controller = NewController(state);

        var e = await Assert.ThrowsAsync<PtException>(() => controller.StartClientAsync("plain", "ftp://127.0.0.1:21"));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Empty(controller.Endpoints);
    }

    [Fact]
    public async Task An_obfs4_server_keeps_its_keys_in_the_state_directory_across_controllers()
    {
        using var state = new TempDirectory();
        PtServerInfo first;
        await using (var controller = NewController(state))
            first = await controller.StartServerAsync("obfs4", "127.0.0.1:0", "127.0.0.1:9");
        Assert.True(File.Exists(Path.Combine(state.Path, "obfs4_state.json")));

        await using var again = NewController(state);
        var second = await again.StartServerAsync("obfs4", "127.0.0.1:0", "127.0.0.1:9");

        Assert.Equal(first.ClientArgs.Get("cert"), second.ClientArgs.Get("cert"));
    }

    [Fact]
    public async Task DisposeAsync_ends_open_connections_before_it_returns_and_leaves_no_listener()
    {
        using var state = new TempDirectory();
        using var cts = new CancellationTokenSource(HangGuard);
        await using var echo = StartEcho();
        var controller = NewController(state);
        var events = new EventRecorder(controller);
        var server = await controller.StartServerAsync("plain", "127.0.0.1:0", HostPort.Format(echo.LocalEndPoint));
        var socks = await controller.StartClientAsync("plain");
        await using var open = await SocksConnectAsync(socks, server.EndPoint, null, cts.Token);
        await open.WriteAsync("hold"u8.ToArray(), cts.Token);
        await open.ReadExactlyAsync(new byte[4], cts.Token);
        await events.WaitForAsync<PtConnectionOpenedEvent>(e => e.Role == ConnectionRole.Server);

        await controller.DisposeAsync();

        // Both relays ended (and said so) before DisposeAsync returned: nothing of theirs runs on.
        var closed = events.All.OfType<PtConnectionClosedEvent>().ToList();
        Assert.Contains(closed, e => e.Role == ConnectionRole.Client);
        Assert.Contains(closed, e => e.Role == ConnectionRole.Server);
        Assert.Equal(2, events.All.OfType<PtStoppedEvent>().Count());
        Assert.IsType<PtStoppedEvent>(events.All[^1]);
        Assert.False(Accepts(socks));
        Assert.False(Accepts(server.EndPoint));
        Assert.Empty(controller.Endpoints);
        int n;
        try { n = await open.ReadAsync(new byte[1], cts.Token); } catch (IOException) { n = 0; }
        Assert.Equal(0, n); // the app's connection was closed, not left hanging
        await Assert.ThrowsAsync<ObjectDisposedException>(() => controller.StartClientAsync("plain"));
    }
}
