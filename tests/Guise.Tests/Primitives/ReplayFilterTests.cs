using Guise.Primitives;

namespace Guise.Tests.Primitives;

public class ReplayFilterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_second_sighting_within_the_ttl_is_a_replay()
    {
        var f = new ReplayFilter(TimeSpan.FromHours(3));
        Assert.False(f.TestAndSet(T0, "mac-1"u8));
        Assert.True(f.TestAndSet(T0.AddHours(2), "mac-1"u8));
        Assert.False(f.TestAndSet(T0.AddHours(2), "mac-2"u8));
    }

    [Fact]
    public void Entries_expire_after_the_ttl()
    {
        var f = new ReplayFilter(TimeSpan.FromHours(3));
        Assert.False(f.TestAndSet(T0, "mac-1"u8));
        Assert.False(f.TestAndSet(T0.AddHours(3), "mac-1"u8));
        Assert.Equal(1, f.Count);
    }

    [Fact]
    public void A_clock_jumping_backwards_empties_the_filter()
    {
        var f = new ReplayFilter(TimeSpan.FromHours(3));
        Assert.False(f.TestAndSet(T0, "mac-1"u8));
        Assert.False(f.TestAndSet(T0.AddHours(-1), "mac-2"u8));
        Assert.Equal(1, f.Count);
    }
}
