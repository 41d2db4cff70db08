using Guise.Pt;

namespace Guise.Tests.Pt;

// control-spec §2: QuotedString with C escapes; Tor's unescape_string accepts \n \r \t \" \\ \',
// \ooo (three octal digits) and \xHH.
public class CStringTests
{
    [Theory]
    [InlineData("", "\"\"")]
    [InlineData("plain", "\"plain\"")]
    [InlineData("a \"b\" \\c", "\"a \\\"b\\\" \\\\c\"")]
    [InlineData("\n\r\t", "\"\\n\\r\\t\"")]
    [InlineData("\0\u0001\u001f\u007f", "\"\\000\\001\\037\\177\"")]
    [InlineData("\u00e9", "\"\\303\\251\"")]
    [InlineData("\u20ac", "\"\\342\\202\\254\"")]
    [InlineData("\U0001F600", "\"\\360\\237\\230\\200\"")]
    [InlineData("'", "\"'\"")]
    public void CString_escapes_quote_backslash_controls_and_utf8_bytes(string text, string expected) =>
        Assert.Equal(expected, PtOutput.CString(text));

    // A lone surrogate has no UTF-8 form; the encoder must still return a valid line argument.
    [Fact]
    public void A_lone_surrogate_is_encoded_as_the_replacement_character() =>
        Assert.Equal("\"a\\357\\277\\275b\"", PtOutput.CString("a\ud800b"));

    [Theory]
    [InlineData("\"\"", "")]
    [InlineData("\"\\x41\\X42\"", "AB")]
    [InlineData("\"\\101\\'\"", "A'")]
    [InlineData("\"\\303\\251\"", "\u00e9")]
    [InlineData("\"raw \u00e9\"", "raw \u00e9")]
    public void Decoding_accepts_every_escape_tor_accepts(string quoted, string expected)
    {
        Assert.True(CStringCodec.TryDecode(quoted, 0, out var value, out var end));
        Assert.Equal(expected, value);
        Assert.Equal(quoted.Length, end);
    }

    [Theory]
    [InlineData("noquote")]
    [InlineData("\"unterminated")]
    [InlineData("\"ends in backslash\\")]
    [InlineData("\"\\q\"")]
    [InlineData("\"\\400\"")]
    [InlineData("\"\\12\"")]
    [InlineData("\"\\8xx\"")]
    [InlineData("\"\\xZZ\"")]
    [InlineData("\"\\x4\"")]
    public void Decoding_rejects_what_tor_rejects(string quoted) =>
        Assert.False(CStringCodec.TryDecode(quoted, 0, out _, out _));

    [Fact]
    public void Any_text_round_trips_and_encodes_to_printable_ascii()
    {
        var random = new Random(20260101);
        char[] alphabet = ['a', ' ', '"', '\\', '\n', '\r', '\t', '\0', '\u007f', '\u00e9', '\u20ac', '=', ';', ','];
        for (var n = 0; n < 500; n++)
        {
            var chars = new char[random.Next(0, 30)];
            for (var i = 0; i < chars.Length; i++)
                chars[i] = alphabet[random.Next(alphabet.Length)];
            var text = new string(chars) + (n % 7 == 0 ? "\U0001F600" : "");
            var encoded = PtOutput.CString(text);
            Assert.All(encoded, c => Assert.InRange(c, ' ', '~'));
            Assert.True(CStringCodec.TryDecode(encoded, 0, out var decoded, out var end));
            Assert.Equal(text, decoded);
            Assert.Equal(encoded.Length, end);
        }
    }
}
