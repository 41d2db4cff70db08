using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Obfs4;

/// <summary>
/// obfs4 under real tor on both ends, loopback only (see ../shared/tor/README.md), with Guise on
/// one end and obfs4proxy on the other. Success is tor's own verdict: the client tor fetched the
/// bridge's descriptor through the obfs4 tunnel (TLS, link handshake and a directory request).
/// </summary>
[Collection(nameof(TorCollection))]
public class TorObfs4Tests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public Task A_client_tor_with_guise_obfs4_fetches_the_descriptor_of_a_bridge_tor_running_obfs4proxy() =>
        BootstrapThroughAsync(clientPt: Peers.Guise, bridgePt: Peers.Obfs4Proxy);

    [Fact]
    public Task A_client_tor_with_obfs4proxy_fetches_the_descriptor_of_a_bridge_tor_running_guise_obfs4() =>
        BootstrapThroughAsync(clientPt: Peers.Obfs4Proxy, bridgePt: Peers.Guise);

    private static async Task BootstrapThroughAsync(string clientPt, string bridgePt)
    {
        using var dir = new TempDir();
        var bridge = await Tor.StartBridgeAsync(dir, "obfs4", bridgePt);
        using var bridgeProcess = bridge.Process;
        var args = BridgeLineArgs(Path.Combine(bridge.DataDirectory, "pt_state", "obfs4_bridgeline.txt"));
        var client = Tor.StartClient(dir, "obfs4", clientPt, $"obfs4 127.0.0.1:{bridge.PtPort} {bridge.Fingerprint} {args}");
        using var clientProcess = client.Process;
        await using var control = await ControlConnection.ConnectAsync(client.ControlPort, TimeSpan.FromSeconds(30));
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            $"the client tor to fetch the bridge descriptor through {Path.GetFileName(clientPt)} -> {Path.GetFileName(bridgePt)}");
    }

    /// <summary>"cert=... iat-mode=N" from the bridge PT's obfs4_bridgeline.txt (its one Bridge line).</summary>
    private static string BridgeLineArgs(string path)
    {
        var line = File.ReadAllLines(path).Single(l => l.StartsWith("Bridge obfs4 ", StringComparison.Ordinal));
        // Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=... iat-mode=N
        var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^2..];
        Assert.StartsWith("cert=", args[0], StringComparison.Ordinal);
        Assert.StartsWith("iat-mode=", args[1], StringComparison.Ordinal);
        return string.Join(' ', args);
    }
}
