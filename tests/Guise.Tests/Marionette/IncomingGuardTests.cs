using System.Text;
using Guise.Primitives.Fte;
using Guise.Transports.Marionette;

namespace Guise.Tests.Marionette;

/// <summary><c>regex_match_incoming</c> guards: Python <c>re.search</c> semantics over the received bytes, on the FTE DFA.</summary>
public class IncomingGuardTests
{
    private static bool Matches(string pattern, string incoming) => IncomingGuard.Compile(pattern).IsMatch(Encoding.Latin1.GetBytes(incoming));

    [Theory]
    [InlineData("^(GET|POST|HEAD|PUT|OPTIONS) ", "GET / HTTP/1.1\r\n\r\n", true)]
    [InlineData("^(GET|POST|HEAD|PUT|OPTIONS) ", "POST /x HTTP/1.1\r\n", true)]
    [InlineData("^(GET|POST|HEAD|PUT|OPTIONS) ", "GETX / HTTP/1.1\r\n", false)]
    [InlineData("^(GET|POST|HEAD|PUT|OPTIONS) ", "xGET / HTTP/1.1\r\n", false)]
    [InlineData("^(GET|POST|HEAD|PUT|OPTIONS) ", "GET", false)]
    public void A_leading_caret_anchors_the_match_at_the_first_byte(string pattern, string incoming, bool expected) =>
        Assert.Equal(expected, Matches(pattern, incoming));

    [Theory]
    [InlineData("HTTP/1\\.[01]", "GET / HTTP/1.1\r\n", true)]
    [InlineData("HTTP/1\\.[01]", "GET / HTTP/2\r\n", false)]
    [InlineData("[0-9]{3}", "abc 404 def", true)]
    [InlineData("[0-9]{3}", "abc 40 def", false)]
    public void Without_a_caret_the_pattern_may_occur_anywhere(string pattern, string incoming, bool expected) =>
        Assert.Equal(expected, Matches(pattern, incoming));

    [Theory]
    [InlineData("\\r\\n\\r\\n$", "GET / HTTP/1.1\r\n\r\n", true)]
    [InlineData("\\r\\n\\r\\n$", "GET / HTTP/1.1\r\n\r\nmore", false)]
    [InlineData("^NICK [a-z]+\\r\\n$", "NICK probe\r\n", true)]
    [InlineData("^NICK [a-z]+\\r\\n$", "NICK probe\r\nUSER x\r\n", false)]
    [InlineData("cost \\$", "cost $5", true)]
    public void A_trailing_dollar_anchors_the_match_at_the_last_byte_received_and_an_escaped_one_is_a_literal(string pattern, string incoming, bool expected) =>
        Assert.Equal(expected, Matches(pattern, incoming));

    [Theory]
    [InlineData("^")]
    [InlineData("$")]
    [InlineData("")]
    public void An_empty_pattern_matches_everything_including_nothing(string pattern)
    {
        Assert.True(Matches(pattern, ""));
        Assert.True(Matches(pattern, "\u0016\u0003\u0001 anything"));
    }

    [Fact]
    public void Every_byte_value_can_be_searched_past()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).Concat("END"u8.ToArray()).ToArray();
        Assert.True(IncomingGuard.Compile("END$").IsMatch(bytes));
        Assert.False(IncomingGuard.Compile("^END").IsMatch(bytes));
    }

    [Theory]
    [InlineData("^[a-z", 1)]
    [InlineData("GET (x", 4)]
    [InlineData("^a)b", 2)]
    public void A_bad_pattern_reports_the_offset_in_the_pattern_as_written(string pattern, int offset)
    {
        var e = Assert.Throws<FteRegexException>(() => IncomingGuard.Compile(pattern));
        Assert.Equal(offset, e.Offset);
    }
}
