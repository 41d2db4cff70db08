using System.Net;
using Guise.Errors;
using Guise.Net;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Tests.Pt;

public class PtMessageTests
{
    private static KeyValuePair<string, string> Kv(string k, string v) => new(k, v);

    // pt-spec's examples, read the way a parent reads them.
    public static TheoryData<string, PtMessage> Parsed => new()
    {
        { "VERSION 1", new PtMessage.Version("1") },
        { "VERSION-ERROR no-version", new PtMessage.VersionError("no-version") },
        { "ENV-ERROR No TOR_PT_AUTH_COOKIE_FILE when TOR_PT_EXTENDED_SERVER_PORT set",
            new PtMessage.EnvError("No TOR_PT_AUTH_COOKIE_FILE when TOR_PT_EXTENDED_SERVER_PORT set") },
        { "ENV-ERROR", new PtMessage.EnvError("") },
        { "PROXY DONE", new PtMessage.ProxyDone() },
        { "PROXY-ERROR SOCKS 4 upstream proxies unsupported.", new PtMessage.ProxyError("SOCKS 4 upstream proxies unsupported.") },
        { "CMETHOD trebuchet socks5 127.0.0.1:19999", new PtMessage.Cmethod("trebuchet", "socks5", new HostPort("127.0.0.1", 19999)) },
        { "CMETHOD  obfs4  socks4  [::1]:1080  ARGS:x=y", new PtMessage.Cmethod("obfs4", "socks4", new HostPort("::1", 1080)) },
        { "CMETHOD-ERROR trebuchet no rocks available", new PtMessage.CmethodError("trebuchet", "no rocks available") },
        { "CMETHODS DONE", new PtMessage.CmethodsDone() },
        { "SMETHOD trebuchet 198.51.100.1:19999", new PtMessage.Smethod("trebuchet", new HostPort("198.51.100.1", 19999), null) },
        { "SMETHOD rot_by_N 198.51.100.1:2323 ARGS:N=13",
            new PtMessage.Smethod("rot_by_N", new HostPort("198.51.100.1", 2323), new PtArgs().Add("N", "13")) },
        { "SMETHOD obfs4 198.51.100.1:43734 ARGS:cert=HszPy3vWfjsESCEOo9ZBkRv6zQ/1mGHzc8arF0y2SpwFr3WhsMu8rK0zyaoyERfbz3ddFw,iat-mode=0",
            new PtMessage.Smethod("obfs4", new HostPort("198.51.100.1", 43734),
                new PtArgs().Add("cert", "HszPy3vWfjsESCEOo9ZBkRv6zQ/1mGHzc8arF0y2SpwFr3WhsMu8rK0zyaoyERfbz3ddFw").Add("iat-mode", "0")) },
        { "SMETHOD-ERROR trebuchet no cows available", new PtMessage.SmethodError("trebuchet", "no cows available") },
        { "SMETHODS DONE", new PtMessage.SmethodsDone() },
        { "LOG SEVERITY=debug MESSAGE=\"Connected to bridge A\"", new PtMessage.Log(PtLogSeverity.Debug, "Connected to bridge A") },
        { "LOG SEVERITY=warning MESSAGE=bare", new PtMessage.Log(PtLogSeverity.Warning, "bare") },
        { "STATUS TRANSPORT=obfs4 ADDRESS=198.51.100.222:2222 CONNECT=Failed FINGERPRINT=<Fingerprint> ERRSTR=\"Connection refused\"",
            new PtMessage.Status("obfs4", [Kv("ADDRESS", "198.51.100.222:2222"), Kv("CONNECT", "Failed"),
                Kv("FINGERPRINT", "<Fingerprint>"), Kv("ERRSTR", "Connection refused")]) },
        { "STATUS TYPE=version IMPLEMENTATION=\"lyrebird\" VERSION=\"devel\"",
            new PtMessage.Status(null, [Kv("TYPE", "version"), Kv("IMPLEMENTATION", "lyrebird"), Kv("VERSION", "devel")]) },
        // A trailing LF, or CRLF from a PT built for Windows, is not part of the last argument.
        { "CMETHODS DONE\n", new PtMessage.CmethodsDone() },
        { "VERSION 1\r\n", new PtMessage.Version("1") },
    };

    [Theory]
    [MemberData(nameof(Parsed))]
    public void Spec_lines_parse_to_their_records(string line, PtMessage expected) =>
        Assert.Equal(expected, PtMessage.Parse(line));

    // "The parent process MUST ignore lines received from PT proxies with unknown keywords."
    [Theory]
    [InlineData("FOO bar baz", "FOO", "bar baz")]
    [InlineData("", "", "")]
    [InlineData("PROXY NOTDONE", "PROXY", "NOTDONE")]
    [InlineData("CMETHODS", "CMETHODS", "")]
    [InlineData("SMETHODS DONE NOW", "SMETHODS", "DONE NOW")]
    [InlineData("version 1", "version", "1")]
    public void Unknown_keywords_are_an_unknown_message_not_an_error(string line, string keyword, string args)
    {
        var message = PtMessage.Parse(line);
        Assert.Equal(PtMessageKind.Unknown, message.Kind);
        Assert.Equal(new PtMessage.Unknown(keyword, args), message);
    }

    [Theory]
    [InlineData("VERSION")]
    [InlineData("VERSION 1 2")]
    [InlineData("CMETHOD trebuchet socks5")]
    [InlineData("CMETHOD trebuchet http 127.0.0.1:1")]
    [InlineData("CMETHOD tre-buchet socks5 127.0.0.1:1")]
    [InlineData("CMETHOD trebuchet socks5 127.0.0.1")]
    [InlineData("CMETHOD-ERROR")]
    [InlineData("CMETHOD-ERROR 9lives bad")]
    [InlineData("SMETHOD trebuchet")]
    [InlineData("SMETHOD trebuchet 1.2.3.4:5 ARGS:novalue")]
    [InlineData("SMETHOD trebuchet 1.2.3.4:5 ARGS:a=1 ARGS:b=2")]
    [InlineData("SMETHOD-ERROR")]
    [InlineData("LOG SEVERITY=notice")]
    [InlineData("LOG MESSAGE=x")]
    [InlineData("LOG SEVERITY=loud MESSAGE=x")]
    [InlineData("LOG SEVERITY=notice MESSAGE=\"unterminated")]
    [InlineData("LOG SEVERITY=notice MESSAGE=\"a\"b")]
    [InlineData("LOG SEVERITY=notice MESSAGE=\"\\q\"")]
    [InlineData("STATUS")]
    [InlineData("STATUS novalue")]
    [InlineData("STATUS =v")]
    public void A_known_keyword_with_broken_arguments_is_a_peer_protocol_error(string line)
    {
        var e = Assert.Throws<PtException>(() => PtMessage.Parse(line));
        Assert.Equal(PtErrorKind.PeerProtocol, e.Kind);
        Assert.False(PtMessage.TryParse(line, out _, out var error));
        Assert.NotNull(error);
    }

    // The inverse of PtOutput: what a Guise PT writes, a Guise host reads back unchanged.
    [Fact]
    public void Every_PtOutput_line_parses_back_to_what_was_written()
    {
        var text = new StringWriter();
        var o = new PtOutput(text);
        var args = new PtArgs().Add("cert", "a=b,c\\d").Add("iat-mode", "0");
        o.Version("1");
        o.VersionError();
        o.EnvError("bad env: x=1");
        o.ProxyDone();
        o.ProxyError("unsupported");
        o.Cmethod("obfs4", "socks5", IPEndPoint.Parse("127.0.0.1:1080"));
        o.Cmethod("obfs4", "socks4", IPEndPoint.Parse("[2001:db8::1]:1080"));
        o.CmethodError("meek_lite", "no fronts  here");
        o.CmethodsDone();
        o.Smethod("obfs4", IPEndPoint.Parse("0.0.0.0:443"), args);
        o.Smethod("plain", IPEndPoint.Parse("[::]:80"), null);
        o.SmethodError("obfs4", "no key");
        o.SmethodsDone();
        o.Log(PtLogSeverity.Warning, "odd \"text\"\n\u00e9 \\ ;=,");
        o.Status("obfs4", [Kv("ADDRESS", "1.2.3.4:5"), Kv("ERRSTR", "Connection refused"), Kv("EMPTY", ""), Kv("Q", "\"\\")]);
        o.ImplementationVersion("guise", "0.1.0");

        PtMessage[] expected =
        [
            new PtMessage.Version("1"),
            new PtMessage.VersionError("no-version"),
            new PtMessage.EnvError("bad env: x=1"),
            new PtMessage.ProxyDone(),
            new PtMessage.ProxyError("unsupported"),
            new PtMessage.Cmethod("obfs4", "socks5", new HostPort("127.0.0.1", 1080)),
            new PtMessage.Cmethod("obfs4", "socks4", new HostPort("2001:db8::1", 1080)),
            new PtMessage.CmethodError("meek_lite", "no fronts  here"),
            new PtMessage.CmethodsDone(),
            new PtMessage.Smethod("obfs4", new HostPort("0.0.0.0", 443), args),
            new PtMessage.Smethod("plain", new HostPort("::", 80), null),
            new PtMessage.SmethodError("obfs4", "no key"),
            new PtMessage.SmethodsDone(),
            new PtMessage.Log(PtLogSeverity.Warning, "odd \"text\"\n\u00e9 \\ ;=,"),
            new PtMessage.Status("obfs4", [Kv("ADDRESS", "1.2.3.4:5"), Kv("ERRSTR", "Connection refused"), Kv("EMPTY", ""), Kv("Q", "\"\\")]),
            new PtMessage.Status(null, [Kv("TYPE", "version"), Kv("IMPLEMENTATION", "guise"), Kv("VERSION", "0.1.0")]),
        ];
        var lines = text.ToString().Split('\n')[..^1];
        Assert.Equal(expected, lines.Select(PtMessage.Parse));
    }

    [Fact]
    public void Random_log_and_status_text_round_trips()
    {
        var random = new Random(7);
        char[] alphabet = ['a', 'Z', ' ', '"', '\\', '\n', '\r', '\t', '\0', '=', ';', ',', '\u00e9', '\u4e2d'];
        for (var n = 0; n < 300; n++)
        {
            var chars = new char[random.Next(0, 40)];
            for (var i = 0; i < chars.Length; i++)
                chars[i] = alphabet[random.Next(alphabet.Length)];
            var s = new string(chars);
            var text = new StringWriter();
            var o = new PtOutput(text);
            o.Log(PtLogSeverity.Info, s);
            o.Status(s, [Kv("V", s)]);
            var lines = text.ToString().Split('\n');
            Assert.Equal(new PtMessage.Log(PtLogSeverity.Info, s), PtMessage.Parse(lines[0]));
            Assert.Equal(new PtMessage.Status(s, [Kv("V", s)]), PtMessage.Parse(lines[1]));
        }
    }

    // Arti's tor-ptmgr keeps a fuzz target on this parser; this is its poor cousin: hostile
    // input may be rejected, but only as PeerProtocol.
    [Fact]
    public void Hostile_lines_fail_only_as_peer_protocol_errors()
    {
        var random = new Random(11);
        string[] pieces = ["LOG", "STATUS", "CMETHOD", "SMETHOD", "-ERROR", " ", "=", "\"", "\\", "x", "1.2.3.4:5", "[::1]:1",
            "ARGS:", ",", "\\3", "\\x", "SEVERITY=", "MESSAGE=", "socks5", "DONE", "\n", "\r", "\u00e9"];
        for (var n = 0; n < 3000; n++)
        {
            var line = string.Concat(Enumerable.Range(0, random.Next(1, 10)).Select(_ => pieces[random.Next(pieces.Length)]));
            try
            {
                PtMessage.Parse(line);
            }
            catch (PtException e) when (e.Kind == PtErrorKind.PeerProtocol)
            {
            }
        }
    }

    [Fact]
    public void Status_get_returns_the_first_value_of_a_key()
    {
        var status = Assert.IsType<PtMessage.Status>(PtMessage.Parse("STATUS TRANSPORT=obfs4 K=1 K=2"));
        Assert.Equal("obfs4", status.Transport);
        Assert.Equal("1", status.Get("K"));
        Assert.Null(status.Get("TRANSPORT"));
    }
}
