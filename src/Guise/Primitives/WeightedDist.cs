using System.Globalization;
using System.Text;

namespace Guise.Primitives;

/// <summary>
/// obfs4's protocol-polymorphism distribution (common/probdist): a seed picks up to 100 values
/// from [min, max] and a weight for each; samples follow those weights (Vose's alias method).
/// Built with Go's math/rand over <see cref="HashDrbg"/> so that a seed yields exactly the
/// table obfs4proxy builds — the server sends its seed, so both ends must agree.
/// Sampling uses the CSPRNG, as obfs4 does. Thread-safe: the reader may reset it while the
/// writer samples.
/// <para>
/// Building a table (a permutation of up to 1449 values over SipHash) costs about as much as an
/// X25519 multiplication, and every obfs4 client connection would build two: one from a random
/// seed that the bridge's seed frame replaces before a byte is sent, then the bridge's — the
/// same seed on every connection to that bridge. So a table is built on the first sample after
/// a reset (the random one never is), and tables are immutable and shared through a small cache
/// keyed by seed and range, which a deterministic build cannot make observable.
/// </para>
/// </summary>
public sealed class WeightedDist
{
    private const int MaxValues = 100;

    private readonly Lock _lock = new();
    private readonly int _min;
    private readonly int _max;
    private readonly bool _biased;
    private byte[] _seed;
    private Table? _table;

    public WeightedDist(ReadOnlySpan<byte> seed, int min, int max, bool biased = false)
    {
        if (max <= min)
            throw new ArgumentException($"min >= max ({min}, {max})");
        _min = min;
        _max = max;
        _biased = biased;
        _seed = seed.ToArray();
    }

    /// <summary>Replaces the seed; the table for it is built (or found) on the next sample.</summary>
    public void Reset(ReadOnlySpan<byte> seed)
    {
        var copy = seed.ToArray();
        lock (_lock)
        {
            _seed = copy;
            _table = null;
        }
    }

    // Callers hold _lock.
    private Table CurrentTable() => _table ??= TableCache.GetOrBuild(_seed, _min, _max, _biased);

    private sealed record Table(int[] Values, double[] Weights, int[] Alias, double[] Prob);

    /// <summary>The last few tables built, by seed and range (a bridge's clients all share one).</summary>
    private static class TableCache
    {
        private const int Capacity = 8;
        private static readonly Lock Gate = new();
        private static readonly (byte[] Seed, int Min, int Max, bool Biased, Table Table)?[] Entries = new (byte[], int, int, bool, Table)?[Capacity];
        private static int _next;

        public static Table GetOrBuild(byte[] seed, int min, int max, bool biased)
        {
            lock (Gate)
            {
                foreach (var e in Entries)
                {
                    if (e is { } hit && hit.Min == min && hit.Max == max && hit.Biased == biased && hit.Seed.AsSpan().SequenceEqual(seed))
                        return hit.Table;
                }
            }
            var table = Build(seed, min, max, biased);
            lock (Gate)
            {
                Entries[_next] = (seed, min, max, biased, table);
                _next = (_next + 1) % Capacity;
            }
            return table;
        }
    }

    private static Table Build(ReadOnlySpan<byte> seed, int min, int max, bool biased)
    {
        var rng = new GoRand(new HashDrbg(seed));

        var n = max + 1 - min;
        var values = rng.Perm(n);
        n = Math.Clamp(n, 1, MaxValues);
        n = rng.Intn(n) + 1;
        values = values[..n];

        var weights = new double[n];
        if (biased)
        {
            var culm = 0.0;
            for (var i = 0; i < n; i++)
            {
                var p = (1.0 - culm) * rng.Float64();
                weights[i] = p;
                culm += p;
            }
        }
        else
        {
            for (var i = 0; i < n; i++)
                weights[i] = rng.Float64();
        }

        var (alias, prob) = BuildTables(weights);
        return new Table(values, weights, alias, prob);
    }

    // Vose's alias method with FIFO work lists, in obfs4's order (it decides which column gets
    // which alias, so keep it identical).
    private static (int[] Alias, double[] Prob) BuildTables(double[] weights)
    {
        var n = weights.Length;
        var sum = 0.0;
        foreach (var w in weights)
            sum += w;
        var alias = new int[n];
        var prob = new double[n];
        var scaled = new double[n];
        var small = new Queue<int>();
        var large = new Queue<int>();
        for (var i = 0; i < n; i++)
        {
            scaled[i] = weights[i] * n / sum;
            (scaled[i] < 1.0 ? small : large).Enqueue(i);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            var l = small.Dequeue();
            var g = large.Dequeue();
            prob[l] = scaled[l];
            alias[l] = g;
            scaled[g] = (scaled[g] + scaled[l]) - 1.0;
            (scaled[g] < 1.0 ? small : large).Enqueue(g);
        }
        while (large.Count > 0)
            prob[large.Dequeue()] = 1.0;
        while (small.Count > 0)
            prob[small.Dequeue()] = 1.0;
        return (alias, prob);
    }

    /// <summary>
    /// Whether the table a seed builds can ever draw <paramref name="value"/> (it is one of the
    /// table's values, with a weight above zero). Builds the table without caching it.
    /// </summary>
    public static bool CanDraw(ReadOnlySpan<byte> seed, int min, int max, int value, bool biased = false)
    {
        var t = Build(seed, min, max, biased);
        var i = Array.IndexOf(t.Values, value - min);
        return i >= 0 && t.Weights[i] > 0;
    }

    /// <summary>Draws a value in [min, max] according to the table.</summary>
    public int Sample(IInt63Source? random = null)
    {
        var rng = new GoRand(random ?? CryptoInt63Source.Instance);
        lock (_lock)
        {
            var t = CurrentTable();
            var i = rng.Intn(t.Values.Length);
            var idx = rng.Float64() <= t.Prob[i] ? i : t.Alias[i];
            return _min + t.Values[idx];
        }
    }

    /// <summary>The table in obfs4's WeightedDist.String() format: "[ v: p v: p ]", weights over 0.01 only.</summary>
    public override string ToString()
    {
        lock (_lock)
        {
            var t = CurrentTable();
            var sb = new StringBuilder("[ ");
            for (var i = 0; i < t.Values.Length; i++)
            {
                if (t.Weights[i] > 0.01)
                    sb.Append(CultureInfo.InvariantCulture, $"{t.Values[i]}: {t.Weights[i]:F6} ");
            }
            return sb.Append(']').ToString();
        }
    }
}
