using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Bench.Harness;

/// <summary>Which figures a chain gets: every one, or the cheap ones (mixed pairs).</summary>
internal enum ChainKind
{
    Full,
    Mixed,
}

/// <summary>
/// One path through two managed proxies: harness → SOCKS5 → client proxy → transport → server
/// proxy → target. The id reads "client→server/transport", or "name/transport" when one binary
/// is both ends; <paramref name="ServerOptions"/> (<c>k=v;k=v</c>, the server's
/// TOR_PT_SERVER_TRANSPORT_OPTIONS for this transport) are appended to it in brackets.
/// </summary>
internal sealed record ChainSpec(Implementation Client, Implementation Server, string Transport, ChainKind Kind, string? ServerOptions = null)
{
    public string Id => (Client.Name == Server.Name ? $"{Client.Name}/{Transport}" : $"{Client.Name}→{Server.Name}/{Transport}")
        + (ServerOptions is null ? "" : $" [{ServerOptions}]");
}

/// <summary>A started chain: the two processes, the server's address and the bridge args the client needs.</summary>
internal sealed class RunningChain : IDisposable
{
    private readonly List<string> _directories = [];

    private RunningChain(ChainSpec spec) => Spec = spec;

    public ChainSpec Spec { get; }
    public PtProcess Server { get; private set; } = null!;
    public PtProcess Client { get; private set; } = null!;
    public IPEndPoint ServerEndPoint { get; private set; } = null!;
    public IPEndPoint SocksEndPoint { get; private set; } = null!;
    public PtArgs ClientArgs { get; private set; } = PtArgs.Empty;

    /// <summary>CPU used so far by the client and the server proxy together.</summary>
    public TimeSpan CpuTime() => Client.CpuTime() + Server.CpuTime();

    /// <summary>Starts the server proxy (forwarding to <paramref name="orPort"/>), then the client proxy, and waits for both to be ready.</summary>
    public static RunningChain Start(ChainSpec spec, IPEndPoint orPort, TimeSpan patience)
    {
        var chain = new RunningChain(spec);
        try
        {
            var serverState = chain.TempDirectory();
            var bind = new IPEndPoint(IPAddress.Loopback, FreePort());
            var environment = new Dictionary<string, string>
            {
                ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
                ["TOR_PT_STATE_LOCATION"] = serverState,
                ["TOR_PT_SERVER_TRANSPORTS"] = spec.Transport,
                ["TOR_PT_SERVER_BINDADDR"] = $"{spec.Transport}-{bind}",
                ["TOR_PT_ORPORT"] = orPort.ToString(),
            };
            if (spec.ServerOptions is not null)
                environment["TOR_PT_SERVER_TRANSPORT_OPTIONS"] = $"{spec.Transport}:{spec.ServerOptions}";
            chain.Server = PtProcess.Start(spec.Server, environment);
            var (smethod, _) = chain.Server.WaitForLine(l => l.StartsWith($"SMETHOD {spec.Transport} ", StringComparison.Ordinal), patience, "SMETHOD");
            chain.Server.WaitForLine(l => l == "SMETHODS DONE", patience, "SMETHODS DONE");
            var parts = smethod.Split(' ');
            chain.ServerEndPoint = IPEndPoint.Parse(parts[2]);
            var args = parts.Skip(3).FirstOrDefault(p => p.StartsWith("ARGS:", StringComparison.Ordinal));
            chain.ClientArgs = args is null ? PtArgs.Empty : PtArgs.ParseSmethodArgs(args["ARGS:".Length..]);

            chain.Client = StartClient(spec.Client, spec.Transport, chain.TempDirectory());
            chain.SocksEndPoint = WaitForSocks(chain.Client, spec.Transport, patience);
            chain.Client.WaitForLine(l => l == "CMETHODS DONE", patience, "CMETHODS DONE");
            return chain;
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    /// <summary>Starts a client-side managed proxy for one transport with its state in <paramref name="stateDirectory"/>.</summary>
    public static PtProcess StartClient(Implementation implementation, string transport, string stateDirectory) =>
        PtProcess.Start(implementation, new Dictionary<string, string>
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = stateDirectory,
            ["TOR_PT_CLIENT_TRANSPORTS"] = transport,
        });

    private static IPEndPoint WaitForSocks(PtProcess client, string transport, TimeSpan patience)
    {
        var (line, _) = client.WaitForLine(l => l.StartsWith($"CMETHOD {transport} socks5 ", StringComparison.Ordinal), patience, "CMETHOD");
        return IPEndPoint.Parse(line.Split(' ')[3]);
    }

    /// <summary>
    /// Opens a tunnel as tor does: TCP to the client proxy's SOCKS port, SOCKS5 with the bridge
    /// args in the RFC 1929 username/password, CONNECT to <paramref name="via"/> (the server
    /// proxy, or a forwarder in front of it). Returns once the SOCKS reply says it succeeded.
    /// </summary>
    public async Task<Tunnel> OpenAsync(IPEndPoint? via, CancellationToken cancellationToken)
    {
        var target = via ?? ServerEndPoint;
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(SocksEndPoint, cancellationToken).ConfigureAwait(false);
            var stream = new NetworkStream(socket, ownsSocket: true);
            await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, target.Address.ToString(), target.Port, ClientArgs, cancellationToken).ConfigureAwait(false);
            return new Tunnel(stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "guise-bench-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        _directories.Add(path);
        return path;
    }

    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        Client?.Dispose();
        Server?.Dispose();
        foreach (var d in _directories)
        {
            try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Spec.Id} (server pid {Server?.Pid}, client pid {Client?.Pid})");
}

/// <summary>An open SOCKS tunnel to the target; the harness's end of it.</summary>
internal sealed class Tunnel(NetworkStream stream) : IAsyncDisposable
{
    public NetworkStream Stream { get; } = stream;

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}
