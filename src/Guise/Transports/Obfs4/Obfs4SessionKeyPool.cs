using System.Collections.Concurrent;

namespace Guise.Transports.Obfs4;

/// <summary>
/// A small stock of ready obfs4 session keys (X25519 keypairs with an Elligator2
/// representative), so that neither the client's Prepare nor the server's accept pays the
/// rejection sampling (~2 tries, each a scalar multiplication, an inversion and a square root)
/// on the connection's critical path.
/// <list type="bullet">
/// <item>Single use: a key leaves the pool through <see cref="ConcurrentQueue{T}.TryDequeue"/>,
/// which hands each item to exactly one caller, and is never put back.</item>
/// <item>Bounded: at most <see cref="Capacity"/> keys wait (a few hundred bytes each).</item>
/// <item>Refilled off the critical path: a take schedules one background worker (at most one runs
/// at a time), which makes one key per thread-pool work item, so other work interleaves.</item>
/// <item>Lazy: nothing is generated until the first take (start-up stays cheap); an empty pool
/// falls back to generating inline, which is what obfs4proxy always does.</item>
/// </list>
/// Keys come from the same generator as before (fresh OS randomness per key); only the moment
/// they are made changes, which the wire cannot observe.
/// </summary>
internal sealed class Obfs4SessionKeyPool
{
    public const int DefaultCapacity = 16;

    private readonly ConcurrentQueue<Obfs4SessionKey> _keys = new();
    private readonly Func<Obfs4SessionKey> _generate;
    private int _count;
    private int _refilling;

    public Obfs4SessionKeyPool(int capacity = DefaultCapacity, Func<Obfs4SessionKey>? generate = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
        _generate = generate ?? (() => Obfs4SessionKey.Generate());
    }

    public int Capacity { get; }

    /// <summary>Keys ready now (for tests and diagnostics).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A key no other caller has had or will get; generated inline if none is ready.</summary>
    public Obfs4SessionKey Take()
    {
        Obfs4SessionKey? key = null;
        if (_keys.TryDequeue(out key))
            Interlocked.Decrement(ref _count);
        ScheduleRefill();
        return key ?? _generate();
    }

    /// <summary>Starts filling the pool in the background (e.g. when the first bridge is configured).</summary>
    public void ScheduleRefill()
    {
        if (Capacity == 0 || Volatile.Read(ref _count) >= Capacity)
            return;
        if (Interlocked.CompareExchange(ref _refilling, 1, 0) != 0)
            return;
        ThreadPool.UnsafeQueueUserWorkItem(static pool => pool.RefillOne(), this, preferLocal: false);
    }

    private void RefillOne()
    {
        try
        {
            if (Volatile.Read(ref _count) < Capacity)
            {
                _keys.Enqueue(_generate());
                Interlocked.Increment(ref _count);
            }
        }
        catch (Exception)
        {
            // A failed generation (it cannot fail short of a broken libsodium) leaves the pool
            // short; Take then generates inline and reports the error to its caller.
            Volatile.Write(ref _refilling, 0);
            return;
        }
        if (Volatile.Read(ref _count) < Capacity)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static pool => pool.RefillOne(), this, preferLocal: false);
            return;
        }
        Volatile.Write(ref _refilling, 0);
        // A take that raced with the flag reset would have seen "refilling" and returned.
        if (Volatile.Read(ref _count) < Capacity)
            ScheduleRefill();
    }
}
