using Guise.Errors;
using Guise.Proxy;

namespace Guise.Tests.Proxy;

public class UpstreamProxyWrapTests
{
    [Fact]
    public void Wrapping_a_hand_built_socks5_proxy_with_a_user_name_over_255_bytes_is_a_config_error()
    {
        var proxy = new UpstreamProxy(ProxyKind.Socks5, "127.0.0.1", 1080, new string('u', 256), "p");

        var e = Assert.Throws<PtException>(() => proxy.Wrap((_, _) => throw new InvalidOperationException()));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void Wrapping_a_hand_built_socks4a_proxy_with_a_password_is_a_config_error()
    {
        var proxy = new UpstreamProxy(ProxyKind.Socks4a, "127.0.0.1", 1080, "u", "p");

        var e = Assert.Throws<PtException>(() => proxy.Wrap((_, _) => throw new InvalidOperationException()));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }
}
