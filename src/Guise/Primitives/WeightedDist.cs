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
/// </summary>
public sealed class WeightedDist
{
    private const int MaxValues = 100;

    private readonly Lock _lock = new();
    private readonly int _min;
    private readonly int _max;
    private readonly bool _biased;
    private int[] _values = [];
    private double[] _weights = [];
    private int[] _alias = [];
    private double[] _prob = [];

    public WeightedDist(ReadOnlySpan<byte> seed, int min, int max, bool biased = false)
    {
        if (max <= min)
            throw new ArgumentException($"min >= max ({min}, {max})");
        _min = min;
        _max = max;
        _biased = biased;
        Reset(seed);
    }

    public void Reset(ReadOnlySpan<byte> seed)
    {
        var rng = new GoRand(new HashDrbg(seed));

        var n = _max + 1 - _min;
        var values = rng.Perm(n);
        n = Math.Clamp(n, 1, MaxValues);
        n = rng.Intn(n) + 1;
        values = values[..n];

        var weights = new double[n];
        if (_biased)
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
        lock (_lock)
        {
            _values = values;
            _weights = weights;
            _alias = alias;
            _prob = prob;
        }
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

    /// <summary>Draws a value in [min, max] according to the table.</summary>
    public int Sample(IInt63Source? random = null)
    {
        var rng = new GoRand(random ?? CryptoInt63Source.Instance);
        lock (_lock)
        {
            var i = rng.Intn(_values.Length);
            var idx = rng.Float64() <= _prob[i] ? i : _alias[i];
            return _min + _values[idx];
        }
    }

    /// <summary>The table in obfs4's WeightedDist.String() format: "[ v: p v: p ]", weights over 0.01 only.</summary>
    public override string ToString()
    {
        lock (_lock)
        {
            var sb = new StringBuilder("[ ");
            for (var i = 0; i < _values.Length; i++)
            {
                if (_weights[i] > 0.01)
                    sb.Append(CultureInfo.InvariantCulture, $"{_values[i]}: {_weights[i]:F6} ");
            }
            return sb.Append(']').ToString();
        }
    }
}
