using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Obfs4;

/// <summary>
/// A bridge operator switches between obfs4proxy and guise on the same TOR_PT_STATE_LOCATION:
/// the bridge's identity (obfs4_state.json) and hence every bridge line already handed out must
/// survive the switch, in both directions.
/// </summary>
public class Obfs4StateFileInteropTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private static string BridgeLine(string state) =>
        File.ReadAllText(Path.Combine(state, "obfs4_bridgeline.txt"));

    /// <summary>Starts <paramref name="binary"/> as an obfs4 bridge on <paramref name="state"/>, returns its ARGS and bridge-line file, stops it.</summary>
    private static async Task<(string Args, string BridgeLine)> AdvertisedAsync(string binary, string state, HashTarget target)
    {
        using var bridge = await ManagedPt.StartServerAsync(binary, state, target.EndPoint);
        return (bridge.Args.ToSmethodArgs(), BridgeLine(state));
    }

    [Fact]
    public async Task A_guise_bridge_on_an_obfs4proxy_state_directory_advertises_the_same_cert_and_bridge_line()
    {
        using var state = new TempDir();
        await using var target = new HashTarget();
        var before = await AdvertisedAsync(Peers.Obfs4Proxy, state, target);
        Assert.StartsWith("cert=", before.Args, StringComparison.Ordinal);

        var after = await AdvertisedAsync(Peers.Guise, state, target);

        Assert.Equal(before.Args, after.Args);
        Assert.Equal(before.BridgeLine, after.BridgeLine);
    }

    [Fact]
    public async Task An_obfs4proxy_bridge_on_a_guise_state_directory_advertises_the_same_cert_and_bridge_line()
    {
        using var state = new TempDir();
        await using var target = new HashTarget();
        var before = await AdvertisedAsync(Peers.Guise, state, target);
        Assert.StartsWith("cert=", before.Args, StringComparison.Ordinal);

        var after = await AdvertisedAsync(Peers.Obfs4Proxy, state, target);

        Assert.Equal(before.Args, after.Args);
        Assert.Equal(before.BridgeLine, after.BridgeLine);
    }

    [Fact]
    public async Task A_client_holding_obfs4proxys_bridge_line_reaches_a_guise_bridge_that_took_over_its_state()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDir();
        var state = Directory.CreateDirectory(Path.Combine(dir, "bridge")).FullName;
        await using var target = new HashTarget();
        Guise.Transports.PtArgs handedOut;
        using (var original = await ManagedPt.StartServerAsync(Peers.Obfs4Proxy, state, target.EndPoint))
            handedOut = original.Args;

        using var bridge = await ManagedPt.StartServerAsync(Peers.Guise, state, target.EndPoint);
        using var client = await ManagedPt.StartClientAsync(Peers.Obfs4Proxy, Directory.CreateDirectory(Path.Combine(dir, "client")).FullName);
        await using var stream = await client.ConnectAsync(bridge.EndPoint, handedOut, cts.Token);
        await HashTarget.ExchangeAsync(stream, 4096, 4096, cts.Token);
    }

    [Fact]
    public async Task A_client_holding_guises_bridge_line_reaches_an_obfs4proxy_bridge_that_took_over_its_state()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDir();
        var state = Directory.CreateDirectory(Path.Combine(dir, "bridge")).FullName;
        await using var target = new HashTarget();
        Guise.Transports.PtArgs handedOut;
        using (var original = await ManagedPt.StartServerAsync(Peers.Guise, state, target.EndPoint))
            handedOut = original.Args;

        using var bridge = await ManagedPt.StartServerAsync(Peers.Obfs4Proxy, state, target.EndPoint);
        using var client = await ManagedPt.StartClientAsync(Peers.Guise, Directory.CreateDirectory(Path.Combine(dir, "client")).FullName);
        await using var stream = await client.ConnectAsync(bridge.EndPoint, handedOut, cts.Token);
        await HashTarget.ExchangeAsync(stream, 4096, 4096, cts.Token);
    }
}
