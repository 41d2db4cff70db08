using Guise.Errors;
using Guise.Hosting.PtHost;
using Guise.Transports;

namespace Guise.Tests.PtHost;

public class WrapTemplateTests
{
    private static readonly Dictionary<string, string> Values = new() { ["socks_port"] = "1080", ["opt:password"] = "s3cret" };

    [Theory]
    [InlineData("-l{socks_port}", "-l1080")]
    [InlineData("{opt:password}", "s3cret")]
    [InlineData("{{\"json\": {socks_port}}}", "{\"json\": 1080}")]
    [InlineData("plain", "plain")]
    public void Placeholders_expand_and_doubled_braces_are_literal(string template, string expected) =>
        Assert.Equal(expected, WrapTemplate.Expand(template, Values));

    [Theory]
    [InlineData("{sock_port}", "unknown placeholder {sock_port}")]
    [InlineData("{socks_port", "unclosed")]
    public void A_typo_in_a_placeholder_is_a_config_error(string template, string text)
    {
        var e = Assert.Throws<PtException>(() => WrapTemplate.Expand(template, Values));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains(text, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(" 2026-11-26 23:59:46 ERROR: bind: Address already in use", PtLogSeverity.Error)]
    [InlineData(" 2026-11-26 23:59:46 INFO: listening at 127.0.0.1:11080", PtLogSeverity.Info)]
    [InlineData("[warn] something", PtLogSeverity.Warning)]
    [InlineData("plain text", PtLogSeverity.Notice)]
    public void A_tools_own_log_levels_become_log_severities(string line, PtLogSeverity severity) =>
        Assert.Equal(severity, WrapProxy.GuessSeverity(line));
}
