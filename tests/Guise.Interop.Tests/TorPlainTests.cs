using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests;

/// <summary>
/// Guise as Tor launches it, under a real tor on both ends (loopback only). The client tor must
/// fetch the bridge's descriptor through the tunnel, and Guise's LOG and STATUS lines must reach
/// a controller as PT_LOG / PT_STATUS events.
/// </summary>
[Collection(nameof(TorCollection))]
public class TorPlainTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_client_tor_fetches_the_bridge_descriptor_through_guise_plain_on_both_ends()
    {
        using var dir = new TempDir();
        var guise = Peers.Guise;
        var bridge = await Tor.StartBridgeAsync(dir, "plain", guise);
        using var bridgeProcess = bridge.Process;
        var client = Tor.StartClient(dir, "plain", $"{guise} -logLevel info", $"plain 127.0.0.1:{bridge.PtPort} {bridge.Fingerprint}");
        using var clientProcess = client.Process;
        await using var control = await ControlConnection.ConnectAsync(client.ControlPort, TimeSpan.FromSeconds(30));
        await control.CommandAsync("SETEVENTS PT_LOG PT_STATUS");
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            "the client tor to fetch the bridge descriptor through guise");

        var status = await control.WaitForEventAsync(e => e.StartsWith("650 PT_STATUS", StringComparison.Ordinal)
            && e.Contains("TRANSPORT=plain", StringComparison.Ordinal) && e.Contains("CONNECT=Success", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "guise's STATUS CONNECT=Success");
        Assert.Contains("ADDRESS=[scrubbed]", status, StringComparison.Ordinal);
        await control.WaitForEventAsync(e => e.StartsWith("650 PT_LOG", StringComparison.Ordinal)
            && e.Contains("SEVERITY=info", StringComparison.Ordinal) && e.Contains("plain: connected to", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "guise's LOG line about the connection");
    }
}

[CollectionDefinition(nameof(TorCollection), DisableParallelization = true)]
public sealed class TorCollection;
