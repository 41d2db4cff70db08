// HTTP CONNECT tunnel (RFC 9110 §9.3.6), as sent to a TOR_PT_PROXY of kind http:
//
//   CONNECT host:port HTTP/1.1\r\n
//   Host: host:port\r\n
//   Proxy-Authorization: Basic base64(user ":" password)\r\n     (only with credentials; RFC 7617)
//   \r\n
//
// Answer: a status line "HTTP/1.x SSS reason", header lines, an empty line. Any 2xx means the
// bytes that follow belong to the tunnel; anything else is a refusal (407 = wrong or missing
// credentials). IPv6 hosts are bracketed, as in any authority. Lines may end in LF alone;
// lenient proxies send that and nothing is gained by refusing them.

using System.Buffers;
using System.Text;
using Guise.Errors;
using Guise.Net;

namespace Guise.Proxy;

/// <summary>Opens a tunnel through an HTTP proxy on an already connected stream.</summary>
public static class HttpConnectClient
{
    /// <summary>Longest response head read before giving up on the proxy.</summary>
    public const int MaxResponseHeadLength = 16 * 1024;

    /// <summary>The CONNECT request bytes; see the format at the top of this file.</summary>
    public static byte[] EncodeRequest(string host, int port, string? userName, string? password)
    {
        ArgumentNullException.ThrowIfNull(host);
        var authority = HostPort.Format(host, port);
        // The authority goes into a request line: anything HostPort would not parse could
        // smuggle a header.
        if (!HostPort.TryParse(authority, out _) || port is < 1 or > 65535)
            throw new PtException(PtErrorKind.Config, "HTTP CONNECT target is not a valid host:port");
        var text = new StringBuilder()
            .Append("CONNECT ").Append(authority).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(authority).Append("\r\n");
        if (userName is not null)
        {
            var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{userName}:{password}"));
            text.Append("Proxy-Authorization: Basic ").Append(credentials).Append("\r\n");
        }
        text.Append("\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>
    /// Parses a complete response head (status line through the empty line).
    /// </summary>
    /// <returns>
    /// NeedMoreData while the empty line has not arrived; InvalidData if the status line is not
    /// HTTP/1.x with a three-digit code; Done otherwise, with <paramref name="consumed"/> the
    /// length of the head and <paramref name="statusLine"/> printable and at most 200 chars.
    /// </returns>
    public static OperationStatus TryParseResponseHead(ReadOnlySpan<byte> input, out int consumed, out int statusCode, out string statusLine)
    {
        consumed = 0;
        statusCode = 0;
        statusLine = "";
        var end = FindHeadEnd(input);
        if (end < 0)
            return OperationStatus.NeedMoreData;

        var lineEnd = input.IndexOf((byte)'\n');
        var line = input[..lineEnd];
        if (line.Length > 0 && line[^1] == '\r')
            line = line[..^1];
        statusLine = Printable(line);
        if (!line.StartsWith("HTTP/1."u8) || line.Length < 12 || line[8] != ' '
            || !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11])
            || (line.Length > 12 && line[12] != ' '))
            return OperationStatus.InvalidData;
        statusCode = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        consumed = end;
        return OperationStatus.Done;

        static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
    }

    /// <summary>
    /// Sends CONNECT and reads the response head exactly, so on success the stream carries only
    /// tunnel bytes. A non-2xx status is a <see cref="PtErrorKind.Proxy"/> error naming the
    /// status line; so is a malformed or oversized head or an early close.
    /// </summary>
    public static async ValueTask ConnectAsync(Stream proxy, string host, int port, string? userName, string? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        var request = EncodeRequest(host, port, userName, password);
        await proxy.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        await proxy.FlushAsync(cancellationToken).ConfigureAwait(false);

        var buffer = ArrayPool<byte>.Shared.Rent(MaxResponseHeadLength);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == MaxResponseHeadLength)
                    throw new PtException(PtErrorKind.Proxy, $"HTTP proxy response head is longer than {MaxResponseHeadLength} bytes");
                // One byte at a time: the head has no length field, and a byte past it would
                // belong to the tunnel. Heads are a few hundred bytes, once per connection.
                var n = await proxy.ReadAsync(buffer.AsMemory(filled, 1), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new PtException(PtErrorKind.Proxy, "HTTP proxy closed the connection before its response ended");
                filled++;
                if (buffer[filled - 1] != '\n')
                    continue;
                var status = TryParseResponseHead(buffer.AsSpan(0, filled), out _, out var code, out var line);
                if (status == OperationStatus.NeedMoreData)
                    continue;
                if (status == OperationStatus.InvalidData)
                    throw new PtException(PtErrorKind.Proxy, $"HTTP proxy sent a malformed status line \"{line}\"");
                if (code is < 200 or > 299)
                    throw new PtException(PtErrorKind.Proxy, $"HTTP proxy refused CONNECT: \"{line}\"");
                return;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The head ends at the first empty line: "\n\n" or "\n\r\n".
    private static int FindHeadEnd(ReadOnlySpan<byte> input)
    {
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] != '\n')
                continue;
            if (i + 1 < input.Length && input[i + 1] == '\n')
                return i + 2;
            if (i + 2 < input.Length && input[i + 1] == '\r' && input[i + 2] == '\n')
                return i + 3;
        }
        return -1;
    }

    private static string Printable(ReadOnlySpan<byte> line)
    {
        var text = new StringBuilder(Math.Min(line.Length, 200));
        foreach (var b in line[..Math.Min(line.Length, 200)])
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return text.ToString();
    }
}
