using System.Net;
using System.Text;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Tests.Pt;

public class PtOutputTests
{
    private readonly StringWriter _text = new();

    private PtOutput Output() => new(_text);

    private static readonly IPEndPoint Local19999 = IPEndPoint.Parse("127.0.0.1:19999");

    // Exact lines; the examples are pt-spec's own (§3.3.1-§3.3.5, Appendix A/B).
    public static TheoryData<Action<PtOutput>, string> Lines => new()
    {
        { o => o.Version("1"), "VERSION 1\n" },
        { o => o.VersionError(), "VERSION-ERROR no-version\n" },
        { o => o.EnvError("No TOR_PT_AUTH_COOKIE_FILE when TOR_PT_EXTENDED_SERVER_PORT set"),
            "ENV-ERROR No TOR_PT_AUTH_COOKIE_FILE when TOR_PT_EXTENDED_SERVER_PORT set\n" },
        { o => o.ProxyDone(), "PROXY DONE\n" },
        { o => o.ProxyError("SOCKS 4 upstream proxies unsupported."), "PROXY-ERROR SOCKS 4 upstream proxies unsupported.\n" },
        { o => o.Cmethod("trebuchet", "socks5", Local19999), "CMETHOD trebuchet socks5 127.0.0.1:19999\n" },
        { o => o.Cmethod("obfs4", "socks4", IPEndPoint.Parse("[::1]:1080")), "CMETHOD obfs4 socks4 [::1]:1080\n" },
        { o => o.CmethodError("trebuchet", "no rocks available"), "CMETHOD-ERROR trebuchet no rocks available\n" },
        { o => o.CmethodsDone(), "CMETHODS DONE\n" },
        { o => o.Smethod("trebuchet", IPEndPoint.Parse("198.51.100.1:19999"), null), "SMETHOD trebuchet 198.51.100.1:19999\n" },
        { o => o.Smethod("trebuchet", IPEndPoint.Parse("198.51.100.1:19999"), new PtArgs()), "SMETHOD trebuchet 198.51.100.1:19999\n" },
        { o => o.Smethod("rot_by_N", IPEndPoint.Parse("198.51.100.1:2323"), new PtArgs().Add("N", "13")),
            "SMETHOD rot_by_N 198.51.100.1:2323 ARGS:N=13\n" },
        // "Equal signs and commas MUST be escaped with a backslash."
        { o => o.Smethod("obfs4", IPEndPoint.Parse("198.51.100.1:43734"), new PtArgs().Add("cert", "a=b,c").Add("iat-mode", "0")),
            "SMETHOD obfs4 198.51.100.1:43734 ARGS:cert=a\\=b\\,c,iat-mode=0\n" },
        { o => o.SmethodError("trebuchet", "no cows available"), "SMETHOD-ERROR trebuchet no cows available\n" },
        { o => o.SmethodsDone(), "SMETHODS DONE\n" },
        { o => o.Log(PtLogSeverity.Debug, "Connected to bridge A"), "LOG SEVERITY=debug MESSAGE=\"Connected to bridge A\"\n" },
        { o => o.Status("obfs4", [new("ADDRESS", "198.51.100.123:1234"), new("CONNECT", "Success")]),
            "STATUS TRANSPORT=obfs4 ADDRESS=198.51.100.123:1234 CONNECT=Success\n" },
        { o => o.Status("obfs4", [new("ADDRESS", "198.51.100.222:2222"), new("CONNECT", "Failed"), new("ERRSTR", "Connection refused")]),
            "STATUS TRANSPORT=obfs4 ADDRESS=198.51.100.222:2222 CONNECT=Failed ERRSTR=\"Connection refused\"\n" },
        { o => o.Status("trebuchet", [new("PERCENT", "42")]), "STATUS TRANSPORT=trebuchet PERCENT=42\n" },
        { o => o.Status(null, [new("TYPE", "probe"), new("EMPTY", ""), new("Q", "say \"hi\"")]),
            "STATUS TYPE=probe EMPTY=\"\" Q=\"say \\\"hi\\\"\"\n" },
        { o => o.Status("my transport", [new("K", "v")]), "STATUS TRANSPORT=\"my transport\" K=v\n" },
        // lyrebird: STATUS TYPE=version IMPLEMENTATION="lyrebird" VERSION="devel"
        { o => o.ImplementationVersion("guise", "0.1.0"), "STATUS TYPE=version IMPLEMENTATION=\"guise\" VERSION=\"0.1.0\"\n" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Each_line_type_is_formatted_exactly(Action<PtOutput> write, string expected)
    {
        write(Output());
        Assert.Equal(expected, _text.ToString());
    }

    // "The accepted values for <Severity> are: error, warning, notice, info, debug"
    [Theory]
    [InlineData(PtLogSeverity.Error, "error")]
    [InlineData(PtLogSeverity.Warning, "warning")]
    [InlineData(PtLogSeverity.Notice, "notice")]
    [InlineData(PtLogSeverity.Info, "info")]
    [InlineData(PtLogSeverity.Debug, "debug")]
    public void Log_severities_are_the_spec_words(PtLogSeverity severity, string word)
    {
        Output().Log(severity, "m");
        Assert.Equal($"LOG SEVERITY={word} MESSAGE=\"m\"\n", _text.ToString());
    }

    // The message "can be a String or CString (see section 2 in control-spec.txt)": whatever a
    // transport logs, the line stays one line.
    [Fact]
    public void Log_escapes_any_text_instead_of_throwing()
    {
        Output().Log(PtLogSeverity.Notice, "a\nb\"c\\d\0\u00e9\t\r");
        Assert.Equal("LOG SEVERITY=notice MESSAGE=\"a\\nb\\\"c\\\\d\\000\\303\\251\\t\\r\"\n", _text.ToString());
    }

    [Fact]
    public void Log_does_not_throw_when_the_parent_has_gone()
    {
        var output = new PtOutput(new FailingWriter());
        output.Log(PtLogSeverity.Error, "still alive");
        Assert.Throws<IOException>(output.CmethodsDone);
    }

    // <KeywordChar> ::= <any US-ASCII alphanumeric, dash, and underscore>;
    // <ArgChar> ::= <any US-ASCII character but NUL or NL>; PT names are [a-zA-Z_][a-zA-Z0-9_]*.
    public static TheoryData<Action<PtOutput>> ForbiddenLines => new()
    {
        o => o.EnvError("two\nlines"),
        o => o.EnvError("carriage\rreturn"),
        o => o.EnvError("nul\0byte"),
        o => o.EnvError("caf\u00e9"),
        o => o.ProxyError("tab\there"),
        o => o.Version("1 2"),
        o => o.Version(""),
        o => o.Cmethod("two words", "socks5", Local19999),
        o => o.Cmethod("1abc", "socks5", Local19999),
        o => o.Cmethod("", "socks5", Local19999),
        o => o.Cmethod("obfs\n4", "socks5", Local19999),
        o => o.Cmethod("obfs4", "socks4a", Local19999),
        o => o.Cmethod("obfs4", "http", Local19999),
        o => o.CmethodError("ob-fs4", "x"),
        o => o.SmethodError("obfs4", "x\ny"),
        o => o.Smethod("obfs4", Local19999, new PtArgs().Add("k", "a b")),
        o => o.Smethod("obfs4", Local19999, new PtArgs().Add("k", "\u00e9")),
        o => o.Status("obfs4", []),
        o => o.Status(null, []),
        o => o.Status("obfs4", [new("A B", "v")]),
        o => o.Status("obfs4", [new("A=B", "v")]),
        o => o.Status("obfs4", [new("", "v")]),
        o => o.Line("CMETHOD:"),
        o => o.Line("TWO WORDS"),
        o => o.Line(""),
        o => o.Line("X", "ok", "not\nok"),
    };

    [Theory]
    [MemberData(nameof(ForbiddenLines))]
    public void A_forbidden_character_throws_and_writes_nothing(Action<PtOutput> write)
    {
        var output = Output();
        output.Version("1");
        Assert.Throws<ArgumentException>(() => write(output));
        Assert.Equal("VERSION 1\n", _text.ToString());
    }

    // goptlib's syncWriter: tor must see each line as soon as it is decided, never half a line.
    [Fact]
    public void Every_line_is_flushed_whole()
    {
        var writer = new FlushRecordingWriter();
        var output = new PtOutput(writer);
        output.Version("1");
        output.Cmethod("obfs4", "socks5", Local19999);
        output.CmethodsDone();
        Assert.Equal(["VERSION 1\n", "VERSION 1\nCMETHOD obfs4 socks5 127.0.0.1:19999\n",
            "VERSION 1\nCMETHOD obfs4 socks5 127.0.0.1:19999\nCMETHODS DONE\n"], writer.SnapshotsAtFlush);
    }

    // Transports log from many connections at once; a torn line would be a protocol error.
    [Fact]
    public void Concurrent_writers_never_interleave_within_a_line()
    {
        var output = Output();
        const int Threads = 8, PerThread = 300;
        var message = new string('x', 200);
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                if (i % 2 == 0)
                    output.Log(PtLogSeverity.Info, $"{t}:{i}:{message}");
                else
                    output.Status("obfs4", [new("T", t.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("M", message)]);
            }
        });
        var lines = _text.ToString().Split('\n');
        Assert.Equal("", lines[^1]);
        Assert.Equal(Threads * PerThread, lines.Length - 1);
        foreach (var line in lines[..^1])
            Assert.IsNotType<PtMessage.Unknown>(PtMessage.Parse(line));
    }

    [Fact]
    public void Sanitize_turns_any_text_into_a_valid_argument()
    {
        var safe = PtOutput.Sanitize("bad\nline \u00e9\0");
        Output().EnvError(safe);
        Assert.Equal("ENV-ERROR bad\\nline \\303\\251\\000\n", _text.ToString());
    }

    [Fact]
    public void Sanitize_leaves_quotes_and_backslashes_in_free_text_alone()
    {
        Assert.Equal("duplicate transport \"plain\" in C:\\x", PtOutput.Sanitize("duplicate transport \"plain\" in C:\\x"));
    }

    private sealed class FailingWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.ASCII;
        public override void Write(char value) => throw new IOException("broken pipe");
        public override void Write(string? value) => throw new IOException("broken pipe");
    }

    private sealed class FlushRecordingWriter : StringWriter
    {
        public List<string> SnapshotsAtFlush { get; } = [];
        public override void Flush() => SnapshotsAtFlush.Add(ToString());
    }
}
