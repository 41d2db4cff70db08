using Guise.Transports;

namespace Guise.Tests.Support;

/// <summary>A client and server of one transport joined over a real loopback TCP pair.</summary>
public sealed class Tunnel : IAsyncDisposable
{
    private readonly LoopbackPair _pair;
    private readonly TempDirectory _state;

    private Tunnel(LoopbackPair pair, TempDirectory state, Stream client, Stream server, bool multiplexing)
    {
        Multiplexing = multiplexing;
        _pair = pair;
        _state = state;
        Client = client;
        Server = server;
    }

    public Stream Client { get; }
    public Stream Server { get; }

    /// <summary>The server keeps its streams when a connection dies, for the client to resume (<see cref="IMultiplexingServerFactory"/>).</summary>
    public bool Multiplexing { get; }

    /// <param name="wrapWire">Wraps each raw socket stream before the transport sees it (adversarial doubles).</param>
    public static async Task<Tunnel> OpenAsync(ITransport transport, Func<Stream, Stream>? wrapWire = null, CancellationToken ct = default)
    {
        wrapWire ??= s => s;
        var state = new TempDirectory();
        var pair = await LoopbackPair.CreateAsync();
        var serverFactory = transport.CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty);
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(serverFactory.ClientArgs);
        var accept = serverFactory.AcceptAsync(wrapWire(pair.Server), ct).AsTask();
        var connect = session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult(wrapWire(pair.Client)), ct).AsTask();
        await Task.WhenAll(accept, connect);
        return new Tunnel(pair, state, await connect, await accept, serverFactory is IMultiplexingServerFactory);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await _pair.DisposeAsync();
        _state.Dispose();
    }
}

public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "guise-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
