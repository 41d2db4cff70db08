using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Guise.Errors;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Hosting;

public sealed record DemoResult(
    string Transport,
    IPEndPoint SocksEndPoint,
    IPEndPoint BridgeEndPoint,
    PtArgs BridgeArgs,
    long BytesEachWay,
    TimeSpan Elapsed,
    bool Verified)
{
    public double MebibytesPerSecond => BytesEachWay / 1048576.0 / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// The whole path a Tor user's bytes take, in one process: an app speaks SOCKS5 to the client
/// endpoint, which tunnels through the transport to the server endpoint, which forwards to a
/// local echo target. The echoed bytes are hashed and compared, so success means both
/// directions carried every byte.
/// </summary>
public static class Demo
{
    public static async Task<DemoResult> RunAsync(ITransport transport, long bytes, IPtLog log, CancellationToken ct)
    {
        var stateDirectory = Path.Combine(Path.GetTempPath(), $"guise-demo-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(stateDirectory);
        var context = new TransportContext(stateDirectory, TimeProvider.System, log);
        var observer = new LogObserver(log, new AddressScrubber(unsafeLogging: true));
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        try
        {
            await using var target = ConnectionListener.Start(loopback, EchoAsync, log);
            DialAsync direct = new Net.TcpDialer().DialAsync;
            await using var server = ServerEndpoint.Start(transport, context, PtArgs.Empty, loopback,
                ForwardTarget.OrPort(Net.HostPort.Format(target.LocalEndPoint)), direct, observer);
            await using var client = SocksClientEndpoint.Start(transport, context, direct, loopback, observer);
            log.Log(PtLogSeverity.Notice, $"{transport.Name} server on {server.LocalEndPoint}, SOCKS5 client on {client.LocalEndPoint}, echo target on {target.LocalEndPoint}");

            var watch = Stopwatch.StartNew();
            var verified = await RoundTripAsync(client.LocalEndPoint, Net.HostPort.Format(server.LocalEndPoint), server.ClientArgs, bytes, ct);
            watch.Stop();
            return new DemoResult(transport.Name, client.LocalEndPoint, server.LocalEndPoint, server.ClientArgs, bytes, watch.Elapsed, verified);
        }
        finally
        {
            try { Directory.Delete(stateDirectory, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<bool> RoundTripAsync(IPEndPoint socks, string bridge, PtArgs args, long bytes, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(socks, ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var target = Net.HostPort.Parse(bridge, "bridge");
        await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, target.Host, target.Port, args, ct);

        using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (long left = bytes; left > 0; left -= chunk.Length)
            {
                var n = (int)Math.Min(chunk.Length, left);
                RandomNumberGenerator.Fill(chunk.AsSpan(0, n));
                sent.AppendData(chunk, 0, n);
                await stream.WriteAsync(chunk.AsMemory(0, n), ct);
            }
        }, ct);
        var buffer = new byte[64 * 1024];
        for (long left = bytes; left > 0;)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct);
            if (n == 0)
                throw new PtException(PtErrorKind.Eof, $"the tunnel closed with {left} bytes still to come");
            received.AppendData(buffer, 0, n);
            left -= n;
        }
        await writer;
        return sent.GetHashAndReset().AsSpan().SequenceEqual(received.GetHashAndReset());
    }

    private static async Task EchoAsync(Socket socket, CancellationToken ct)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
    }
}
