using System.Net.Sockets;
using System.Text;

namespace Guise.Interop.Tests.Support;

/// <summary>
/// Writes torrc files for loopback-only test networks (see ../shared/tor/README.md) and runs tor.
/// </summary>
public static class Tor
{
    /// <summary>
    /// The lines of ../shared/tor/loopback-only.torrc, appended to every torrc a test writes: without
    /// them a bridge or relay bootstraps into the public Tor network.
    /// </summary>
    public const string LoopbackOnly = """
        UseDefaultFallbackDirs 0
        DirAuthority loopback orport=1 no-v2 v3ident=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 127.0.0.1:1 BBBB BBBB BBBB BBBB BBBB BBBB BBBB BBBB BBBB BBBB
        ClientUseIPv6 0
        """;

    public sealed record Bridge(ChildProcess Process, string DataDirectory, int OrPort, int PtPort, string Fingerprint);

    /// <summary>
    /// Starts a bridge tor whose server transport <paramref name="transport"/> is <paramref name="ptCommand"/>;
    /// <paramref name="serverOptions"/> (<c>k=v k=v</c>) become its <c>ServerTransportOptions</c>.
    /// </summary>
    public static async Task<Bridge> StartBridgeAsync(string root, string transport, string ptCommand, string nickname = "GuiseTestBridge", string? serverOptions = null)
    {
        var dataDirectory = Path.Combine(root, "bridge");
        Directory.CreateDirectory(dataDirectory);
        var orPort = Peers.FreePort();
        var ptPort = Peers.FreePort();
        var torrc = $"""
            DataDirectory {dataDirectory}
            SocksPort 0
            ORPort 127.0.0.1:{orPort}
            Address 127.0.0.1
            AssumeReachable 1
            BridgeRelay 1
            PublishServerDescriptor 0
            ExtORPort auto
            ServerTransportPlugin {transport} exec {ptCommand}
            ServerTransportListenAddr {transport} 127.0.0.1:{ptPort}
            {(serverOptions is null ? "" : $"ServerTransportOptions {transport} {serverOptions}")}
            Nickname {nickname}
            Log notice stdout
            {LoopbackOnly}
            """;
        var path = Path.Combine(root, "bridge.torrc");
        await File.WriteAllTextAsync(path, torrc);
        var process = ChildProcess.Start(Peers.Tor, ["-f", path, "--ignore-missing-torrc"]);
        try
        {
            await process.WaitForLineAsync(l => l.Contains($"Registered server transport '{transport}'", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), $"the bridge to register its '{transport}' transport");
            var fingerprint = (await File.ReadAllTextAsync(Path.Combine(dataDirectory, "fingerprint"))).Trim().Split(' ')[1];
            return new Bridge(process, dataDirectory, orPort, ptPort, fingerprint);
        }
        catch
        {
            // The caller never gets the handle, so nobody else would stop this tor.
            process.Dispose();
            throw;
        }
    }

    public sealed record Client(ChildProcess Process, int SocksPort, int ControlPort);

    /// <summary>
    /// Starts a client tor with network disabled so a controller can subscribe to events before
    /// anything happens; call <see cref="ControlConnection.EnableNetworkAsync"/> to let it go.
    /// </summary>
    public static Client StartClient(string root, string transport, string ptCommand, string bridgeLine)
    {
        var dataDirectory = Path.Combine(root, "client");
        Directory.CreateDirectory(dataDirectory);
        var socksPort = Peers.FreePort();
        var controlPort = Peers.FreePort();
        var torrc = $"""
            DataDirectory {dataDirectory}
            SocksPort 127.0.0.1:{socksPort}
            ControlPort 127.0.0.1:{controlPort}
            DisableNetwork 1
            UseBridges 1
            ClientTransportPlugin {transport} exec {ptCommand}
            Bridge {bridgeLine}
            Log notice stdout
            {LoopbackOnly}
            """;
        var path = Path.Combine(root, "client.torrc");
        File.WriteAllText(path, torrc);
        var process = ChildProcess.Start(Peers.Tor, ["-f", path, "--ignore-missing-torrc"]);
        return new Client(process, socksPort, controlPort);
    }
}

/// <summary>A minimal Tor control-port client (control-spec): authenticate, SETEVENTS, collect async events.</summary>
public sealed class ControlConnection : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly List<string> _events = [];
    private readonly Lock _lock = new();
    private readonly Task _readLoop;
    private readonly System.Threading.Channels.Channel<string> _replies = System.Threading.Channels.Channel.CreateUnbounded<string>();

    private ControlConnection(TcpClient client)
    {
        _client = client;
        var stream = client.GetStream();
        _reader = new StreamReader(stream, Encoding.ASCII);
        _writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public static async Task<ControlConnection> ConnectAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", port);
                var connection = new ControlConnection(client);
                await connection.CommandAsync("AUTHENTICATE");
                return connection;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                client.Dispose();
                await Task.Delay(100);
            }
        }
    }

    public IReadOnlyList<string> Events
    {
        get { lock (_lock) return [.. _events]; }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("650", StringComparison.Ordinal))
                {
                    lock (_lock)
                        _events.Add(line);
                }
                else
                {
                    await _replies.Writer.WriteAsync(line);
                }
            }
        }
        catch (IOException)
        {
        }
        finally
        {
            _replies.Writer.TryComplete();
        }
    }

    /// <summary>Sends a command and returns its final reply line; throws unless it starts with 250.</summary>
    public async Task<string> CommandAsync(string command)
    {
        await _writer.WriteLineAsync(command);
        while (true)
        {
            var line = await _replies.Reader.ReadAsync();
            if (line.Length >= 4 && line[3] == ' ')
            {
                if (!line.StartsWith("250", StringComparison.Ordinal))
                    throw new InvalidOperationException($"tor control: '{command}' -> {line}");
                return line;
            }
        }
    }

    /// <summary>SETEVENTS that returns false when tor does not know an event name (552) instead of throwing.</summary>
    public async Task<bool> TrySetEventsAsync(string events)
    {
        try
        {
            await CommandAsync($"SETEVENTS {events}");
            return true;
        }
        catch (InvalidOperationException e) when (e.Message.Contains("552 Unrecognized event", StringComparison.Ordinal))
        {
            return false;
        }
    }

    public Task EnableNetworkAsync() => CommandAsync("SETCONF DisableNetwork=0");

    public async Task<string> WaitForEventAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var hit = Events.FirstOrDefault(match);
            if (hit is not null)
                return hit;
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"no control event for {what} within {timeout.TotalSeconds:F0} s. Events:\n{string.Join('\n', Events)}");
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _readLoop;
    }
}
