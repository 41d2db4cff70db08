using System.Text;

namespace Guise.Primitives.Fte;

/// <summary>A regex that the FTE subset does not understand, with the 0-based offset in the pattern.</summary>
public sealed class FteRegexException(string message, int offset) : FormatException(message)
{
    public int Offset { get; } = offset;
}

/// <summary>
/// Parses the regex dialect of Marionette formats (Python <c>re</c> syntax, byte alphabet) into a
/// Thompson NFA. Supported: literals, escapes (<c>\r \n \t \\ \. \d \w \s \C</c> …), <c>.</c>,
/// classes <c>[a-z]</c> / <c>[^…]</c>, groups <c>( )</c> and <c>(?: )</c>, <c>|</c>, <c>* + ?</c>,
/// <c>{n} {n,} {n,m}</c>. The whole string must match: <c>^</c> and <c>$</c> at the ends are
/// accepted and implied. Unbounded repeats are fine (the ranking is over a fixed length).
/// </summary>
internal sealed class FteRegexParser
{
    private const int MaxRepeat = 4096;
    private readonly string _p;
    private int _i;
    private readonly Nfa _nfa = new();

    private FteRegexParser(string pattern) => _p = pattern;

    public static Nfa Parse(string pattern)
    {
        var parser = new FteRegexParser(pattern);
        var body = pattern;
        var start = 0;
        if (body.StartsWith('^'))
            start = 1;
        parser._i = start;
        var frag = parser.ParseAlternation();
        if (parser._i < parser._p.Length && parser._p[parser._i] == '$' && parser._i == parser._p.Length - 1)
            parser._i++;
        if (parser._i != parser._p.Length)
            throw new FteRegexException($"unexpected '{parser._p[parser._i]}'", parser._i);
        var accept = parser._nfa.NewState();
        parser._nfa.Patch(frag, accept);
        parser._nfa.Start = frag.Start;
        parser._nfa.Accept = accept;
        return parser._nfa;
    }

    private bool AtEnd => _i >= _p.Length || (_p[_i] == '$' && _i == _p.Length - 1);

    private Frag ParseAlternation()
    {
        var left = ParseConcat();
        while (!AtEnd && _p[_i] == '|')
        {
            _i++;
            var right = ParseConcat();
            var s = _nfa.NewState();
            _nfa.AddEpsilon(s, left.Start);
            _nfa.AddEpsilon(s, right.Start);
            left = new Frag(s, [.. left.Outs, .. right.Outs]);
        }
        return left;
    }

    private Frag ParseConcat()
    {
        Frag? acc = null;
        while (!AtEnd && _p[_i] != '|' && _p[_i] != ')')
        {
            var atom = ParseRepeat();
            if (acc is null)
            {
                acc = atom;
            }
            else
            {
                _nfa.Patch(acc.Value, atom.Start);
                acc = new Frag(acc.Value.Start, atom.Outs);
            }
        }
        return acc ?? Empty();
    }

    private Frag Empty()
    {
        var s = _nfa.NewState();
        return new Frag(s, [s]);
    }

    private Frag ParseRepeat()
    {
        var atomStart = _i;
        var atom = ParseAtom();
        var atomEnd = _i;
        while (!AtEnd)
        {
            int min, max; // max -1 = unbounded
            var c = _p[_i];
            if (c == '*') { min = 0; max = -1; _i++; }
            else if (c == '+') { min = 1; max = -1; _i++; }
            else if (c == '?') { min = 0; max = 1; _i++; }
            else if (c == '{' && TryParseBraces(out min, out max)) { }
            else break;
            if (!AtEnd && _p[_i] == '?')
                _i++; // lazy quantifiers: same language
            atom = Repeat(atom, min, max, atomStart, atomEnd);
        }
        return atom;
    }

    private bool TryParseBraces(out int min, out int max)
    {
        min = max = 0;
        var close = _p.IndexOf('}', _i);
        if (close < 0)
            return false;
        var inner = _p[(_i + 1)..close];
        var parts = inner.Split(',');
        if (parts.Length is < 1 or > 2 || !int.TryParse(parts[0], out min))
            return false;
        if (parts.Length == 1)
            max = min;
        else if (parts[1].Length == 0)
            max = -1;
        else if (!int.TryParse(parts[1], out max))
            return false;
        if (min < 0 || min > MaxRepeat || max > MaxRepeat || (max >= 0 && max < min))
            throw new FteRegexException($"bad repeat {{{inner}}}", _i);
        _i = close + 1;
        return true;
    }

    // Repeats copy the atom's text by re-parsing it: every copy is a fresh NFA fragment.
    private Frag Repeat(Frag atom, int min, int max, int atomStart, int atomEnd)
    {
        Frag Copy()
        {
            var save = _i;
            _i = atomStart;
            var f = ParseAtom();
            if (_i != atomEnd)
                throw new FteRegexException("internal: repeat copy mismatch", atomStart);
            _i = save;
            return f;
        }

        var pieces = new List<Frag>();
        var first = true;
        Frag Next()
        {
            if (first)
            {
                first = false;
                return atom;
            }
            return Copy();
        }
        for (var k = 0; k < min; k++)
            pieces.Add(Next());
        if (max < 0)
        {
            var loop = Next();
            var s = _nfa.NewState();
            _nfa.AddEpsilon(s, loop.Start);
            _nfa.Patch(loop, s);
            pieces.Add(new Frag(s, [s]));
        }
        else
        {
            for (var k = min; k < max; k++)
            {
                var opt = Next();
                var s = _nfa.NewState();
                _nfa.AddEpsilon(s, opt.Start);
                pieces.Add(new Frag(s, [s, .. opt.Outs]));
            }
        }
        if (pieces.Count == 0)
            return Empty();
        var acc = pieces[0];
        for (var k = 1; k < pieces.Count; k++)
        {
            _nfa.Patch(acc, pieces[k].Start);
            acc = new Frag(acc.Start, pieces[k].Outs);
        }
        return acc;
    }

    private Frag ParseAtom()
    {
        var c = _p[_i];
        switch (c)
        {
            case '(':
                {
                    var open = _i;
                    _i++;
                    if (_i + 1 < _p.Length && _p[_i] == '?' && _p[_i + 1] == ':')
                        _i += 2;
                    else if (_i < _p.Length && _p[_i] == '?')
                        throw new FteRegexException("only (?: ) groups are supported", _i);
                    var inner = ParseAlternation();
                    if (_i >= _p.Length || _p[_i] != ')')
                        throw new FteRegexException("unclosed '('", open);
                    _i++;
                    return inner;
                }
            case '[':
                return Set(ParseClass());
            case '.':
                {
                    _i++;
                    var set = new bool[256];
                    Array.Fill(set, true);
                    set['\n'] = false;
                    return Set(set);
                }
            case '\\':
                return Set(ParseEscape(inClass: false));
            case '*' or '+' or '?' or '{' when c != '{' || TryLooksLikeRepeat():
                throw new FteRegexException($"nothing to repeat before '{c}'", _i);
            case ')':
                throw new FteRegexException("unbalanced ')'", _i);
            default:
                _i++;
                if (c > 0xFF)
                    throw new FteRegexException($"character U+{(int)c:X4} is outside the byte alphabet", _i - 1);
                var one = new bool[256];
                one[c] = true;
                return Set(one);
        }
    }

    private bool TryLooksLikeRepeat()
    {
        var save = _i;
        var ok = TryParseBraces(out _, out _);
        _i = save;
        return ok;
    }

    private Frag Set(bool[] set)
    {
        var s = _nfa.NewState();
        var t = _nfa.NewState();
        _nfa.AddSet(s, set, t);
        return new Frag(s, [t]);
    }

    private bool[] ParseClass()
    {
        var open = _i;
        _i++;
        var negate = false;
        if (_i < _p.Length && _p[_i] == '^')
        {
            negate = true;
            _i++;
        }
        var set = new bool[256];
        var firstChar = true;
        while (true)
        {
            if (_i >= _p.Length)
                throw new FteRegexException("unclosed '['", open);
            var c = _p[_i];
            if (c == ']' && !firstChar)
            {
                _i++;
                break;
            }
            firstChar = false;
            int lo;
            if (c == '\\')
            {
                var esc = ParseEscape(inClass: true);
                var single = SingleOf(esc);
                if (single < 0)
                {
                    Or(set, esc);
                    continue;
                }
                lo = single;
            }
            else
            {
                lo = c;
                _i++;
            }
            if (_i + 1 < _p.Length && _p[_i] == '-' && _p[_i + 1] != ']')
            {
                _i++;
                int hi;
                if (_p[_i] == '\\')
                {
                    var at = _i;
                    hi = SingleOf(ParseEscape(inClass: true));
                    if (hi < 0)
                        throw new FteRegexException("a class escape cannot end a range", at);
                }
                else
                {
                    hi = _p[_i++];
                }
                if (hi < lo || hi > 0xFF)
                    throw new FteRegexException("bad range in class", _i - 1);
                for (var x = lo; x <= hi; x++)
                    set[x] = true;
            }
            else
            {
                if (lo > 0xFF)
                    throw new FteRegexException("character outside the byte alphabet", _i - 1);
                set[lo] = true;
            }
        }
        if (negate)
        {
            for (var x = 0; x < 256; x++)
                set[x] = !set[x];
        }
        return set;
    }

    private static int SingleOf(bool[] set)
    {
        var found = -1;
        for (var x = 0; x < 256; x++)
        {
            if (!set[x])
                continue;
            if (found >= 0)
                return -1;
            found = x;
        }
        return found;
    }

    private static void Or(bool[] a, bool[] b)
    {
        for (var x = 0; x < 256; x++)
            a[x] |= b[x];
    }

    private bool[] ParseEscape(bool inClass)
    {
        var at = _i;
        _i++;
        if (_i >= _p.Length)
            throw new FteRegexException("pattern ends in a lone backslash", at);
        var c = _p[_i++];
        var set = new bool[256];
        switch (c)
        {
            case 'r': set['\r'] = true; break;
            case 'n': set['\n'] = true; break;
            case 't': set['\t'] = true; break;
            case 'f': set['\f'] = true; break;
            case 'v': set['\v'] = true; break;
            case '0': set[0] = true; break;
            case 'd': Range(set, '0', '9'); break;
            case 'D': Range(set, '0', '9'); Not(set); break;
            case 'w': Word(set); break;
            case 'W': Word(set); Not(set); break;
            case 's': foreach (var x in " \t\n\r\f\v") set[x] = true; break;
            case 'S': foreach (var x in " \t\n\r\f\v") set[x] = true; Not(set); break;
            case 'C': Array.Fill(set, true); break;
            case 'x':
                if (_i + 2 > _p.Length || !byte.TryParse(_p.AsSpan(_i, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
                    throw new FteRegexException("\\x needs two hex digits", at);
                _i += 2;
                set[b] = true;
                break;
            default:
                if (char.IsAsciiLetterOrDigit(c))
                    throw new FteRegexException($"unsupported escape '\\{c}'{(inClass ? " in a class" : "")}", at);
                if (c > 0xFF)
                    throw new FteRegexException("character outside the byte alphabet", at);
                set[c] = true;
                break;
        }
        return set;

        static void Range(bool[] s, char lo, char hi)
        {
            for (var x = lo; x <= hi; x++)
                s[x] = true;
        }
        static void Word(bool[] s)
        {
            Range(s, 'a', 'z');
            Range(s, 'A', 'Z');
            Range(s, '0', '9');
            s['_'] = true;
        }
        static void Not(bool[] s)
        {
            for (var x = 0; x < 256; x++)
                s[x] = !s[x];
        }
    }
}

/// <summary>A fragment under construction: a start state and dangling states to be patched.</summary>
internal readonly record struct Frag(int Start, int[] Outs);

/// <summary>
/// Thompson NFA. Each state has epsilon edges and at most one byte-set edge. A dangling state is
/// a state whose "next" is not yet known; patching adds an epsilon edge from it.
/// </summary>
internal sealed class Nfa
{
    public readonly List<List<int>> Epsilon = [];
    public readonly List<(bool[] Set, int Target)?> Edge = [];
    public int Start;
    public int Accept;

    public int Count => Epsilon.Count;

    public int NewState()
    {
        Epsilon.Add([]);
        Edge.Add(null);
        return Epsilon.Count - 1;
    }

    public void AddEpsilon(int from, int to) => Epsilon[from].Add(to);

    public void AddSet(int from, bool[] set, int to) => Edge[from] = (set, to);

    public void Patch(Frag f, int to)
    {
        foreach (var o in f.Outs)
            AddEpsilon(o, to);
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("NFA ").Append(Count).Append(" states");
        return sb.ToString();
    }
}
