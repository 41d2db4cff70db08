using System.Text;
using Guise.Errors;
using Guise.Socks;
using Guise.Transports;
using static Guise.Tests.Socks.Bytes;

namespace Guise.Tests.Socks;

public class SocksClientTests
{
    private static PtArgs ArgsOfLength(int length) => new PtArgs().Add("k", new string('v', length - 2));

    [Fact]
    public void No_args_mean_no_credentials()
    {
        Assert.Null(SocksClient.ArgsToCredentials(PtArgs.Empty));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(255)]
    public void Args_up_to_255_bytes_go_in_the_username_with_a_lone_nul_password(int length)
    {
        var (user, password) = SocksClient.ArgsToCredentials(ArgsOfLength(length))!.Value;

        Assert.Equal(length, user.Length);
        Assert.Equal("00", Hex(password));
    }

    [Theory]
    [InlineData(256)]
    [InlineData(510)]
    public void Args_over_255_bytes_are_split_at_255_into_username_and_password(int length)
    {
        var args = ArgsOfLength(length);

        var (user, password) = SocksClient.ArgsToCredentials(args)!.Value;

        Assert.Equal(255, user.Length);
        Assert.Equal(length - 255, password.Length);
        Assert.Equal(args.ToSocksString(), Encoding.UTF8.GetString([.. user, .. password]));
    }

    [Fact]
    public void Args_over_510_bytes_are_a_config_error()
    {
        var e = Assert.Throws<PtException>(() => SocksClient.ArgsToCredentials(ArgsOfLength(511)));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void Args_are_escaped_before_they_are_sent()
    {
        var (user, _) = SocksClient.ArgsToCredentials(new PtArgs().Add("a", "x;y=z"))!.Value;

        Assert.Equal(@"a=x\;y\=z", Encoding.UTF8.GetString(user));
    }

    [Theory]
    [InlineData("192.0.2.1", 443, "050100" + "01" + "C0000201" + "01BB")]
    [InlineData("2001:db8::2", 80, "050100" + "04" + "20010DB8000000000000000000000002" + "0050")]
    [InlineData("ab.c", 1, "050100" + "03" + "04" + "61622E63" + "0001")]
    public void A_socks5_connect_encodes_the_address_type_from_the_host(string host, int port, string expected) =>
        Assert.Equal(expected, Hex(SocksClient.EncodeSocks5Connect(host, port)));

    [Fact]
    public void A_socks5_domain_over_255_bytes_is_a_config_error()
    {
        var e = Assert.Throws<PtException>(() => SocksClient.EncodeSocks5Connect(new string('a', 256), 80));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void A_socks4a_connect_to_a_name_uses_0_0_0_1_and_appends_the_name()
    {
        var bytes = SocksClient.EncodeSocks4aConnect("h.x", 80, Encoding.ASCII.GetBytes("a=b"));

        Assert.Equal("0401" + "0050" + "00000001" + "613D6200" + "682E7800", Hex(bytes));
    }

    [Fact]
    public void A_socks4a_connect_to_an_ipv4_address_puts_it_in_dstip()
    {
        var bytes = SocksClient.EncodeSocks4aConnect("10.0.0.1", 8080, []);

        Assert.Equal("0401" + "1F90" + "0A000001" + "00", Hex(bytes));
    }

    [Fact]
    public void A_socks4a_connect_to_an_ipv6_address_is_a_config_error()
    {
        var e = Assert.Throws<PtException>(() => SocksClient.EncodeSocks4aConnect("::1", 80, []));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void An_rfc1929_request_carries_both_lengths()
    {
        Assert.Equal("01" + "02" + "7575" + "01" + "70", Hex(SocksClient.EncodeUserPass(Of("uu"), Of("p"))));
    }

    [Fact]
    public async Task A_server_rejecting_the_credentials_is_a_proxy_error()
    {
        var server = new ScriptedStream([5, 2, 1, 1]);

        var e = await Assert.ThrowsAsync<PtException>(() =>
            SocksClient.ConnectSocks5Async(server, "h", 1, Of("u"), Of("p"), CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
    }

    [Fact]
    public async Task A_server_reply_with_a_domain_bind_address_is_read_to_its_end()
    {
        var server = new ScriptedStream(Of(5, 0, 5, 0, 0, 3, 3, "abc", 0, 1, "tail"));

        await SocksClient.ConnectSocks5Async(server, "h", 1, null, null, CancellationToken.None);

        Assert.Equal("tail", Encoding.ASCII.GetString(server.Unread));
    }

    [Fact]
    public async Task A_server_that_closes_before_replying_is_a_proxy_error()
    {
        var server = new ScriptedStream([5, 0, 5]);

        var e = await Assert.ThrowsAsync<PtException>(() =>
            SocksClient.ConnectSocks5Async(server, "h", 1, null, null, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
    }
}
