using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Guise.Transports.Obfs4;

/// <summary>
/// A small stock of ready obfs4 session keys (X25519 keypairs with an Elligator2
/// representative), so that neither the client's Prepare nor the server's accept pays the
/// rejection sampling (~2 tries, each a base multiplication and two square roots, ~0.1 ms) on
/// the connection's critical path.
/// <list type="bullet">
/// <item>Single use: a key leaves the pool through <see cref="ConcurrentQueue{T}.TryDequeue"/>,
/// which hands each item to exactly one caller, and is never put back.</item>
/// <item>Bounded: at most <see cref="Capacity"/> keys wait (a few hundred bytes each).</item>
/// <item>Refilled off the critical path, in batches: when a take leaves half the capacity or
/// less, the pool asks <see cref="KeyMaker"/>, one dedicated thread for all pools at idle CPU
/// priority, to fill it up again. (Thread-pool work items cost a worker wake-up per key, plus
/// a second worker the pool wakes "in case", and competed with the tunnels for the CPU.)</item>
/// <item>Lazy: nothing is generated until the first take (start-up stays cheap); an empty pool
/// falls back to generating inline, which is what obfs4proxy always does, so a machine too
/// busy to ever be idle still gets its keys.</item>
/// </list>
/// Keys come from the same generator as before (fresh OS randomness per key); only the moment
/// they are made changes, which the wire cannot observe.
/// </summary>
internal sealed partial class Obfs4SessionKeyPool
{
    public const int DefaultCapacity = 16;

    private readonly ConcurrentQueue<Obfs4SessionKey> _keys = new();
    private readonly Func<Obfs4SessionKey> _generate;
    private int _count;
    private int _refillPending;

    public Obfs4SessionKeyPool(int capacity = DefaultCapacity, Func<Obfs4SessionKey>? generate = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
        _generate = generate ?? (() => Obfs4SessionKey.Generate());
    }

    public int Capacity { get; }

    /// <summary>Keys ready now (for tests and diagnostics).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>True while a refill is asked for or running (for tests).</summary>
    internal bool RefillPending => Volatile.Read(ref _refillPending) != 0;

    /// <summary>A key no other caller has had or will get; generated inline if none is ready.</summary>
    public Obfs4SessionKey Take()
    {
        Obfs4SessionKey? key = null;
        if (_keys.TryDequeue(out key))
            Interlocked.Decrement(ref _count);
        if (Volatile.Read(ref _count) <= Capacity / 2)
            ScheduleRefill();
        return key ?? _generate();
    }

    /// <summary>Starts filling the pool in the background (e.g. when the first bridge is configured).</summary>
    public void ScheduleRefill()
    {
        if (Capacity == 0 || Volatile.Read(ref _count) >= Capacity)
            return;
        if (Interlocked.CompareExchange(ref _refillPending, 1, 0) != 0)
            return;
        try
        {
            KeyMaker.Request(this);
        }
        catch (Exception)
        {
            // No thread for the key maker (out of threads or memory): keys are made inline, as
            // obfs4proxy does, and a later take tries again.
            Volatile.Write(ref _refillPending, 0);
        }
    }

    /// <summary>Runs on the key maker's thread: tops the pool up to its capacity.</summary>
    private void FillUp()
    {
        try
        {
            while (Volatile.Read(ref _count) < Capacity)
            {
                _keys.Enqueue(_generate());
                Interlocked.Increment(ref _count);
            }
        }
        catch (Exception)
        {
            // A failed generation (it cannot fail short of a broken libsodium) leaves the pool
            // short until the next take asks again; Take generates inline and reports the error.
            Volatile.Write(ref _refillPending, 0);
            return;
        }
        Volatile.Write(ref _refillPending, 0);
        // A take that ran between the last check and the flag reset saw "pending" and left.
        if (Volatile.Read(ref _count) <= Capacity / 2)
            ScheduleRefill();
    }

    /// <summary>
    /// The one thread that makes session keys ahead of time, for every pool in the process.
    /// On Linux (and Android) it runs under SCHED_IDLE: it gets a core only when no tunnel
    /// wants it, so making keys ahead never delays a handshake or a relay.
    /// </summary>
    private static partial class KeyMaker
    {
        private static readonly ConcurrentQueue<Obfs4SessionKeyPool> Waiting = new();
        // Not SemaphoreSlim: its Wait spins (sched_yield) before sleeping, thousands of times a
        // second on a busy bridge; an event just sleeps.
        private static readonly AutoResetEvent Signal = new(false);
        private static readonly Lock StartLock = new();
        private static Thread? _worker;

        /// <summary>Queues <paramref name="pool"/> for a refill; starts the thread on first use (and again if starting it failed before).</summary>
        public static void Request(Obfs4SessionKeyPool pool)
        {
            if (Volatile.Read(ref _worker) is null)
            {
                lock (StartLock)
                {
                    if (_worker is null)
                    {
                        var thread = new Thread(Run) { IsBackground = true, Name = "guise keys" };
                        thread.Start();
                        Volatile.Write(ref _worker, thread);
                    }
                }
            }
            Waiting.Enqueue(pool);
            Signal.Set();
        }

        private static void Run()
        {
            LowerPriority();
            while (true)
            {
                Signal.WaitOne();
                while (Waiting.TryDequeue(out var pool))
                    pool.FillUp();
            }
        }

        private const int SchedIdle = 5;

        private static void LowerPriority()
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsAndroid())
                return;
            try
            {
                // Best effort: lowering one's own priority needs no privilege; if it fails the
                // thread runs at normal priority, as the thread pool did.
                var param = 0;
                _ = SchedSetScheduler(0, SchedIdle, ref param);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
            }
        }

        // struct sched_param is one int; pid 0 is the calling thread.
        [LibraryImport("libc", EntryPoint = "sched_setscheduler")]
        private static partial int SchedSetScheduler(int pid, int policy, ref int param);
    }
}
