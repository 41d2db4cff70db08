using Guise.Primitives.Fte;

namespace Guise.Transports.Marionette;

/// <summary>
/// A compiled <c>regex_match_incoming("...")</c> guard: does the pattern occur in the bytes
/// received so far? Search semantics (Python <c>re.search</c>): without a leading <c>^</c> the
/// match may start anywhere; without a trailing <c>$</c> it may end anywhere; <c>^</c> and
/// <c>$</c> apply to the whole pattern. Same regex dialect as <c>fte.send</c> (see
/// <see cref="Dfa.FromRegex"/>), compiled to a DFA: matching is one pass, linear in the input,
/// with no backtracking to exploit and no System.Text.RegularExpressions in the binary.
/// </summary>
public sealed class IncomingGuard
{
    private readonly Dfa _dfa;
    private readonly bool _toEnd;

    private IncomingGuard(string pattern, Dfa dfa, bool toEnd)
    {
        Pattern = pattern;
        _dfa = dfa;
        _toEnd = toEnd;
    }

    public string Pattern { get; }

    /// <summary>Compiles <paramref name="pattern"/>; a bad one throws <see cref="FteRegexException"/> with the offset in <paramref name="pattern"/>.</summary>
    public static IncomingGuard Compile(string pattern)
    {
        var fromStart = pattern.StartsWith('^');
        var toEnd = EndsWithAnchor(pattern);
        var body = pattern[(fromStart ? 1 : 0)..(pattern.Length - (toEnd ? 1 : 0))];
        try
        {
            // Parsed alone first, so that an error's offset is where the user wrote it.
            FteRegexParser.Parse(body);
        }
        catch (FteRegexException e)
        {
            throw new FteRegexException(e.Message, e.Offset + (fromStart ? 1 : 0));
        }
        // \C is any byte: an unanchored start becomes "any prefix, then the pattern".
        var dfa = Dfa.FromRegex((fromStart ? "^(?:" : @"^\C*(?:") + body + ")" + (toEnd ? "$" : ""));
        return new IncomingGuard(pattern, dfa, toEnd);
    }

    /// <summary>True when the pattern occurs in <paramref name="incoming"/> (anchored as written).</summary>
    public bool IsMatch(ReadOnlySpan<byte> incoming) => _toEnd ? _dfa.Matches(incoming) : _dfa.MatchesSomePrefixOf(incoming);

    /// <summary>A '$' that ends the pattern and is not escaped (an even number of backslashes before it).</summary>
    private static bool EndsWithAnchor(string pattern)
    {
        if (!pattern.EndsWith('$'))
            return false;
        var slashes = 0;
        for (var i = pattern.Length - 2; i >= 0 && pattern[i] == '\\'; i--)
            slashes++;
        return slashes % 2 == 0;
    }
}
