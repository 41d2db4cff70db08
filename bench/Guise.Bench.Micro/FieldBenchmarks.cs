using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Primitives;

namespace Guise.Bench.Micro;

/// <summary>GF(2^255-19) arithmetic under Elligator2: one multiplication, one squaring, an inversion (the addition chain), a square-root ratio.</summary>
[MemoryDiagnoser]
public class FieldBenchmarks
{
    private Fe _a;
    private Fe _b;
    private Fe _r;

    // Results go to a field (Fe is internal, so it cannot be returned from a public benchmark).
    internal Fe Result => _r;

    [GlobalSetup]
    public void Setup()
    {
        var bytes = RandomNumberGenerator.GetBytes(32);
        _a = Fe.FromBytes(bytes);
        _b = Fe.FromBytes(RandomNumberGenerator.GetBytes(32));
    }

    [Benchmark(Description = "Fe.Mul")]
    public void Mul() => _r = Fe.Mul(_a, _b);

    [Benchmark(Description = "Fe.Square")]
    public void Square() => _r = Fe.Square(_a);

    [Benchmark(Description = "Fe.Invert")]
    public void Invert() => _r = Fe.Invert(_a);

    [Benchmark(Description = "Fe.SqrtRatio")]
    public void SqrtRatio() => _r = Fe.SqrtRatio(_a, _b, out _);
}
