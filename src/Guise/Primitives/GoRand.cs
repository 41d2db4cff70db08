using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Guise.Primitives;

/// <summary>A source of uniform 63-bit integers, like Go's math/rand.Source.</summary>
public interface IInt63Source
{
    long Int63();
}

/// <summary>The operating system CSPRNG as a 63-bit source (obfs4's csrand).</summary>
public sealed class CryptoInt63Source : IInt63Source
{
    public static CryptoInt63Source Instance { get; } = new();

    // obfs4 draws at least twice per burst (a length sample is Intn + Float64), and a
    // RandomNumberGenerator call costs about 1.6 µs however few bytes it returns (OpenSSL's
    // per-call set-up): 3.5 % of the sender's CPU in bulk. So each thread draws 32 values at
    // once. Bytes handed out are wiped, so a later memory read cannot replay past lengths.
    private const int BufferLength = 256;

    [ThreadStatic]
    private static byte[]? t_buffer;

    [ThreadStatic]
    private static int t_used;

    public long Int63()
    {
        var buffer = t_buffer;
        var used = t_used;
        if (buffer is null || used == BufferLength)
        {
            buffer ??= t_buffer = new byte[BufferLength];
            RandomNumberGenerator.Fill(buffer);
            used = 0;
        }
        var draw = buffer.AsSpan(used, 8);
        var value = BinaryPrimitives.ReadUInt64LittleEndian(draw) & long.MaxValue;
        draw.Clear();
        t_used = used + 8;
        return (long)value;
    }
}

/// <summary>
/// The methods of Go's math/rand.Rand that obfs4 calls, over a caller-supplied source, with the
/// same draws per call (Go 1 compatibility algorithms: modulo rejection in Int31n/Int63n, not
/// Lemire). obfs4 only ever uses rand.New(HashDrbg) and rand.New(csrand), never Go's own
/// rngSource, so the seeded lagged-Fibonacci generator and its rngCooked table are not needed
/// to reproduce obfs4's distributions (the known-answer tests below are the proof).
/// A struct: it holds nothing but its source, and obfs4 samples a length per burst on the data
/// path, where an object per draw was the only allocation left.
/// </summary>
public readonly struct GoRand(IInt63Source source)
{
    public long Int63() => source.Int63();

    public int Int31() => (int)(Int63() >> 32);

    public long Int63n(long n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if ((n & (n - 1)) == 0)
            return Int63() & (n - 1);
        var max = (long)((1UL << 63) - 1 - ((1UL << 63) % (ulong)n));
        var v = Int63();
        while (v > max)
            v = Int63();
        return v % n;
    }

    public int Int31n(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if ((n & (n - 1)) == 0)
            return Int31() & (n - 1);
        var max = (int)((1U << 31) - 1 - ((1U << 31) % (uint)n));
        var v = Int31();
        while (v > max)
            v = Int31();
        return v % n;
    }

    public int Intn(int n) => Int31n(n);

    public double Float64()
    {
        while (true)
        {
            var f = Int63() / 9223372036854775808.0;
            if (f != 1.0)
                return f;
        }
    }

    /// <summary>Go's Perm, including its useless first swap, which still consumes a draw.</summary>
    public int[] Perm(int n)
    {
        var m = new int[n];
        for (var i = 0; i < n; i++)
        {
            var j = Intn(i + 1);
            m[i] = m[j];
            m[j] = i;
        }
        return m;
    }
}
