using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Primitives;
using Guise.Transports.Obfs4;

namespace Guise.Bench.Micro;

/// <summary>
/// The libsodium and .NET calls under the obfs4 handshake, one at a time, so the handshake
/// figures can be split into their parts: X25519 (ntor does two per side), the Edwards base
/// multiplication and point addition under the Elligator2 keypair, the HMACs over a
/// full-size (8 KiB) handshake, a mark and an ntor input, and the ntor KDF; and the per-frame
/// XSalsa20-Poly1305 at obfs4's largest frame, which bounds the bulk figures.
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
    private readonly byte[] _okm = new byte[144];
    private readonly byte[] _boxKey = RandomNumberGenerator.GetBytes(Sodium.SecretBoxKeyBytes);
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(Sodium.SecretBoxNonceBytes);
    private readonly byte[] _plain = RandomNumberGenerator.GetBytes(FramePayload);
    private readonly byte[] _box = new byte[FramePayload + Sodium.SecretBoxMacBytes];
    private readonly byte[] _opened = new byte[FramePayload];

    private const int FramePayload = Obfs4Wire.MaximumFramePayloadLength;

    private readonly byte[] _frame = new byte[FramePayload + Sodium.SecretBoxMacBytes];
    private PrefixedSecretBox _prefixed = null!;

    [GlobalSetup]
    public void Setup()
    {
        Sodium.ScalarMultBase(_point, _scalar);
        _scalar[0] &= 248;
        Sodium.Ed25519BaseNoClamp(_edwards, _scalar);
        // Counter 1 in the nonce's last 8 bytes (big endian), as obfs4's first frame, so that
        // the prefixed box opens what secretbox sealed.
        _nonce.AsSpan(16).Clear();
        _nonce[23] = 1;
        Sodium.SecretBoxSeal(_box, _plain, _nonce, _boxKey);
        _prefixed = new PrefixedSecretBox(_boxKey, _nonce.AsSpan(0, 16));
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

    [Benchmark(Description = "HMAC-SHA256, 236 B (ntor)")]
    public int HmacNtor() => HMACSHA256.HashData(_key.AsSpan(0, 36), _handshake.AsSpan(0, 236), _out);

    [Benchmark(Description = "HKDF-SHA256, 144 B (ntor KDF)")]
    public void Hkdf() => HKDF.DeriveKey(HashAlgorithmName.SHA256, _out, _okm, _key.AsSpan(0, 36), _handshake.AsSpan(0, 36));

    [Benchmark(Description = "secretbox seal, one full obfs4 frame")]
    public void SecretBoxSeal() => Sodium.SecretBoxSeal(_box, _plain, _nonce, _boxKey);

    [Benchmark(Description = "secretbox open, one full obfs4 frame")]
    public bool SecretBoxOpen() => Sodium.SecretBoxOpen(_opened, _box, _nonce, _boxKey);

    [Benchmark(Description = "prefixed box seal in place, one full obfs4 frame (what obfs4 uses)")]
    public void PrefixedSeal() => _prefixed.SealInPlace(_frame.AsSpan(0, 16), _frame.AsSpan(16), 1);

    [Benchmark(Description = "prefixed box open, one full obfs4 frame (what obfs4 uses)")]
    public bool PrefixedOpen() => _prefixed.Open(_box.AsSpan(0, 16), _box.AsSpan(16), _opened, 1);
}
