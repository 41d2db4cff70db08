using System.Diagnostics.CodeAnalysis;
using Guise.Errors;
using Guise.Net;
using Guise.Transports;

namespace Guise.Pt;

// Grammar of one managed-proxy stdout line, as read by a parent (the inverse of PtOutput):
//
//   line     = keyword [SP rest]                       a trailing LF (and one CR) are dropped
//   VERSION <version>
//   VERSION-ERROR <message>    ENV-ERROR <message>     PROXY-ERROR <message>   (message = rest, may be empty)
//   PROXY DONE                 CMETHODS DONE           SMETHODS DONE
//   CMETHOD <name> <socks4|socks5> <host:port> *(SP ignored)
//   CMETHOD-ERROR <name> <message>
//   SMETHOD <name> <host:port> *(SP option)            option "ARGS:k=v,k=v" is kept, others ignored
//   SMETHOD-ERROR <name> <message>
//   LOG    kv*                                         needs SEVERITY and MESSAGE
//   STATUS kv*                                         TRANSPORT (if any) is split out
//   kv       = key "=" (CString / bare)                bare = up to the next SP
//
// Tokens are separated by runs of spaces, as Tor's own parser (SPLIT_SKIP_SPACE) does.
// "The parent process MUST ignore lines received from PT proxies with unknown keywords", so an
// unknown keyword (and "PROXY x" / "CMETHODS x" with x ≠ DONE) is an Unknown message. A known
// keyword with broken arguments is the PT speaking the protocol wrongly: PtErrorKind.PeerProtocol.

public enum PtMessageKind
{
    Unknown,
    Version,
    VersionError,
    EnvError,
    ProxyDone,
    ProxyError,
    Cmethod,
    CmethodError,
    CmethodsDone,
    Smethod,
    SmethodError,
    SmethodsDone,
    Log,
    Status,
}

/// <summary>One parsed managed-proxy line; match on the nested records or on <see cref="Kind"/>.</summary>
public abstract record PtMessage
{
    private protected PtMessage() { }

    public abstract PtMessageKind Kind { get; }

    public sealed record Unknown(string Keyword, string Arguments) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Unknown;
    }

    public sealed record Version(string ProtocolVersion) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Version;
    }

    public sealed record VersionError(string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.VersionError;
    }

    public sealed record EnvError(string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.EnvError;
    }

    public sealed record ProxyDone : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.ProxyDone;
    }

    public sealed record ProxyError(string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.ProxyError;
    }

    public sealed record Cmethod(string Transport, string Protocol, HostPort Address) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Cmethod;
    }

    public sealed record CmethodError(string Transport, string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.CmethodError;
    }

    public sealed record CmethodsDone : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.CmethodsDone;
    }

    /// <param name="Args">The ARGS option, or null when the line had none.</param>
    public sealed record Smethod(string Transport, HostPort Address, PtArgs? Args) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Smethod;

        // PtArgs compares by reference; two lines with the same ARGS are the same message.
        public bool Equals(Smethod? other) =>
            other is not null && Transport == other.Transport && Address == other.Address
            && (Args is null ? other.Args is null : other.Args is not null && Args.SequenceEqual(other.Args));

        public override int GetHashCode() => HashCode.Combine(Transport, Address, Args?.Count);
    }

    public sealed record SmethodError(string Transport, string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.SmethodError;
    }

    public sealed record SmethodsDone : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.SmethodsDone;
    }

    public sealed record Log(PtLogSeverity Severity, string Message) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Log;
    }

    /// <param name="Transport">The TRANSPORT value, or null when absent.</param>
    /// <param name="Fields">Every other key=value, decoded, in line order.</param>
    public sealed record Status(string? Transport, IReadOnlyList<KeyValuePair<string, string>> Fields) : PtMessage
    {
        public override PtMessageKind Kind => PtMessageKind.Status;

        /// <summary>The first value of <paramref name="key"/>, or null.</summary>
        public string? Get(string key)
        {
            foreach (var (k, v) in Fields)
            {
                if (k == key)
                    return v;
            }
            return null;
        }

        public bool Equals(Status? other) =>
            other is not null && Transport == other.Transport && Fields.SequenceEqual(other.Fields);

        public override int GetHashCode() => HashCode.Combine(Transport, Fields.Count);
    }

    /// <summary>Parses one line. Never throws anything but <see cref="PtException"/> (PeerProtocol).</summary>
    public static PtMessage Parse(string line) =>
        TryParse(line, out var message, out var error) ? message
            : throw new PtException(PtErrorKind.PeerProtocol, error);

    public static bool TryParse(string line, [NotNullWhen(true)] out PtMessage? message, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(line);
        message = null;
        if (line.EndsWith('\n'))
            line = line[..^1];
        if (line.EndsWith('\r'))
            line = line[..^1];

        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var keyword = space < 0 ? line : line[..space];
        var rest = space < 0 ? "" : line[(space + 1)..];
        var tokens = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        error = null;
        message = keyword switch
        {
            "VERSION" => tokens.Length == 1 ? new Version(tokens[0]) : Fail("VERSION needs exactly one version", out error),
            "VERSION-ERROR" => new VersionError(rest),
            "ENV-ERROR" => new EnvError(rest),
            "PROXY-ERROR" => new ProxyError(rest),
            "PROXY" when tokens is ["DONE"] => new ProxyDone(),
            "CMETHODS" when tokens is ["DONE"] => new CmethodsDone(),
            "SMETHODS" when tokens is ["DONE"] => new SmethodsDone(),
            "CMETHOD" => ParseCmethod(tokens, out error),
            "SMETHOD" => ParseSmethod(tokens, out error),
            "CMETHOD-ERROR" => ParseMethodError(rest, smethod: false, out error),
            "SMETHOD-ERROR" => ParseMethodError(rest, smethod: true, out error),
            "LOG" => ParseLog(rest, out error),
            "STATUS" => ParseStatus(rest, out error),
            _ => new Unknown(keyword, rest),
        };
        return message is not null;
    }

    private static PtMessage? Fail(string why, out string error)
    {
        error = why;
        return null;
    }

    private static PtMessage? ParseCmethod(string[] tokens, out string? error)
    {
        error = null;
        if (tokens.Length < 3)
            return Fail("CMETHOD needs a transport, a protocol and an address", out error);
        if (!PtOutput.IsTransportName(tokens[0]))
            return Fail($"CMETHOD transport \"{PtOutput.Sanitize(tokens[0])}\" is not a transport name", out error);
        if (tokens[1] is not ("socks4" or "socks5"))
            return Fail($"CMETHOD protocol \"{PtOutput.Sanitize(tokens[1])}\" is not socks4 or socks5", out error);
        if (!HostPort.TryParse(tokens[2], out var address))
            return Fail($"CMETHOD address \"{PtOutput.Sanitize(tokens[2])}\" is not host:port", out error);
        return new Cmethod(tokens[0], tokens[1], address.Value);
    }

    private static PtMessage? ParseSmethod(string[] tokens, out string? error)
    {
        error = null;
        if (tokens.Length < 2)
            return Fail("SMETHOD needs a transport and an address", out error);
        if (!PtOutput.IsTransportName(tokens[0]))
            return Fail($"SMETHOD transport \"{PtOutput.Sanitize(tokens[0])}\" is not a transport name", out error);
        if (!HostPort.TryParse(tokens[1], out var address))
            return Fail($"SMETHOD address \"{PtOutput.Sanitize(tokens[1])}\" is not host:port", out error);
        PtArgs? args = null;
        foreach (var option in tokens.AsSpan(2))
        {
            if (!option.StartsWith("ARGS:", StringComparison.Ordinal))
                continue;
            if (args is not null)
                return Fail("SMETHOD has two ARGS options", out error);
            try
            {
                args = PtArgs.ParseSmethodArgs(option["ARGS:".Length..]);
            }
            catch (PtException e)
            {
                return Fail($"SMETHOD ARGS: {PtOutput.Sanitize(e.Message)}", out error);
            }
        }
        return new Smethod(tokens[0], address.Value, args);
    }

    private static PtMessage? ParseMethodError(string rest, bool smethod, out string? error)
    {
        error = null;
        var start = 0;
        while (start < rest.Length && rest[start] == ' ')
            start++;
        var end = rest.IndexOf(' ', start);
        var name = end < 0 ? rest[start..] : rest[start..end];
        var text = end < 0 ? "" : rest[(end + 1)..];
        var keyword = smethod ? "SMETHOD-ERROR" : "CMETHOD-ERROR";
        if (!PtOutput.IsTransportName(name))
            return Fail($"{keyword} transport \"{PtOutput.Sanitize(name)}\" is not a transport name", out error);
        return smethod ? new SmethodError(name, text) : new CmethodError(name, text);
    }

    private static PtMessage? ParseLog(string rest, out string? error)
    {
        if (!TryParseKeyValues(rest, out var fields, out error))
            return null;
        string? severity = null, text = null;
        foreach (var (k, v) in fields)
        {
            if (k == "SEVERITY")
                severity ??= v;
            else if (k == "MESSAGE")
                text ??= v;
        }
        if (severity is null || text is null)
            return Fail("LOG needs SEVERITY and MESSAGE", out error);
        PtLogSeverity? parsed = severity.ToLowerInvariant() switch
        {
            "error" => PtLogSeverity.Error,
            "warning" => PtLogSeverity.Warning,
            "notice" => PtLogSeverity.Notice,
            "info" => PtLogSeverity.Info,
            "debug" => PtLogSeverity.Debug,
            _ => null,
        };
        return parsed is { } s ? new Log(s, text)
            : Fail($"LOG severity \"{PtOutput.Sanitize(severity)}\" is not error, warning, notice, info or debug", out error);
    }

    private static PtMessage? ParseStatus(string rest, out string? error)
    {
        if (!TryParseKeyValues(rest, out var fields, out error))
            return null;
        if (fields.Count == 0)
            return Fail("STATUS has no fields", out error);
        string? transport = null;
        var others = new List<KeyValuePair<string, string>>(fields.Count);
        foreach (var kv in fields)
        {
            if (kv.Key == "TRANSPORT" && transport is null)
                transport = kv.Value;
            else
                others.Add(kv);
        }
        return new Status(transport, others);
    }

    /// <summary>Parses <c>K=V K="C string" ...</c> the way Tor's kvline parser does with quoting on.</summary>
    internal static bool TryParseKeyValues(string text, out List<KeyValuePair<string, string>> fields, [NotNullWhen(false)] out string? error)
    {
        fields = [];
        error = null;
        var i = 0;
        while (true)
        {
            while (i < text.Length && text[i] == ' ')
                i++;
            if (i >= text.Length)
                return true;
            var keyStart = i;
            while (i < text.Length && text[i] != '=' && text[i] != ' ')
                i++;
            if (i == keyStart || i >= text.Length || text[i] != '=')
            {
                error = $"\"{PtOutput.Sanitize(text[keyStart..i])}\" is not key=value";
                return false;
            }
            var key = text[keyStart..i];
            i++;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                if (!CStringCodec.TryDecode(text, i, out value, out var end))
                {
                    error = $"bad quoted value for {PtOutput.Sanitize(key)}";
                    return false;
                }
                if (end < text.Length && text[end] != ' ')
                {
                    error = $"junk after the quoted value of {PtOutput.Sanitize(key)}";
                    return false;
                }
                i = end;
            }
            else
            {
                var valueStart = i;
                while (i < text.Length && text[i] != ' ')
                    i++;
                value = text[valueStart..i];
            }
            fields.Add(new(key, value));
        }
    }
}
