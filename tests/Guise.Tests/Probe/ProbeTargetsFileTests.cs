using Guise.Errors;
using Guise.Probe;

namespace Guise.Tests.Probe;

public class ProbeTargetsFileTests
{
    private const string Fp = "0123456789ABCDEF0123456789ABCDEF01234567";

    [Fact]
    public void Parses_every_kind_of_bridge_line_and_skips_comments()
    {
        var targets = ProbeTargetsFile.Parse($"""
            # a comment

            obfs4 192.0.2.1:443 {Fp} cert=abc+/def iat-mode=0
            Bridge plain 192.0.2.2:80 {Fp}
            192.0.2.3:9001 {Fp.ToLowerInvariant()}
            vanilla [2001:db8::1]:9001 ${Fp} @52.52,13.405
            obfs4 example.org:443 cert=x iat-mode=1
            """);
        Assert.Equal(5, targets.Count);
        Assert.Equal((3, "obfs4", "192.0.2.1", 443), (targets[0].Line, targets[0].Transport, targets[0].Address.Host, targets[0].Address.Port));
        Assert.Equal("abc+/def", targets[0].Args.Get("cert"));
        Assert.Equal($"obfs4 192.0.2.1:443 {Fp} cert=abc+/def iat-mode=0", targets[0].BridgeLine);
        Assert.Equal("plain", targets[1].Transport);
        Assert.True(targets[2].IsVanilla);
        Assert.Equal(Fp, targets[2].Fingerprint);
        Assert.Equal($"192.0.2.3:9001 {Fp}", targets[2].BridgeLine);
        Assert.Equal("2001:db8::1", targets[3].Address.Host);
        Assert.Equal(new GeoPoint(52.52, 13.405), targets[3].Claim!.Point);
        Assert.Null(targets[4].Fingerprint);
        Assert.Equal(7, targets[4].Line);
    }

    [Theory]
    [InlineData("obfs4", "line 2", "needs HOST:PORT")]
    [InlineData("obfs4 nowhere", "line 2", "is not HOST:PORT")]
    [InlineData("obfs4 192.0.2.1:0", "line 2", "port 0")]
    [InlineData("obfs4 192.0.2.1:443 ABCD", "line 2", "not a relay fingerprint")]
    [InlineData("obfs4 192.0.2.1:443 cert=a cert=b", "line 2", "duplicate argument 'cert'")]
    [InlineData("obfs4 192.0.2.1:443 =x", "line 2", "empty argument name")]
    [InlineData("192.0.2.1:443 k=v", "line 2", "takes no k=v")]
    [InlineData("obfs4 192.0.2.1:443 @91,0", "line 2", "not a location")]
    [InlineData("obfs4 192.0.2.1:443 @1,2 cert=x", "line 2", "goes last")]
    [InlineData("9bad 192.0.2.1:443", "line 2", "neither a transport name")]
    [InlineData("plain 192.0.2.1:443 @XQ", "line 2", "not an ISO 3166-1 alpha-2")]
    [InlineData("plain 192.0.2.1:443 @SG", "line 2", "no shape in Natural Earth 1:110m")]
    [InlineData("plain 192.0.2.1:443 @FR @DE", "line 2", "more than one claimed location")]
    public void Errors_name_the_file_and_line(string line, string _, string expected)
    {
        var e = Assert.Throws<PtException>(() => ProbeTargetsFile.Parse("# first\n" + line, "bridges.txt"));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.StartsWith("bridges.txt:2: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_country_code_claims_the_country_with_that_shape()
    {
        var targets = ProbeTargetsFile.Parse("plain 192.0.2.1:80 @FR\nplain 192.0.2.2:80 @jp");
        Assert.Equal("France", targets[0].Claim!.Country!.Name);
        Assert.Null(targets[0].Claim!.Point);
        Assert.Equal("JP", targets[1].Claim!.Country!.Code);
    }

    [Fact]
    public void A_file_with_no_targets_is_an_error()
    {
        var e = Assert.Throws<PtException>(() => ProbeTargetsFile.Parse("# nothing\n\n", "t"));
        Assert.Contains("no targets", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_scrubbed_line_keeps_only_the_transport_and_arg_names()
    {
        var t = ProbeTargetsFile.Parse($"obfs4 192.0.2.1:443 {Fp} cert=secret iat-mode=0")[0];
        Assert.Equal("obfs4 [scrubbed] [scrubbed] cert=[scrubbed] iat-mode=[scrubbed]", t.ScrubbedBridgeLine);
        Assert.DoesNotContain("192.0.2.1", OoniReport.ScrubText("connect to 192.0.2.1:443 failed", t), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_transport_is_refused_before_any_socket_with_its_line()
    {
        var runner = new ProbeRunner(new ProbeOptions(), ProbeRunner.Transports(Guise.Transports.TransportRegistry.Default));
        var targets = ProbeTargetsFile.Parse("obfs4 192.0.2.1:1 cert=x\n\nsnowflake 192.0.2.3:1");
        var e = Assert.Throws<PtException>(() => runner.Validate(targets, "t.txt"));
        Assert.StartsWith("t.txt:3: no transport 'snowflake'", e.Message, StringComparison.Ordinal);
        Assert.Contains("--pt-binary snowflake=PATH", e.Message, StringComparison.Ordinal);
    }
}
