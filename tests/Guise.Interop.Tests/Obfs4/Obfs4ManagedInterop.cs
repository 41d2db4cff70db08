using Guise.Interop.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;

namespace Guise.Interop.Tests.Obfs4;

/// <summary>
/// One obfs4 client binary and one obfs4 server binary, both in managed mode as Tor launches
/// them, no tor: the server forwards to a <see cref="HashTarget"/> as its TOR_PT_ORPORT, the test
/// plays tor on the client's SOCKS port (bridge args in the RFC 1929 credentials).
/// </summary>
internal static class Obfs4ManagedInterop
{
    public const int MiB = 1024 * 1024;

    /// <summary>Hang guard only: generous, so a slow shared machine does not fail a correct run.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Starts <paramref name="serverBinary"/> as an obfs4 bridge in <paramref name="iatMode"/> and
    /// <paramref name="clientBinary"/> as a client, then runs <paramref name="connections"/>
    /// exchanges of <paramref name="bytes"/> each way at once; every one must arrive SHA-256 equal.
    /// </summary>
    public static async Task CarryAsync(string clientBinary, string serverBinary, int iatMode, long bytes, int connections = 1)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var dir = new TempDir();
        var serverState = Directory.CreateDirectory(Path.Combine(dir, "server")).FullName;
        var clientState = Directory.CreateDirectory(Path.Combine(dir, "client")).FullName;
        await using var target = new HashTarget();
        if (serverBinary == Peers.Obfs4Proxy && iatMode == 2)
        {
            // obfs4proxy's paranoid writes draw from its own bridge seed's table; with one of the
            // ~3% of seeds that can draw 0 it panics (ManagedPt.ParanoidZeroLengthPanic) and the
            // bridge exits. A Guise-made state file (obfs4proxy reads it as its own) has no such seed.
            Obfs4Identity.LoadOrCreate(serverState, PtArgs.Empty);
        }
        using var server = await ManagedPt.StartServerAsync(serverBinary, serverState, target.EndPoint, iatMode);
        Assert.Equal(iatMode.ToString(System.Globalization.CultureInfo.InvariantCulture), server.Args.Get("iat-mode"));
        var completedBefore = 0;
        await WithClientAsync(clientBinary, clientState, iatMode, async client =>
        {
            completedBefore = target.Completed;
            var runs = Enumerable.Range(0, connections).Select(async _ =>
            {
                await using var stream = await client.ConnectAsync(server.EndPoint, server.Args, cts.Token);
                await HashTarget.ExchangeAsync(stream, bytes, bytes, cts.Token);
            }).ToList();
            try
            {
                await Task.WhenAll(runs);
            }
            catch (Exception e) when (!target.Errors.IsEmpty)
            {
                throw new Xunit.Sdk.XunitException($"{e.Message}\ntarget errors:\n{string.Join('\n', target.Errors)}\n" +
                    $"server:\n{server.Process.Transcript}\nclient:\n{client.Process.Transcript}");
            }
        });
        Assert.Equal(connections, target.Completed - completedBefore);
    }

    /// <summary>
    /// Starts <paramref name="clientBinary"/> as a managed client and runs <paramref name="run"/>
    /// with it. When the client is obfs4proxy in paranoid mode and <paramref name="run"/> fails
    /// because obfs4proxy died of <see cref="ManagedPt.ParanoidZeroLengthPanic"/> (its own bug,
    /// from its own random table: Guise-made bridge seeds cannot draw 0), it runs again with a
    /// fresh client, at most twice more. Any other failure fails at once.
    /// </summary>
    public static async Task WithClientAsync(string clientBinary, string clientState, int iatMode, Func<ManagedPt, Task> run)
    {
        var mayPanic = clientBinary == Peers.Obfs4Proxy && iatMode == 2;
        for (var attempt = 1; ; attempt++)
        {
            using var client = await ManagedPt.StartClientAsync(clientBinary, clientState);
            try
            {
                await run(client);
                return;
            }
            catch (Exception) when (mayPanic && attempt < 3)
            {
                if (!await client.DiedOfAsync(ManagedPt.ParanoidZeroLengthPanic, TimeSpan.FromSeconds(5)))
                    throw;
            }
        }
    }
}

/// <summary>Guise's obfs4 client (the NativeAOT binary) against obfs4proxy 0.0.14 as the bridge.</summary>
public class GuiseClientToObfs4ProxyBridgeTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 1448)]
    [InlineData(0, Obfs4ManagedInterop.MiB)]
    [InlineData(0, 64 * Obfs4ManagedInterop.MiB)]
    [InlineData(1, 1)]
    [InlineData(1, 1448)]
    [InlineData(1, Obfs4ManagedInterop.MiB)]
    [InlineData(2, 1)]
    [InlineData(2, 1448)]
    [InlineData(2, Obfs4ManagedInterop.MiB)]
    public Task Bytes_through_a_guise_client_reach_an_obfs4proxy_bridge_and_come_back_intact(int iatMode, int bytes) =>
        Obfs4ManagedInterop.CarryAsync(Peers.Guise, Peers.Obfs4Proxy, iatMode, bytes);

    [Fact]
    public Task Thirty_two_parallel_connections_through_a_guise_client_to_an_obfs4proxy_bridge_all_arrive_intact() =>
        Obfs4ManagedInterop.CarryAsync(Peers.Guise, Peers.Obfs4Proxy, 0, 256 * 1024, connections: 32);
}

/// <summary>obfs4proxy 0.0.14 as the client against Guise's obfs4 bridge (the NativeAOT binary).</summary>
public class Obfs4ProxyClientToGuiseBridgeTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 1448)]
    [InlineData(0, Obfs4ManagedInterop.MiB)]
    [InlineData(0, 64 * Obfs4ManagedInterop.MiB)]
    [InlineData(1, 1)]
    [InlineData(1, 1448)]
    [InlineData(1, Obfs4ManagedInterop.MiB)]
    [InlineData(2, 1)]
    [InlineData(2, 1448)]
    [InlineData(2, Obfs4ManagedInterop.MiB)]
    public Task Bytes_through_an_obfs4proxy_client_reach_a_guise_bridge_and_come_back_intact(int iatMode, int bytes) =>
        Obfs4ManagedInterop.CarryAsync(Peers.Obfs4Proxy, Peers.Guise, iatMode, bytes);

    [Fact]
    public Task Thirty_two_parallel_connections_through_an_obfs4proxy_client_to_a_guise_bridge_all_arrive_intact() =>
        Obfs4ManagedInterop.CarryAsync(Peers.Obfs4Proxy, Peers.Guise, 0, 256 * 1024, connections: 32);
}
