using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Guise.Hosting.PtHost;
using Guise.Interop.Tests.Support;
using Host = Guise.Hosting.PtHost.PtHost;

namespace Guise.Interop.Tests.PtHost;

/// <summary>
/// guise wrap around real tools, driven by a real tor or by the test acting as tor. Everything is
/// on 127.0.0.1; ss-local and ss-server share a password made for each test.
/// </summary>
[Collection(nameof(TorCollection))]
public partial class WrapInteropTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    private static string SsLocalCommand(int serverPort, string password) =>
        $"{PtHostPeers.SsLocal} -s 127.0.0.1 -p {serverPort} -k {password} -m aes-256-gcm -b 127.0.0.1 -l {{socks_port}}";

    [Fact]
    public async Task A_client_tor_reaches_a_loopback_bridge_through_guise_wrap_around_ss_local_and_ss_server()
    {
        using var dir = new TempDir();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var ssPort = Peers.FreePort();
        using var ssServer = ChildProcess.Start(PtHostPeers.SsServer, ["-v", "-s", "127.0.0.1", "-p", $"{ssPort}", "-k", password, "-m", "aes-256-gcm"]);
        await PtHostPeers.WaitUntilAcceptingAsync(ssPort, HangGuard);

        var bridge = await Tor.StartBridgeAsync(dir, "plain", Peers.Guise);
        using var bridgeProcess = bridge.Process;
        // The bridge line names the bridge's ORPort: ss-local carries Tor's TLS to ss-server, which connects there.
        var client = Tor.StartClient(dir, "ss", $"{Peers.Guise} wrap --transport ss --log-level info -- {SsLocalCommand(ssPort, password)}",
            $"ss 127.0.0.1:{bridge.OrPort} {bridge.Fingerprint}");
        using var clientProcess = client.Process;
        await using var control = await ControlConnection.ConnectAsync(client.ControlPort, TimeSpan.FromSeconds(30));
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            "the client tor to fetch the bridge descriptor through guise wrap and shadowsocks");
        // The tunnel really went through shadowsocks: ss-server connected to the bridge's ORPort.
        Assert.Contains($"connect to 127.0.0.1:{bridge.OrPort}", ssServer.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_tor_reaches_the_bridge_through_an_ss_local_started_per_bridge_with_the_password_from_the_bridge_line()
    {
        using var dir = new TempDir();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var ssPort = Peers.FreePort();
        using var ssServer = ChildProcess.Start(PtHostPeers.SsServer, ["-v", "-s", "127.0.0.1", "-p", $"{ssPort}", "-k", password, "-m", "aes-256-gcm"]);
        await PtHostPeers.WaitUntilAcceptingAsync(ssPort, HangGuard);

        var bridge = await Tor.StartBridgeAsync(dir, "plain", Peers.Guise);
        using var bridgeProcess = bridge.Process;
        // No secret in the torrc's plugin line: {arg:password} comes from each Bridge line's args.
        var plugin = $"{Peers.Guise} wrap --transport ss -- {PtHostPeers.SsLocal} -s 127.0.0.1 -p {ssPort} -k {{arg:password}} -m aes-256-gcm -b 127.0.0.1 -l {{socks_port}}";
        var client = Tor.StartClient(dir, "ss", plugin, $"ss 127.0.0.1:{bridge.OrPort} {bridge.Fingerprint} password={password}");
        using var clientProcess = client.Process;
        await using var control = await ControlConnection.ConnectAsync(client.ControlPort, TimeSpan.FromSeconds(30));
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            "the client tor to fetch the bridge descriptor through a per-bridge ss-local");
        Assert.Contains($"connect to 127.0.0.1:{bridge.OrPort}", ssServer.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_tor_closes_stdin_guise_wrap_stops_ss_local_within_two_seconds()
    {
        using var dir = new TempDir();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        string[] args = ["wrap", "--transport", "ss", "--log-level", "info", "--", .. SsLocalCommand(Peers.FreePort(), password).Split(' ')];
        using var wrap = ChildProcess.Start(Peers.Guise, args, new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = Path.Combine(dir, "state"),
            ["TOR_PT_CLIENT_TRANSPORTS"] = "ss",
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
        });
        await wrap.WaitForLineAsync(l => l.StartsWith("CMETHOD ss socks5 127.0.0.1:", StringComparison.Ordinal), HangGuard, "CMETHOD ss");
        await wrap.WaitForLineAsync(l => l == "CMETHODS DONE", HangGuard, "CMETHODS DONE");
        var started = await wrap.WaitForLineAsync(l => StartedPid().IsMatch(l), HangGuard, "the LOG line naming ss-local's pid");
        var pid = int.Parse(StartedPid().Match(started).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(PtHostPeers.IsAlive(pid));

        wrap.CloseStdin();
        var gone = await PtHostPeers.WaitUntilGoneAsync(pid, TimeSpan.FromSeconds(10));
        Assert.NotNull(gone);
        Assert.True(gone <= TimeSpan.FromSeconds(2), $"ss-local took {gone.Value.TotalMilliseconds:F0} ms to go");
        Assert.True(wrap.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.Equal(WrapProxy.ExitOk, wrap.Process.ExitCode);
    }

    [Fact]
    public async Task Guise_wrap_runs_a_listening_tool_on_the_server_side_and_reports_where_it_listens()
    {
        // The wrapped server tool is guise's own plain server: it listens on {listen} and forwards to {orport}.
        using var dir = new TempDir();
        using var orPort = new PtHostPeers.Echo();
        var bind = new IPEndPoint(IPAddress.Loopback, Peers.FreePort());
        await using var host = new Host(new PtLaunch
        {
            Program = Peers.Guise,
            Arguments = ["wrap", "--transport", "plain", "--server-args", "note=wrapped", "--",
                Peers.Guise, "server", "--transport", "plain", "--listen", "{listen}", "--target", "{orport}", "--state", "{state}"],
            StateDirectory = Path.Combine(dir, "state"),
            Server = new PtServerRole(["plain"])
            {
                BindAddresses = new Dictionary<string, IPEndPoint> { ["plain"] = bind },
                OrPort = $"127.0.0.1:{orPort.Port}",
            },
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);
        var plain = ready.Server("plain")!;
        Assert.Equal(bind.Port, plain.Address.Port);
        Assert.Equal("plain 127.0.0.1:" + bind.Port + " ABCD note=wrapped", plain.BridgeLine("ABCD"));

        using var client = new TcpClient();
        await client.ConnectAsync(bind).WaitAsync(HangGuard);
        await client.GetStream().WriteAsync("through the wrapped server"u8.ToArray());
        var echo = new byte["through the wrapped server".Length];
        await client.GetStream().ReadExactlyAsync(echo).AsTask().WaitAsync(HangGuard);
        Assert.Equal("through the wrapped server"u8.ToArray(), echo);
    }

    [Fact]
    public async Task Guise_wrap_reports_a_missing_command_as_a_cmethod_error_to_tor()
    {
        using var dir = new TempDir();
        using var wrap = ChildProcess.Start(Peers.Guise, ["wrap", "--transport", "ss", "--", "/nonexistent/ss-local", "-l", "{socks_port}"],
            new Dictionary<string, string>
            {
                ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
                ["TOR_PT_STATE_LOCATION"] = Path.Combine(dir, "state"),
                ["TOR_PT_CLIENT_TRANSPORTS"] = "ss",
                ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
            });
        await wrap.WaitForLineAsync(l => l == "CMETHOD-ERROR ss cannot start /nonexistent/ss-local: no such file", HangGuard, "CMETHOD-ERROR");
        await wrap.WaitForLineAsync(l => l == "CMETHODS DONE", HangGuard, "CMETHODS DONE");
        Assert.True(wrap.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.Equal(WrapProxy.ExitNothingLaunched, wrap.Process.ExitCode);
    }

    [GeneratedRegex("""^LOG SEVERITY=info MESSAGE="started ss-local \(pid (\d+)\)"$""")]
    private static partial Regex StartedPid();
}
