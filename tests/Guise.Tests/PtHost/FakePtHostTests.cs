using Guise.Errors;
using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Transports;

namespace Guise.Tests.PtHost;

/// <summary>PtHost against scripted PTs, one per path: each error a real PT can make, and supervision.</summary>
public class FakePtHostTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    private static Guise.Hosting.PtHost.PtHost Host(FakePt pt, PtHostOptions? options = null, string? proxy = null) =>
        new(new PtLaunch { Program = pt.Script, StateDirectory = pt.State, Client = new PtClientRole(["fake"]), Proxy = proxy },
            options ?? new PtHostOptions { Restart = PtRestartPolicy.Never });

    private static async Task<List<PtHostEvent>> DrainAsync(Guise.Hosting.PtHost.PtHost host)
    {
        var events = new List<PtHostEvent>();
        await foreach (var e in host.Events.ReadAllAsync().WithCancellation(new CancellationTokenSource(HangGuard).Token))
            events.Add(e);
        return events;
    }

    [Fact]
    public async Task A_pt_that_finishes_start_up_is_ready_with_its_methods_and_its_chatter_becomes_events()
    {
        using var pt = new FakePt($$"""
            echo "LOG SEVERITY=info MESSAGE=\"state=$TOR_PT_STATE_LOCATION exit=$TOR_PT_EXIT_ON_STDIN_CLOSE ver=$TOR_PT_MANAGED_TRANSPORT_VER client=$TOR_PT_CLIENT_TRANSPORTS\""
            echo "VERSION 1"
            echo "hello world"
            echo "CMETHOD fake socks5 nowhere"
            echo "LOG WARN pt3 style"
            echo "oops" >&2
            echo "CMETHOD fake socks5 127.0.0.1:1999"
            echo "CMETHOD-ERROR other not here"
            echo "CMETHODS DONE"
            echo "STATUS TRANSPORT=fake CONNECT=Success"
            {{FakePt.WaitForStdinClose}}
            """);
        await using var host = Host(pt);
        var ready = await host.StartAsync().WaitAsync(HangGuard);

        Assert.Equal([new PtClientMethod("fake", "socks5", new HostPort("127.0.0.1", 1999))], ready.ClientMethods);
        Assert.Equal([new PtMethodError("other", false, "not here")], ready.Errors);
        Assert.True(FakePt.IsAlive(ready.ProcessId));
        await host.StopAsync().WaitAsync(HangGuard);
        Assert.False(FakePt.IsAlive(ready.ProcessId));

        var events = await DrainAsync(host);
        Assert.Contains(new PtHostEvent.Log(PtLogSeverity.Info, $"state={pt.State} exit=1 ver=1 client=fake"), events);
        Assert.Contains(new PtHostEvent.UnknownLine("hello", "world"), events);
        Assert.Contains(events, e => e is PtHostEvent.MalformedLine { Line: "CMETHOD fake socks5 nowhere" });
        Assert.Contains(new PtHostEvent.Log(PtLogSeverity.Warning, "pt3 style"), events);
        Assert.Contains(new PtHostEvent.Stderr("oops"), events);
        Assert.Contains(events, e => e is PtHostEvent.Status { Transport: "fake" } s && s.Get("CONNECT") == "Success");
        // Closing stdin was enough: the exit is clean, not a signal.
        Assert.Contains(events, e => e is PtHostEvent.Exited { ExitCode: 0, Requested: true });
        Assert.True(host.Completion.IsCompletedSuccessfully);
    }

    [Theory]
    [InlineData("echo 'VERSION-ERROR no-version'; exit 1", PtErrorKind.Config, "VERSION-ERROR no-version")]
    [InlineData("echo 'ENV-ERROR No TOR_PT_AUTH_COOKIE_FILE'; exit 1", PtErrorKind.Config, "rejected its environment: No TOR_PT_AUTH_COOKIE_FILE")]
    [InlineData("echo 'VERSION 1'; echo 'panic: nil map' >&2; exit 3", PtErrorKind.Internal, "exited with code 3 before CMETHODS DONE; its last stderr: panic: nil map")]
    [InlineData("echo 'this is not'; echo 'a managed proxy'", PtErrorKind.Internal, "exited with code 0 before VERSION")]
    [InlineData("echo 'CMETHODS DONE'; cat >/dev/null", PtErrorKind.PeerProtocol, "CMETHODS DONE before VERSION")]
    public async Task A_pt_that_fails_start_up_fails_StartAsync_with_the_kind_and_the_reason(string body, PtErrorKind kind, string reason)
    {
        using var pt = new FakePt(body);
        await using var host = Host(pt);
        var e = await Assert.ThrowsAsync<PtException>(() => host.StartAsync().WaitAsync(HangGuard));
        Assert.Equal(kind, e.Kind);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        var events = await DrainAsync(host);
        Assert.IsType<PtHostEvent.Failed>(events[^1]);
        await Assert.ThrowsAsync<PtException>(() => host.Completion);
    }

    [Fact]
    public async Task A_silent_pt_times_out_with_a_clear_error_and_is_stopped()
    {
        using var pt = new FakePt("echo 'VERSION 1'; exec sleep 60");
        await using var host = Host(pt, new PtHostOptions
        {
            StartTimeout = TimeSpan.FromMilliseconds(500),
            StdinGrace = TimeSpan.Zero,
            TermGrace = TimeSpan.FromSeconds(2),
            Restart = PtRestartPolicy.Never,
        });
        var e = await Assert.ThrowsAsync<PtException>(() => host.StartAsync().WaitAsync(HangGuard));
        Assert.Equal(PtErrorKind.Timeout, e.Kind);
        Assert.Equal("the PT did not finish start-up within 0.5 s (still waiting for CMETHODS DONE)", e.Message);
        var events = await DrainAsync(host);
        var started = Assert.Single(events.OfType<PtHostEvent.Started>());
        Assert.False(FakePt.IsAlive(started.ProcessId));
        // sleep ignores stdin; SIGTERM ended it (143 = 128 + 15).
        Assert.Contains(events, x => x is PtHostEvent.Exited { ExitCode: 143, Requested: true });
    }

    [Fact]
    public async Task A_proxy_error_is_a_proxy_failure()
    {
        using var pt = new FakePt("echo 'VERSION 1'; echo 'PROXY-ERROR http proxies unsupported'; cat >/dev/null");
        await using var host = Host(pt, proxy: "http://127.0.0.1:3128");
        var e = await Assert.ThrowsAsync<PtException>(() => host.StartAsync().WaitAsync(HangGuard));
        Assert.Equal(PtErrorKind.Proxy, e.Kind);
        Assert.Equal(RetryAdvice.RetryWithBackoff, e.Advice);
    }

    [Fact]
    public async Task A_missing_program_is_a_config_error()
    {
        await using var host = new Guise.Hosting.PtHost.PtHost(new PtLaunch { Program = "/nonexistent/pt", StateDirectory = "/tmp/x", Client = new(["a"]) });
        var e = await Assert.ThrowsAsync<PtException>(() => host.StartAsync().WaitAsync(HangGuard));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("/nonexistent/pt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_escalates_to_sigkill_when_the_pt_ignores_stdin_and_sigterm()
    {
        using var pt = new FakePt(FakePt.ReadyClient + "\ntrap '' TERM\nwhile :; do sleep 0.1; done");
        await using var host = Host(pt, new PtHostOptions
        {
            StdinGrace = TimeSpan.FromMilliseconds(200),
            TermGrace = TimeSpan.FromMilliseconds(300),
            Restart = PtRestartPolicy.Never,
        });
        var ready = await host.StartAsync().WaitAsync(HangGuard);
        await host.StopAsync().WaitAsync(HangGuard);
        var events = await DrainAsync(host);
        Assert.Contains(events, x => x is PtHostEvent.Exited { ExitCode: 137, Requested: true } ex && ex.ProcessId == ready.ProcessId);
        Assert.False(FakePt.IsAlive(ready.ProcessId));
    }

    [Fact]
    public async Task A_pt_that_crashes_after_start_up_is_restarted_with_backoff()
    {
        using var pt = new FakePt("");
        // First run: ready, then crash. Later runs: ready and stay.
        File.WriteAllText(pt.Script, $$"""
            #!/bin/sh
            {{FakePt.ReadyClient}}
            if [ ! -e {{pt.Directory}}/ran ]; then touch {{pt.Directory}}/ran; echo "dying" >&2; exit 7; fi
            {{FakePt.WaitForStdinClose}}
            """);
        await using var host = Host(pt, new PtHostOptions
        {
            Restart = new PtRestartPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(50) },
        });
        var first = await host.StartAsync().WaitAsync(HangGuard);
        var events = new List<PtHostEvent>();
        using var guard = new CancellationTokenSource(HangGuard);
        PtReady? second = null;
        while (second is null && await host.Events.WaitToReadAsync(guard.Token))
        {
            while (host.Events.TryRead(out var e))
            {
                events.Add(e);
                if (e is PtHostEvent.Ready r && r.Methods.ProcessId != first.ProcessId)
                    second = r.Methods;
            }
        }
        Assert.NotNull(second);
        Assert.Contains(events, e => e is PtHostEvent.Exited { ExitCode: 7, Requested: false });
        var restarting = Assert.Single(events.OfType<PtHostEvent.Restarting>());
        Assert.Equal((1, TimeSpan.FromMilliseconds(50)), (restarting.Attempt, restarting.Delay));
        Assert.Contains("exited with code 7 after start-up; its last stderr: dying", restarting.Reason.Message, StringComparison.Ordinal);
        Assert.Contains(events, e => e is PtHostEvent.Started { Attempt: 1 });
        Assert.Equal(second, host.Current);
    }

    [Fact]
    public async Task A_pt_that_keeps_crashing_is_given_up_after_the_allowed_restarts()
    {
        using var pt = new FakePt(FakePt.ReadyClient + "\nexit 9");
        await using var host = Host(pt, new PtHostOptions
        {
            Restart = new PtRestartPolicy { MaxAttempts = 2, InitialDelay = TimeSpan.FromMilliseconds(20) },
        });
        await host.StartAsync().WaitAsync(HangGuard);
        var e = await Assert.ThrowsAsync<PtException>(() => host.Completion.WaitAsync(HangGuard));
        Assert.StartsWith("gave up after 2 restart(s): the PT exited with code 9", e.Message, StringComparison.Ordinal);
        var events = await DrainAsync(host);
        Assert.Equal([1, 2], events.OfType<PtHostEvent.Restarting>().Select(r => r.Attempt));
        Assert.IsType<PtHostEvent.Failed>(events[^1]);
        Assert.Null(host.Current);
    }
}
