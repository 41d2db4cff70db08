namespace Guise.Primitives.Fte;

/// <summary>
/// A minimal, complete DFA over bytes. State 0 is the start; a dead (non-coaccessible) state is
/// kept as any other state (its counts are all zero, so ranking never walks into it).
/// </summary>
public sealed class Dfa
{
    /// <summary>Refuses patterns whose subset construction explodes (a DoS guard for user formats).</summary>
    public const int MaxStates = 20_000;

    private readonly int[] _next; // [state * 256 + byte]
    private readonly bool[] _accepting;

    private Dfa(int[] next, bool[] accepting)
    {
        _next = next;
        _accepting = accepting;
    }

    public int StateCount => _accepting.Length;

    public int Next(int state, byte symbol) => _next[state * 256 + symbol];

    public bool IsAccepting(int state) => _accepting[state];

    public bool Matches(ReadOnlySpan<byte> input)
    {
        var q = 0;
        foreach (var b in input)
            q = _next[q * 256 + b];
        return _accepting[q];
    }

    /// <summary>True when some prefix of <paramref name="input"/> (the empty one included) is in the language.</summary>
    public bool MatchesSomePrefixOf(ReadOnlySpan<byte> input)
    {
        var q = 0;
        if (_accepting[q])
            return true;
        foreach (var b in input)
        {
            q = _next[q * 256 + b];
            if (_accepting[q])
                return true;
        }
        return false;
    }

    /// <summary>Compiles a Marionette/Python-style regex (full match) to a minimal DFA.</summary>
    public static Dfa FromRegex(string pattern) => Minimize(Determinize(FteRegexParser.Parse(pattern)));

    private static Dfa Determinize(Nfa nfa)
    {
        var ids = new Dictionary<string, int>();
        var sets = new List<int[]>();
        var next = new List<int>();
        var accepting = new List<bool>();
        var work = new Queue<int>();

        int Intern(SortedSet<int> closure)
        {
            var arr = closure.ToArray();
            var key = string.Join(',', arr);
            if (ids.TryGetValue(key, out var id))
                return id;
            id = sets.Count;
            if (id >= MaxStates)
                throw new FteRegexException($"the regex needs more than {MaxStates} DFA states", 0);
            ids.Add(key, id);
            sets.Add(arr);
            accepting.Add(closure.Contains(nfa.Accept));
            for (var b = 0; b < 256; b++)
                next.Add(-1);
            work.Enqueue(id);
            return id;
        }

        SortedSet<int> Closure(IEnumerable<int> seeds)
        {
            var result = new SortedSet<int>();
            var stack = new Stack<int>(seeds);
            while (stack.Count > 0)
            {
                var s = stack.Pop();
                if (!result.Add(s))
                    continue;
                foreach (var e in nfa.Epsilon[s])
                    stack.Push(e);
            }
            return result;
        }

        Intern(Closure([nfa.Start]));
        var targets = new List<int>[256];
        while (work.Count > 0)
        {
            var d = work.Dequeue();
            for (var b = 0; b < 256; b++)
                targets[b] = targets[b] is null ? [] : [];
            foreach (var s in sets[d])
            {
                if (nfa.Edge[s] is not { } edge)
                    continue;
                for (var b = 0; b < 256; b++)
                {
                    if (edge.Set[b])
                        targets[b].Add(edge.Target);
                }
            }
            // Many bytes lead to the same NFA set: intern each distinct set once.
            var cache = new Dictionary<string, int>();
            for (var b = 0; b < 256; b++)
            {
                var key = string.Join(',', targets[b]);
                if (!cache.TryGetValue(key, out var to))
                {
                    to = Intern(Closure(targets[b]));
                    cache.Add(key, to);
                }
                next[d * 256 + b] = to;
            }
        }
        return new Dfa([.. next], [.. accepting]);
    }

    // Moore partition refinement: split classes by (own class, class of each successor).
    private static Dfa Minimize(Dfa dfa)
    {
        var n = dfa.StateCount;
        var cls = new int[n];
        for (var q = 0; q < n; q++)
            cls[q] = dfa._accepting[q] ? 1 : 0;
        var classCount = cls.Distinct().Count();
        while (true)
        {
            var sig = new Dictionary<string, int>();
            var newCls = new int[n];
            var buffer = new int[257];
            for (var q = 0; q < n; q++)
            {
                buffer[0] = cls[q];
                for (var b = 0; b < 256; b++)
                    buffer[b + 1] = cls[dfa._next[q * 256 + b]];
                var key = string.Join(',', buffer);
                if (!sig.TryGetValue(key, out var c))
                {
                    c = sig.Count;
                    sig.Add(key, c);
                }
                newCls[q] = c;
            }
            cls = newCls;
            if (sig.Count == classCount)
                break;
            classCount = sig.Count;
        }
        // Renumber so that the start state's class is 0.
        var map = new int[classCount];
        Array.Fill(map, -1);
        var order = 0;
        map[cls[0]] = order++;
        for (var q = 0; q < n; q++)
        {
            if (map[cls[q]] < 0)
                map[cls[q]] = order++;
        }
        var next = new int[classCount * 256];
        var accepting = new bool[classCount];
        for (var q = 0; q < n; q++)
        {
            var c = map[cls[q]];
            accepting[c] = dfa._accepting[q];
            for (var b = 0; b < 256; b++)
                next[c * 256 + b] = map[cls[dfa._next[q * 256 + b]]];
        }
        return new Dfa(next, accepting);
    }
}
