using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Socks;
using Guise.Tests.Socks;
using Guise.Transports;

namespace Guise.Tests.PtHost;

/// <summary>guise wrap's managed-proxy side, in process: Tor is played by the test.</summary>
public class WrapProxyTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    private static Dictionary<string, string> ClientEnv(string state, string transports = "ss") => new()
    {
        ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
        ["TOR_PT_STATE_LOCATION"] = state,
        ["TOR_PT_CLIENT_TRANSPORTS"] = transports,
        ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
    };

    private sealed class Run : IAsyncDisposable
    {
        private readonly Pipe _stdin = new();
        private readonly CancellationTokenSource _cts = new();

        public Run(WrapOptions options)
        {
            Output = (LineCapture)options.Output;
            Task = WrapProxy.RunAsync(options with { Stdin = _stdin.Reader.AsStream(), WatchParent = false }, _cts.Token);
        }

        public static Run Start(Dictionary<string, string> env, Func<WrapOptions, WrapOptions> configure) =>
            new(configure(new WrapOptions { Environment = env, Output = new LineCapture(), Transport = "ss" }));

        public LineCapture Output { get; }

        public Task<int> Task { get; }

        public void CloseStdin() => _stdin.Writer.Complete();

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            try
            {
                await Task.WaitAsync(HangGuard);
            }
            catch (OperationCanceledException)
            {
            }
            _cts.Dispose();
        }
    }

    [Fact]
    public async Task Attached_to_a_running_socks_port_tor_connections_reach_it_with_their_target_and_args()
    {
        using var dir = new FakePt("");
        await using var tool = new LoopbackSocksServer();
        await using var run = Run.Start(ClientEnv(dir.State), o => o with { Socks = HostPort.Format(tool.EndPoint) });
        var cmethod = await run.Output.WaitForAsync(l => l.StartsWith("CMETHOD ss socks5 127.0.0.1:", StringComparison.Ordinal), HangGuard);
        await run.Output.WaitForAsync(l => l == "CMETHODS DONE", HangGuard);
        Assert.Equal(["VERSION 1"], run.Output.Lines.Take(1));

        var address = IPEndPoint.Parse(cmethod.Split(' ')[3]);
        using var client = new TcpClient();
        await client.ConnectAsync(address);
        var stream = client.GetStream();
        await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, "192.0.2.7", 443, new PtArgs().Add("password", "x;y"), CancellationToken.None)
            .AsTask().WaitAsync(HangGuard);
        await stream.WriteAsync("ping"u8.ToArray());
        var echo = new byte[4];
        await stream.ReadExactlyAsync(echo).AsTask().WaitAsync(HangGuard);
        Assert.Equal("ping"u8.ToArray(), echo);

        var request = Assert.Single(tool.Requests);
        Assert.Equal("192.0.2.7:443", request.Target);
        Assert.Equal("x;y", request.Args.Get("password"));

        run.CloseStdin();
        Assert.Equal(WrapProxy.ExitOk, await run.Task.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task A_missing_command_is_a_cmethod_error_naming_it()
    {
        using var dir = new FakePt("");
        await using var run = Run.Start(ClientEnv(dir.State), o => o with { Program = "/nonexistent/ss-local" });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        Assert.Contains("CMETHOD-ERROR ss cannot start /nonexistent/ss-local: no such file", run.Output.Lines);
        Assert.Equal("CMETHODS DONE", run.Output.Lines.Last(l => !l.StartsWith("LOG ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_command_that_exits_early_is_a_cmethod_error_with_its_exit_and_stderr()
    {
        using var tool = new FakePt("echo 'cannot read config' >&2; exit 4");
        await using var run = Run.Start(ClientEnv(tool.State), o => o with { Program = tool.Script, Socks = "127.0.0.1:0" });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        var error = Assert.Single(run.Output.Lines, l => l.StartsWith("CMETHOD-ERROR ss ", StringComparison.Ordinal));
        Assert.Matches(@"^CMETHOD-ERROR ss the wrapped command exited with code 4 before its SOCKS port 127\.0\.0\.1:\d+ accepted: cannot read config$", error);
    }

    [Fact]
    public async Task A_socks_port_that_never_opens_is_an_error_after_the_timeout_and_the_command_is_stopped()
    {
        using var tool = new FakePt("exec sleep 60");
        await using var run = Run.Start(ClientEnv(tool.State), o => o with
        {
            Program = tool.Script,
            StartTimeout = TimeSpan.FromSeconds(1),
            LogLevel = PtLogSeverity.Info,
        });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        var error = Assert.Single(run.Output.Lines, l => l.StartsWith("CMETHOD-ERROR ss ", StringComparison.Ordinal));
        Assert.Matches(@"^CMETHOD-ERROR ss the wrapped command's SOCKS port 127\.0\.0\.1:\d+ did not accept connections within 1 s$", error);
        var started = Assert.Single(run.Output.Lines, l => l.Contains("started pt.sh (pid ", StringComparison.Ordinal));
        var pid = int.Parse(started.Split("(pid ")[1].Split(')')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.False(FakePt.IsAlive(pid));
    }

    [Fact]
    public async Task A_placeholder_typo_is_a_cmethod_error_and_nothing_runs()
    {
        using var dir = new FakePt("");
        await using var run = Run.Start(ClientEnv(dir.State), o => o with { Program = "/bin/true", Arguments = ["-l", "{sock_port}"] });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        Assert.Contains(run.Output.Lines, l => l.StartsWith("CMETHOD-ERROR ss unknown placeholder {sock_port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_upstream_proxy_the_command_cannot_take_is_a_proxy_error()
    {
        using var dir = new FakePt("");
        var env = ClientEnv(dir.State);
        env["TOR_PT_PROXY"] = "socks5://127.0.0.1:9050";
        await using var run = Run.Start(env, o => o with { Program = "/bin/true" });
        Assert.Equal(WrapProxy.ExitConfigError, await run.Task.WaitAsync(HangGuard));
        Assert.Contains(run.Output.Lines, l => l.StartsWith("PROXY-ERROR ", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Output.Lines, l => l.StartsWith("CMETHOD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_transport_tor_did_not_ask_for_launches_nothing()
    {
        using var dir = new FakePt("");
        await using var run = Run.Start(ClientEnv(dir.State, "obfs4"), o => o with { Program = "/bin/true" });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        Assert.Contains("CMETHODS DONE", run.Output.Lines);
        Assert.DoesNotContain(run.Output.Lines, l => l.StartsWith("CMETHOD ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Per_bridge_args_the_bridge_line_lacks_fail_that_connection_with_a_config_status()
    {
        using var dir = new FakePt("");
        await using var run = Run.Start(ClientEnv(dir.State), o => o with { Program = "/bin/sleep", Arguments = ["{arg:password}", "{socks_port}"] });
        var cmethod = await run.Output.WaitForAsync(l => l.StartsWith("CMETHOD ss socks5 127.0.0.1:", StringComparison.Ordinal), HangGuard);
        using var client = new TcpClient();
        await client.ConnectAsync(IPEndPoint.Parse(cmethod.Split(' ')[3]));
        var refused = await Assert.ThrowsAsync<Guise.Errors.PtException>(() =>
            SocksClient.ConnectAsync(client.GetStream(), SocksVersion.Socks5, "192.0.2.7", 443, PtArgs.Empty, CancellationToken.None).AsTask().WaitAsync(HangGuard));
        Assert.Equal(Guise.Errors.PtErrorKind.Proxy, refused.Kind);
        var status = await run.Output.WaitForAsync(l => l.StartsWith("STATUS TRANSPORT=ss CONNECT=Failed", StringComparison.Ordinal), HangGuard);
        Assert.Contains("ERROR=config", status, StringComparison.Ordinal);
        Assert.Contains("the bridge line lacks password= (the wrapped command uses {arg:password})", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Per_bridge_args_with_a_fixed_socks_port_are_a_cmethod_error()
    {
        using var dir = new FakePt("");
        await using var run = Run.Start(ClientEnv(dir.State), o => o with
        {
            Program = "/bin/sleep",
            Socks = "127.0.0.1:1080",
            Arguments = ["{arg:password}", "{socks_port}"],
        });
        Assert.Equal(WrapProxy.ExitNothingLaunched, await run.Task.WaitAsync(HangGuard));
        Assert.Contains(run.Output.Lines, l => l.StartsWith("CMETHOD-ERROR ss with {arg:KEY} every bridge gets its own instance", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("INFO: [18388] connect to 192.0.2.5:9001", "INFO: [18388] connect to [scrubbed]")]
    [InlineData("remote [2001:db8::1]:443 and 203.0.113.9", "remote [scrubbed] and [scrubbed]")]
    [InlineData("listening at 127.0.0.1:11080", "listening at 127.0.0.1:11080")]
    [InlineData("version 3.3.5 at 2026-11-27 00:18:54", "version 3.3.5 at 2026-11-27 00:18:54")]
    public void Addresses_in_a_tools_log_lines_are_scrubbed_but_loopback_stays(string line, string expected) =>
        Assert.Equal(expected, WrapProxy.ScrubAddresses(line));

    [Fact]
    public async Task A_bad_environment_is_an_env_error()
    {
        await using var run = Run.Start(new Dictionary<string, string> { ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1" }, o => o);
        Assert.Equal(WrapProxy.ExitConfigError, await run.Task.WaitAsync(HangGuard));
        Assert.StartsWith("ENV-ERROR ", Assert.Single(run.Output.Lines), StringComparison.Ordinal);
    }
}
