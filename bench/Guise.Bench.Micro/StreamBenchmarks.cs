using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Guise.Transports;
using Guise.Transports.Obfs4;
using Guise.Transports.Plain;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Bench.Micro;

/// <summary>
/// The steady-state data path as a managed proxy runs it: the transport's Stream pump over a
/// loopback TCP pair, after the handshake. One op moves 64 KiB client → server (about 46 obfs4
/// frames); bytes allocated per op ÷ 46 is the per-frame allocation. plain is the same pump
/// with no crypto.
/// </summary>
[MemoryDiagnoser]
public class StreamBenchmarks
{
    private const int Chunk = 64 << 10;
    private readonly byte[] _payload = new byte[Chunk];
    private readonly byte[] _sink = new byte[Chunk];
    private Stream _client = null!;
    private Stream _server = null!;
    private string? _state;

    [Params("obfs4", "plain")]
    public string Transport { get; set; } = "obfs4";

    [GlobalSetup]
    public void Setup()
    {
        _state = Path.Combine(Path.GetTempPath(), "guise-micro-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(_state);
        ITransport transport = Transport == "obfs4" ? new Obfs4Transport() : new PlainTransport();
        var serverFactory = transport.CreateServerFactory(TransportContext.ForTests(_state), PtArgs.Empty);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = Task.Run(async () =>
        {
            var socket = await listener.AcceptSocketAsync();
            socket.NoDelay = true;
            return await serverFactory.AcceptAsync(new NetworkStream(socket, ownsSocket: true), CancellationToken.None);
        });
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(serverFactory.ClientArgs);
        _client = session.ConnectAsync(listener.LocalEndpoint.ToString()!, async (target, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPEndPoint.Parse(target), ct);
            return new NetworkStream(socket, ownsSocket: true);
        }, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _server = accept.GetAwaiter().GetResult();
    }

    [Benchmark(Description = "64 KiB client → server through the stream pump")]
    public async Task<int> Move64KiB()
    {
        var write = _client.WriteAsync(_payload);
        var got = 0;
        while (got < Chunk)
        {
            var n = await _server.ReadAsync(_sink.AsMemory(got));
            if (n == 0)
                throw new EndOfStreamException();
            got += n;
        }
        await write;
        return got;
    }

    /// <summary>
    /// The same through the Memory/ValueTask overloads a relay uses (the byte[] overload above
    /// goes through Stream's Task-returning WriteAsync, which allocates a Task per call).
    /// </summary>
    [Benchmark(Description = "64 KiB client → server, ValueTask overloads")]
    public async ValueTask<int> Move64KiBValueTask()
    {
        var write = _client.WriteAsync(_payload.AsMemory());
        var got = 0;
        while (got < Chunk)
        {
            var n = await _server.ReadAsync(_sink.AsMemory(got));
            if (n == 0)
                throw new EndOfStreamException();
            got += n;
        }
        await write;
        return got;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _server.Dispose();
        if (_state is not null)
            Directory.Delete(_state, recursive: true);
    }
}
