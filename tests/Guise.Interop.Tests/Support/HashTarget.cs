using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Guise.Interop.Tests.Support;

// The exchange a client runs with a HashTarget, end to end through the transport:
//
//   client -> target   | upload length U (8, BE) | download length D (8, BE) | U random bytes |
//   target -> client   | SHA-256 of the U bytes it received (32) | D random bytes | SHA-256 of those D bytes (32) |
//
// then the client closes and the target closes after it. obfs4proxy tears down both directions
// on the first EOF (no half-close), so neither side relies on one.

/// <summary>
/// A stand-in for Tor's ORPort (TOR_PT_ORPORT) on 127.0.0.1 that proves every byte arrived: it
/// hashes what it receives and sends its own random bytes with their hash.
/// </summary>
public sealed class HashTarget : IAsyncDisposable
{
    private const int Chunk = 64 * 1024;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentBag<Task> _connections = [];

    public HashTarget()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(backlog: 256);
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections the target finished: it read every announced byte and answered in full.</summary>
    public int Completed => Volatile.Read(ref _completed);

    private int _completed;

    /// <summary>Failures on the target's side, for the test's message when the client sees a short stream.</summary>
    public ConcurrentQueue<Exception> Errors { get; } = new();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _connections.Add(Task.Run(() => ServeAsync(socket)));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            var header = new byte[16];
            await stream.ReadExactlyAsync(header, _stop.Token);
            var up = BinaryPrimitives.ReadInt64BigEndian(header);
            var down = BinaryPrimitives.ReadInt64BigEndian(header.AsSpan(8));

            using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[Chunk];
            for (var left = up; left > 0;)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), _stop.Token);
                if (n == 0)
                    throw new EndOfStreamException($"the client's upload ended {left} bytes short of {up}");
                received.AppendData(buffer, 0, n);
                left -= n;
            }
            await stream.WriteAsync(received.GetHashAndReset(), _stop.Token);

            using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (var left = down; left > 0;)
            {
                var n = (int)Math.Min(left, buffer.Length);
                RandomNumberGenerator.Fill(buffer.AsSpan(0, n));
                sent.AppendData(buffer, 0, n);
                await stream.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                left -= n;
            }
            await stream.WriteAsync(sent.GetHashAndReset(), _stop.Token);
            Interlocked.Increment(ref _completed);

            // The client hangs up first; wait for it so the last bytes are not cut by our close.
            while (await stream.ReadAsync(buffer, _stop.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or EndOfStreamException)
        {
            if (!_stop.IsCancellationRequested)
                Errors.Enqueue(e);
        }
    }

    /// <summary>
    /// Runs the exchange at the top of this file over <paramref name="stream"/> (already connected
    /// to the target through the transport) and asserts both hashes.
    /// </summary>
    public static async Task ExchangeAsync(Stream stream, long up, long down, CancellationToken cancellationToken)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteInt64BigEndian(header, up);
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(8), down);
        await stream.WriteAsync(header, cancellationToken);

        using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[Chunk];
        for (var left = up; left > 0;)
        {
            var n = (int)Math.Min(left, buffer.Length);
            RandomNumberGenerator.Fill(buffer.AsSpan(0, n));
            sent.AppendData(buffer, 0, n);
            await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            left -= n;
        }
        await stream.FlushAsync(cancellationToken);

        var theirs = new byte[32];
        await stream.ReadExactlyAsync(theirs, cancellationToken);
        Assert.Equal(Convert.ToHexString(sent.GetHashAndReset()), Convert.ToHexString(theirs));

        using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var left = down; left > 0;)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), cancellationToken);
            if (n == 0)
                throw new EndOfStreamException($"the download ended {left} bytes short of {down}");
            received.AppendData(buffer, 0, n);
            left -= n;
        }
        await stream.ReadExactlyAsync(theirs, cancellationToken);
        Assert.Equal(Convert.ToHexString(theirs), Convert.ToHexString(received.GetHashAndReset()));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await Task.WhenAll(_connections);
        _stop.Dispose();
    }
}
