using System.Numerics;

namespace Guise.Primitives.Fte;

/// <summary>
/// Ranks and unranks the strings of exactly <see cref="Length"/> bytes in a regular language
/// (Bellare–Ristenpart–Rogaway–Stegers, "Format-Transforming Encryption", and Marionette §4).
/// </summary>
/// <remarks>
/// <para>Counting table: <c>T[q][n]</c> = number of strings of length n that lead from state q to
/// acceptance; <c>T[q][0] = accept(q)</c>, <c>T[q][n] = Σ_b T[δ(q,b)][n-1]</c>.</para>
/// <para>Order: at each position the bytes leaving a state are grouped by target state (groups
/// ordered by first byte, bytes ascending inside a group). That order is a fixed total order on
/// the language, so rank and unrank are inverse bijections between the language and
/// <c>[0, Count)</c>; it is not plain lexicographic order, and nothing needs it to be.</para>
/// </remarks>
public sealed class FteRanker
{
    private readonly Dfa _dfa;
    private readonly BigInteger[][] _t; // [n][q]
    private readonly Group[][] _groups; // per state, only groups into co-accessible targets

    private readonly record struct Group(int Target, byte[] Symbols);

    public FteRanker(Dfa dfa, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _dfa = dfa;
        Length = length;
        var states = dfa.StateCount;
        _groups = new Group[states][];
        for (var q = 0; q < states; q++)
        {
            var byTarget = new Dictionary<int, List<byte>>();
            var order = new List<int>();
            for (var b = 0; b < 256; b++)
            {
                var t = dfa.Next(q, (byte)b);
                if (!byTarget.TryGetValue(t, out var list))
                {
                    byTarget[t] = list = [];
                    order.Add(t);
                }
                list.Add((byte)b);
            }
            _groups[q] = [.. order.Select(t => new Group(t, [.. byTarget[t]]))];
        }
        _t = new BigInteger[length + 1][];
        _t[0] = new BigInteger[states];
        for (var q = 0; q < states; q++)
            _t[0][q] = dfa.IsAccepting(q) ? BigInteger.One : BigInteger.Zero;
        for (var n = 1; n <= length; n++)
        {
            var row = new BigInteger[states];
            var prev = _t[n - 1];
            for (var q = 0; q < states; q++)
            {
                var sum = BigInteger.Zero;
                foreach (var g in _groups[q])
                {
                    if (!prev[g.Target].IsZero)
                        sum += prev[g.Target] * g.Symbols.Length;
                }
                row[q] = sum;
            }
            _t[n] = row;
        }
        Count = _t[length][0];
        // Drop groups into states that never accept again: they only cost time in unrank.
        for (var q = 0; q < states; q++)
            _groups[q] = [.. _groups[q].Where(g => Enumerable.Range(0, length + 1).Any(n => !_t[n][g.Target].IsZero))];
    }

    public static FteRanker FromRegex(string pattern, int length) => new(Dfa.FromRegex(pattern), length);

    public Dfa Dfa => _dfa;

    public int Length { get; }

    /// <summary>How many strings of <see cref="Length"/> bytes the language has.</summary>
    public BigInteger Count { get; }

    /// <summary>How many whole bytes an unranked integer can carry: the largest k with 256^k ≤ Count.</summary>
    public int CapacityBytes => Count.IsZero ? 0 : (int)((Count.GetBitLength() - 1) / 8);

    /// <summary>Writes the string of rank <paramref name="rank"/> (0 ≤ rank &lt; Count) into <paramref name="output"/>.</summary>
    public void Unrank(BigInteger rank, Span<byte> output)
    {
        if (rank.Sign < 0 || rank >= Count)
            throw new ArgumentOutOfRangeException(nameof(rank), "rank outside the language");
        if (output.Length != Length)
            throw new ArgumentException($"output must be {Length} bytes", nameof(output));
        var q = 0;
        for (var i = 0; i < Length; i++)
        {
            var left = Length - i - 1;
            var picked = false;
            foreach (var g in _groups[q])
            {
                var each = _t[left][g.Target];
                if (each.IsZero)
                    continue;
                var block = each * g.Symbols.Length;
                if (rank < block)
                {
                    var index = (int)BigInteger.DivRem(rank, each, out var rest);
                    output[i] = g.Symbols[index];
                    rank = rest;
                    q = g.Target;
                    picked = true;
                    break;
                }
                rank -= block;
            }
            if (!picked)
                throw new InvalidOperationException("unrank: counting table inconsistent");
        }
    }

    /// <summary>The rank of <paramref name="input"/>, or false if it is not in the language of length <see cref="Length"/>.</summary>
    public bool TryRank(ReadOnlySpan<byte> input, out BigInteger rank)
    {
        rank = BigInteger.Zero;
        if (input.Length != Length)
            return false;
        var q = 0;
        for (var i = 0; i < Length; i++)
        {
            var left = Length - i - 1;
            var b = input[i];
            var found = false;
            foreach (var g in _groups[q])
            {
                var each = _t[left][g.Target];
                var index = Array.IndexOf(g.Symbols, b);
                if (index >= 0)
                {
                    if (each.IsZero)
                        return false;
                    rank += each * index;
                    q = g.Target;
                    found = true;
                    break;
                }
                rank += each * g.Symbols.Length;
            }
            if (!found)
                return false;
        }
        return _dfa.IsAccepting(q);
    }
}
