using Guise.Errors;
using Guise.Proxy;

namespace Guise.Tests.Proxy;

public class UpstreamProxyParseTests
{
    [Theory]
    // The three examples pt-spec gives for TOR_PT_PROXY.
    [InlineData("socks5://tor:test1234@198.51.100.1:8000", ProxyKind.Socks5, "198.51.100.1", 8000, "tor", "test1234")]
    [InlineData("socks4a://198.51.100.2:8001", ProxyKind.Socks4a, "198.51.100.2", 8001, null, null)]
    [InlineData("http://198.51.100.3:443", ProxyKind.Http, "198.51.100.3", 443, null, null)]
    [InlineData("socks5://127.0.0.1:1080", ProxyKind.Socks5, "127.0.0.1", 1080, null, null)]
    [InlineData("socks4a://someone@127.0.0.1:1080", ProxyKind.Socks4a, "127.0.0.1", 1080, "someone", null)]
    [InlineData("http://u:p@[2001:db8::1]:3128/", ProxyKind.Http, "2001:db8::1", 3128, "u", "p")]
    [InlineData("SOCKS5://proxy.example:1080", ProxyKind.Socks5, "proxy.example", 1080, null, null)]
    [InlineData("socks5://u%40x:p%3Aq%25@10.0.0.1:1", ProxyKind.Socks5, "10.0.0.1", 1, "u@x", "p:q%")]
    [InlineData("socks5://user:p@ss:w@10.0.0.1:1", ProxyKind.Socks5, "10.0.0.1", 1, "user", "p@ss:w")]
    [InlineData("http://user:@10.0.0.1:8080", ProxyKind.Http, "10.0.0.1", 8080, "user", "")]
    public void A_well_formed_proxy_uri_parses_into_its_parts(string uri, ProxyKind kind, string host, int port, string? user, string? password)
    {
        var proxy = UpstreamProxy.Parse(uri);

        Assert.Equal(new UpstreamProxy(kind, host, port, user, password), proxy);
    }

    [Theory]
    [InlineData("", "no scheme")]
    [InlineData("127.0.0.1:1080", "no scheme")]
    [InlineData("socks://127.0.0.1:1080", "not supported")]
    [InlineData("https://127.0.0.1:443", "not supported")]
    [InlineData("socks4://127.0.0.1:1080", "socks4a")]
    [InlineData("socks5://127.0.0.1", "host:port")]
    [InlineData("socks5://127.0.0.1:0", "host:port")]
    [InlineData("socks5://127.0.0.1:65536", "host:port")]
    [InlineData("socks5://:1080", "host:port")]
    [InlineData("socks5://::1:1080", "host:port")]
    [InlineData("http://127.0.0.1:8080/path", "path")]
    [InlineData("http://127.0.0.1:8080?q", "path")]
    [InlineData("socks4a://u:secret@127.0.0.1:1080", "no password")]
    [InlineData("socks5://@127.0.0.1:1080", "empty user")]
    [InlineData("socks5://u%zz:p@127.0.0.1:1080", "hex")]
    public void A_malformed_or_unsupported_proxy_uri_is_a_config_error_that_says_why(string uri, string why)
    {
        var e = Assert.Throws<PtException>(() => UpstreamProxy.Parse(uri));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socks5_password_over_255_bytes_is_a_config_error()
    {
        var e = Assert.Throws<PtException>(() => UpstreamProxy.Parse($"socks5://u:{new string('p', 256)}@127.0.0.1:1"));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void A_parse_error_does_not_repeat_the_password()
    {
        var e = Assert.Throws<PtException>(() => UpstreamProxy.Parse("socks4a://u:hunter2@127.0.0.1:1"));

        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_string_form_masks_the_password()
    {
        var text = UpstreamProxy.Parse("socks5://tor:hunter2@[::1]:9050").ToString();

        Assert.Equal("socks5://tor:***@[::1]:9050", text);
    }
}
