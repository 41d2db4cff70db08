using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Guise.Probe;

// Wire format (RFC 8446 §4.1.2, §5.1; RFC 5246 §7.4.1). A TLS record is
//   type(1) | legacy_version(2) | length(2) | fragment
// with type 22 = handshake, 21 = alert. The ClientHello handshake message is
//   msg_type=1 | length(3) | legacy_version=0x0303 | random(32) | session_id<0..32>
//   | cipher_suites<2..2^16-2> | compression_methods<1..2^8-1> | extensions<8..2^16-1>
// and the server answers with a handshake record whose first message is ServerHello
// (msg_type=2), or with an alert: level(1) | description(2 bytes in all: level, description).
//
// The hello offers what a Tor relay's OpenSSL accepts (TLS 1.3 and 1.2, x25519 and P-256,
// AES-GCM and ChaCha20-Poly1305), with a fresh random x25519 key share: every 32-byte string
// is a valid x25519 public key, and the probe never computes the shared secret.

/// <summary>
/// The first flight of a TLS handshake, without I/O: a ClientHello to send, and a classifier for
/// the server's first bytes. The probe uses it to ask a bare ORPort "do you speak TLS to me?"
/// without a TLS stack, whose certificate-chain code (with its HTTP fetcher for AIA and CRLs)
/// is most of what a TLS client costs in a NativeAOT binary. The answer is the one a censor's
/// interference shows in: a ServerHello, an alert, a reset, silence, or bytes that are not TLS.
/// </summary>
public static class TlsHello
{
    public const byte RecordHandshake = 22;
    public const byte RecordAlert = 21;
    public const int RecordHeaderLength = 5;
    private const byte ClientHelloType = 1;
    private const byte ServerHelloType = 2;

    private static readonly ushort[] CipherSuites =
    [
        0x1301, 0x1302, 0x1303,                 // TLS 1.3: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
        0xc02b, 0xc02f, 0xc02c, 0xc030,         // ECDHE-{ECDSA,RSA}-AES-{128,256}-GCM
        0xcca9, 0xcca8,                         // ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305
        0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];

    private static readonly ushort[] Groups = [0x001d, 0x0017, 0x0018]; // x25519, P-256, P-384
    private static readonly ushort[] SignatureSchemes = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201];

    /// <summary>A complete ClientHello record for <paramref name="serverName"/> (null: no SNI).</summary>
    public static byte[] CreateClientHello(string? serverName, Action<Span<byte>>? random = null)
    {
        random ??= RandomNumberGenerator.Fill;
        var body = new List<byte>(512);
        body.Add(0x03); body.Add(0x03);
        body.AddRange(Random(random, 32));
        body.Add(32);
        body.AddRange(Random(random, 32)); // legacy_session_id (RFC 8446 middlebox compatibility)
        AddU16(body, CipherSuites.Length * 2);
        foreach (var s in CipherSuites)
            AddU16(body, s);
        body.Add(1); body.Add(0); // compression: null only

        var ext = new List<byte>(256);
        if (!string.IsNullOrEmpty(serverName))
        {
            var name = Encoding.ASCII.GetBytes(serverName);
            Extension(ext, 0x0000, e =>
            {
                AddU16(e, name.Length + 3);
                e.Add(0); // host_name
                AddU16(e, name.Length);
                e.AddRange(name);
            });
        }
        Extension(ext, 0x000a, e => U16List(e, Groups));
        Extension(ext, 0x000b, e => { e.Add(1); e.Add(0); }); // ec_point_formats: uncompressed
        Extension(ext, 0x000d, e => U16List(e, SignatureSchemes));
        Extension(ext, 0x002b, e => { e.Add(4); AddU16(e, 0x0304); AddU16(e, 0x0303); }); // supported_versions
        Extension(ext, 0x002d, e => { e.Add(1); e.Add(1); }); // psk_key_exchange_modes: psk_dhe_ke
        Extension(ext, 0x0033, e =>
        {
            AddU16(e, 2 + 2 + 32);
            AddU16(e, 0x001d);
            AddU16(e, 32);
            e.AddRange(Random(random, 32));
        });
        AddU16(body, ext.Count);
        body.AddRange(ext);

        var record = new byte[RecordHeaderLength + 4 + body.Count];
        record[0] = RecordHandshake;
        record[1] = 0x03; record[2] = 0x01; // legacy record version, as every client sends
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), (ushort)(4 + body.Count));
        record[5] = ClientHelloType;
        record[6] = (byte)(body.Count >> 16);
        record[7] = (byte)(body.Count >> 8);
        record[8] = (byte)body.Count;
        body.CopyTo(record, 9);
        return record;
    }

    /// <summary>What the server's first bytes say.</summary>
    public enum Answer
    {
        /// <summary>Fewer bytes than it takes to tell.</summary>
        NeedMoreData,
        ServerHello,
        Alert,
        NotTls,
    }

    /// <summary>
    /// Classifies the first bytes from the server. <paramref name="detail"/> names the alert
    /// (RFC 8446 §6) or what was wrong; null for a ServerHello.
    /// </summary>
    public static Answer Classify(ReadOnlySpan<byte> received, out string? detail)
    {
        detail = null;
        if (received.Length < RecordHeaderLength + 1)
            return Answer.NeedMoreData;
        var version = BinaryPrimitives.ReadUInt16BigEndian(received[1..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(received[3..]);
        if ((version >> 8) != 0x03 || length == 0 || length > (1 << 14) + 256)
        {
            detail = $"the server's first bytes are not a TLS record ({Convert.ToHexString(received[..Math.Min(received.Length, 8)])}…)";
            return Answer.NotTls;
        }
        switch (received[0])
        {
            case RecordHandshake when received[RecordHeaderLength] == ServerHelloType:
                return Answer.ServerHello;
            case RecordHandshake:
                detail = $"TLS handshake message {received[RecordHeaderLength]} where a ServerHello was due";
                return Answer.NotTls;
            case RecordAlert:
                if (received.Length < RecordHeaderLength + 2)
                    return Answer.NeedMoreData;
                detail = $"TLS alert: {AlertName(received[RecordHeaderLength + 1])} ({(received[RecordHeaderLength] == 2 ? "fatal" : "warning")})";
                return Answer.Alert;
            default:
                detail = $"TLS record type {received[0]} where a ServerHello was due";
                return Answer.NotTls;
        }
    }

    private static string AlertName(byte description) => description switch
    {
        0 => "close_notify",
        10 => "unexpected_message",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        120 => "no_application_protocol",
        _ => $"alert {description}",
    };

    private static byte[] Random(Action<Span<byte>> random, int length)
    {
        var b = new byte[length];
        random(b);
        return b;
    }

    private static void AddU16(List<byte> to, int value)
    {
        to.Add((byte)(value >> 8));
        to.Add((byte)value);
    }

    private static void U16List(List<byte> to, ushort[] values)
    {
        AddU16(to, values.Length * 2);
        foreach (var v in values)
            AddU16(to, v);
    }

    private static void Extension(List<byte> to, ushort type, Action<List<byte>> write)
    {
        var data = new List<byte>();
        write(data);
        AddU16(to, type);
        AddU16(to, data.Count);
        to.AddRange(data);
    }
}
