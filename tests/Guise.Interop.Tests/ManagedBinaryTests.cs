using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests;

/// <summary>The guise binary in managed mode, driven the way Tor drives it, but by the test.</summary>
public class ManagedBinaryTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static Dictionary<string, string> ClientEnvironment(string state, string transports = "plain") => new()
    {
        ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
        ["TOR_PT_STATE_LOCATION"] = state,
        ["TOR_PT_CLIENT_TRANSPORTS"] = transports,
        ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
    };

    [Fact]
    public async Task Duplicate_bind_addresses_are_an_env_error_with_a_nonzero_exit()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = dir,
            ["TOR_PT_SERVER_TRANSPORTS"] = "plain",
            ["TOR_PT_SERVER_BINDADDR"] = "plain-127.0.0.1:7000,plain-127.0.0.1:7001",
            ["TOR_PT_ORPORT"] = "127.0.0.1:9001",
        });
        await guise.WaitForLineAsync(l => l.StartsWith("ENV-ERROR ", StringComparison.Ordinal), Patience, "ENV-ERROR");
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.NotEqual(0, guise.Process.ExitCode);
    }

    [Fact]
    public async Task An_unsupported_protocol_version_is_a_version_error()
    {
        using var dir = new TempDir();
        var env = ClientEnvironment(dir);
        env["TOR_PT_MANAGED_TRANSPORT_VER"] = "2,3";
        using var guise = ChildProcess.Start(Peers.Guise, [], env);
        await guise.WaitForLineAsync(l => l == "VERSION-ERROR no-version", Patience, "VERSION-ERROR no-version");
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.NotEqual(0, guise.Process.ExitCode);
    }

    [Fact]
    public async Task The_client_reports_its_version_and_a_socks5_method_then_done()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], ClientEnvironment(dir, "plain,nosuchtransport"));
        await guise.WaitForLineAsync(l => l == "CMETHODS DONE", Patience, "CMETHODS DONE");
        var lines = guise.Lines.ToList();
        Assert.Equal("VERSION 1", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("STATUS TYPE=version IMPLEMENTATION=", StringComparison.Ordinal) && l.Contains("guise", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("CMETHOD plain socks5 127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("nosuchtransport", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Closing_stdin_makes_the_managed_proxy_exit_within_one_second()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], ClientEnvironment(dir));
        await guise.WaitForLineAsync(l => l == "CMETHODS DONE", Patience, "CMETHODS DONE");
        var watch = Stopwatch.StartNew();
        guise.CloseStdin();
        // pt-spec asks for a prompt exit; the issue sets the bound at one second.
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(1000)), $"still running {watch.ElapsedMilliseconds} ms after stdin closed");
        Assert.Equal(0, guise.Process.ExitCode);
    }

    [Fact]
    public async Task Sigterm_stops_the_managed_proxy_and_frees_its_port()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], ClientEnvironment(dir));
        var method = await guise.WaitForLineAsync(l => l.StartsWith("CMETHOD plain", StringComparison.Ordinal), Patience, "CMETHOD");
        var port = int.Parse(method.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
        await guise.WaitForLineAsync(l => l == "CMETHODS DONE", Patience, "CMETHODS DONE");

        Assert.Equal(0, Kill(guise.Pid, 15));
        Assert.True(guise.WaitForExit(TimeSpan.FromMilliseconds(5000)));
        Assert.Equal(0, guise.Process.ExitCode);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task When_its_parent_dies_the_managed_proxy_exits()
    {
        using var dir = new TempDir();
        // The shell starts guise in the background, prints its PID and exits: guise is orphaned.
        var env = ClientEnvironment(dir);
        env.Remove("TOR_PT_EXIT_ON_STDIN_CLOSE");
        using var shell = ChildProcess.Start("/bin/sh", ["-c", $"'{Peers.Guise}' </dev/null >/dev/null 2>&1 & echo $!; sleep 0.5"], env);
        var pidLine = await shell.WaitForLineAsync(l => l.Length > 0 && l.All(char.IsAsciiDigit), Patience, "guise's PID");
        var pid = int.Parse(pidLine, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(shell.WaitForExit(TimeSpan.FromMilliseconds(10_000)));

        var gone = false;
        for (var i = 0; i < 100 && !gone; i++)
        {
            gone = !Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z";
            if (!gone)
                await Task.Delay(100);
        }
        if (!gone)
            _ = Kill(pid, 9);
        Assert.True(gone, "guise outlived its parent by 10 s");
    }

    [Fact]
    public async Task A_refused_target_gets_socks_reply_5_and_a_status_line_that_says_why()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], ClientEnvironment(dir));
        var socksPort = await CmethodPortAsync(guise);
        var closedPort = Peers.FreePort();

        var reply = await Socks5ConnectAsync(socksPort, closedPort);

        Assert.Equal(0x05, reply);
        var status = await guise.WaitForLineAsync(l => l.StartsWith("STATUS TRANSPORT=plain CONNECT=Failed", StringComparison.Ordinal), Patience, "STATUS for the failure");
        Assert.Contains("ERROR=refused", status, StringComparison.Ordinal);
        Assert.DoesNotContain(closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_on_the_socks_port_does_not_stop_the_listener()
    {
        using var dir = new TempDir();
        using var guise = ChildProcess.Start(Peers.Guise, [], ClientEnvironment(dir));
        var socksPort = await CmethodPortAsync(guise);

        using (var bad = new TcpClient())
        {
            await bad.ConnectAsync(IPAddress.Loopback, socksPort);
            var stream = bad.GetStream();
            await stream.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
            var buffer = new byte[64];
            // The listener answers or hangs up; it must not leave us waiting forever.
            using var cts = new CancellationTokenSource(Patience);
            try
            {
                while (await stream.ReadAsync(buffer, cts.Token) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            Assert.False(cts.IsCancellationRequested);
        }

        var reply = await Socks5ConnectAsync(socksPort, Peers.FreePort());
        Assert.Equal(0x05, reply);
    }

    private static async Task<int> CmethodPortAsync(ChildProcess guise)
    {
        var method = await guise.WaitForLineAsync(l => l.StartsWith("CMETHOD plain socks5 ", StringComparison.Ordinal), Patience, "CMETHOD");
        return int.Parse(method.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>RFC 1928 by hand (not Guise's own SOCKS code): greeting, CONNECT 127.0.0.1:port, reply code.</summary>
    private static async Task<int> Socks5ConnectAsync(int socksPort, int targetPort)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, socksPort);
        var stream = client.GetStream();
        await stream.WriteAsync(new byte[] { 5, 1, 0 });
        var method = new byte[2];
        await stream.ReadExactlyAsync(method);
        Assert.Equal(new byte[] { 5, 0 }, method);
        await stream.WriteAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(targetPort >> 8), (byte)targetPort });
        var reply = new byte[10];
        await stream.ReadExactlyAsync(reply);
        Assert.Equal(5, reply[0]);
        return reply[1];
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
