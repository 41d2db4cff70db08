using System.Buffers;
using System.Globalization;
using System.Text;

namespace Guise.Transports.Marionette;

/// <summary>
/// Template grammars (<c>tg.send("NAME")</c>): whole HTTP/1.1 messages with a correct
/// <c>Content-Length</c>, carrying one sealed record either in the body (<c>application/octet-stream</c>)
/// or in a cookie (base64url). The receive side is a real HTTP/1.x parser: it accepts what an
/// intermediary may rewrite (header order and case, added headers, HTTP/1.0 from nginx's
/// upstream side, <c>Transfer-Encoding: chunked</c>) and only relies on the start line and the
/// field that carries the record.
/// </summary>
public sealed class HttpTemplate
{
    public const int MaxHeaderBytes = 16 * 1024;
    public const int MaxBodyBytes = 1024 * 1024;

    private enum Kind { GetCookie, PostBody, ResponseBody }

    private readonly Kind _kind;

    private HttpTemplate(string name, Kind kind, int maxRecord)
    {
        Name = name;
        _kind = kind;
        MaxRecord = maxRecord;
    }

    public string Name { get; }

    /// <summary>The largest sealed record one message carries.</summary>
    public int MaxRecord { get; }

    /// <summary>The grammars a format may name in <c>tg.send</c>.</summary>
    public static IReadOnlyDictionary<string, HttpTemplate> All { get; } = new Dictionary<string, HttpTemplate>(StringComparer.Ordinal)
    {
        // 2 KiB of record is 2732 cookie characters: well under nginx's 8 KiB header line buffer.
        ["http_get_request"] = new("http_get_request", Kind.GetCookie, 2048),
        // Stays under nginx's default client_max_body_size (1 MiB) by a wide margin.
        ["http_post_request"] = new("http_post_request", Kind.PostBody, 60 * 1024),
        ["http_response"] = new("http_response", Kind.ResponseBody, 60 * 1024),
    };

    public bool IsRequest => _kind != Kind.ResponseBody;

    private static readonly string[] Paths = ["index.html", "news", "api/v2/items", "static/app.js", "images/logo.png", "search", "feed.xml", "upload", "sync"];
    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ];

    /// <summary>Builds one whole HTTP message around <paramref name="record"/>.</summary>
    public byte[] Encode(ReadOnlySpan<byte> record, string host, Random rng, DateTimeOffset now)
    {
        if (record.Length > MaxRecord)
            throw new ArgumentException($"record of {record.Length} bytes exceeds {Name}'s {MaxRecord}", nameof(record));
        var sb = new StringBuilder(512);
        var path = Paths[rng.Next(Paths.Length)];
        switch (_kind)
        {
            case Kind.GetCookie:
                sb.Append("GET /").Append(path).Append("?v=").Append(rng.Next(1, 100000).ToString(CultureInfo.InvariantCulture)).Append(" HTTP/1.1\r\n");
                sb.Append("Host: ").Append(host).Append("\r\n");
                sb.Append("User-Agent: ").Append(Agents[rng.Next(Agents.Length)]).Append("\r\n");
                sb.Append("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n");
                sb.Append("Accept-Language: en-US,en;q=0.5\r\n");
                sb.Append("Cookie: session=").Append(Base64Url(record)).Append("\r\n");
                sb.Append("Connection: keep-alive\r\n\r\n");
                return Encoding.Latin1.GetBytes(sb.ToString());
            case Kind.PostBody:
                sb.Append("POST /").Append(path).Append(" HTTP/1.1\r\n");
                sb.Append("Host: ").Append(host).Append("\r\n");
                sb.Append("User-Agent: ").Append(Agents[rng.Next(Agents.Length)]).Append("\r\n");
                sb.Append("Accept: */*\r\n");
                sb.Append("Content-Type: application/octet-stream\r\n");
                sb.Append("Content-Length: ").Append(record.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
                sb.Append("Connection: keep-alive\r\n\r\n");
                return Concat(sb, record);
            default:
                sb.Append("HTTP/1.1 200 OK\r\n");
                sb.Append("Server: nginx\r\n");
                sb.Append("Date: ").Append(now.UtcDateTime.ToString("r", CultureInfo.InvariantCulture)).Append("\r\n");
                sb.Append("Content-Type: application/octet-stream\r\n");
                sb.Append("Content-Length: ").Append(record.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
                sb.Append("Cache-Control: no-store\r\n");
                sb.Append("Connection: keep-alive\r\n\r\n");
                return Concat(sb, record);
        }
    }

    private static byte[] Concat(StringBuilder head, ReadOnlySpan<byte> body)
    {
        var h = Encoding.Latin1.GetBytes(head.ToString());
        var result = new byte[h.Length + body.Length];
        h.CopyTo(result, 0);
        body.CopyTo(result.AsSpan(h.Length));
        return result;
    }

    /// <summary>
    /// Parses one HTTP message of this template's kind from the front of <paramref name="input"/>.
    /// Done: <paramref name="record"/> is the carried record (not yet authenticated). NeedMoreData:
    /// the message is incomplete. InvalidData: it is not HTTP, not this kind, or lacks the field.
    /// </summary>
    public OperationStatus TryDecode(ReadOnlySpan<byte> input, out int consumed, out byte[]? record)
    {
        consumed = 0;
        record = null;
        var status = HttpMessage.TryParse(input, out var msg, out var used);
        if (status != OperationStatus.Done)
        {
            // Reject early on a start line of the wrong kind, so a detector does not wait in vain.
            if (status == OperationStatus.NeedMoreData && HttpMessage.StartLineKnown(input, out var isRequest, out var method))
            {
                if (isRequest != IsRequest || (IsRequest && method != ExpectedMethod))
                    return OperationStatus.InvalidData;
            }
            return status;
        }
        if (msg!.IsRequest != IsRequest || (IsRequest && msg.Method != ExpectedMethod) || (!IsRequest && msg.Status != 200))
            return OperationStatus.InvalidData;
        if (_kind == Kind.GetCookie)
        {
            var cookie = msg.Header("cookie");
            if (cookie is null)
                return OperationStatus.InvalidData;
            string? value = null;
            foreach (var part in cookie.Split(';'))
            {
                var kv = part.Trim();
                if (kv.StartsWith("session=", StringComparison.Ordinal))
                    value = kv["session=".Length..];
            }
            if (value is null || !TryFromBase64Url(value, out record))
                return OperationStatus.InvalidData;
        }
        else
        {
            record = msg.Body;
        }
        consumed = used;
        return OperationStatus.Done;
    }

    private string ExpectedMethod => _kind == Kind.GetCookie ? "GET" : "POST";

    private static string Base64Url(ReadOnlySpan<byte> data) =>
        Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryFromBase64Url(string s, out byte[]? data)
    {
        data = null;
        var b = s.Replace('-', '+').Replace('_', '/');
        b += (b.Length % 4) switch { 2 => "==", 3 => "=", 0 => "", _ => "!" };
        try
        {
            data = Convert.FromBase64String(b);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>A parsed HTTP/1.x message (RFC 9112): start line, fields, body.</summary>
internal sealed class HttpMessage
{
    public bool IsRequest { get; private init; }
    public string Method { get; private init; } = "";
    public string Target { get; private init; } = "";
    public int Status { get; private init; }
    public string Version { get; private init; } = "";
    public List<KeyValuePair<string, string>> Headers { get; } = [];
    public byte[] Body { get; private set; } = [];

    public string? Header(string name)
    {
        foreach (var (k, v) in Headers)
        {
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
                return v;
        }
        return null;
    }

    public static bool StartLineKnown(ReadOnlySpan<byte> input, out bool isRequest, out string method)
    {
        isRequest = false;
        method = "";
        var sp = input.IndexOf((byte)' ');
        if (sp <= 0)
            return false;
        var first = Encoding.Latin1.GetString(input[..sp]);
        if (first.StartsWith("HTTP/", StringComparison.Ordinal))
            return true;
        isRequest = true;
        method = first;
        return true;
    }

    public static OperationStatus TryParse(ReadOnlySpan<byte> input, out HttpMessage? message, out int consumed)
    {
        message = null;
        consumed = 0;
        var end = input.IndexOf("\r\n\r\n"u8);
        if (end < 0)
            return input.Length > HttpTemplate.MaxHeaderBytes ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
        var head = Encoding.Latin1.GetString(input[..end]);
        var lines = head.Split("\r\n");
        var start = lines[0].Split(' ', 3);
        if (start.Length < 3 && !(start.Length == 2 && start[0].StartsWith("HTTP/", StringComparison.Ordinal)))
            return OperationStatus.InvalidData;
        HttpMessage msg;
        if (start[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            if (!int.TryParse(start[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 100 or > 999)
                return OperationStatus.InvalidData;
            msg = new HttpMessage { IsRequest = false, Status = status, Version = start[0] };
        }
        else
        {
            if (start.Length != 3 || !start[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || start[0].Length == 0 || !start[0].All(char.IsAsciiLetterUpper))
                return OperationStatus.InvalidData;
            msg = new HttpMessage { IsRequest = true, Method = start[0], Target = start[1], Version = start[2] };
        }
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || lines[i][..colon].Any(c => c is ' ' or '\t'))
                return OperationStatus.InvalidData;
            msg.Headers.Add(new(lines[i][..colon], lines[i][(colon + 1)..].Trim(' ', '\t')));
        }
        var pos = end + 4;
        var te = msg.Header("transfer-encoding");
        if (te is not null && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var body = new ArrayBufferWriter<byte>();
            while (true)
            {
                var lineEnd = input[pos..].IndexOf("\r\n"u8);
                if (lineEnd < 0)
                    return OperationStatus.NeedMoreData;
                var sizeText = Encoding.Latin1.GetString(input.Slice(pos, lineEnd)).Split(';')[0].Trim();
                if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0 || body.WrittenCount + size > HttpTemplate.MaxBodyBytes)
                    return OperationStatus.InvalidData;
                pos += lineEnd + 2;
                if (size == 0)
                {
                    // Trailer section: zero or more fields, then CRLF.
                    var trailerEnd = input[pos..].IndexOf("\r\n"u8);
                    while (trailerEnd > 0)
                    {
                        pos += trailerEnd + 2;
                        trailerEnd = input[pos..].IndexOf("\r\n"u8);
                    }
                    if (trailerEnd < 0)
                        return OperationStatus.NeedMoreData;
                    pos += 2;
                    break;
                }
                if (input.Length < pos + size + 2)
                    return OperationStatus.NeedMoreData;
                body.Write(input.Slice(pos, size));
                if (!input.Slice(pos + size, 2).SequenceEqual("\r\n"u8))
                    return OperationStatus.InvalidData;
                pos += size + 2;
            }
            msg.Body = body.WrittenSpan.ToArray();
        }
        else
        {
            var cl = msg.Header("content-length");
            var length = 0;
            if (cl is not null && (!int.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > HttpTemplate.MaxBodyBytes))
                return OperationStatus.InvalidData;
            if (cl is null && !msg.IsRequest && msg.Status != 204 && msg.Status != 304)
                return OperationStatus.InvalidData; // a close-delimited body cannot carry a tunnel
            if (input.Length < pos + length)
                return OperationStatus.NeedMoreData;
            msg.Body = input.Slice(pos, length).ToArray();
            pos += length;
        }
        message = msg;
        consumed = pos;
        return OperationStatus.Done;
    }
}
