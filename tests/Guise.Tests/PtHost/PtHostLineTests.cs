using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Tests.PtHost;

public class PtHostLineTests
{
    [Theory]
    [InlineData("CMETHOD obfs4 socks5 127.0.0.1:1080")]
    [InlineData("VERSION 1")]
    [InlineData("STATUS TYPE=version IMPLEMENTATION=\"lyrebird\" VERSION=\"0.5.0\"")]
    public void Spec_lines_come_through_as_the_strict_parser_reads_them(string line)
    {
        var parsed = Assert.IsType<PtHostLine.Message>(PtHostLine.Parse(line));
        Assert.Equal(PtMessage.Parse(line), parsed.Value);
    }

    [Fact]
    public void A_pt_spec_log_line_decodes_its_cstring_message()
    {
        var parsed = Assert.IsType<PtHostLine.Message>(PtHostLine.Parse("LOG SEVERITY=warning MESSAGE=\"tab\\there \\\"quoted\\\" caf\\303\\251\""));
        Assert.Equal(new PtMessage.Log(PtLogSeverity.Warning, "tab\there \"quoted\" café"), parsed.Value);
    }

    [Theory]
    [InlineData("LOG WARN bridge unreachable", PtLogSeverity.Warning, "bridge unreachable")]
    [InlineData("LOG error disk full", PtLogSeverity.Error, "disk full")]
    [InlineData("LOG Info   started", PtLogSeverity.Info, "  started")]
    [InlineData("LOG DEBUG", PtLogSeverity.Debug, "")]
    [InlineData("LOG notice MESSAGE=x", PtLogSeverity.Notice, "MESSAGE=x")]
    public void A_pt3_style_log_line_with_a_level_word_is_read_leniently(string line, PtLogSeverity severity, string text)
    {
        var parsed = Assert.IsType<PtHostLine.Message>(PtHostLine.Parse(line));
        Assert.Equal(new PtMessage.Log(severity, text), parsed.Value);
    }

    [Theory]
    [InlineData("LOG SEVERITY=notice")]
    [InlineData("LOG loud noise")]
    [InlineData("CMETHOD obfs4 socks5 nowhere")]
    [InlineData("VERSION")]
    [InlineData("")]
    [InlineData("   ")]
    public void A_broken_known_line_or_an_empty_one_is_malformed_with_a_reason(string line)
    {
        var malformed = Assert.IsType<PtHostLine.Malformed>(PtHostLine.Parse(line));
        Assert.NotEmpty(malformed.Reason);
    }

    [Fact]
    public void A_line_longer_than_the_bound_is_malformed_and_not_kept_whole()
    {
        var malformed = Assert.IsType<PtHostLine.Malformed>(PtHostLine.Parse("LOG " + new string('x', PtHostLine.MaxLineLength)));
        Assert.True(malformed.Line.Length < 1000);
        Assert.Contains("longer", malformed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_with_an_unknown_keyword_is_an_unknown_message()
    {
        var parsed = Assert.IsType<PtHostLine.Message>(PtHostLine.Parse("hello from a chatty PT"));
        Assert.Equal(new PtMessage.Unknown("hello", "from a chatty PT"), parsed.Value);
    }

    [Fact]
    public void Random_bytes_never_make_the_parser_throw()
    {
        // A deterministic fuzz pass over the alphabet PT lines are made of, plus controls and non-ASCII.
        const string alphabet = "CMETHODSLOGVERSIONPRXYATU-_= \"\\:,.0123456789abcxyz\t\r\n\u00e9\u0000\u007f";
        string[] seeds = ["CMETHOD ", "SMETHOD ", "LOG ", "STATUS ", "VERSION ", "PROXY ", "CMETHOD-ERROR ", "SMETHOD x 1.2.3.4:5 ARGS:"];
        var random = new Random(6);
        for (var i = 0; i < 20_000; i++)
        {
            var chars = new char[random.Next(0, 60)];
            for (var j = 0; j < chars.Length; j++)
                chars[j] = alphabet[random.Next(alphabet.Length)];
            var line = seeds[random.Next(seeds.Length)] + new string(chars);
            var parsed = PtHostLine.Parse(line);
            Assert.True(parsed is PtHostLine.Message or PtHostLine.Malformed, line);
        }
    }

    [Fact]
    public void An_smethod_keeps_its_args_for_the_bridge_line()
    {
        var parsed = Assert.IsType<PtHostLine.Message>(PtHostLine.Parse("SMETHOD obfs4 127.0.0.1:443 ARGS:cert=AAAA,iat-mode=0"));
        var smethod = Assert.IsType<PtMessage.Smethod>(parsed.Value);
        var method = new PtServerMethod(smethod.Transport, smethod.Address, smethod.Args!);
        Assert.Equal("obfs4 127.0.0.1:443 0123ABCD cert=AAAA iat-mode=0", method.BridgeLine("0123ABCD"));
        Assert.Equal("obfs4 203.0.113.5:443 0123ABCD cert=AAAA iat-mode=0", method.BridgeLine("0123ABCD", "203.0.113.5:443"));
        Assert.Equal(new HostPort("127.0.0.1", 443), method.Address);
    }
}
