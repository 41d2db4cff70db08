using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Guise.Pt;
using Guise.Tests.Support;

namespace Guise.Tests.Pt;

/// <summary>
/// The tor side of ext-orport-spec, scripted: one connection over loopback, with knobs for each
/// way a real or hostile tor could answer. Records what the client sent.
/// </summary>
internal sealed class FakeExtOrPort : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public FakeExtOrPort(byte[] cookie)
    {
        Cookie = cookie;
        _listener.Start();
    }

    public byte[] Cookie { get; set; }
    public byte[] AuthTypes { get; init; } = [1];
    public bool CorruptServerHash { get; init; }
    public byte? StatusOverride { get; init; }
    /// <summary>Replies sent after DONE, as (command, body).</summary>
    public List<(ushort Command, byte[] Body)> Replies { get; init; } = [(0x1000, [])];
    /// <summary>Bytes sent right after the replies, in the same write (the start of the OR stream).</summary>
    public byte[] Trailer { get; init; } = [];
    /// <summary>Read the auth type and client nonce, then close the connection.</summary>
    public bool HangUpAfterClientNonce { get; init; }
    /// <summary>Stop after the auth types and never answer (for cancellation).</summary>
    public bool GoSilentAfterAuthTypes { get; init; }

    public byte? ChosenAuthType { get; private set; }
    public bool ClientHashOk { get; private set; }
    public bool ClientHashReceived { get; private set; }
    public List<(ushort Command, string Body)> Commands { get; } = [];

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async Task<TcpClient> ConnectAsync()
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        return client;
    }

    /// <summary>Serves one connection; returns when the exchange is over or the client left.</summary>
    public async Task ServeOneAsync(CancellationToken ct)
    {
        using var socket = await _listener.AcceptTcpClientAsync(ct);
        var s = socket.GetStream();
        await s.WriteAsync(AuthTypes.Append((byte)0).ToArray(), ct);
        if (GoSilentAfterAuthTypes)
        {
            await Task.Delay(Timeout.Infinite, ct);
            return;
        }

        var type = new byte[1];
        if (await s.ReadAtLeastAsync(type, 1, throwOnEndOfStream: false, ct) == 0)
            return;
        ChosenAuthType = type[0];
        if (type[0] != 1)
            return;

        var clientNonce = new byte[32];
        await s.ReadExactlyAsync(clientNonce, ct);
        // Everything the client sent has been read, so closing now is a clean FIN, not a reset.
        if (HangUpAfterClientNonce)
            return;
        var serverNonce = RandomNumberGenerator.GetBytes(32);
        var serverHash = ExtOrPortClient.ComputeServerHash(Cookie, clientNonce, serverNonce);
        if (CorruptServerHash)
            serverHash[31] ^= 1;
        await s.WriteAsync(serverHash.Concat(serverNonce).ToArray(), ct);

        var clientHash = new byte[32];
        if (await s.ReadAtLeastAsync(clientHash, 32, throwOnEndOfStream: false, ct) < 32)
            return;
        ClientHashReceived = true;
        ClientHashOk = CryptographicOperations.FixedTimeEquals(clientHash, ExtOrPortClient.ComputeClientHash(Cookie, clientNonce, serverNonce));
        var status = StatusOverride ?? (byte)(ClientHashOk ? 1 : 0);
        await s.WriteAsync(new[] { status }, ct);
        if (status != 1)
            return;

        var header = new byte[4];
        while (true)
        {
            await s.ReadExactlyAsync(header, ct);
            var command = BinaryPrimitives.ReadUInt16BigEndian(header);
            var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2))];
            await s.ReadExactlyAsync(body, ct);
            Commands.Add((command, Encoding.ASCII.GetString(body)));
            if (command == 0x0000)
                break;
        }

        var reply = new List<byte>();
        foreach (var (command, body) in Replies)
        {
            var h = new byte[4];
            BinaryPrimitives.WriteUInt16BigEndian(h, command);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)body.Length);
            reply.AddRange(h);
            reply.AddRange(body);
        }
        reply.AddRange(Trailer);
        await s.WriteAsync(reply.ToArray(), ct);
        // Let the client read everything before the socket closes.
        await s.ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false, ct);
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Hands out at most one byte per read, so every length-prefixed read is exercised in pieces.</summary>
internal sealed class OneByteReadStream(Stream inner) : WrappedStream(inner, ownsInner: false)
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(buffer[..Math.Min(buffer.Length, 1)], cancellationToken);
}
