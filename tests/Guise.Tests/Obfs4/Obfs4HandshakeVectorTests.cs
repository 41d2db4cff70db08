using System.Buffers;
using Guise.Errors;
using Guise.Primitives;
using Guise.Tests.Primitives;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

public class Obfs4HandshakeVectorTests
{
    private static readonly byte[] NodeId = Obfs4Vectors.Hex("nodeID");
    private static readonly byte[] IdentityPrivate = Obfs4Vectors.Hex("identity priv(b)");
    private static readonly byte[] IdentityPublic = Obfs4Vectors.Hex("identity pub(B)");
    private static readonly long EpochHour = long.Parse(Obfs4Vectors.Get("epochHour"), System.Globalization.CultureInfo.InvariantCulture);
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(EpochHour * 3600 + 1234);

    internal static Obfs4SessionKey Session(string raw)
    {
        var (priv, pub, repr) = NtorTests.Keypair(raw);
        return new Obfs4SessionKey(priv, pub, repr);
    }

    // The vectors' P_C is 77 bytes 00 01 02 ... 4c.
    private static byte[] VectorPadding() => Enumerable.Range(0, Obfs4HandshakeLimits.ClientMinPadLength).Select(i => (byte)i).ToArray();

    private static Obfs4ClientHandshake VectorClient() =>
        new(NodeId, IdentityPublic, Session("15*32"), EpochHour, VectorPadding());

    private static Obfs4ServerHandshake VectorServer(ReplayFilter? filter = null) =>
        new(Obfs4Identity.Create(NodeId, IdentityPrivate, new byte[24], Obfs4IatMode.None), Session("82*32"), filter ?? new ReplayFilter(TimeSpan.FromHours(3)));

    [Fact]
    public void The_client_request_is_byte_for_byte_the_vector()
    {
        var request = VectorClient().CreateRequest();
        Assert.Equal(141, request.Length);
        Assert.Equal(Obfs4Vectors.Get("clientRequest(len 141)"), Convert.ToHexStringLower(request));
    }

    [Fact]
    public void The_server_accepts_the_vector_request_and_answers_the_vector_response()
    {
        var server = VectorServer();
        var seed = new byte[32];
        var status = server.TryParseRequest(Obfs4Vectors.Hex("clientRequest(len 141)"), Now, seed, out _, out var error);
        Assert.True(status == OperationStatus.Done, error);
        Assert.Equal(Obfs4Vectors.Get("KEY_SEED"), Convert.ToHexStringLower(seed));

        var response = server.CreateResponse([]);
        Assert.Equal(Obfs4Vectors.Get("serverResponse(P_S empty, len 96)"), Convert.ToHexStringLower(response));
    }

    [Fact]
    public void The_client_completes_on_the_vector_response_and_leaves_following_frames_alone()
    {
        var client = VectorClient();
        var response = Obfs4Vectors.Hex("serverResponse(P_S empty, len 96)");
        var seed = new byte[32];
        Assert.Equal(OperationStatus.NeedMoreData, client.TryParseResponse(response.AsSpan(0, 95), seed, out _, out _));
        byte[] withTrailer = [.. response, 1, 2, 3];
        var status = client.TryParseResponse(withTrailer, seed, out var consumed, out var error);
        Assert.True(status == OperationStatus.Done, error);
        Assert.Equal(96, consumed);
        Assert.Equal(Obfs4Vectors.Get("KEY_SEED"), Convert.ToHexStringLower(seed));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void The_server_accepts_a_client_one_hour_off(int hours)
    {
        var seed = new byte[32];
        var status = VectorServer().TryParseRequest(Obfs4Vectors.Hex("clientRequest(len 141)"), Now.AddHours(hours), seed, out _, out var error);
        Assert.True(status == OperationStatus.Done, error);
    }

    [Fact]
    public void The_server_rejects_a_client_two_hours_off()
    {
        var status = VectorServer().TryParseRequest(Obfs4Vectors.Hex("clientRequest(len 141)"), Now.AddHours(2), new byte[32], out var kind, out _);
        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(PtErrorKind.Handshake, kind);
    }

    [Fact]
    public void A_replayed_request_is_refused_with_kind_replay()
    {
        var filter = new ReplayFilter(TimeSpan.FromHours(3));
        var request = Obfs4Vectors.Hex("clientRequest(len 141)");
        Assert.Equal(OperationStatus.Done, VectorServer(filter).TryParseRequest(request, Now, new byte[32], out _, out _));
        Assert.Equal(OperationStatus.InvalidData, VectorServer(filter).TryParseRequest(request, Now, new byte[32], out var kind, out _));
        Assert.Equal(PtErrorKind.Replay, kind);
    }

    [Fact]
    public void Trailing_bytes_after_the_client_mac_are_fatal_and_a_partial_request_waits()
    {
        var request = Obfs4Vectors.Hex("clientRequest(len 141)");
        // A byte after MAC_C moves the tail: the mark is no longer where the server looks.
        Assert.Equal(OperationStatus.NeedMoreData, VectorServer().TryParseRequest([.. request, 0], Now, new byte[32], out _, out _));
        Assert.Equal(OperationStatus.NeedMoreData, VectorServer().TryParseRequest(request.AsSpan(0, 140), Now, new byte[32], out _, out _));
        var tooLong = new byte[Obfs4HandshakeLimits.MaxHandshakeLength];
        Assert.Equal(OperationStatus.InvalidData, VectorServer().TryParseRequest(tooLong, Now, new byte[32], out _, out _));
    }

    [Fact]
    public void A_request_made_for_another_bridge_never_shows_a_mark_so_the_server_only_waits()
    {
        var other = Obfs4Identity.Generate();
        var server = new Obfs4ServerHandshake(other, Session("82*32"), new ReplayFilter(TimeSpan.FromHours(1)));
        // The mark is keyed by the bridge's B | NODEID: a prober without them looks like random bytes,
        // and random bytes get no answer, just waiting (then the 8 KiB limit or the timeout).
        Assert.Equal(OperationStatus.NeedMoreData, server.TryParseRequest(VectorClient().CreateRequest(), Now, new byte[32], out _, out _));
    }

    [Fact]
    public void Padding_limits_are_obfs4proxys()
    {
        Assert.Equal(77, Obfs4HandshakeLimits.ClientMinPadLength);
        Assert.Equal(8128, Obfs4HandshakeLimits.ClientMaxPadLength);
        Assert.Equal(8051, Obfs4HandshakeLimits.ServerMaxPadLength);
        Assert.Equal(45, Obfs4HandshakeLimits.InlineSeedFrameLength);
    }
}
