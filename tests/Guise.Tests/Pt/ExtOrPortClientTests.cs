using System.Text;
using Guise.Errors;
using Guise.Pt;

namespace Guise.Tests.Pt;

public sealed class ExtOrPortClientTests : IDisposable
{
    private static readonly byte[] Header = "! Extended ORPort Auth Cookie !\n"u8.ToArray();
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "guise-extor-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _cts = new(Deadline);

    public ExtOrPortClientTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        _cts.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string WriteCookieFile(byte[] cookie, string name = "cookie")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, [.. Header, .. cookie]);
        return path;
    }

    private static byte[] Cookie(byte fill) => Enumerable.Repeat(fill, 32).ToArray();

    // Vectors from goptlib's pt_test.go, there computed as
    // hmac.new("\x00"*32, "ExtORPort authentication server-to-client hash" + "\x00"*64, hashlib.sha256).
    [Fact]
    public void Server_hash_of_all_zero_inputs_matches_goptlib()
    {
        var zero = new byte[32];
        Assert.Equal("9e221919982a84f75faf60ef926949796268c97833e06960ff265369a90fd6d8",
            Convert.ToHexStringLower(ExtOrPortClient.ComputeServerHash(zero, zero, zero)));
    }

    [Fact]
    public void Client_hash_of_all_zero_inputs_matches_goptlib()
    {
        var zero = new byte[32];
        Assert.Equal("0f368b1bee24aabc54a9114ce06c070f3ed99d0d368f599ccc6dfdc8bf457a62",
            Convert.ToHexStringLower(ExtOrPortClient.ComputeClientHash(zero, zero, zero)));
    }

    // The nonces are ordered ClientNonce | ServerNonce; swapping them must change the hash.
    [Fact]
    public void The_hashes_bind_the_nonces_in_order()
    {
        var cookie = Cookie(7);
        var a = Enumerable.Repeat((byte)1, 32).ToArray();
        var b = Enumerable.Repeat((byte)2, 32).ToArray();
        Assert.NotEqual(ExtOrPortClient.ComputeServerHash(cookie, a, b), ExtOrPortClient.ComputeServerHash(cookie, b, a));
        Assert.NotEqual(ExtOrPortClient.ComputeServerHash(cookie, a, b), ExtOrPortClient.ComputeClientHash(cookie, a, b));
    }

    // "StaticHeader [32 octets] Cookie [32 octets]" / "Extended ORPort clients MUST make sure
    // that the StaticHeader is present in the cookie file". Cases from goptlib's TestReadAuthCookie.
    [Theory]
    [InlineData("")]
    [InlineData("! Impostor ORPort Auth Cookie !\n0123456789ABCDEF0123456789ABCDEF")]
    [InlineData("! Extended ORPort Auth Cookie !\n0123456789ABCDEF0123456789ABCDE")]
    [InlineData("! Extended ORPort Auth Cookie !\n0123456789ABCDEF0123456789ABCDEFX")]
    public void A_bad_cookie_file_is_a_config_error(string content)
    {
        var path = Path.Combine(_dir, "bad");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes(content));
        Assert.Equal(PtErrorKind.Config, Assert.Throws<PtException>(() => ExtOrPortClient.ReadCookieFile(path)).Kind);
    }

    [Fact]
    public void A_missing_cookie_file_is_a_config_error() =>
        Assert.Equal(PtErrorKind.Config,
            Assert.Throws<PtException>(() => ExtOrPortClient.ReadCookieFile(Path.Combine(_dir, "absent"))).Kind);

    [Fact]
    public void A_good_cookie_file_yields_the_32_bytes_after_the_header() =>
        Assert.Equal(Encoding.ASCII.GetBytes("0123456789ABCDEF0123456789ABCDEF"),
            ExtOrPortClient.ReadCookieFile(WriteCookieFile(Encoding.ASCII.GetBytes("0123456789ABCDEF0123456789ABCDEF"))));

    // "[0x1000] OKAY: Send the user's traffic." USERADDR, TRANSPORT, then DONE.
    [Fact]
    public async Task Handshake_authenticates_sends_useraddr_transport_done_and_returns_on_okay()
    {
        await using var server = new FakeExtOrPort(Cookie(0x42)) { Trailer = "OR-bytes"u8.ToArray() };
        var serving = server.ServeOneAsync(_cts.Token);
        using var client = await server.ConnectAsync();
        var stream = client.GetStream();

        await ExtOrPortClient.HandshakeAsync(stream, WriteCookieFile(server.Cookie), "[2001:db8::1]:5678", "obfs4", _cts.Token);

        // Whatever tor sends after OKAY belongs to the OR connection and must still be readable.
        var rest = new byte[8];
        await stream.ReadExactlyAsync(rest, _cts.Token);
        Assert.Equal("OR-bytes"u8.ToArray(), rest);
        client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        await serving;

        Assert.Equal((byte)1, server.ChosenAuthType);
        Assert.True(server.ClientHashOk);
        Assert.Equal([(0x0001, "[2001:db8::1]:5678"), (0x0002, "obfs4"), (0x0000, "")], server.Commands);
    }

    [Fact]
    public async Task Without_a_user_address_no_useraddr_command_is_sent()
    {
        await using var server = new FakeExtOrPort(Cookie(1));
        var serving = server.ServeOneAsync(_cts.Token);
        using var client = await server.ConnectAsync();

        await ExtOrPortClient.HandshakeAsync(client.GetStream(), WriteCookieFile(server.Cookie), null, "plain", _cts.Token);
        client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        await serving;

        Assert.Equal([(0x0002, "plain"), (0x0000, "")], server.Commands);
    }

    // "[0x1001] DENY: Tor would prefer not to get more traffic from this address for a while."
    [Fact]
    public async Task Deny_is_a_handshake_error()
    {
        await using var server = new FakeExtOrPort(Cookie(2)) { Replies = [(0x1001, [])] };
        var e = await HandshakeFailsAsync(server);
        Assert.Equal(PtErrorKind.Handshake, e.Kind);
        Assert.StartsWith("ExtORPort denied", e.Message, StringComparison.Ordinal);
    }

    // "If the server-provided ServerHash is invalid, the client MUST terminate the connection."
    [Fact]
    public async Task A_wrong_server_hash_is_a_handshake_error_and_no_client_hash_is_sent()
    {
        await using var server = new FakeExtOrPort(Cookie(3)) { CorruptServerHash = true };
        var e = await HandshakeFailsAsync(server);
        Assert.Equal(PtErrorKind.Handshake, e.Kind);
        Assert.False(server.ClientHashReceived);
    }

    // Tor answers a wrong ClientHash with "Status is 0" (here: a stale cookie on our side).
    [Fact]
    public async Task An_auth_status_of_0_is_a_handshake_error()
    {
        await using var server = new FakeExtOrPort(Cookie(4)) { StatusOverride = 0 };
        Assert.Equal(PtErrorKind.Handshake, (await HandshakeFailsAsync(server)).Kind);
    }

    [Fact]
    public async Task An_auth_status_other_than_0_or_1_is_a_peer_protocol_error()
    {
        await using var server = new FakeExtOrPort(Cookie(4)) { StatusOverride = 7 };
        Assert.Equal(PtErrorKind.PeerProtocol, (await HandshakeFailsAsync(server)).Kind);
    }

    // "[0x1002] CONTROL: (Not used)"
    [Fact]
    public async Task Control_is_a_peer_protocol_error()
    {
        await using var server = new FakeExtOrPort(Cookie(5)) { Replies = [(0x1002, [1, 2])] };
        Assert.Equal(PtErrorKind.PeerProtocol, (await HandshakeFailsAsync(server)).Kind);
    }

    // "Parties MUST ignore command codes that they do not understand."
    [Fact]
    public async Task Unknown_reply_codes_are_skipped_until_okay()
    {
        await using var server = new FakeExtOrPort(Cookie(6)) { Replies = [(0x7777, [9, 9, 9]), (0x1000, [])], Trailer = "X"u8.ToArray() };
        var serving = server.ServeOneAsync(_cts.Token);
        using var client = await server.ConnectAsync();
        var stream = client.GetStream();
        await ExtOrPortClient.HandshakeAsync(stream, WriteCookieFile(server.Cookie), "1.2.3.4:5678", "obfs4", _cts.Token);
        Assert.Equal((byte)'X', (byte)stream.ReadByte());
        client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        await serving;
    }

    [Fact]
    public async Task Endless_unknown_replies_are_a_peer_protocol_error()
    {
        await using var server = new FakeExtOrPort(Cookie(6)) { Replies = [.. Enumerable.Repeat(((ushort)0x7777, Array.Empty<byte>()), 40)] };
        Assert.Equal(PtErrorKind.PeerProtocol, (await HandshakeFailsAsync(server)).Kind);
    }

    // "A value of 0 means that the client did not like the authentication types offered".
    [Fact]
    public async Task A_server_without_safe_cookie_gets_auth_type_0_and_a_handshake_error()
    {
        await using var server = new FakeExtOrPort(Cookie(8)) { AuthTypes = [2, 3] };
        Assert.Equal(PtErrorKind.Handshake, (await HandshakeFailsAsync(server)).Kind);
        Assert.Equal((byte)0, server.ChosenAuthType);
    }

    [Fact]
    public async Task A_server_that_hangs_up_mid_handshake_is_an_eof_error()
    {
        await using var server = new FakeExtOrPort(Cookie(9)) { HangUpAfterClientNonce = true };
        Assert.Equal(PtErrorKind.Eof, (await HandshakeFailsAsync(server)).Kind);
    }

    // goptlib re-reads the cookie per connection because tor may write it after launching the
    // PT (tor bug 15240); a cached cookie would fail every connection after the rewrite.
    [Fact]
    public async Task The_cookie_file_is_read_anew_on_each_call()
    {
        await using var server = new FakeExtOrPort(Cookie(10));
        var path = WriteCookieFile(server.Cookie);
        for (var round = 0; round < 2; round++)
        {
            var serving = server.ServeOneAsync(_cts.Token);
            using var client = await server.ConnectAsync();
            await ExtOrPortClient.HandshakeAsync(client.GetStream(), path, null, "obfs4", _cts.Token);
            client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            await serving;
            Assert.True(server.ClientHashOk);

            server.Cookie = Cookie(11);
            WriteCookieFile(server.Cookie);
        }
    }

    [Fact]
    public async Task A_bad_cookie_file_fails_before_anything_is_sent()
    {
        var stream = new MemoryStream();
        var e = await Assert.ThrowsAsync<PtException>(() =>
            ExtOrPortClient.HandshakeAsync(stream, Path.Combine(_dir, "absent"), null, "obfs4", _cts.Token));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Equal(0, stream.Length);
    }

    // "Pluggable transport names are C-identifiers"; USERADDR "Recognized formats are:
    // 1.2.3.4:5678 [1:2::3:4]:5678 ... transports MUST NOT send them [other formats]".
    [Theory]
    [InlineData("ob-fs4", null)]
    [InlineData("", null)]
    [InlineData("obfs4", "example.com:80")]
    [InlineData("obfs4", "1:2::3:4:5678")]
    [InlineData("obfs4", "1.2.3.4")]
    [InlineData("obfs4", "1.2:80")]
    public async Task A_bad_transport_or_user_address_is_an_argument_error_before_any_io(string transport, string? userAddr)
    {
        var stream = new MemoryStream();
        await Assert.ThrowsAsync<ArgumentException>(() =>
            ExtOrPortClient.HandshakeAsync(stream, WriteCookieFile(Cookie(0)), userAddr, transport, _cts.Token));
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public async Task The_handshake_works_when_every_read_returns_one_byte()
    {
        await using var server = new FakeExtOrPort(Cookie(12)) { Replies = [(0x1234, [1, 2, 3]), (0x1000, [4])] };
        var serving = server.ServeOneAsync(_cts.Token);
        using var client = await server.ConnectAsync();
        await ExtOrPortClient.HandshakeAsync(new OneByteReadStream(client.GetStream()), WriteCookieFile(server.Cookie), "1.2.3.4:5678", "obfs4", _cts.Token);
        client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        await serving;
        Assert.True(server.ClientHashOk);
    }

    [Fact]
    public async Task Cancellation_while_waiting_for_tor_is_an_operation_canceled_exception()
    {
        await using var server = new FakeExtOrPort(Cookie(13)) { GoSilentAfterAuthTypes = true };
        using var serverCts = new CancellationTokenSource();
        var serving = server.ServeOneAsync(serverCts.Token);
        using var client = await server.ConnectAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            ExtOrPortClient.HandshakeAsync(client.GetStream(), WriteCookieFile(server.Cookie), null, "obfs4", cts.Token));
        await serverCts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serving);
    }

    private async Task<PtException> HandshakeFailsAsync(FakeExtOrPort server)
    {
        var serving = server.ServeOneAsync(_cts.Token);
        PtException e;
        using (var client = await server.ConnectAsync())
        {
            e = await Assert.ThrowsAsync<PtException>(() =>
                ExtOrPortClient.HandshakeAsync(client.GetStream(), WriteCookieFile(server.Cookie), "1.2.3.4:5678", "obfs4", _cts.Token));
        }
        // The client closing its socket is what lets the fake server finish. A client that quits
        // with replies unread closes with a reset, which the fake server may see as an IOException.
        try
        {
            await serving;
        }
        catch (IOException)
        {
        }
        return e;
    }
}
