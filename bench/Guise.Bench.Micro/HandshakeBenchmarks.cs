using System.Buffers;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Errors;
using Guise.Primitives;
using Guise.Transports.Obfs4;

namespace Guise.Bench.Micro;

/// <summary>
/// The obfs4 handshake without I/O, split as the two processes spend it: the client's request
/// (session key with an Elligator2 representative, padding, marks and MACs), the server's
/// accept (MAC search over three epoch hours, replay filter, ntor, its own session key and
/// response), and the client's finish (mark search, MAC, ntor, AUTH). Key derivation for the
/// framing keys (Ntor.Kdf) is included on both sides.
/// </summary>
[MemoryDiagnoser]
public class HandshakeBenchmarks
{
    private readonly Obfs4Identity _identity = Obfs4Identity.Generate();
    private readonly ReplayFilter _replay = new(TimeSpan.FromHours(3));
    private readonly byte[] _keySeed = new byte[32];
    private readonly byte[] _okm = new byte[144];
    private Obfs4ClientHandshake _client = null!;
    private byte[] _request = null!;
    private byte[] _response = null!;

    [GlobalSetup]
    public void Setup()
    {
        _request = ClientRequest();
        _response = ServerAccept(_request);
    }

    [Benchmark(Description = "client: keypair + request")]
    public byte[] ClientRequest()
    {
        _client = new Obfs4ClientHandshake(_identity.NodeId, _identity.PublicKey, Obfs4SessionKey.Generate(),
            Obfs4HandshakeLimits.EpochHour(DateTimeOffset.UtcNow), Obfs4ClientHandshake.RandomPadding());
        return _client.CreateRequest();
    }

    [Benchmark(Description = "server: parse request + keypair + response")]
    public byte[] ServerAcceptFresh()
    {
        // A fresh request per op (its MAC is new, so the replay filter lets it through); the
        // client's share is measured above and subtracted by the reader.
        var request = ClientRequest();
        return ServerAccept(request);
    }

    [Benchmark(Description = "client: parse response + ntor + kdf")]
    public int ClientFinish()
    {
        // Re-parsing the same response is what the client does once; it has no replay state.
        var status = _client.TryParseResponse(_response, _keySeed, out var consumed, out var error);
        if (status != OperationStatus.Done)
            throw new InvalidOperationException(error);
        Ntor.Kdf(_keySeed, _okm);
        return consumed;
    }

    private byte[] ServerAccept(byte[] request)
    {
        var server = new Obfs4ServerHandshake(_identity, Obfs4SessionKey.Generate(), _replay);
        var status = server.TryParseRequest(request, DateTimeOffset.UtcNow, _keySeed, out PtErrorKind _, out var error);
        if (status != OperationStatus.Done)
            throw new InvalidOperationException(error);
        Ntor.Kdf(_keySeed, _okm);
        return server.CreateResponse(Obfs4ServerHandshake.RandomPadding());
    }
}

/// <summary>Elligator2 as obfs4 uses it: a keypair with a representative (≈2 tries on average), and the inverse map.</summary>
[MemoryDiagnoser]
public class Elligator2Benchmarks
{
    private readonly byte[] _private = new byte[32];
    private readonly byte[] _public = new byte[32];
    private readonly byte[] _representative = new byte[32];

    [GlobalSetup]
    public void Setup() => Elligator2.GenerateKeypair(RandomNumberGenerator.Fill, _private, _public, _representative);

    [Benchmark(Description = "keypair with representative")]
    public void GenerateKeypair() => Elligator2.GenerateKeypair(RandomNumberGenerator.Fill, _private, _public, _representative);

    [Benchmark(Description = "representative → public key")]
    public byte RepresentativeToPublicKey()
    {
        Elligator2.RepresentativeToPublicKey(_representative, _public);
        return _public[0];
    }
}

/// <summary>The SipHash DRBG: one frame-length mask (per frame), Int63 (per length sample).</summary>
[MemoryDiagnoser]
public class DrbgBenchmarks
{
    private readonly HashDrbg _drbg = new(RandomNumberGenerator.GetBytes(HashDrbg.SeedLength));
    private readonly WeightedDist _dist = new(RandomNumberGenerator.GetBytes(HashDrbg.SeedLength), 0, Obfs4Wire.MaximumSegmentLength);

    [Benchmark(Description = "length mask (per frame)")]
    public ushort NextMask() => _drbg.NextUInt16Mask();

    [Benchmark(Description = "Int63")]
    public long Int63() => _drbg.Int63();

    [Benchmark(Description = "length distribution sample (per burst)")]
    public int SampleLength() => _dist.Sample();
}
