using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Guise.Errors;
using Guise.Primitives;

namespace Guise.Transports.Obfs4;

// obfs4_state.json, as obfs4proxy's statefile.go writes it (Go's json.Marshal: no spaces, this
// key order, no trailing newline):
//
//   {"node-id":"<40 hex>","private-key":"<64 hex>","public-key":"<64 hex>","drbg-seed":"<48 hex>","iat-mode":0}
//
// cert (bridge line) = base64(node-id | public-key) without the trailing "==".
// obfs4_bridgeline.txt = the comment block below + "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=... iat-mode=N\n".

/// <summary>
/// A bridge's long-term obfs4 identity: node ID, Curve25519 identity keypair, the DRBG seed that
/// shapes its traffic (and its anti-probing close delay), and its iat-mode.
/// </summary>
public sealed class Obfs4Identity
{
    public const string StateFileName = "obfs4_state.json";
    public const string BridgeLineFileName = "obfs4_bridgeline.txt";

    private Obfs4Identity(byte[] nodeId, byte[] privateKey, byte[] drbgSeed, Obfs4IatMode iatMode)
    {
        NodeId = nodeId;
        PrivateKey = privateKey;
        PublicKey = new byte[32];
        Sodium.ScalarMultBase(PublicKey, privateKey);
        DrbgSeed = drbgSeed;
        IatMode = iatMode;
    }

    public byte[] NodeId { get; }
    public byte[] PrivateKey { get; }
    public byte[] PublicKey { get; }
    public byte[] DrbgSeed { get; }
    public Obfs4IatMode IatMode { get; }

    /// <summary>The bridge-line <c>cert=</c> value.</summary>
    public string Cert => FormatCert(NodeId, PublicKey);

    /// <summary>What clients need, in obfs4proxy's order: <c>cert</c>, then <c>iat-mode</c>.</summary>
    public PtArgs ClientArgs => new PtArgs()
        .Add("cert", Cert)
        .Add("iat-mode", ((int)IatMode).ToString(CultureInfo.InvariantCulture));

    public static Obfs4Identity Create(ReadOnlySpan<byte> nodeId, ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> drbgSeed, Obfs4IatMode iatMode)
    {
        if (nodeId.Length != Ntor.NodeIdLength || privateKey.Length != 32 || drbgSeed.Length < HashDrbg.SeedLength)
            throw new PtException(PtErrorKind.Config, "obfs4: bad identity lengths");
        return new Obfs4Identity(nodeId.ToArray(), privateKey.ToArray(), drbgSeed[..HashDrbg.SeedLength].ToArray(), iatMode);
    }

    public static Obfs4Identity Generate(Obfs4IatMode iatMode = Obfs4IatMode.None)
    {
        // Identity keys need no representative: plain SHA-512 of fresh randomness, as ntor.NewKeypair(false).
        var raw = RandomNumberGenerator.GetBytes(32);
        var priv = SHA512.HashData(raw)[..32];
        return new Obfs4Identity(RandomNumberGenerator.GetBytes(Ntor.NodeIdLength), priv, GenerateDrbgSeed(), iatMode);
    }

    /// <summary>
    /// A fresh seed whose length table cannot draw 0, so that obfs4proxy clients in paranoid mode
    /// do not crash on this bridge's shape (<see cref="Obfs4Codec.LengthTableCanDrawZero"/>).
    /// Leaving out ~3% of tables tells an observer nothing: a zero-length write never reaches
    /// the wire anyway.
    /// </summary>
    internal static byte[] GenerateDrbgSeed()
    {
        while (true)
        {
            var seed = RandomNumberGenerator.GetBytes(HashDrbg.SeedLength);
            if (!Obfs4Codec.LengthTableCanDrawZero(seed))
                return seed;
        }
    }

    public static string FormatCert(ReadOnlySpan<byte> nodeId, ReadOnlySpan<byte> publicKey)
    {
        Span<byte> raw = stackalloc byte[52];
        nodeId.CopyTo(raw);
        publicKey.CopyTo(raw[20..]);
        var s = Convert.ToBase64String(raw);
        return s.EndsWith("==", StringComparison.Ordinal) ? s[..^2] : s;
    }

    /// <summary>Parses a <c>cert=</c> value into node ID and identity public key; Config error if malformed.</summary>
    public static (byte[] NodeId, byte[] PublicKey) ParseCert(string cert)
    {
        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(cert + "==");
        }
        catch (FormatException)
        {
            throw new PtException(PtErrorKind.Config, "obfs4: failed to decode cert");
        }
        if (raw.Length != 52 || cert.Length != 70)
            throw new PtException(PtErrorKind.Config, $"obfs4: cert length {raw.Length} is invalid");
        return (raw[..20], raw[20..]);
    }

    /// <summary>
    /// Loads the server identity as obfs4proxy does: <c>node-id</c>, <c>private-key</c> and
    /// <c>drbg-seed</c> from the options (all three or none), otherwise from
    /// <c>obfs4_state.json</c>, generated only when the file does not exist. <c>iat-mode</c> from
    /// the options overrides. Writes the state back and <c>obfs4_bridgeline.txt</c>.
    /// A malformed state file is a Config error: silently new keys would break every bridge line out there.
    /// </summary>
    public static Obfs4Identity LoadOrCreate(string? stateDirectory, PtArgs options)
    {
        var hasNode = options.TryGet("node-id", out var nodeHex);
        var hasKey = options.TryGet("private-key", out var keyHex);
        var hasSeed = options.TryGet("drbg-seed", out var seedHex);
        var state = new StateJson();

        if (!hasNode && !hasKey && !hasSeed)
        {
            if (stateDirectory is null)
                throw new PtException(PtErrorKind.Config, "obfs4: a state directory is needed to keep the bridge identity");
            state = ReadOrCreateState(stateDirectory);
        }
        else if (!hasKey)
            throw new PtException(PtErrorKind.Config, "obfs4: missing argument 'private-key'");
        else if (!hasNode)
            throw new PtException(PtErrorKind.Config, "obfs4: missing argument 'node-id'");
        else if (!hasSeed)
            throw new PtException(PtErrorKind.Config, "obfs4: missing argument 'drbg-seed'");
        else
            state = new StateJson { NodeId = nodeHex, PrivateKey = keyHex, DrbgSeed = seedHex };

        if (options.TryGet("iat-mode", out var iatText))
        {
            if (!int.TryParse(iatText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var iat))
                throw new PtException(PtErrorKind.Config, $"obfs4: malformed iat-mode '{iatText}'");
            state.IatMode = iat;
        }

        var identity = FromState(state);
        if (stateDirectory is not null)
        {
            WriteAtomically(Path.Combine(stateDirectory, BridgeLineFileName), Encoding.UTF8.GetBytes(BridgeLineText(identity)));
            WriteAtomically(Path.Combine(stateDirectory, StateFileName), SerializeState(state));
        }
        return identity;
    }

    /// <summary>The full text of obfs4_bridgeline.txt, byte for byte as obfs4proxy writes it.</summary>
    public static string BridgeLineText(Obfs4Identity identity) =>
        "# obfs4 torrc client bridge line\n" +
        "#\n" +
        "# This file is an automatically generated bridge line based on\n" +
        "# the current obfs4proxy configuration.  EDITING IT WILL HAVE\n" +
        "# NO EFFECT.\n" +
        "#\n" +
        "# Before distributing this Bridge, edit the placeholder fields\n" +
        "# to contain the actual values:\n" +
        "#  <IP ADDRESS>  - The public IP address of your obfs4 bridge.\n" +
        "#  <PORT>        - The TCP/IP port of your obfs4 bridge.\n" +
        "#  <FINGERPRINT> - The bridge's fingerprint.\n\n" +
        $"Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert={identity.Cert} iat-mode={(int)identity.IatMode}\n";

    internal sealed class StateJson
    {
        public string NodeId { get; set; } = "";
        public string PrivateKey { get; set; } = "";
        public string PublicKey { get; set; } = "";
        public string DrbgSeed { get; set; } = "";
        public int IatMode { get; set; }
    }

    private static Obfs4Identity FromState(StateJson s)
    {
        var nodeId = Hex(s.NodeId, "node-id");
        var key = Hex(s.PrivateKey, "private-key");
        var seed = Hex(s.DrbgSeed, "drbg-seed");
        if (nodeId.Length != Ntor.NodeIdLength)
            throw new PtException(PtErrorKind.Config, $"obfs4: invalid node-id length {nodeId.Length}");
        if (key.Length != 32)
            throw new PtException(PtErrorKind.Config, $"obfs4: invalid private-key length {key.Length}");
        if (seed.Length < HashDrbg.SeedLength)
            throw new PtException(PtErrorKind.Config, $"obfs4: invalid drbg-seed length {seed.Length}");
        if (s.IatMode is < 0 or > 2)
            throw new PtException(PtErrorKind.Config, $"obfs4: invalid iat-mode '{s.IatMode}'");
        return new Obfs4Identity(nodeId, key, seed[..HashDrbg.SeedLength], (Obfs4IatMode)s.IatMode);
    }

    private static byte[] Hex(string text, string name)
    {
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new PtException(PtErrorKind.Config, $"obfs4: '{name}' is not hex");
        }
    }

    private static StateJson ReadOrCreateState(string dir)
    {
        var path = Path.Combine(dir, StateFileName);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            var id = Generate();
            var fresh = new StateJson
            {
                NodeId = Convert.ToHexStringLower(id.NodeId),
                PrivateKey = Convert.ToHexStringLower(id.PrivateKey),
                PublicKey = Convert.ToHexStringLower(id.PublicKey),
                DrbgSeed = Convert.ToHexStringLower(id.DrbgSeed),
                IatMode = 0,
            };
            WriteAtomically(path, SerializeState(fresh));
            return fresh;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PtException(PtErrorKind.Config, $"obfs4: cannot read state file '{path}': {e.Message}", e);
        }
        return ParseState(bytes, path);
    }

    internal static StateJson ParseState(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new PtException(PtErrorKind.Config, $"obfs4: failed to load statefile '{path}': not a JSON object");
            var s = new StateJson();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                // Go's encoding/json matches keys case-insensitively.
                switch (p.Name.ToLowerInvariant())
                {
                    case "node-id": s.NodeId = p.Value.GetString() ?? ""; break;
                    case "private-key": s.PrivateKey = p.Value.GetString() ?? ""; break;
                    case "public-key": s.PublicKey = p.Value.GetString() ?? ""; break;
                    case "drbg-seed": s.DrbgSeed = p.Value.GetString() ?? ""; break;
                    case "iat-mode": s.IatMode = p.Value.GetInt32(); break;
                    default: break;
                }
            }
            return s;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new PtException(PtErrorKind.Config, $"obfs4: failed to load statefile '{path}': {e.Message}", e);
        }
    }

    internal static byte[] SerializeState(StateJson s)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("node-id", s.NodeId);
            w.WriteString("private-key", s.PrivateKey);
            w.WriteString("public-key", s.PublicKey);
            w.WriteString("drbg-seed", s.DrbgSeed);
            w.WriteNumber("iat-mode", s.IatMode);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    /// <summary>Temp file in the same directory, mode 0600, flushed, then renamed over the target.</summary>
    internal static void WriteAtomically(string path, ReadOnlySpan<byte> content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var f = new FileStream(tmp, options))
            {
                f.Write(content);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new PtException(PtErrorKind.Config, $"obfs4: cannot write '{path}': {e.Message}", e);
        }
    }
}
