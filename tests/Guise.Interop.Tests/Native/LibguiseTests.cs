using System.Text.RegularExpressions;
using Guise.Errors;
using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Native;

/// <summary>libguise.so as an app gets it from scripts/publish, driven from C.</summary>
public partial class LibguiseTests
{
    private static string ExampleSource => Path.Combine(Peers.RepoRoot, "examples", "c-client", "guise_example.c");

    private static string ManagedHostSource => Path.Combine(Peers.RepoRoot, "tests", "Guise.Interop.Tests", "Native", "managed_host.c");

    [Fact]
    public async Task The_c_example_tunnels_bytes_through_obfs4_started_by_libguise_and_shows_the_error_path()
    {
        using var dir = new TempDir();
        var example = await NativeTools.CompileAsync(ExampleSource, dir);

        var (code, stdout, stderr) = await NativeTools.RunAsync(example, [NativeTools.Library], TimeSpan.FromSeconds(120));

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.DoesNotContain(stdout.Split('\n'), l => l.StartsWith("FAIL", StringComparison.Ordinal));
        // Checked with the whole transcript in the message: xunit's Contains shows only its first line.
        string[] expected = ["ok   unknown transport: status -1, guise_last_error: \"no such transport 'nosuchtransport'",
            "ok   moved 1048576 bytes each way through obfs4 and back, every byte checked",
            "ok   FAILED event: status -2"];
        foreach (var line in expected)
            Assert.True(stdout.Contains(line, StringComparison.Ordinal), $"missing \"{line}\" in:\n{stdout}\n{stderr}");
        Assert.EndsWith("OK\n", stdout, StringComparison.Ordinal);
    }

    /// <remarks>
    /// No suppressions: on this machine the NativeAOT runtime inside libguise produces no memcheck
    /// errors, so any error reported is real. Leaks: only "definitely lost" counts; the runtime's
    /// threads and GC heap stay reachable (or "possibly lost" thread stacks) until exit by design.
    /// </remarks>
    [Fact]
    public async Task The_c_example_runs_clean_under_valgrind_memcheck()
    {
        using var dir = new TempDir();
        var example = await NativeTools.CompileAsync(ExampleSource, dir);

        var (code, stdout, stderr) = await NativeTools.RunAsync("valgrind",
            ["--tool=memcheck", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
             example, NativeTools.Library, "262144"], TimeSpan.FromSeconds(300));

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("ERROR SUMMARY: 0 errors from 0 contexts", stderr, StringComparison.Ordinal);
        Assert.Contains("definitely lost: 0 bytes", stderr, StringComparison.Ordinal);
        Assert.EndsWith("OK\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Libguise_exports_exactly_the_functions_declared_in_guise_h()
    {
        var (code, stdout, stderr) = await NativeTools.RunAsync("nm", ["-D", "--defined-only", NativeTools.Library], TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        // Lines are "address type name[@@version]"; type A lines are the version node itself (V1.0), not a symbol.
        var exported = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 3 && f[1] != "A")
            .Select(f => f[2].Split('@')[0])
            .Order(StringComparer.Ordinal)
            .ToList();

        var declared = DeclaredFunction().Matches(await File.ReadAllTextAsync(NativeTools.PublishedHeader))
            .Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(declared, exported);
        string[] required = ["guise_version", "guise_init", "guise_client_start", "guise_server_start", "guise_stop",
            "guise_set_event_callback", "guise_last_error", "guise_shutdown", "guise_managed_main"];
        Assert.Empty(required.Except(exported));
    }

    [Fact]
    public async Task The_published_header_is_the_source_header()
    {
        Assert.Equal(await File.ReadAllTextAsync(NativeTools.SourceHeader), await File.ReadAllTextAsync(NativeTools.PublishedHeader));
    }

    [Fact]
    public async Task Status_codes_in_guise_h_are_the_negated_error_kinds_and_cover_every_kind()
    {
        var header = await File.ReadAllTextAsync(NativeTools.SourceHeader);
        var codes = StatusCode().Matches(header).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        var names = new Dictionary<PtErrorKind, string>
        {
            [PtErrorKind.Config] = "CONFIG",
            [PtErrorKind.Refused] = "REFUSED",
            [PtErrorKind.Unreachable] = "UNREACHABLE",
            [PtErrorKind.DnsFailure] = "DNS",
            [PtErrorKind.Timeout] = "TIMEOUT",
            [PtErrorKind.Reset] = "RESET",
            [PtErrorKind.Eof] = "EOF",
            [PtErrorKind.Handshake] = "HANDSHAKE",
            [PtErrorKind.Replay] = "REPLAY",
            [PtErrorKind.Proxy] = "PROXY",
            [PtErrorKind.PeerProtocol] = "PROTOCOL",
            [PtErrorKind.Cancelled] = "CANCELLED",
            [PtErrorKind.Internal] = "INTERNAL",
        };

        Assert.Equal(Enum.GetValues<PtErrorKind>().Order(), names.Keys.Order());
        foreach (var (kind, name) in names)
            Assert.Equal(-(int)kind, codes[name]);
        Assert.Equal(names.Count, codes.Count);

        var retry = RetryCode().Matches(header).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((int)RetryAdvice.FixConfiguration, retry["FIX_CONFIG"]);
        Assert.Equal((int)RetryAdvice.RetryWithBackoff, retry["BACKOFF"]);
        Assert.Equal((int)RetryAdvice.DoNotRetry, retry["NEVER"]);
        Assert.Equal((int)RetryAdvice.None, retry["NONE"]);
        Assert.Equal(Enum.GetValues<RetryAdvice>().Length, retry.Count);
    }

    [Fact]
    public async Task Managed_main_reads_the_environment_from_envp_not_the_process_and_writes_pt_lines_to_stdout()
    {
        using var dir = new TempDir();
        var host = await NativeTools.CompileAsync(ManagedHostSource, dir);
        var state = Path.Combine(dir, "state");
        using var process = ChildProcess.Start(host, [NativeTools.Library, "-logLevel", "info"], new Dictionary<string, string>
        {
            // What the process environment says (would be a VERSION-ERROR and no obfs4 if libguise read it)...
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "99",
            ["TOR_PT_CLIENT_TRANSPORTS"] = "plain",
            // ...and what envp says.
            ["GUISE_TEST_ENV_TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["GUISE_TEST_ENV_TOR_PT_STATE_LOCATION"] = state,
            ["GUISE_TEST_ENV_TOR_PT_CLIENT_TRANSPORTS"] = "obfs4",
            ["GUISE_TEST_ENV_TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
        }, clearPtEnvironment: true);

        await process.WaitForLineAsync(l => l == "CMETHODS DONE", TimeSpan.FromSeconds(30), "CMETHODS DONE");
        var lines = process.Lines.ToList();
        Assert.Equal("VERSION 1", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("CMETHOD obfs4 socks5 127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("CMETHOD plain", StringComparison.Ordinal));

        process.CloseStdin();
        Assert.True(process.WaitForExit(TimeSpan.FromMilliseconds(10_000)), "managed main did not return after stdin closed");
        Assert.Equal(0, process.Process.ExitCode);
    }

    [Fact]
    public async Task Guise_managed_stop_from_another_thread_makes_managed_main_return_ok()
    {
        using var dir = new TempDir();
        var host = await NativeTools.CompileAsync(ManagedHostSource, dir);
        using var process = ChildProcess.Start(host, [NativeTools.Library], new Dictionary<string, string>
        {
            // No TOR_PT_EXIT_ON_STDIN_CLOSE and a live parent: only guise_managed_stop can end it.
            ["GUISE_TEST_ENV_TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["GUISE_TEST_ENV_TOR_PT_STATE_LOCATION"] = Path.Combine(dir, "state"),
            ["GUISE_TEST_ENV_TOR_PT_CLIENT_TRANSPORTS"] = "plain",
            ["GUISE_TEST_STOP_AFTER_MS"] = "1500",
        });

        await process.WaitForLineAsync(l => l == "CMETHODS DONE", TimeSpan.FromSeconds(30), "CMETHODS DONE");
        Assert.True(process.WaitForExit(TimeSpan.FromMilliseconds(20_000)), $"still running:\n{process.Transcript}");
        Assert.Equal(0, process.Process.ExitCode);
        Assert.Contains("guise_managed_stop ok", process.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Managed_main_with_an_unsupported_version_writes_version_error_and_returns_a_config_status()
    {
        using var dir = new TempDir();
        var host = await NativeTools.CompileAsync(ManagedHostSource, dir);
        using var process = ChildProcess.Start(host, [NativeTools.Library], new Dictionary<string, string>
        {
            ["GUISE_TEST_ENV_TOR_PT_MANAGED_TRANSPORT_VER"] = "2,3",
            ["GUISE_TEST_ENV_TOR_PT_STATE_LOCATION"] = Path.Combine(dir, "state"),
            ["GUISE_TEST_ENV_TOR_PT_CLIENT_TRANSPORTS"] = "obfs4",
        });

        await process.WaitForLineAsync(l => l == "VERSION-ERROR no-version", TimeSpan.FromSeconds(30), "VERSION-ERROR no-version");
        Assert.True(process.WaitForExit(TimeSpan.FromMilliseconds(10_000)));
        Assert.Equal(255, process.Process.ExitCode); // GUISE_E_CONFIG (-1) as an exit byte
        Assert.Contains("guise_managed_main: -1", process.Transcript, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^\S[^\n(]*?\b(guise_\w+)\(", RegexOptions.Multiline)]
    private static partial Regex DeclaredFunction();

    [GeneratedRegex(@"#define GUISE_E_(\w+)\s+\((-\d+)\)")]
    private static partial Regex StatusCode();

    [GeneratedRegex(@"#define GUISE_RETRY_(\w+)\s+(\d+)")]
    private static partial Regex RetryCode();
}
