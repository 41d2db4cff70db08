using System.Runtime.CompilerServices;
using Guise.Primitives;
using Guise.Transports;
using Guise.Transports.Obfs4;

namespace Guise.Tests.Obfs4;

/// <summary>Session keys are single-use: the pool hands each one out once, never twice, and stays bounded.</summary>
public class Obfs4SessionKeyPoolTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Concurrent_takes_never_get_the_same_key_twice()
    {
        var (pool, generated) = CountingPool(4);
        const int perThread = 50;
        var threads = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var mine = new List<Obfs4SessionKey>();
            for (var i = 0; i < perThread; i++)
                mine.Add(pool.Take());
            return mine;
        })).ToArray();
        var taken = (await Task.WhenAll(threads).WaitAsync(HangGuard)).SelectMany(k => k).ToList();

        Assert.Equal(4 * perThread, taken.Count);
        Assert.Equal(taken.Count, taken.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal(taken.Count, taken.Select(k => Convert.ToHexString(k.PrivateKey)).Distinct().Count());
        Assert.Equal(taken.Count, taken.Select(k => Convert.ToHexString(k.Representative)).Distinct().Count());

        // Every key generated is either taken once or still waiting in the pool.
        await WaitUntil(() => !pool.RefillPending);
        Assert.Equal(generated(), taken.Count + pool.Count);
        Assert.InRange(pool.Count, pool.Capacity / 2, pool.Capacity);
    }

    [Fact]
    public async Task The_pool_refills_in_the_background_up_to_its_bound_only()
    {
        var pool = new Obfs4SessionKeyPool(3);
        Assert.Equal(0, pool.Count); // lazy: nothing made before it is asked
        var first = pool.Take();     // empty: made inline
        await WaitUntil(() => pool.Count == 3);
        await Task.Delay(50);
        Assert.Equal(3, pool.Count);
        var second = pool.Take();
        Assert.NotSame(first, second);
        Assert.True(pool.Count <= 3);
    }

    [Fact]
    public async Task Takes_down_to_half_the_capacity_wait_for_one_refill_in_a_batch()
    {
        var (pool, generated) = CountingPool(8);
        pool.ScheduleRefill();
        await WaitUntil(() => pool.Count == 8 && !pool.RefillPending);

        for (var i = 0; i < 3; i++)
            pool.Take();
        Assert.Equal(5, pool.Count);
        Assert.False(pool.RefillPending);   // 5 > 8 / 2: no refill yet
        Assert.Equal(8, generated());

        pool.Take();                        // 4 left: refill up to 8 at once
        await WaitUntil(() => pool.Count == 8 && !pool.RefillPending);
        Assert.Equal(12, generated());
    }

    [Fact]
    public async Task A_failing_generator_leaves_the_pool_short_and_take_reports_the_error()
    {
        var pool = new Obfs4SessionKeyPool(4, () => throw new InvalidOperationException("broken libsodium"));
        Assert.Throws<InvalidOperationException>(() => pool.Take());
        await WaitUntil(() => !pool.RefillPending);
        Assert.Equal(0, pool.Count);
        Assert.Throws<InvalidOperationException>(() => pool.Take());
    }

    [Fact]
    public void Pooled_keys_are_valid_Elligator2_keypairs()
    {
        var pool = new Obfs4SessionKeyPool(2);
        for (var i = 0; i < 6; i++)
        {
            var key = pool.Take();
            var back = new byte[32];
            Elligator2.RepresentativeToPublicKey(key.Representative, back);
            Assert.Equal(key.PublicKey, back);
        }
    }

    [Fact]
    public void Client_sessions_prepared_from_one_factory_have_distinct_keys()
    {
        var factory = (Obfs4ClientFactory)new Obfs4Transport().CreateClientFactory(TransportContext.ForTests());
        var identity = Obfs4Identity.Generate();
        var seen = new HashSet<Obfs4SessionKey>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < 40; i++)
        {
            var session = (Obfs4ClientSession)factory.Prepare(identity.ClientArgs);
            Assert.True(seen.Add(session.SessionKey), "a session key was handed out twice");
            Assert.True(factory.SessionKeys.Count <= factory.SessionKeys.Capacity);
        }
    }

    /// <summary>A pool of real keys, and how many it has generated so far.</summary>
    private static (Obfs4SessionKeyPool Pool, Func<int> Generated) CountingPool(int capacity)
    {
        var generated = new StrongBox<int>();
        var pool = new Obfs4SessionKeyPool(capacity, () =>
        {
            Interlocked.Increment(ref generated.Value);
            return Obfs4SessionKey.Generate();
        });
        return (pool, () => Volatile.Read(ref generated.Value));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        while (!condition())
            await Task.Delay(5, cts.Token);
    }
}
