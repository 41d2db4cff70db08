using System.Net;
using System.Net.Sockets;
using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Marionette;

/// <summary>
/// <c>--format FILE</c> through the real binary: a user's .mar file runs without recompiling,
/// bridge lines name it by its file name, and a broken one stops guise with file:line:column.
/// </summary>
public class MarionetteFormatFileTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>A line-based chat: every message one 256-byte line of lower-case words.</summary>
    private const string Chat = """
        connection(tcp, 7000):
          start  talk  NULL  1.0
          talk   end   say   1.0
          talk   end   huh   error
        action say:
          client fte.send("^[a-z ]+\n$", 256)
          server fte.send("^[a-z ]+\n$", 256)
        action huh:
          server io.puts("what?\n")
        """;

    [Fact]
    public async Task A_hand_run_server_and_client_carry_data_in_a_format_given_with_format_FILE()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir, "chat.mar");
        await File.WriteAllTextAsync(file, Chat);
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var serverPort = Peers.FreePort();
        using var server = ChildProcess.Start(Peers.Guise, ["server", "-t", "marionette", "--format", file, "--listen", $"127.0.0.1:{serverPort}",
            "--target", $"127.0.0.1:{((IPEndPoint)target.LocalEndpoint).Port}", "--state", Path.Combine(dir, "state")]);
        // The first --format is the server's default; the bridge line names it, not the path.
        var bridgeLine = await server.WaitForLineAsync(l => l.TrimStart().StartsWith($"Bridge marionette 127.0.0.1:{serverPort} ", StringComparison.Ordinal), Patience, "the bridge line");
        Assert.Contains(" format=chat ", bridgeLine, StringComparison.Ordinal);
        var argsLine = await server.WaitForLineAsync(l => l.StartsWith("Client args", StringComparison.Ordinal), Patience, "the client args");
        var clientArgs = System.Text.RegularExpressions.Regex.Match(argsLine, "'([^']*)'$").Groups[1].Value;

        var socksPort = Peers.FreePort();
        using var client = ChildProcess.Start(Peers.Guise, ["client", "-t", "marionette", "--format", file, "--listen", $"127.0.0.1:{socksPort}", "--args", clientArgs]);
        await client.WaitForLineAsync(l => l.Contains($"proxy on 127.0.0.1:{socksPort}", StringComparison.Ordinal), Patience, "the SOCKS address");

        await SocksApp.SendAndCheckAsync(socksPort, serverPort, target, 20_000, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_broken_format_file_stops_the_server_with_exit_code_2_and_file_line_column()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir, "broken.mar");
        await File.WriteAllTextAsync(file, Chat.Replace("fte.send(\"^[a-z ]+\\n$\", 256)\n  server", "fte.sned(\"^[a-z ]+\\n$\", 256)\n  server", StringComparison.Ordinal));
        Assert.Contains("fte.sned", await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        using var server = ChildProcess.Start(Peers.Guise, ["server", "-t", "marionette", "--format", file, "--listen", "127.0.0.1:0",
            "--target", "127.0.0.1:1", "--state", Path.Combine(dir, "state")]);

        Assert.True(server.WaitForExit(Patience));
        Assert.Equal(2, server.Process.ExitCode);
        Assert.Contains($"{file}:6:3: unknown action fte.sned", server.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_format_file_in_managed_mode_is_an_env_error_naming_file_line_and_column()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir, "broken.mar");
        await File.WriteAllTextAsync(file, Chat.Replace("256)\n  server", "-1)\n  server", StringComparison.Ordinal));

        using var guise = ChildProcess.Start(Peers.Guise, ["-format", file], new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = Path.Combine(dir, "state"),
            ["TOR_PT_CLIENT_TRANSPORTS"] = "marionette",
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
        });

        var line = await guise.WaitForLineAsync(l => l.StartsWith("ENV-ERROR ", StringComparison.Ordinal), Patience, "ENV-ERROR");
        Assert.StartsWith($"ENV-ERROR marionette: {file}:6:", line, StringComparison.Ordinal);
        Assert.True(guise.WaitForExit(Patience));
        Assert.NotEqual(0, guise.Process.ExitCode);
    }
}
