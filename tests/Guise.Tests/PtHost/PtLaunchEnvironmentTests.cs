using System.Net;
using Guise.Hosting.PtHost;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Tests.PtHost;

public class PtLaunchEnvironmentTests
{
    [Fact]
    public void A_client_launch_parses_back_to_the_same_config()
    {
        var env = PtLaunchEnvironment.Build(new PtLaunch
        {
            Program = "obfs4proxy",
            StateDirectory = "/var/lib/pt",
            Client = new PtClientRole(["obfs4", "meek_lite"]),
            Proxy = "socks5://127.0.0.1:9050",
            OutboundBindV4 = IPAddress.Parse("127.0.0.1"),
            OutboundBindV6 = IPAddress.IPv6Loopback,
        });
        var config = PtEnvironment.Parse(env);
        Assert.Equal(["obfs4", "meek_lite"], config.Client!.Transports);
        Assert.Equal("socks5://127.0.0.1:9050", config.Proxy);
        Assert.True(config.ExitOnStdinClose);
        Assert.Equal("/var/lib/pt", config.StateLocation);
        Assert.Equal(IPAddress.IPv6Loopback, config.OutboundBindV6);
        Assert.Null(config.Server);
    }

    [Fact]
    public void A_server_launch_escapes_options_and_parses_back()
    {
        var env = PtLaunchEnvironment.Build(new PtLaunch
        {
            Program = "pt",
            StateDirectory = "/s",
            Server = new PtServerRole(["obfs4", "x"])
            {
                BindAddresses = new Dictionary<string, IPEndPoint> { ["obfs4"] = IPEndPoint.Parse("127.0.0.1:4433") },
                Options = new Dictionary<string, PtArgs> { ["obfs4"] = new PtArgs().Add("iat-mode", "1").Add("odd", "a;b=c:d\\e") },
                ExtendedOrPort = "127.0.0.1:5555",
                AuthCookieFile = "/s/cookie",
                OrPort = "127.0.0.1:9001",
            },
        });
        Assert.Equal("obfs4:iat-mode=1;obfs4:odd=a\\;b\\=c\\:d\\\\e", env[PtEnvironment.Vars.ServerTransportOptions]);
        var server = PtEnvironment.Parse(env).Server!;
        Assert.Equal("a;b=c:d\\e", server.Options["obfs4"].Get("odd"));
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:4433"), server.BindAddresses["obfs4"]);
        Assert.Equal("127.0.0.1:5555", server.ExtendedOrPort);
        Assert.Equal("/s/cookie", server.AuthCookieFile);
        Assert.Equal("127.0.0.1:9001", server.OrPort);
    }

    [Theory]
    [InlineData("relative/state")]
    public void A_relative_state_directory_is_refused(string state) =>
        Assert.Throws<ArgumentException>(() => PtLaunchEnvironment.Build(new PtLaunch { Program = "pt", StateDirectory = state, Client = new(["obfs4"]) }));

    [Fact]
    public void A_launch_without_a_role_or_with_a_bad_name_is_refused()
    {
        Assert.Throws<ArgumentException>(() => PtLaunchEnvironment.Build(new PtLaunch { Program = "pt", StateDirectory = "/s" }));
        Assert.Throws<ArgumentException>(() => PtLaunchEnvironment.Build(new PtLaunch { Program = "pt", StateDirectory = "/s", Client = new(["a,b"]) }));
        Assert.Throws<ArgumentException>(() => PtLaunchEnvironment.Build(new PtLaunch { Program = "pt", StateDirectory = "/s", Server = new(["obfs4"]) }));
    }

    [Fact]
    public void Extra_variables_are_applied_last()
    {
        var env = PtLaunchEnvironment.Build(new PtLaunch
        {
            Program = "pt",
            StateDirectory = "/s",
            Client = new(["obfs4"]),
            ExtraEnvironment = new Dictionary<string, string> { [PtEnvironment.Vars.ExitOnStdinClose] = "0", ["X"] = "y" },
        });
        Assert.Equal("0", env[PtEnvironment.Vars.ExitOnStdinClose]);
        Assert.Equal("y", env["X"]);
    }

    [Fact]
    public void Restart_delays_double_from_the_initial_delay_up_to_the_cap()
    {
        var policy = new PtRestartPolicy { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5) };
        Assert.Equal([1, 2, 4, 5, 5], Enumerable.Range(1, 5).Select(a => policy.DelayBefore(a).TotalSeconds));
    }
}
