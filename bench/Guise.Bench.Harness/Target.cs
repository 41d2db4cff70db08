using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Guise.Bench.Harness;

// What the server-side managed proxy forwards to (its TOR_PT_ORPORT). Each connection starts
// with a 9-byte request from the harness's client end:
//
//   'U' | uint64 N (big endian)   upload: the target reads N bytes, hashing them, then writes
//                                 the 32-byte SHA-256 of what it read
//   'D' | uint64 N                download: the target writes N bytes of the payload pattern
//   'P' | uint64 0                ping: the target writes one byte ('p')
//
// and then holds the connection until the other end closes it (an idle tunnel stays idle).
// The peers do not propagate half-close (obfs4proxy closes both sides when either ends), so
// nothing here relies on it.

/// <summary>The payload pattern: a fixed pseudo-random 1 MiB block, repeated. Random so no layer can compress it.</summary>
internal static class Payload
{
    public const int BlockSize = 1 << 20;
    public static readonly byte[] Block = MakeBlock();
    private static readonly Dictionary<long, byte[]> Digests = [];
    private static readonly Lock DigestsLock = new();

    private static byte[] MakeBlock()
    {
        var block = new byte[BlockSize];
        new Random(0x6775_6973).NextBytes(block);
        return block;
    }

    /// <summary>SHA-256 of the first <paramref name="length"/> bytes of the repeated pattern (cached: computed before any timing starts).</summary>
    public static byte[] Digest(long length)
    {
        lock (DigestsLock)
        {
            if (Digests.TryGetValue(length, out var d))
                return d;
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var left = length; left > 0;)
        {
            var n = (int)Math.Min(left, BlockSize);
            hash.AppendData(Block, 0, n);
            left -= n;
        }
        var digest = hash.GetHashAndReset();
        lock (DigestsLock)
            Digests[length] = digest;
        return digest;
    }

    /// <summary>Bytes [offset, offset + length) of the repeated pattern, as one slice (length ≤ what is left of the block).</summary>
    public static ReadOnlyMemory<byte> Slice(long offset, int maxLength)
    {
        var at = (int)(offset % BlockSize);
        return Block.AsMemory(at, Math.Min(maxLength, BlockSize - at));
    }

    public const int IoChunk = 64 << 10;
}

/// <summary>The sink/source/ping target behind the server-side managed proxy.</summary>
internal sealed class Target : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _failures;

    public Target()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(4096);
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>Connections that ended with an error other than the peer closing (a sign the run is broken).</summary>
    public int Failures => Volatile.Read(ref _failures);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            socket.NoDelay = true;
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[Payload.IoChunk];
        try
        {
            var head = new byte[9];
            if (!await ReceiveExactlyAsync(socket, head).ConfigureAwait(false))
                return;
            var length = (long)BinaryPrimitives.ReadUInt64BigEndian(head.AsSpan(1));
            switch (head[0])
            {
                case (byte)'U':
                    using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                    {
                        for (var left = length; left > 0;)
                        {
                            var n = await socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                            if (n == 0)
                                throw new EndOfStreamException("upload ended early");
                            hash.AppendData(buffer, 0, n);
                            left -= n;
                        }
                        await SendAllAsync(socket, hash.GetHashAndReset()).ConfigureAwait(false);
                    }
                    break;
                case (byte)'D':
                    for (long sent = 0; sent < length;)
                    {
                        var slice = Payload.Slice(sent, (int)Math.Min(Payload.IoChunk, length - sent));
                        await SendAllAsync(socket, slice).ConfigureAwait(false);
                        sent += slice.Length;
                    }
                    break;
                case (byte)'P':
                    await SendAllAsync(socket, "p"u8.ToArray()).ConfigureAwait(false);
                    break;
                default:
                    throw new InvalidDataException($"unknown request 0x{head[0]:X2}");
            }
            // Hold the connection until the client end goes away.
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The tunnel was torn down (reset) or the target is stopping: normal at the end of a figure.
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            Interlocked.Increment(ref _failures);
        }
        finally
        {
            socket.Dispose();
        }
    }

    private async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            var n = await socket.SendAsync(data, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            data = data[n..];
        }
    }

    private async Task<bool> ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            if (n == 0)
                return false;
            got += n;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
