using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests;

/// <summary>
/// Guise as Tor launches it, under a real tor on both ends (loopback only). The client tor must
/// fetch the bridge's descriptor through the tunnel, and Guise's LOG and STATUS lines must reach
/// a controller on the client tor's control port.
/// </summary>
/// <remarks>
/// control-spec defines PT_LOG and PT_STATUS events, and tor emits them, but tor 0.4.9.11 (Debian)
/// leaves both out of its table of subscribable event names: SETEVENTS PT_LOG answers
/// <c>552 Unrecognized event</c>. With such a tor the test subscribes to INFO instead, where tor
/// reports every line it got from the PT and re-logs LOG messages as <c>Managed proxy "...": text</c>.
/// A tor that accepts the PT events is held to them.
/// </remarks>
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
        var ptEvents = await control.TrySetEventsAsync("PT_LOG PT_STATUS");
        if (!ptEvents)
            await control.CommandAsync("SETEVENTS INFO");
        await control.EnableNetworkAsync();

        await client.Process.WaitForLineAsync(l => l.Contains("new bridge descriptor", StringComparison.Ordinal), Patience,
            "the client tor to fetch the bridge descriptor through guise");

        if (ptEvents)
        {
            var status = await control.WaitForEventAsync(e => e.StartsWith("650 PT_STATUS", StringComparison.Ordinal)
                && e.Contains("TRANSPORT=plain CONNECT=Success", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "PT_STATUS CONNECT=Success");
            Assert.Contains("ADDRESS=[scrubbed]", status, StringComparison.Ordinal);
            await control.WaitForEventAsync(e => e.StartsWith("650 PT_LOG", StringComparison.Ordinal)
                && e.Contains("SEVERITY=info", StringComparison.Ordinal) && e.Contains("plain: connected to [scrubbed]", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "PT_LOG about the connection");
        }
        else
        {
            await control.WaitForEventAsync(e => e.StartsWith("650 INFO", StringComparison.Ordinal)
                && e.Contains("(STATUS TRANSPORT=plain CONNECT=Success ADDRESS=[scrubbed])", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "tor reporting guise's STATUS line");
            await control.WaitForEventAsync(e => e.StartsWith("650 INFO", StringComparison.Ordinal)
                && e.Contains("(STATUS TYPE=version IMPLEMENTATION=\"guise\"", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "tor reporting guise's version STATUS line");
            await control.WaitForEventAsync(e => e.StartsWith($"650 INFO Managed proxy \"{guise}\": plain: connected to [scrubbed]", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "tor re-logging guise's LOG line");
        }
    }
}

[CollectionDefinition(nameof(TorCollection), DisableParallelization = true)]
public sealed class TorCollection;
