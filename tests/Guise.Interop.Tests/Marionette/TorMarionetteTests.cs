using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Marionette;

/// <summary>
/// Marionette under real tor on both ends, loopback only (see ../shared/tor/README.md): a bridge
/// tor runs <c>guise</c> as its marionette server, a client tor runs <c>guise</c> as its client with
/// the bridge's format and key in the Bridge line; the bridge gets the format from
/// <c>ServerTransportOptions</c>. Success is tor's own verdict: the client fetched
/// the bridge's descriptor through the tunnel (TLS, link handshake and a directory request).
/// </summary>
[Collection(nameof(TorCollection))]
public class TorMarionetteTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("http_post")]
    [InlineData("http_get")]
    [InlineData("irc_lines")]
    public async Task A_client_tor_fetches_the_bridge_descriptor_through_guise_marionette_on_both_ends(string format)
    {
        using var dir = new TempDir();
        var guise = Peers.Guise;
        var bridge = await Tor.StartBridgeAsync(dir, "marionette", guise, serverOptions: $"format={format}");
        using var bridgeProcess = bridge.Process;
        // The server made its key in its state directory and reports it (with the format) in SMETHOD ARGS.
        var key = (await File.ReadAllTextAsync(Path.Combine(bridge.DataDirectory, "pt_state", "marionette_key"))).Trim();
        Assert.Equal(64, key.Length);
        var client = Tor.StartClient(dir, "marionette", guise,
            $"marionette 127.0.0.1:{bridge.PtPort} {bridge.Fingerprint} format={format} key={key}");
        using var clientProcess = client.Process;
        await using var control = await ControlConnection.ConnectAsync(client.ControlPort, TimeSpan.FromSeconds(30));
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            $"the client tor to fetch the bridge descriptor through guise marionette ({format})");
    }
}
