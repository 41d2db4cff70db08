using System.Net;
using System.Net.Sockets;
using Guise.Hosting.PtHost;
using Guise.Interop.Tests.Support;
using Guise.Net;
using Host = Guise.Hosting.PtHost.PtHost;

namespace Guise.Interop.Tests.PtHost;

/// <summary>PtHost launching real PT binaries as Tor would, and guise host surviving its own death.</summary>
public class PtHostRealPtTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Obfs4proxy_as_a_client_reports_its_methods_accepts_the_proxy_and_refuses_an_unknown_transport()
    {
        using var dir = new TempDir();
        await using var host = new Host(new PtLaunch
        {
            Program = Peers.Obfs4Proxy,
            StateDirectory = Path.Combine(dir, "state"),
            Client = new PtClientRole(["obfs4", "nosuchtransport"]),
            Proxy = "socks5://127.0.0.1:1", // only recorded: obfs4proxy dials it when a bridge is used
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);

        Assert.Equal("1", ready.Version);
        Assert.True(ready.ProxyAccepted);
        var obfs4 = ready.Client("obfs4")!;
        Assert.Equal(("socks5", "127.0.0.1"), (obfs4.Protocol, obfs4.Address.Host));
        Assert.Equal("nosuchtransport", Assert.Single(ready.Errors).Transport);
        using var probe = new TcpClient();
        await probe.ConnectAsync(IPAddress.Loopback, obfs4.Address.Port).WaitAsync(HangGuard);
    }

    [Fact]
    public async Task Obfs4proxy_as_a_server_reports_its_listener_with_args_that_make_its_bridge_line()
    {
        using var dir = new TempDir();
        var state = Path.Combine(dir, "state");
        var bind = new IPEndPoint(IPAddress.Loopback, Peers.FreePort());
        await using var host = new Host(new PtLaunch
        {
            Program = Peers.Obfs4Proxy,
            StateDirectory = state,
            Server = new PtServerRole(["obfs4"])
            {
                BindAddresses = new Dictionary<string, IPEndPoint> { ["obfs4"] = bind },
                OrPort = $"127.0.0.1:{Peers.FreePort()}",
            },
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);

        var obfs4 = ready.Server("obfs4")!;
        Assert.Equal(new HostPort("127.0.0.1", bind.Port), obfs4.Address);
        var cert = obfs4.Args.Get("cert");
        Assert.NotNull(cert);
        Assert.Equal("0", obfs4.Args.Get("iat-mode"));
        Assert.Equal($"obfs4 127.0.0.1:{bind.Port} ABCD cert={cert} iat-mode=0", obfs4.BridgeLine("ABCD"));
        // obfs4proxy's own bridge line file carries the same cert.
        var written = await File.ReadAllTextAsync(Path.Combine(state, "obfs4_bridgeline.txt"));
        Assert.Contains($"cert={cert} iat-mode=0", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Snowflake_client_launches_and_reports_its_snowflake_method()
    {
        using var dir = new TempDir();
        await using var host = new Host(new PtLaunch
        {
            Program = PtHostPeers.SnowflakeClient,
            StateDirectory = Path.Combine(dir, "state"),
            Client = new PtClientRole(["snowflake"]),
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);
        var snowflake = Assert.Single(ready.ClientMethods);
        Assert.Equal(("snowflake", "socks5", "127.0.0.1"), (snowflake.Transport, snowflake.Protocol, snowflake.Address.Host));
        await host.StopAsync().WaitAsync(HangGuard);
        Assert.False(PtHostPeers.IsAlive(ready.ProcessId));
    }

    [Fact]
    public async Task Guise_itself_reports_its_methods_and_its_implementation_version()
    {
        using var dir = new TempDir();
        await using var host = new Host(new PtLaunch
        {
            Program = Peers.Guise,
            StateDirectory = Path.Combine(dir, "state"),
            Client = new PtClientRole(["plain", "obfs4"]),
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);
        Assert.Equal(["plain", "obfs4"], ready.ClientMethods.Select(m => m.Transport));
        Assert.Equal("guise", ready.Implementation);
        Assert.False(string.IsNullOrEmpty(ready.ImplementationVersion));
        // Closing stdin is enough for guise: it exits cleanly.
        await host.StopAsync().WaitAsync(HangGuard);
        var exited = new List<PtHostEvent>();
        await foreach (var e in host.Events.ReadAllAsync())
            exited.Add(e);
        Assert.Contains(exited, e => e is PtHostEvent.Exited { ExitCode: 0, Requested: true });
    }

    [Fact]
    public async Task Guise_host_prints_the_methods_and_its_pt_dies_with_it_even_when_the_pt_ignores_stdin()
    {
        using var dir = new TempDir();
        var script = Path.Combine(dir, "stubborn-pt.sh");
        // A PT that ignores both stdin and the TOR_PT_EXIT_ON_STDIN_CLOSE promise: only the kernel can end it.
        await File.WriteAllTextAsync(script, """
            #!/bin/sh
            echo "VERSION 1"
            echo "CMETHOD stub socks5 127.0.0.1:1999"
            echo "CMETHODS DONE"
            exec sleep 600
            """);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var guise = ChildProcess.Start(Peers.Guise, ["host", "--client", "stub", "--state", Path.Combine(dir, "state"), "--", script]);
        await guise.WaitForLineAsync(l => l == "client: stub socks5 127.0.0.1:1999", HangGuard, "guise host to print the method");
        var ready = await guise.WaitForLineAsync(l => l.StartsWith("ready: pid ", StringComparison.Ordinal), HangGuard, "guise host to print the PT's pid");
        var pid = int.Parse(ready["ready: pid ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(PtHostPeers.IsAlive(pid));

        guise.Process.Kill(entireProcessTree: false); // SIGKILL: no chance to clean up
        Assert.NotNull(await PtHostPeers.WaitUntilGoneAsync(pid, TimeSpan.FromSeconds(10)));
    }
}
