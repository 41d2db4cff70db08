using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Interop.Tests.Support;

/// <summary>
/// A pluggable-transport binary (guise or obfs4proxy) started in managed mode as Tor starts it:
/// TOR_PT_* environment in, CMETHOD / SMETHOD lines out. Disposing it stops the process by PID.
/// </summary>
public sealed class ManagedPt : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private ManagedPt(ChildProcess process, IPEndPoint endpoint, PtArgs args, string methodLine)
    {
        Process = process;
        EndPoint = endpoint;
        Args = args;
        MethodLine = methodLine;
    }

    public ChildProcess Process { get; }

    /// <summary>The SOCKS listener of a client, or the bind address of a server.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>A server's SMETHOD ARGS (what goes in the bridge line); empty for a client.</summary>
    public PtArgs Args { get; }

    /// <summary>The CMETHOD or SMETHOD line as the binary wrote it.</summary>
    public string MethodLine { get; }

    /// <summary>Starts a client; returns once it has written CMETHODS DONE.</summary>
    public static async Task<ManagedPt> StartClientAsync(string binary, string stateDirectory, string transport = "obfs4")
    {
        var process = ChildProcess.Start(binary, [], new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = stateDirectory,
            ["TOR_PT_CLIENT_TRANSPORTS"] = transport,
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
        });
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith($"CMETHOD {transport} ", StringComparison.Ordinal)
                || l.StartsWith("CMETHOD-ERROR", StringComparison.Ordinal) || l.StartsWith("ENV-ERROR", StringComparison.Ordinal),
                Patience, $"{Path.GetFileName(binary)}'s CMETHOD line");
            // CMETHOD <name> socks5 <addr:port>
            var parts = line.Split(' ');
            if (parts[0] != "CMETHOD" || parts[2] != "socks5")
                throw new Xunit.Sdk.XunitException($"{binary} did not offer a SOCKS5 {transport} client: {line}\n{process.Transcript}");
            await process.WaitForLineAsync(l => l == "CMETHODS DONE", Patience, "CMETHODS DONE");
            return new ManagedPt(process, IPEndPoint.Parse(parts[3]), PtArgs.Empty, line);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a server that forwards to <paramref name="orPort"/> as TOR_PT_ORPORT; returns once it
    /// has written SMETHODS DONE. <paramref name="iatMode"/>, when given, goes in
    /// TOR_PT_SERVER_TRANSPORT_OPTIONS (otherwise the state file's mode holds).
    /// </summary>
    public static async Task<ManagedPt> StartServerAsync(string binary, string stateDirectory, IPEndPoint orPort, int? iatMode = null,
        string transport = "obfs4")
    {
        var env = new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = stateDirectory,
            ["TOR_PT_SERVER_TRANSPORTS"] = transport,
            ["TOR_PT_SERVER_BINDADDR"] = $"{transport}-127.0.0.1:{Peers.FreePort()}",
            ["TOR_PT_ORPORT"] = orPort.ToString(),
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
        };
        if (iatMode is { } iat)
            env["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = $"{transport}:iat-mode={iat.ToString(CultureInfo.InvariantCulture)}";
        var process = ChildProcess.Start(binary, [], env);
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith($"SMETHOD {transport} ", StringComparison.Ordinal)
                || l.StartsWith("SMETHOD-ERROR", StringComparison.Ordinal) || l.StartsWith("ENV-ERROR", StringComparison.Ordinal),
                Patience, $"{Path.GetFileName(binary)}'s SMETHOD line");
            // SMETHOD <name> <addr:port> [ARGS:k=v,k=v]
            var parts = line.Split(' ');
            if (parts[0] != "SMETHOD")
                throw new Xunit.Sdk.XunitException($"{binary} did not start a {transport} server: {line}\n{process.Transcript}");
            var argsOption = parts.Skip(3).FirstOrDefault(p => p.StartsWith("ARGS:", StringComparison.Ordinal));
            var args = argsOption is null ? PtArgs.Empty : PtArgs.ParseSmethodArgs(argsOption["ARGS:".Length..]);
            await process.WaitForLineAsync(l => l == "SMETHODS DONE", Patience, "SMETHODS DONE");
            return new ManagedPt(process, IPEndPoint.Parse(parts[2]), args, line);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a connection through this client's SOCKS5 port to <paramref name="bridge"/>, with the
    /// bridge-line args in the RFC 1929 credentials as tor sends them (pt-spec §3.5).
    /// </summary>
    public async Task<NetworkStream> ConnectAsync(IPEndPoint bridge, PtArgs args, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(EndPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, bridge.Address.ToString(), bridge.Port, args, cancellationToken);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// obfs4proxy 0.0.14's own crash in paranoid mode (iat-mode=2): a write whose drawn length is 0
    /// panics the whole process. A client draws from a random table of its own until it has read the
    /// bridge's seed frame, so this can hit on any bridge, about once in a few hundred connections.
    /// </summary>
    public const string ParanoidZeroLengthPanic = "panic: BUG: Write(), iat length was 0";

    /// <summary>Whether the process exits within <paramref name="patience"/> having printed <paramref name="text"/>.</summary>
    public async Task<bool> DiedOfAsync(string text, TimeSpan patience)
    {
        using var cts = new CancellationTokenSource(patience);
        try
        {
            // Also waits for the end of the redirected output, so the last lines are in.
            await Process.Process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        return Process.Transcript.Contains(text, StringComparison.Ordinal);
    }

    public void Dispose() => Process.Dispose();
}
