using System.Net;
using Guise.Pt;
using V = Guise.Pt.PtEnvironment.Vars;

namespace Guise.Tests.Pt;

public class PtEnvironmentTests
{
    private const string State = "/var/lib/tor/pt_state";

    private static Dictionary<string, string> ClientEnv(params (string Key, string? Value)[] changes) =>
        With(new()
        {
            [V.ManagedTransportVer] = "1",
            [V.StateLocation] = State,
            [V.ClientTransports] = "obfs4",
        }, changes);

    private static Dictionary<string, string> ServerEnv(params (string Key, string? Value)[] changes) =>
        With(new()
        {
            [V.ManagedTransportVer] = "1",
            [V.StateLocation] = State,
            [V.ServerTransports] = "obfs4",
            [V.OrPort] = "127.0.0.1:9001",
        }, changes);

    // A null value removes the variable.
    private static Dictionary<string, string> With(Dictionary<string, string> env, (string Key, string? Value)[] changes)
    {
        foreach (var (k, v) in changes)
        {
            if (v is null)
                env.Remove(k);
            else
                env[k] = v;
        }
        return env;
    }

    private static PtEnvironmentException EnvError(Dictionary<string, string> env, string? variable)
    {
        var e = Assert.Throws<PtEnvironmentException>(() => PtEnvironment.Parse(env));
        Assert.False(e.IsVersionError, e.Message);
        Assert.Equal(variable, e.Variable);
        // Every message must be writable as an ENV-ERROR line as it is.
        new PtOutput(TextWriter.Null).EnvError(e.Message);
        return e;
    }

    // ---- TOR_PT_MANAGED_TRANSPORT_VER

    // "All PTs MUST accept any well-formed list, as long as a compatible version is present."
    [Theory]
    [InlineData("1")]
    [InlineData("1,1")]
    [InlineData("1,2")]
    [InlineData("2,1")]
    [InlineData("1,1a,2b,this_is_a_valid_ver")]
    public void A_version_list_containing_1_negotiates_version_1(string offered)
    {
        var config = PtEnvironment.Parse(ClientEnv((V.ManagedTransportVer, offered)));
        Assert.Equal("1", config.Version);
    }

    // "The VERSION-ERROR message is used to signal that there was no compatible Pluggable
    // Transport Specification version present" / "SHOULD be set to "no-version"".
    [Theory]
    [InlineData("2")]
    [InlineData("1a")]
    [InlineData("2,3")]
    [InlineData(" 1")]
    [InlineData("1.0")]
    public void A_version_list_without_1_is_a_version_error(string offered)
    {
        var e = Assert.Throws<PtEnvironmentException>(() => PtEnvironment.Parse(ClientEnv((V.ManagedTransportVer, offered))));
        Assert.True(e.IsVersionError);
        Assert.Equal("no-version", e.Message);
    }

    // "the following common environment variables MUST be set" — a parent that sets none is
    // misconfigured, which is an ENV-ERROR, not a version disagreement.
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_missing_version_list_is_an_env_error(string? offered) =>
        EnvError(ClientEnv((V.ManagedTransportVer, offered)), V.ManagedTransportVer);

    // "PT proxies MUST either report an error and terminate, or output a VERSION message before
    // moving on": version negotiation comes first, so its error wins.
    [Fact]
    public void A_version_error_wins_over_other_env_errors()
    {
        var e = Assert.Throws<PtEnvironmentException>(() =>
            PtEnvironment.Parse(ClientEnv((V.ManagedTransportVer, "2"), (V.StateLocation, null), (V.ClientTransports, null))));
        Assert.True(e.IsVersionError);
    }

    // ---- TOR_PT_STATE_LOCATION

    // "Specifies an absolute path to a directory where the PT is allowed to store state".
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("pt_state")]
    [InlineData("./pt_state")]
    public void A_missing_or_relative_state_location_is_an_env_error(string? value) =>
        EnvError(ClientEnv((V.StateLocation, value)), V.StateLocation);

    [Fact]
    public void The_state_location_is_kept_verbatim()
    {
        var config = PtEnvironment.Parse(ClientEnv((V.StateLocation, "/var/lib/tor/pt_state/")));
        Assert.Equal("/var/lib/tor/pt_state/", config.StateLocation);
    }

    // "The directory is not required to exist when the PT is launched": parsing must not create
    // it either, because creating is a side effect the host decides on.
    [Fact]
    public void Parsing_does_not_create_the_state_directory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "guise-pt-" + Guid.NewGuid().ToString("N"));
        PtEnvironment.Parse(ClientEnv((V.StateLocation, dir)));
        Assert.False(Directory.Exists(dir));
    }

    // ---- TOR_PT_EXIT_ON_STDIN_CLOSE

    // "PTs MUST NOT treat a closed stdin as a signal to terminate unless this environment
    // variable is set to "1"."
    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("0", false)]
    [InlineData("1", true)]
    public void Exit_on_stdin_close_is_true_only_for_1(string? value, bool expected) =>
        Assert.Equal(expected, PtEnvironment.Parse(ClientEnv((V.ExitOnStdinClose, value))).ExitOnStdinClose);

    [Theory]
    [InlineData("true")]
    [InlineData("yes")]
    [InlineData("2")]
    [InlineData(" 1")]
    [InlineData("01")]
    public void Exit_on_stdin_close_other_than_0_or_1_is_an_env_error(string value) =>
        EnvError(ClientEnv((V.ExitOnStdinClose, value)), V.ExitOnStdinClose);

    // ---- TOR_PT_OUTBOUND_BIND_ADDRESS_V4 / _V6

    // "Specifies an IPv4 IP address that the PT proxy SHOULD use as source address"; "If this
    // value is unset or empty, the PT proxy MUST use the default source address".
    [Theory]
    [InlineData("203.0.113.4", "203.0.113.4")]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void The_outbound_v4_bind_address_is_an_ipv4_literal(string? value, string? expected) =>
        Assert.Equal(expected is null ? null : IPAddress.Parse(expected),
            PtEnvironment.Parse(ClientEnv((V.OutboundBindAddressV4, value))).OutboundBindV4);

    [Theory]
    [InlineData("2001:db8::4")]
    [InlineData("[2001:db8::4]")]
    [InlineData("1.2")]
    [InlineData("example.com")]
    [InlineData("203.0.113.4:80")]
    public void A_bad_outbound_v4_bind_address_is_an_env_error(string value) =>
        EnvError(ClientEnv((V.OutboundBindAddressV4, value)), V.OutboundBindAddressV4);

    // "IPv6 addresses MUST always be wrapped in square brackets." (we also take a bare literal:
    // it is unambiguous, and refusing it would only break a slightly-off parent)
    [Theory]
    [InlineData("[2001:db8::4]", "2001:db8::4")]
    [InlineData("2001:db8::4", "2001:db8::4")]
    [InlineData("", null)]
    public void The_outbound_v6_bind_address_is_a_bracketed_ipv6_literal(string value, string? expected) =>
        Assert.Equal(expected is null ? null : IPAddress.Parse(expected),
            PtEnvironment.Parse(ClientEnv((V.OutboundBindAddressV6, value))).OutboundBindV6);

    [Theory]
    [InlineData("203.0.113.4")]
    [InlineData("[2001:db8::4")]
    [InlineData("[2001:db8::4]:80")]
    [InlineData("[]")]
    [InlineData("example.com")]
    public void A_bad_outbound_v6_bind_address_is_an_env_error(string value) =>
        EnvError(ClientEnv((V.OutboundBindAddressV6, value)), V.OutboundBindAddressV6);

    // ---- TOR_PT_CLIENT_TRANSPORTS / TOR_PT_SERVER_TRANSPORTS

    // "Specifies the PT protocols the client proxy should initialize, as a comma separated list
    // of PT names." / "PTs SHOULD ignore PT names that it does not recognize."
    [Theory]
    [InlineData("obfs2,obfs3,obfs4", new[] { "obfs2", "obfs3", "obfs4" })]
    [InlineData("*", new[] { "*" })]
    [InlineData("obfs4,,obfs4,unknown_thing", new[] { "obfs4", "unknown_thing" })]
    public void Client_transports_are_a_comma_separated_list(string value, string[] expected)
    {
        var config = PtEnvironment.Parse(ClientEnv((V.ClientTransports, value)));
        Assert.Equal(expected, config.Client!.Transports);
        Assert.Null(config.Server);
    }

    // "TOR_PT_SERVER_TRANSPORTS ... Specifies the PT protocols the server proxy should
    // initialize, as a comma separated list of PT names."
    [Fact]
    public void Server_transports_are_a_comma_separated_list()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ServerTransports, "obfs3,scramblesuit")));
        Assert.Equal(["obfs3", "scramblesuit"], config.Server!.Transports);
        Assert.Null(config.Client);
    }

    // "Parent processes MUST set this environment variable when launching a client-side PT"
    // (and the server-side one for servers): with neither, there is nothing to do.
    [Theory]
    [InlineData(null, null)]
    [InlineData("", "")]
    public void Neither_client_nor_server_transports_is_an_env_error(string? client, string? server) =>
        EnvError(ClientEnv((V.ClientTransports, client), (V.ServerTransports, server)), null);

    [Fact]
    public void Client_and_server_transports_together_give_both_configs()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ClientTransports, "obfs4")));
        Assert.NotNull(config.Client);
        Assert.NotNull(config.Server);
    }

    // ---- TOR_PT_PROXY

    // "It is a URI [RFC3986] of the format: <proxy_type>://[<user_name>[:<password>][@]<ip>:<port>."
    [Theory]
    [InlineData("socks5://tor:test1234@198.51.100.1:8000")]
    [InlineData("socks4a://198.51.100.2:8001")]
    [InlineData("http://198.51.100.3:443")]
    [InlineData("http://[2001:db8::1]:8080")]
    [InlineData("socks5://127.0.0.1:9050/")]
    [InlineData("SOCKS5://127.0.0.1:9050")]
    public void A_well_formed_proxy_uri_is_kept_raw(string uri) =>
        Assert.Equal(uri, PtEnvironment.Parse(ClientEnv((V.Proxy, uri))).Proxy);

    [Fact]
    public void No_proxy_means_null() => Assert.Null(PtEnvironment.Parse(ClientEnv((V.Proxy, ""))).Proxy);

    [Theory]
    [InlineData("socks4://198.51.100.2:8001")]
    [InlineData("https://198.51.100.3:443")]
    [InlineData("198.51.100.3:443")]
    [InlineData("socks5:/198.51.100.3:443")]
    [InlineData("socks5://198.51.100.3")]
    [InlineData("socks5://:8000")]
    [InlineData("socks5://198.51.100.3:0")]
    [InlineData("socks5://198.51.100.3:65536")]
    [InlineData("socks5://198.51.100.3:80/path")]
    [InlineData("socks5://user:pw@")]
    public void A_malformed_or_unsupported_proxy_uri_is_an_env_error(string uri) =>
        EnvError(ClientEnv((V.Proxy, uri)), V.Proxy);

    // pt-spec §4: the proxy's credentials are the user's; an error line goes into tor's log.
    [Fact]
    public void A_proxy_error_does_not_echo_the_password()
    {
        var e = EnvError(ClientEnv((V.Proxy, "socks5://user:sekrit@198.51.100.3")), V.Proxy);
        Assert.DoesNotContain("sekrit", e.Message, StringComparison.Ordinal);
    }

    // ---- TOR_PT_SERVER_BINDADDR

    // "A comma separated list of <key>-<value> pairs, where <key> is a PT name and <value> is
    // the <address>:<port> on which it should listen for incoming client connections."
    [Fact]
    public void Bindaddr_maps_each_transport_to_its_endpoint()
    {
        var config = PtEnvironment.Parse(ServerEnv(
            (V.ServerTransports, "obfs3,scramblesuit,beta"),
            (V.ServerBindAddr, "obfs3-198.51.100.1:1984,scramblesuit-127.0.0.1:4891,beta-[1:2::3:4]:2222")));
        var bind = config.Server!.BindAddresses;
        Assert.Equal(3, bind.Count);
        Assert.Equal(IPEndPoint.Parse("198.51.100.1:1984"), bind["obfs3"]);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:4891"), bind["scramblesuit"]);
        Assert.Equal(IPEndPoint.Parse("[1:2::3:4]:2222"), bind["beta"]);
    }

    // "If there is no specific <address>:<port> combination to be configured for any
    // transports, TOR_PT_SERVER_BINDADDR MAY be omitted."
    [Fact]
    public void Transports_without_a_bindaddr_are_absent_from_the_map()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ServerTransports, "obfs3,obfs4"), (V.ServerBindAddr, "obfs3-198.51.100.1:1984")));
        Assert.False(config.Server!.BindAddresses.ContainsKey("obfs4"));
        Assert.Empty(PtEnvironment.Parse(ServerEnv()).Server!.BindAddresses);
    }

    // "Applications MUST NOT set more than one <address>:<port> pair per PT name."
    [Theory]
    [InlineData("alpha-0.0.0.0:1234,alpha-[::]:1234")]
    [InlineData("alpha-0.0.0.0:1234,alpha-0.0.0.0:1234")]
    public void Duplicate_bindaddr_for_one_transport_is_an_env_error(string value) =>
        EnvError(ServerEnv((V.ServerTransports, "alpha"), (V.ServerBindAddr, value)), V.ServerBindAddr);

    // "The <address>:<port> combination MUST be an IP address supported by bind(), and MUST NOT
    // be a host name." (and no escaping is defined for this list, so "\," splits too)
    [Theory]
    [InlineData("alpha")]
    [InlineData("alpha-1.2.3.4")]
    [InlineData("-1.2.3.4:1111")]
    [InlineData("alpha-localhost:1111")]
    [InlineData("alpha-1.2:1111")]
    [InlineData("alpha-1.2.3.4:65536")]
    [InlineData("alpha-::1:1111")]
    [InlineData("alpha-1.2.3.4:1111,")]
    [InlineData(@"alpha\,beta-1.2.3.4:1111")]
    public void A_bad_bindaddr_is_an_env_error(string value) =>
        EnvError(ServerEnv((V.ServerTransports, "alpha"), (V.ServerBindAddr, value)), V.ServerBindAddr);

    // ---- TOR_PT_SERVER_TRANSPORT_OPTIONS

    // "a semicolon-separated list of <key>:<value> pairs, where <key> is a PT name and <value>
    // is a k=v string value" / "Colons, semicolons, and backslashes MUST be escaped with a
    // backslash." Cases from goptlib's parseServerTransportOptions tests.
    [Theory]
    [InlineData("scramblesuit:key=banana;automata:rule=110;automata:depth=3",
        "automata", "rule=110;depth=3")]
    [InlineData("scramblesuit:key=banana;automata:rule=110", "scramblesuit", "key=banana")]
    [InlineData("t:k=v=v", "t", @"k=v\=v")]
    [InlineData("t:k=vv==", "t", @"k=vv\=\=")]
    [InlineData(@"t\:1:k=v", "t:1", "k=v")]
    [InlineData(@"t\=2:k=v", "t=2", "k=v")]
    [InlineData(@"t\;3:k=v", "t;3", "k=v")]
    [InlineData(@"t\\4:k=v", @"t\4", "k=v")]
    [InlineData(@"t:k\:1=v;t:k\=2=v;t:k\;3=v;t:k\\4=v", "t", @"k:1=v;k\=2=v;k\;3=v;k\\4=v")]
    [InlineData(@"t:a=v\:1;t:b=v\=2;t:c=v\;3;t:d=v\\4", "t", @"a=v:1;b=v\=2;c=v\;3;d=v\\4")]
    public void Transport_options_are_split_per_transport_with_backslash_escapes(string value, string transport, string expectedSocksForm)
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ServerTransportOptions, value)));
        Assert.Equal(expectedSocksForm, config.Server!.Options[transport].ToSocksString());
    }

    // "If there are no arguments that need to be passed to any of PT transport protocols,
    // TOR_PT_SERVER_TRANSPORT_OPTIONS MAY be omitted." The host can still index every transport.
    [Fact]
    public void Every_server_transport_has_an_options_entry()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ServerTransports, "obfs3,obfs4"), (V.ServerTransportOptions, "obfs4:iat-mode=1")));
        Assert.Empty(config.Server!.Options["obfs3"]);
        Assert.Equal("1", config.Server.Options["obfs4"].Get("iat-mode"));
    }

    [Theory]
    [InlineData(@"t\")]
    [InlineData(":=")]
    [InlineData("t:=")]
    [InlineData(":k=")]
    [InlineData(":=v")]
    [InlineData("t:=v")]
    [InlineData(@"t:k\")]
    [InlineData("t:k=v;")]
    [InlineData("abc")]
    [InlineData("t:")]
    [InlineData("key=value")]
    [InlineData("=value")]
    [InlineData(@"t:k=v\")]
    [InlineData(@"t1:k=v;t2:k=v\")]
    [InlineData("t:=key=value")]
    [InlineData("t:==key=value")]
    [InlineData("t:;key=value")]
    [InlineData(@"t:key\=value")]
    [InlineData("t1:k=v1;t2:k=v2;t1:k=v3")]
    public void Bad_transport_options_are_an_env_error(string value) =>
        EnvError(ServerEnv((V.ServerTransportOptions, value)), V.ServerTransportOptions);

    // ---- TOR_PT_ORPORT / TOR_PT_EXTENDED_SERVER_PORT / TOR_PT_AUTH_COOKIE_FILE

    // "Specifies the destination that the PT reverse proxy should forward traffic to ... as an
    // <address>:<port>."
    [Theory]
    [InlineData("127.0.0.1:9001", "127.0.0.1:9001")]
    [InlineData("[::1]:9001", "[::1]:9001")]
    public void The_orport_is_host_port(string value, string expected) =>
        Assert.Equal(expected, PtEnvironment.Parse(ServerEnv((V.OrPort, value))).Server!.OrPort);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData(":9001")]
    [InlineData("::1:9001")]
    [InlineData("[::1]")]
    public void A_bad_orport_is_an_env_error(string value) =>
        EnvError(ServerEnv((V.OrPort, value)), V.OrPort);

    // goptlib: "need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT environment variable".
    [Fact]
    public void A_server_without_orport_or_extended_port_is_an_env_error() =>
        EnvError(ServerEnv((V.OrPort, null)), V.OrPort);

    [Fact]
    public void The_extended_port_and_cookie_file_are_read_together()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.OrPort, null), (V.ExtendedServerPort, "127.0.0.1:4200"),
            (V.AuthCookieFile, "/var/lib/tor/extended_orport_auth_cookie")));
        Assert.Equal("127.0.0.1:4200", config.Server!.ExtendedOrPort);
        Assert.Equal("/var/lib/tor/extended_orport_auth_cookie", config.Server.AuthCookieFile);
        Assert.Null(config.Server.OrPort);
    }

    // "If the parent process does not support the ExtORPort protocol, it MUST set
    // TOR_PT_EXTENDED_SERVER_PORT to an empty string."
    [Fact]
    public void An_empty_extended_port_means_none()
    {
        var config = PtEnvironment.Parse(ServerEnv((V.ExtendedServerPort, "")));
        Assert.Null(config.Server!.ExtendedOrPort);
    }

    // pt-spec's own example: "ENV-ERROR No TOR_PT_AUTH_COOKIE_FILE when TOR_PT_EXTENDED_SERVER_PORT set".
    [Fact]
    public void An_extended_port_without_a_cookie_file_is_an_env_error() =>
        EnvError(ServerEnv((V.ExtendedServerPort, "127.0.0.1:4200")), V.AuthCookieFile);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    [InlineData("4200")]
    public void A_bad_extended_port_is_an_env_error(string value) =>
        EnvError(ServerEnv((V.ExtendedServerPort, value), (V.AuthCookieFile, "/c")), V.ExtendedServerPort);

    // ---- error text

    // <ArgChar> ::= <any US-ASCII character but NUL or NL>: untrusted env text must not break
    // the ENV-ERROR line it is reported in.
    [Fact]
    public void Env_error_messages_escape_the_values_they_quote()
    {
        var e = EnvError(ServerEnv((V.OrPort, "a\nb\u00e9:x")), V.OrPort);
        Assert.Contains("\"a\\nb\\303\\251:x\"", e.Message, StringComparison.Ordinal);
    }
}
