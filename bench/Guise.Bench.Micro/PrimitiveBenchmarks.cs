using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Primitives;

namespace Guise.Bench.Micro;

/// <summary>
/// The libsodium and .NET calls under the obfs4 handshake, one at a time, so the handshake
/// figures can be split into their parts: X25519 (ntor does two per side), the Edwards base
/// multiplication and point addition under the Elligator2 keypair, and the HMACs over a
/// full-size (8 KiB) handshake.
/// </summary>
[MemoryDiagnoser]
public class PrimitiveBenchmarks
{
    private readonly byte[] _scalar = RandomNumberGenerator.GetBytes(32);
    private readonly byte[] _point = new byte[32];
    private readonly byte[] _edwards = new byte[32];
    private readonly byte[] _out = new byte[32];
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(52);
    private readonly byte[] _handshake = RandomNumberGenerator.GetBytes(8192);

    [GlobalSetup]
    public void Setup()
    {
        Sodium.ScalarMultBase(_point, _scalar);
        _scalar[0] &= 248;
        Sodium.Ed25519BaseNoClamp(_edwards, _scalar);
    }

    [Benchmark(Description = "X25519 (variable base)")]
    public bool X25519() => Sodium.ScalarMult(_out, _scalar, _point);

    [Benchmark(Description = "X25519 base")]
    public void X25519Base() => Sodium.ScalarMultBase(_out, _scalar);

    [Benchmark(Description = "Ed25519 base, no clamp")]
    public bool EdwardsBase() => Sodium.Ed25519BaseNoClamp(_out, _scalar);

    [Benchmark(Description = "Ed25519 point addition (compressed)")]
    public bool EdwardsAdd() => Sodium.Ed25519Add(_out, _edwards, _edwards);

    [Benchmark(Description = "HMAC-SHA256, 8 KiB")]
    public int Hmac8K() => HMACSHA256.HashData(_key, _handshake, _out);

    [Benchmark(Description = "HMAC-SHA256, 32 B")]
    public int Hmac32() => HMACSHA256.HashData(_key, _handshake.AsSpan(0, 32), _out);
}
