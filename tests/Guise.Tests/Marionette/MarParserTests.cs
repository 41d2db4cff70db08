using Guise.Transports.Marionette;

namespace Guise.Tests.Marionette;

public class MarParserTests
{
    public static TheoryData<string> BuiltIns()
    {
        var data = new TheoryData<string>();
        foreach (var n in MarionetteFormat.BuiltInNames)
            data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void Every_built_in_format_parses_and_validates(string name)
    {
        var format = MarionetteFormat.Load(MarionetteFormat.BuiltInText(name), name + ".mar", name);
        Assert.Equal("tcp", format.Document.Transport);
        Assert.NotEmpty(format.Outgoing("start"));
    }

    [Fact]
    public void A_format_reads_transitions_actions_guards_and_error_transitions()
    {
        const string text = """
            # comment
            connection(tcp, 8080):
              start   s1   NULL    1.0
              s1      end  get     0.25   # trailing comment
              s1      end  get2    0.75
              s1      end  decoy   error
            action get:
              client fte.send("^GET /[a-z]+ HTTP/1\.1\r\n\r\n$", 160)
            action get2:
              client fte.send_async("^GET /[0-9]+ HTTP/1\.1\r\n\r\n$", 200)
              server fte.recv("^x*[a-z]+$", 128)
            action decoy:
              server io.puts("HTTP/1.1 404 Not Found\r\n\r\n") if regex_match_incoming("^GET")
            """;
        var doc = MarParser.Parse(text, "t.mar");
        Assert.Equal("8080", doc.Port);
        Assert.Equal(4, doc.Transitions.Count);
        Assert.True(doc.Transitions[3].IsError);
        Assert.Null(doc.Transitions[0].Action);
        Assert.Equal(0.25, doc.Transitions[1].Probability);
        var decoy = doc.Actions["decoy"].Lines[0];
        Assert.Equal("^GET", decoy.IncomingRegex);
        Assert.Equal(MarParty.Server, decoy.Party);
        Assert.Equal(@"^GET /[a-z]+ HTTP/1\.1\r\n\r\n$", doc.Actions["get"].Lines[0].Args[0].Value);
        Assert.Equal(160L, doc.Actions["get"].Lines[0].Args[1].Value);

        var format = MarionetteFormat.Load(text, "t.mar");
        // server fte.recv = a message the client sends
        Assert.Equal(MarParty.Client, format.Outgoing("s1")[1].Block.Messages[1].Sender);
    }

    [Fact]
    public void Model_sleep_takes_seconds_or_a_distribution_of_seconds()
    {
        const string text = """
            connection(tcp, 80):
              start  end  a  1.0
            action a:
              client model.sleep(0.25)
              server model.sleep("{'0.1': 0.5, '2': 0.5}")
            """;
        var messages = MarionetteFormat.Load(text, "s.mar").Outgoing("start")[0].Block.Messages.Cast<SleepMessage>().ToList();

        Assert.Equal(MarParty.Client, messages[0].Sender);
        Assert.Equal([(TimeSpan.FromSeconds(0.25), 1.0)], messages[0].Delays);
        Assert.Equal(MarParty.Server, messages[1].Sender);
        Assert.Equal(TimeSpan.FromSeconds(0.1), messages[1].Sample(0.49));
        Assert.Equal(TimeSpan.FromSeconds(2), messages[1].Sample(0.5));
    }

    [Theory]
    // Syntax
    [InlineData("action a:\n  client io.puts(\"x\")\n", 1, 1, "expected connection(...) before any action")]
    [InlineData("connection(udp, 80):\n  start end NULL 1.0\n", 1, 12, "unsupported connection type")]
    [InlineData("connection(tcp, 80)\n  start end NULL 1.0\n", 1, 20, "expected ':'")]
    [InlineData("connection(tcp, 80):\n  start end NULL\n", 2, 17, "expected a probability or 'error'")]
    [InlineData("connection(tcp, 80):\n  start end NULL 1.5\n", 2, 18, "not in [0, 1]")]
    [InlineData("connection(tcp, 80):\n  start end NULL 1.0 extra\n", 2, 22, "unexpected 'extra'")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"abc)\n", 4, 18, "unterminated string")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  robot io.puts(\"x\")\n", 4, 3, "expected client or server")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"x\" if\n", 4, 22, "expected ')' or ','")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"x\") if foo(\"y\")\n", 4, 26, "expected regex_match_incoming")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"x\")\naction a:\n", 5, 8, "defined twice")]
    [InlineData("connection(tcp, 80):\n  start end NULL 1.0\n  $ end NULL 1.0\n", 3, 3, "unexpected character '$'")]
    [InlineData("# only a comment\n", 1, 1, "no connection(...) block")]
    // Semantics
    [InlineData("connection(tcp, 80):\n  start end missing 1.0\n", 2, 3, "'missing', which is not defined")]
    [InlineData("connection(tcp, 80):\n  start end NULL 0.5\n", 2, 3, "sum to 0.5")]
    [InlineData("connection(tcp, 80):\n  start middle NULL 1.0\n", 2, 3, "'middle' has no outgoing transitions")]
    [InlineData("connection(tcp, 80):\n  s end NULL 1.0\n", 1, 1, "no transition leaves 'start'")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client fte.send(\"^[a-z\", 64)\n", 4, 21, "regex: unclosed '['")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client fte.send(\"^(ab$\", 64)\n", 4, 21, "regex: unclosed '('")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client fte.send(\"^a+$\", 64)\n", 4, 27, "too few strings")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client fte.send(\"^a+$\")\n", 4, 3, "takes 2 arguments")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client tg.send(\"gopher\")\n", 4, 18, "unknown grammar")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  server tg.send(\"http_get_request\")\n", 4, 3, "is sent by the client")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  server model.spawn(\"broken\", 1)\n", 4, 3, "only the client opens connections")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client model.spawn(\"x\", 1)\n", 4, 3, "same format only ('broken'), not 'x'")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client model.spawn(\"broken\", 9)\n", 4, 32, "number of instances in 1..8")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client model.sleep(\"{'0.1': 0.5, '0.2': 0.4}\")\n", 4, 22, "probabilities sum to 0.9")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client model.sleep(\"{'x': 1.0}\")\n", 4, 22, "is not 'SECONDS': PROBABILITY")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client model.sleep(600)\n", 4, 22, "seconds in 0..60")]
    [InlineData("connection(tcp, 80):\n  start end a 0.5\n  start end b 0.5\naction a:\n  client model.sleep(1)\naction b:\n  client tg.send(\"http_get_request\")\n", 2, 3, "cannot start with model.sleep")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client ftp.send(\"x\")\n", 4, 3, "unknown module 'ftp'")]
    [InlineData("connection(tcp, 80):\n  start end a 0.5\n  start end b 0.5\naction a:\n  client tg.send(\"http_get_request\")\naction b:\n  server tg.send(\"http_response\")\n", 3, 3, "same party")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"x\") if regex_match_incoming(\"^\")\n", 4, 3, "error transitions only")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\naction a:\n  client io.puts(\"\\q\")\n", 4, 18, "unknown escape")]
    [InlineData("connection(tcp, 80):\n  start end a 1.0\n  start end b error\naction a:\n  client io.puts(\"x\")\naction b:\n  server io.puts(\"x\") if regex_match_incoming(\"^GET [a-z\")\n", 7, 53, "regex_match_incoming: unclosed '['")]
    public void A_broken_format_is_reported_with_file_line_and_column(string text, int line, int column, string reason)
    {
        var e = Assert.Throws<MarFormatException>(() => MarionetteFormat.Load(text, "broken.mar"));
        Assert.Equal(new MarPosition("broken.mar", line, column), e.Position);
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"broken.mar:{line}:{column}: ", e.Message, StringComparison.Ordinal);
    }
}
