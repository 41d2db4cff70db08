using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Socks;
using static Guise.Tests.Socks.Bytes;

namespace Guise.Tests.Socks;

public class SocksServerTests
{
    [Fact]
    public async Task Reading_a_request_with_one_byte_reads_gives_the_request_and_writes_the_negotiation_replies()
    {
        var stream = new ScriptedStream(Of(5, 1, 2, 1, 3, "k=v", 1, 0, 5, 1, 0, 3, 4, "host", 0, 80), maxRead: 1);

        var request = await SocksServer.ReadRequestAsync(stream, CancellationToken.None);

        Assert.Equal("host:80", request.Target);
        Assert.Equal("v", request.Args.Get("k"));
        Assert.Equal("0502" + "0100", Hex(stream.Written.ToArray()));
    }

    [Theory]
    [InlineData(new byte[] { 5, 1, 0, 5, 1, 0, 1, 1, 2, 3, 4, 0, 80 })]
    [InlineData(new byte[] { 4, 1, 0, 80, 0, 0, 0, 1, (byte)'a', (byte)'=', 0, (byte)'h', 0 })]
    public async Task Reading_a_request_leaves_the_bytes_after_it_unread(byte[] request)
    {
        var stream = new ScriptedStream(Of(request, "payload"));

        await SocksServer.ReadRequestAsync(stream, CancellationToken.None);

        Assert.Equal("payload", System.Text.Encoding.ASCII.GetString(stream.Unread));
    }

    [Fact]
    public async Task A_client_that_closes_mid_handshake_is_an_eof_error()
    {
        var stream = new ScriptedStream([5, 1, 0, 5, 1]);

        var e = await Assert.ThrowsAsync<PtException>(() => SocksServer.ReadRequestAsync(stream, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.Eof, e.Kind);
    }

    [Fact]
    public async Task A_bind_request_is_answered_with_command_not_supported_before_the_error_is_thrown()
    {
        var stream = new ScriptedStream([5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80]);

        var e = await Assert.ThrowsAsync<PtException>(() => SocksServer.ReadRequestAsync(stream, CancellationToken.None).AsTask());

        Assert.Equal(PtErrorKind.PeerProtocol, e.Kind);
        Assert.Equal("0500" + "05070001000000000000", Hex(stream.Written.ToArray()));
    }

    [Fact]
    public async Task Cancelling_a_handshake_that_waits_for_the_client_throws_operation_cancelled()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        using var accepted = await listener.AcceptTcpClientAsync();
        using var cts = new CancellationTokenSource();

        var reading = SocksServer.ReadRequestAsync(accepted.GetStream(), cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
    }

    public static TheoryData<SocksReply> AllReplies => new(Enum.GetValues<SocksReply>());

    [Theory]
    [MemberData(nameof(AllReplies))]
    public void A_socks5_reply_carries_the_code_and_an_all_zero_ipv4_bind_address(SocksReply reply)
    {
        var bytes = SocksServer.EncodeReply(SocksVersion.Socks5, reply);

        Assert.Equal($"05{(byte)reply:X2}0001000000000000", Hex(bytes));
    }

    [Theory]
    [MemberData(nameof(AllReplies))]
    public void A_socks4_reply_is_5a_for_success_and_5b_for_every_failure(SocksReply reply)
    {
        var bytes = SocksServer.EncodeReply(SocksVersion.Socks4a, reply);

        Assert.Equal(reply == SocksReply.Succeeded ? "005A000000000000" : "005B000000000000", Hex(bytes));
    }

    [Fact]
    public async Task Sending_a_reply_writes_the_bytes_for_the_request_version()
    {
        var stream = new ScriptedStream([]);
        var request = new SocksRequest(SocksVersion.Socks5, "h", 1, Guise.Transports.PtArgs.Empty);

        await SocksServer.SendReplyAsync(stream, request, SocksReply.TtlExpired, CancellationToken.None);

        Assert.Equal("05060001000000000000", Hex(stream.Written.ToArray()));
    }

    [Theory]
    [InlineData(PtErrorKind.Refused, SocksReply.ConnectionRefused)]
    [InlineData(PtErrorKind.Reset, SocksReply.ConnectionRefused)]
    [InlineData(PtErrorKind.Unreachable, SocksReply.HostUnreachable)]
    [InlineData(PtErrorKind.DnsFailure, SocksReply.HostUnreachable)]
    [InlineData(PtErrorKind.Timeout, SocksReply.TtlExpired)]
    [InlineData(PtErrorKind.Config, SocksReply.GeneralFailure)]
    [InlineData(PtErrorKind.Handshake, SocksReply.GeneralFailure)]
    [InlineData(PtErrorKind.Proxy, SocksReply.GeneralFailure)]
    [InlineData(PtErrorKind.Internal, SocksReply.GeneralFailure)]
    public void Each_failure_kind_maps_to_the_reply_obfs4proxy_would_send(PtErrorKind kind, SocksReply expected) =>
        Assert.Equal(expected, SocksServer.ReplyFor(kind));
}
