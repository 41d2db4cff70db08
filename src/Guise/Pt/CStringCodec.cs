using System.Text;

namespace Guise.Pt;

// Wire format: the "CString" (QuotedString) of control-spec §2, which pt-spec §3.3.4/§3.3.5
// allows for LOG and STATUS values:
//
//   QuotedString = DQUOTE *qcontent DQUOTE
//   escapes      = \n \r \t \" \\ \'      (named)
//                | \ooo                  (exactly three octal digits, first 0-3: one byte)
//                | \xHH                  (two hex digits: one byte; decoded, never produced)
//
// The escaped bytes are the UTF-8 encoding of the text, so a non-ASCII message survives the
// trip through Tor (which unescapes to bytes) while the line itself stays 7-bit clean, as
// <ArgChar> requires.

/// <summary>Encoder and decoder of control-spec CStrings.</summary>
internal static class CStringCodec
{
    /// <summary>Returns <paramref name="text"/> as a quoted CString; the result is printable ASCII.</summary>
    public static string Encode(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        sb.Append('"');
        AppendEscaped(sb, text);
        sb.Append('"');
        return sb.ToString();
    }

    /// <summary>
    /// Appends the CString escaping of <paramref name="text"/> without quotes. Also used to make
    /// untrusted text (env values, OS error messages) safe inside ENV-ERROR lines.
    /// </summary>
    public static void AppendEscaped(StringBuilder sb, string text)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); continue;
                case '\\': sb.Append("\\\\"); continue;
                case '\n': sb.Append("\\n"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\t': sb.Append("\\t"); continue;
            }
            if (c >= 0x20 && c < 0x7f)
            {
                sb.Append(c);
                continue;
            }
            // A lone surrogate cannot be UTF-8 encoded; Rune.ReplacementChar keeps the encoder total.
            Rune rune;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                rune = new Rune(c, text[i + 1]);
                i++;
            }
            else if (!Rune.TryCreate(c, out rune))
            {
                rune = Rune.ReplacementChar;
            }
            var n = rune.EncodeToUtf8(utf8);
            foreach (var b in utf8[..n])
                AppendOctal(sb, b);
        }
    }

    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        AppendEscaped(sb, text);
        return sb.ToString();
    }

    private static void AppendOctal(StringBuilder sb, byte b) =>
        sb.Append('\\').Append((char)('0' + (b >> 6))).Append((char)('0' + ((b >> 3) & 7))).Append((char)('0' + (b & 7)));

    /// <summary>
    /// Decodes the quoted string that starts at <paramref name="start"/> (which must be a
    /// <c>"</c>). On success <paramref name="end"/> is the index just after the closing quote.
    /// Returns false on a missing closing quote or an escape Tor would reject.
    /// </summary>
    public static bool TryDecode(string text, int start, out string value, out int end)
    {
        value = "";
        end = start;
        if (start >= text.Length || text[start] != '"')
            return false;
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        var i = start + 1;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"')
            {
                value = DecodeUtf8(bytes);
                end = i + 1;
                return true;
            }
            if (c != '\\')
            {
                if (!Rune.TryGetRuneAt(text, i, out var rune))
                    return false;
                var n = rune.EncodeToUtf8(utf8);
                for (var k = 0; k < n; k++)
                    bytes.Add(utf8[k]);
                i += rune.Utf16SequenceLength;
                continue;
            }
            if (i + 1 >= text.Length)
                return false;
            var e = text[i + 1];
            switch (e)
            {
                case 'n': bytes.Add((byte)'\n'); i += 2; continue;
                case 'r': bytes.Add((byte)'\r'); i += 2; continue;
                case 't': bytes.Add((byte)'\t'); i += 2; continue;
                case '"' or '\\' or '\'': bytes.Add((byte)e); i += 2; continue;
                case 'x' or 'X':
                    if (i + 3 >= text.Length || !char.IsAsciiHexDigit(text[i + 2]) || !char.IsAsciiHexDigit(text[i + 3]))
                        return false;
                    bytes.Add((byte)((HexValue(text[i + 2]) << 4) | HexValue(text[i + 3])));
                    i += 4;
                    continue;
                case >= '0' and <= '3':
                    if (i + 3 >= text.Length || !IsOctal(text[i + 2]) || !IsOctal(text[i + 3]))
                        return false;
                    bytes.Add((byte)(((e - '0') << 6) | ((text[i + 2] - '0') << 3) | (text[i + 3] - '0')));
                    i += 4;
                    continue;
                default:
                    return false;
            }
        }
        return false;
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static string DecodeUtf8(List<byte> bytes)
    {
        // Invalid UTF-8 from a foreign PT becomes U+FFFD rather than an exception: a log line
        // is still worth showing.
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }
}
