using Guise.Errors;
using Guise.Hosting.PtHost;
using Guise.Net;


namespace Guise.Tests.PtHost;

public class PtStartupTests
{
    private static PtStartup Feed(PtStartup startup, params string[] lines)
    {
        foreach (var line in lines)
        {
            if (PtHostLine.Parse(line) is PtHostLine.Message m)
                startup.Feed(m.Value, 42);
        }
        return startup;
    }

    [Fact]
    public void A_client_is_ready_after_cmethods_done_with_its_methods_and_errors()
    {
        var s = Feed(new PtStartup(client: true, server: false, proxyOffered: false),
            "VERSION 1", "LOG SEVERITY=notice MESSAGE=hi", "STATUS TYPE=version IMPLEMENTATION=\"lyrebird\" VERSION=\"0.5\"",
            "CMETHOD obfs4 socks5 127.0.0.1:1111", "CMETHOD-ERROR foo no such transport is supported", "CMETHOD meek_lite socks5 127.0.0.1:2222");
        Assert.Equal(PtStartupState.Starting, s.State);
        Assert.Equal("CMETHODS DONE", s.Awaiting);
        Feed(s, "CMETHODS DONE");
        Assert.Equal(PtStartupState.Ready, s.State);
        var ready = s.Ready!;
        Assert.Equal([new PtClientMethod("obfs4", "socks5", new HostPort("127.0.0.1", 1111)), new PtClientMethod("meek_lite", "socks5", new HostPort("127.0.0.1", 2222))],
            ready.ClientMethods);
        Assert.Equal([new PtMethodError("foo", false, "no such transport is supported")], ready.Errors);
        Assert.Equal(("lyrebird", "0.5"), (ready.Implementation, ready.ImplementationVersion));
        Assert.Equal("1", ready.Version);
    }

    [Fact]
    public void A_pt_in_both_roles_is_ready_only_after_both_done_lines()
    {
        var s = Feed(new PtStartup(true, true, false), "VERSION 1", "CMETHODS DONE");
        Assert.Equal(PtStartupState.Starting, s.State);
        Assert.Equal("SMETHODS DONE", s.Awaiting);
        Feed(s, "SMETHOD obfs4 127.0.0.1:3333 ARGS:cert=x,iat-mode=0", "SMETHODS DONE");
        Assert.Equal(PtStartupState.Ready, s.State);
        Assert.Equal("x", s.Ready!.Server("obfs4")!.Args.Get("cert"));
    }

    [Theory]
    [InlineData("VERSION-ERROR no-version", PtErrorKind.Config, "none of the managed-proxy versions")]
    [InlineData("ENV-ERROR No TOR_PT_STATE_LOCATION", PtErrorKind.Config, "No TOR_PT_STATE_LOCATION")]
    [InlineData("CMETHOD obfs4 socks5 127.0.0.1:1", PtErrorKind.PeerProtocol, "before VERSION")]
    [InlineData("VERSION 2", PtErrorKind.PeerProtocol, "version 2, which was not offered")]
    public void A_pt_that_refuses_or_skips_the_version_fails_with_its_kind(string line, PtErrorKind kind, string text)
    {
        var s = Feed(new PtStartup(true, false, false), line);
        Assert.Equal(PtStartupState.Failed, s.State);
        Assert.Equal(kind, s.Error!.Kind);
        Assert.Contains(text, s.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_env_error_after_version_fails_too()
    {
        var s = Feed(new PtStartup(false, true, false), "VERSION 1", "ENV-ERROR cannot create the state directory");
        Assert.Equal(PtErrorKind.Config, s.Error!.Kind);
    }

    [Fact]
    public void A_proxy_error_fails_as_a_proxy_failure()
    {
        var s = Feed(new PtStartup(true, false, proxyOffered: true), "VERSION 1", "PROXY-ERROR SOCKS 4 upstream proxies unsupported.");
        Assert.Equal(PtErrorKind.Proxy, s.Error!.Kind);
        Assert.Contains("SOCKS 4 upstream proxies unsupported.", s.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_proxy_that_is_never_accepted_fails_at_done()
    {
        var s = Feed(new PtStartup(true, false, proxyOffered: true), "VERSION 1", "CMETHOD obfs4 socks5 127.0.0.1:1", "CMETHODS DONE");
        Assert.Equal(PtErrorKind.Proxy, s.Error!.Kind);
        var accepted = Feed(new PtStartup(true, false, proxyOffered: true), "VERSION 1", "PROXY DONE", "CMETHODS DONE");
        Assert.True(accepted.Ready!.ProxyAccepted);
    }

    [Fact]
    public void An_exit_before_done_names_what_was_awaited_and_the_last_stderr()
    {
        var s = Feed(new PtStartup(true, false, false), "VERSION 1");
        var error = s.Exited("exited with code 3", "panic: boom");
        Assert.Equal(PtErrorKind.Internal, error.Kind);
        Assert.Equal("the PT exited with code 3 before CMETHODS DONE; its last stderr: panic: boom", error.Message);
        Assert.Equal(PtStartupState.Failed, s.State);
    }

    [Fact]
    public void Lines_after_ready_change_nothing()
    {
        var s = Feed(new PtStartup(true, false, false), "VERSION 1", "CMETHODS DONE", "ENV-ERROR late");
        Assert.Equal(PtStartupState.Ready, s.State);
        Assert.Null(s.Error);
    }
}
