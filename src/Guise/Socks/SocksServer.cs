// Reply formats written here. Numbers are field lengths in bytes; integers are big-endian.
//
// SOCKS5 reply (RFC 1928 §6)
//   +-----+-----+-----+------+----------+----------+
//   | VER | REP | RSV | ATYP | BND.ADDR | BND.PORT |
//   | 05  |  1  | 00  |  01  | 00000000 |   0000   |
//   +-----+-----+-----+------+----------+----------+
//   BND is meant to be the proxy's outbound address. Tor ignores it, and the real one would
//   tell a local process where we dial from, so it is always 0.0.0.0:0 (as goptlib does).
//
// SOCKS4 reply
//   +----+----+---------+-------+
//   | VN | CD | DSTPORT | DSTIP |
//   | 00 |  1 |  0000   | 0.0.0.0 (4)
//   +----+----+---------+-------+
//   CD 5A granted, 5B rejected or failed. SOCKS4 has no finer codes (5C/5D are about identd).

using System.Buffers;
using Guise.Errors;

namespace Guise.Socks;

/// <summary>The SOCKS front end Tor (or an app) talks to: read one CONNECT, later answer it.</summary>
public static class SocksServer
{
    /// <summary>Length of every SOCKS5 reply this server sends.</summary>
    public const int Socks5ReplyLength = 10;

    /// <summary>Length of every SOCKS4 reply.</summary>
    public const int Socks4ReplyLength = 8;

    /// <summary>
    /// Runs the handshake on a freshly accepted client and returns its CONNECT request. SOCKS5
    /// offers no-auth and username/password (RFC 1929); the pt-spec args travel in the
    /// credentials (SOCKS5) or the USERID (SOCKS4a).
    /// </summary>
    /// <remarks>
    /// Never reads past the request, so after <see cref="SendReplyAsync"/> the stream can be
    /// relayed as it is. The request is not answered: call <see cref="SendReplyAsync"/> once
    /// the outbound dial has succeeded or failed. <paramref name="client"/> is not disposed.
    /// A handshake deadline belongs in <paramref name="cancellationToken"/>.
    /// </remarks>
    /// <exception cref="PtException">
    /// PeerProtocol for malformed SOCKS, Config for unparsable args (the failure reply has then
    /// already been sent where the protocol has one), Eof if the client closed mid-handshake.
    /// </exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> fires.</exception>
    public static async ValueTask<SocksRequest> ReadRequestAsync(Stream client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var handshake = new SocksServerHandshake();
        var output = new ArrayBufferWriter<byte>(Socks5ReplyLength);
        var buffer = ArrayPool<byte>.Shared.Rent(SocksServerHandshake.MaxMessageLength);
        try
        {
            var filled = 0;
            while (true)
            {
                var status = handshake.Process(buffer.AsSpan(0, filled), output, out var consumed);
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;

                if (status == OperationStatus.InvalidData)
                {
                    await SendFailureReplyAsync(client, output).ConfigureAwait(false);
                    throw handshake.Error!;
                }
                if (output.WrittenCount > 0)
                {
                    await client.WriteAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    output.ResetWrittenCount();
                }
                if (status == OperationStatus.Done)
                    return handshake.Request!;

                // Ask for no more than the current message still lacks: whatever follows the
                // request belongs to the relay, not to us.
                var want = handshake.MinimumInput - filled;
                var n = await client.ReadAsync(buffer.AsMemory(filled, want), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new PtException(PtErrorKind.Eof, "SOCKS client closed the connection during the handshake");
                filled += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The handshake error is what the caller needs; a client that already left cannot make the
    // reply fail in a way worth reporting instead. Cancellation is not honoured here: the reply
    // is a few bytes into a socket buffer, and without it the client waits for its own timeout.
    private static async ValueTask SendFailureReplyAsync(Stream client, ArrayBufferWriter<byte> output)
    {
        if (output.WrittenCount == 0)
            return;
        try
        {
            await client.WriteAsync(output.WrittenMemory).ConfigureAwait(false);
            await client.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
        }
    }

    /// <summary>
    /// Answers <paramref name="request"/>. SOCKS5 gets <paramref name="reply"/> with BND
    /// 0.0.0.0:0; SOCKS4 gets 0x5A for <see cref="SocksReply.Succeeded"/> and 0x5B otherwise.
    /// </summary>
    public static async ValueTask SendReplyAsync(Stream client, SocksRequest request, SocksReply reply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        var bytes = EncodeReply(request.Version, reply);
        await client.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await client.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The reply code for a failed outbound connection, as obfs4proxy's ErrorToReplyCode picks
    /// it (goptlib itself only offers general failure): refused and reset are "connection
    /// refused", unreachable and DNS failure "host unreachable", a timeout "TTL expired".
    /// Config (bad bridge args) is "general failure", again as obfs4proxy does: tor logs 0x02
    /// "not allowed by ruleset" as a policy refusal, which would send users looking in the
    /// wrong place.
    /// </summary>
    public static SocksReply ReplyFor(PtErrorKind kind) => kind switch
    {
        PtErrorKind.Refused or PtErrorKind.Reset => SocksReply.ConnectionRefused,
        PtErrorKind.Unreachable or PtErrorKind.DnsFailure => SocksReply.HostUnreachable,
        PtErrorKind.Timeout => SocksReply.TtlExpired,
        _ => SocksReply.GeneralFailure,
    };

    /// <summary>The reply bytes for <paramref name="version"/>; see the formats at the top of this file.</summary>
    public static byte[] EncodeReply(SocksVersion version, SocksReply reply)
    {
        var output = new ArrayBufferWriter<byte>(Socks5ReplyLength);
        WriteReply(version, reply, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Writes the reply bytes for <paramref name="version"/> to <paramref name="output"/>.</summary>
    public static void WriteReply(SocksVersion version, SocksReply reply, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        switch (version)
        {
            case SocksVersion.Socks5:
                {
                    var span = output.GetSpan(Socks5ReplyLength)[..Socks5ReplyLength];
                    span.Clear();
                    span[0] = 5;
                    span[1] = (byte)reply;
                    span[3] = 1;
                    output.Advance(Socks5ReplyLength);
                    break;
                }
            case SocksVersion.Socks4a:
                {
                    var span = output.GetSpan(Socks4ReplyLength)[..Socks4ReplyLength];
                    span.Clear();
                    span[1] = reply == SocksReply.Succeeded ? (byte)0x5A : (byte)0x5B;
                    output.Advance(Socks4ReplyLength);
                    break;
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(version), version, "unknown SOCKS version");
        }
    }
}
