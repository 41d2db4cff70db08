using System.Buffers;
using System.Text;
using Guise.Errors;
using Guise.Proxy;
using Guise.Tests.Socks;

namespace Guise.Tests.Proxy;

public class HttpConnectClientTests
{
    [Fact]
    public void A_connect_request_without_credentials_names_the_target_twice_and_ends_with_an_empty_line()
    {
        var text = Encoding.ASCII.GetString(HttpConnectClient.EncodeRequest("bridge.example", 443, null, null));

        Assert.Equal("CONNECT bridge.example:443 HTTP/1.1\r\nHost: bridge.example:443\r\n\r\n", text);
    }

    [Fact]
    public void A_connect_request_with_credentials_carries_basic_proxy_authorization()
    {
        var text = Encoding.ASCII.GetString(HttpConnectClient.EncodeRequest("::1", 80, "Aladdin", "open sesame"));

        Assert.Equal("CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n", text);
    }

    [Theory]
    [InlineData("evil\r\nX: y")]
    [InlineData("a b")]
    public void A_target_host_that_could_inject_headers_is_a_config_error(string host)
    {
        var e = Assert.Throws<PtException>(() => HttpConnectClient.EncodeRequest(host, 80, null, null));

        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 Connection established\r\n\r\n", 200)]
    [InlineData("HTTP/1.0 200\r\n\r\n", 200)]
    [InlineData("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", 407)]
    [InlineData("HTTP/1.1 204 No Content\n\n", 204)]
    public void A_complete_response_head_gives_its_status_code_and_length(string head, int code)
    {
        var bytes = Encoding.ASCII.GetBytes(head + "tunnel");

        var status = HttpConnectClient.TryParseResponseHead(bytes, out var consumed, out var statusCode, out _);

        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(code, statusCode);
        Assert.Equal(head.Length, consumed);
    }

    [Fact]
    public void Every_proper_prefix_of_a_response_head_needs_more_data()
    {
        var head = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nVia: x\r\n\r\n");

        for (var length = 0; length < head.Length; length++)
            Assert.Equal(OperationStatus.NeedMoreData, HttpConnectClient.TryParseResponseHead(head.AsSpan(0, length), out _, out _, out _));
    }

    [Theory]
    [InlineData("SSH-2.0-OpenSSH\r\n\r\n")]
    [InlineData("HTTP/2 200\r\n\r\n")]
    [InlineData("HTTP/1.1 20x OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2000\r\n\r\n")]
    public void A_head_that_is_not_http_1_with_a_three_digit_status_is_invalid(string head)
    {
        var status = HttpConnectClient.TryParseResponseHead(Encoding.ASCII.GetBytes(head), out _, out _, out _);

        Assert.Equal(OperationStatus.InvalidData, status);
    }

    [Fact]
    public async Task Connecting_reads_the_head_and_nothing_after_it()
    {
        var proxy = new ScriptedStream(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n\r\nfirst tunnel bytes"));

        await HttpConnectClient.ConnectAsync(proxy, "h", 1, null, null, CancellationToken.None);

        Assert.Equal("first tunnel bytes", Encoding.ASCII.GetString(proxy.Unread));
    }

    [Fact]
    public async Task A_proxy_that_sends_an_endless_head_is_a_proxy_error()
    {
        var proxy = new ScriptedStream(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + new string('x', HttpConnectClient.MaxResponseHeadLength)));

        var e = await Assert.ThrowsAsync<PtException>(() => HttpConnectClient.ConnectAsync(proxy, "h", 1, null, null, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Proxy, e.Kind);
    }
}
