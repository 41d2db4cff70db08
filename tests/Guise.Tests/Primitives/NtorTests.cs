using System.Security.Cryptography;
using Guise.Primitives;
using Guise.Tests.Obfs4;

namespace Guise.Tests.Primitives;

public class NtorTests
{
    internal static (byte[] Priv, byte[] Pub, byte[] Repr) Keypair(string raw)
    {
        var digest = SHA512.HashData(Obfs4Vectors.Raw(raw));
        var pub = new byte[32];
        var repr = new byte[32];
        Assert.True(Elligator2.TryScalarBaseMult(digest[..32], digest[63], pub, repr));
        return (digest[..32], pub, repr);
    }

    [Fact]
    public void The_identity_public_key_is_the_clean_x25519_public_key()
    {
        var pub = new byte[32];
        Sodium.ScalarMultBase(pub, Obfs4Vectors.Hex("identity priv(b)"));
        Assert.Equal(Obfs4Vectors.Get("identity pub(B)"), Convert.ToHexStringLower(pub));
    }

    [Fact]
    public void The_session_keys_of_the_vectors_are_reproduced()
    {
        var (x, xPub, xRepr) = Keypair("15*32");
        Assert.Equal(Obfs4Vectors.Get("x", "client raw="), Convert.ToHexStringLower(x));
        Assert.Equal(Obfs4Vectors.Get("X'", "client raw="), Convert.ToHexStringLower(xRepr));
        Assert.Equal(Obfs4Vectors.Get("X", "client raw="), Convert.ToHexStringLower(xPub));
        var (y, yPub, yRepr) = Keypair("82*32");
        Assert.Equal(Obfs4Vectors.Get("y", "server raw="), Convert.ToHexStringLower(y));
        Assert.Equal(Obfs4Vectors.Get("Y'", "server raw="), Convert.ToHexStringLower(yRepr));
        Assert.Equal(Obfs4Vectors.Get("Y", "server raw="), Convert.ToHexStringLower(yPub));
    }

    [Fact]
    public void Client_and_server_derive_the_vector_KEY_SEED_and_AUTH()
    {
        var b = Obfs4Vectors.Hex("identity priv(b)");
        var bPub = Obfs4Vectors.Hex("identity pub(B)");
        var nodeId = Obfs4Vectors.Hex("nodeID");
        var (x, xPub, _) = Keypair("15*32");
        var (y, yPub, _) = Keypair("82*32");

        var clientSeed = new byte[32];
        var clientAuth = new byte[32];
        Assert.True(Ntor.ClientHandshake(x, xPub, yPub, bPub, nodeId, clientSeed, clientAuth));
        var serverSeed = new byte[32];
        var serverAuth = new byte[32];
        Assert.True(Ntor.ServerHandshake(xPub, y, yPub, b, bPub, nodeId, serverSeed, serverAuth));

        Assert.Equal(Obfs4Vectors.Get("KEY_SEED"), Convert.ToHexStringLower(clientSeed));
        Assert.Equal(Obfs4Vectors.Get("AUTH"), Convert.ToHexStringLower(clientAuth));
        Assert.Equal(clientSeed, serverSeed);
        Assert.Equal(clientAuth, serverAuth);
    }

    [Fact]
    public void A_client_with_EXP_B_x_computed_ahead_derives_the_vector_KEY_SEED_and_AUTH()
    {
        var bPub = Obfs4Vectors.Hex("identity pub(B)");
        var (x, xPub, _) = Keypair("15*32");
        var (_, yPub, _) = Keypair("82*32");

        var share = new byte[32];
        Assert.True(Ntor.ClientIdentityShare(x, bPub, share));
        var seed = new byte[32];
        var auth = new byte[32];
        Assert.True(Ntor.ClientHandshake(x, xPub, yPub, bPub, Obfs4Vectors.Hex("nodeID"), share, seed, auth));

        Assert.Equal(Obfs4Vectors.Get("KEY_SEED"), Convert.ToHexStringLower(seed));
        Assert.Equal(Obfs4Vectors.Get("AUTH"), Convert.ToHexStringLower(auth));
    }

    [Fact]
    public void A_low_order_identity_key_gives_no_identity_share()
    {
        var (x, _, _) = Keypair("15*32");
        Assert.False(Ntor.ClientIdentityShare(x, new byte[32], new byte[32]));
    }

    [Fact]
    public void A_low_order_peer_key_fails_the_handshake()
    {
        var (x, xPub, _) = Keypair("15*32");
        var zero = new byte[32];
        Assert.False(Ntor.ClientHandshake(x, xPub, zero, Obfs4Vectors.Hex("identity pub(B)"), Obfs4Vectors.Hex("nodeID"), new byte[32], new byte[32]));
    }
}
