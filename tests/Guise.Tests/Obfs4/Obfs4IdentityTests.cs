using Guise.Errors;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

public class Obfs4IdentityTests
{
    private const string NodeHex = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3";
    private static readonly string KeyHex = Obfs4Vectors.Get("identity priv(b)");
    private const string SeedHex = "000102030405060708090a0b0c0d0e0f1011121314151617";

    private static string StateJson(int iat = 0) =>
        $"{{\"node-id\":\"{NodeHex}\",\"private-key\":\"{KeyHex}\",\"public-key\":\"{Obfs4Vectors.Get("identity pub(B)")}\",\"drbg-seed\":\"{SeedHex}\",\"iat-mode\":{iat}}}";

    [Fact]
    public void The_cert_is_base64_of_node_id_and_public_key_without_padding()
    {
        var id = Obfs4Identity.Create(Convert.FromHexString(NodeHex), Convert.FromHexString(KeyHex), new byte[24], Obfs4IatMode.None);
        Assert.Equal(Obfs4Vectors.Get("cert"), id.Cert);
        var (node, pub) = Obfs4Identity.ParseCert(id.Cert);
        Assert.Equal(NodeHex, Convert.ToHexStringLower(node));
        Assert.Equal(Obfs4Vectors.Get("identity pub(B)"), Convert.ToHexStringLower(pub));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("oKGio6SlpqeoqaqrrK2ur7CxsrOIt9D+sdvcnN76KoFFA+4rvlRo4Xo9AGjk+CO/L5TR")]
    public void A_malformed_cert_is_a_config_error(string cert)
    {
        var e = Assert.Throws<PtException>(() => Obfs4Identity.ParseCert(cert));
        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void An_obfs4proxy_state_file_is_loaded_and_written_back_byte_for_byte()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "obfs4_state.json");
        File.WriteAllText(path, StateJson(1));
        var id = Obfs4Identity.LoadOrCreate(dir.Path, PtArgs.Empty);
        Assert.Equal(Obfs4Vectors.Get("cert"), id.Cert);
        Assert.Equal(Obfs4IatMode.Enabled, id.IatMode);
        Assert.Equal(StateJson(1), File.ReadAllText(path));
        Assert.Equal($"cert={Obfs4Vectors.Get("cert")},iat-mode=1", id.ClientArgs.ToSmethodArgs());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void The_bridge_line_file_is_obfs4proxys_text()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "obfs4_state.json"), StateJson());
        Obfs4Identity.LoadOrCreate(dir.Path, PtArgs.Empty);
        var text = File.ReadAllText(Path.Combine(dir.Path, "obfs4_bridgeline.txt"));
        Assert.StartsWith("# obfs4 torrc client bridge line\n#\n# This file is an automatically generated bridge line based on\n", text, StringComparison.Ordinal);
        Assert.Contains("#  <FINGERPRINT> - The bridge's fingerprint.\n\nBridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=" + Obfs4Vectors.Get("cert") + " iat-mode=0\n", text, StringComparison.Ordinal);
        Assert.EndsWith("iat-mode=0\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_state_file_creates_an_identity_that_survives_a_restart()
    {
        using var dir = new TempDirectory();
        var first = Obfs4Identity.LoadOrCreate(dir.Path, PtArgs.Empty);
        var second = Obfs4Identity.LoadOrCreate(dir.Path, PtArgs.Empty);
        Assert.Equal(first.Cert, second.Cert);
        Assert.Equal(first.DrbgSeed, second.DrbgSeed);
        var json = File.ReadAllText(Path.Combine(dir.Path, "obfs4_state.json"));
        Assert.StartsWith("{\"node-id\":\"", json, StringComparison.Ordinal);
        Assert.Contains($"\"public-key\":\"{Convert.ToHexStringLower(first.PublicKey)}\"", json, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"node-id\":\"a0a1")]
    [InlineData("{\"node-id\":\"zz\",\"private-key\":\"00\",\"drbg-seed\":\"00\",\"iat-mode\":0}")]
    [InlineData("[]")]
    [InlineData("{\"iat-mode\":\"x\"}")]
    public void A_corrupt_state_file_is_a_config_error_and_is_left_alone(string content)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "obfs4_state.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<PtException>(() => Obfs4Identity.LoadOrCreate(dir.Path, PtArgs.Empty));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void Server_options_replace_the_state_file_and_iat_mode_overrides()
    {
        using var dir = new TempDirectory();
        var options = new PtArgs().Add("node-id", NodeHex).Add("private-key", KeyHex).Add("drbg-seed", SeedHex).Add("iat-mode", "2");
        var id = Obfs4Identity.LoadOrCreate(dir.Path, options);
        Assert.Equal(Obfs4Vectors.Get("cert"), id.Cert);
        Assert.Equal(Obfs4IatMode.Paranoid, id.IatMode);
        // As obfs4proxy: the public key is not among the options, so the state file gets an empty one.
        Assert.Equal($"{{\"node-id\":\"{NodeHex}\",\"private-key\":\"{KeyHex}\",\"public-key\":\"\",\"drbg-seed\":\"{SeedHex}\",\"iat-mode\":2}}",
            File.ReadAllText(Path.Combine(dir.Path, "obfs4_state.json")));
    }

    [Theory]
    [InlineData("node-id")]
    [InlineData("private-key")]
    [InlineData("drbg-seed")]
    public void Identity_options_come_all_three_or_not_at_all(string missing)
    {
        var options = new PtArgs();
        foreach (var (k, v) in new[] { ("node-id", NodeHex), ("private-key", KeyHex), ("drbg-seed", SeedHex) })
        {
            if (k != missing)
                options.Add(k, v);
        }
        using var dir = new TempDirectory();
        var e = Assert.Throws<PtException>(() => Obfs4Identity.LoadOrCreate(dir.Path, options));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("-1")]
    [InlineData("x")]
    public void A_bad_iat_mode_option_is_a_config_error(string iat)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "obfs4_state.json"), StateJson());
        var e = Assert.Throws<PtException>(() => Obfs4Identity.LoadOrCreate(dir.Path, new PtArgs().Add("iat-mode", iat)));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Equal(StateJson(), File.ReadAllText(Path.Combine(dir.Path, "obfs4_state.json")));
    }

    [Fact]
    public void Clients_accept_the_legacy_node_id_and_public_key_arguments()
    {
        var factory = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests());
        Assert.NotNull(factory.Prepare(new PtArgs().Add("node-id", NodeHex).Add("public-key", Obfs4Vectors.Get("identity pub(B)")).Add("iat-mode", "0")));
        var e = Assert.Throws<PtException>(() => factory.Prepare(new PtArgs().Add("cert", Obfs4Vectors.Get("cert"))));
        Assert.Equal(PtErrorKind.Config, e.Kind);
    }

    [Fact]
    public void The_known_answer_tables_say_which_values_they_can_draw()
    {
        // ../shared/vectors: lenDist for this seed has 13 values, none of them 0; the IAT table
        // over [0, 100] (same seed) has 0 at weight 0.933092.
        var seed = Convert.FromHexString(SeedHex);
        Assert.True(Guise.Primitives.WeightedDist.CanDraw(seed, 0, 1448, 1090));
        Assert.False(Guise.Primitives.WeightedDist.CanDraw(seed, 0, 1448, 1091));
        Assert.True(Guise.Primitives.WeightedDist.CanDraw(seed, 0, 100, 0));
        Assert.False(Obfs4Codec.LengthTableCanDrawZero(seed));
    }

    [Fact]
    public void A_new_bridge_never_gets_a_drbg_seed_whose_length_table_can_draw_zero()
    {
        // About 3% of random seeds can: 300 unfiltered seeds would include one all but surely.
        for (var i = 0; i < 300; i++)
            Assert.False(Obfs4Codec.LengthTableCanDrawZero(Obfs4Identity.Generate(Obfs4IatMode.Paranoid).DrbgSeed));
    }

    [Theory]
    [InlineData(Obfs4IatMode.Paranoid, true)]
    [InlineData(Obfs4IatMode.Enabled, false)]
    [InlineData(Obfs4IatMode.None, false)]
    public void A_paranoid_bridge_whose_seed_can_draw_zero_warns_its_operator(Obfs4IatMode iatMode, bool warns)
    {
        var seed = SeedWhoseLengthTableCanDrawZero();
        var log = new RecordingLog();
        _ = new Obfs4ServerFactory(new TransportContext(null, TimeProvider.System, log),
            Obfs4Identity.Create(Convert.FromHexString(NodeHex), Convert.FromHexString(KeyHex), seed, iatMode));
        var warnings = log.Entries.Where(e => e.Severity == PtLogSeverity.Warning && e.Message.Contains("iat-mode=2", StringComparison.Ordinal));
        Assert.Equal(warns ? 1 : 0, warnings.Count());

        var fine = new RecordingLog();
        _ = new Obfs4ServerFactory(new TransportContext(null, TimeProvider.System, fine),
            Obfs4Identity.Create(Convert.FromHexString(NodeHex), Convert.FromHexString(KeyHex), Convert.FromHexString(SeedHex), iatMode));
        Assert.Empty(fine.Entries);
    }

    /// <summary>The first of the seeds 0, 1, 2, ... (as 24-byte big-endian counters) whose length table has 0.</summary>
    internal static byte[] SeedWhoseLengthTableCanDrawZero()
    {
        var seed = new byte[24];
        for (var i = 0; ; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(seed.AsSpan(20), i);
            if (Obfs4Codec.LengthTableCanDrawZero(seed))
                return seed;
        }
    }
}
