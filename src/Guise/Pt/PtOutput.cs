using System.Net;
using System.Text;
using Guise.Net;
using Guise.Transports;

namespace Guise.Pt;

// The managed proxy → parent lines (pt-spec §3.3):
//
//   <Line>        ::= <Keyword> <OptArgs> <NL>
//   <KeywordChar> ::= <any US-ASCII alphanumeric, dash, and underscore>
//   <Args>        ::= <SP> <ArgChar> | <Args> <ArgChar>
//   <ArgChar>     ::= <any US-ASCII character but NUL or NL>
//
//   VERSION <version>                      VERSION-ERROR no-version
//   ENV-ERROR <message>                    PROXY DONE
//   PROXY-ERROR <message>
//   CMETHOD <transport> socks4|socks5 <address:port>
//   CMETHOD-ERROR <transport> <message>    CMETHODS DONE
//   SMETHOD <transport> <address:port> [ARGS:k=v,k=v]
//   SMETHOD-ERROR <transport> <message>    SMETHODS DONE
//   LOG SEVERITY=<error|warning|notice|info|debug> MESSAGE=<CString>
//   STATUS [TRANSPORT=<v>] <K>=<V> ...     (V bare, or a CString when it needs quoting)
//   STATUS TYPE=version IMPLEMENTATION=<CString> VERSION=<CString>   (tor ≥ 0.4.8, lyrebird)
//
// We are stricter than <ArgChar> in two ways that keep lines parseable: CR is refused too (a
// parent reading with a CRLF-aware reader would split there) and so is any byte ≥ 0x80, as
// goptlib does. Transport names must be C identifiers ("[a-zA-Z_][a-zA-Z0-9_]*") because they
// are space-separated tokens.

/// <summary>
/// Writes managed-proxy lines to the parent. Every line is validated whole before any of it is
/// written, written with a bare LF, and flushed, under one lock, so concurrent transports cannot
/// interleave half lines and Tor sees each line as soon as it is decided.
/// </summary>
public sealed class PtOutput : IPtLog
{
    private readonly TextWriter _writer;
    private readonly Lock _lock = new();

    public PtOutput(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
    }

    public void Version(string version) => Line("VERSION", Token(version, nameof(version)));

    /// <summary>"SHOULD be set to 'no-version' for historical reasons".</summary>
    public void VersionError() => Line("VERSION-ERROR", "no-version");

    public void EnvError(string message) => Line("ENV-ERROR", message);

    public void ProxyDone() => Line("PROXY", "DONE");

    public void ProxyError(string message) => Line("PROXY-ERROR", message);

    /// <param name="protocol">"socks5" or "socks4".</param>
    public void Cmethod(string name, string protocol, IPEndPoint ep)
    {
        ArgumentNullException.ThrowIfNull(ep);
        if (protocol is not ("socks5" or "socks4"))
            throw new ArgumentException($"CMETHOD protocol must be socks4 or socks5, not \"{protocol}\"", nameof(protocol));
        Line("CMETHOD", TransportName(name, nameof(name)), protocol, HostPort.Format(ep));
    }

    public void CmethodError(string name, string message) =>
        Line("CMETHOD-ERROR", TransportName(name, nameof(name)), message);

    public void CmethodsDone() => Line("CMETHODS", "DONE");

    /// <param name="args">Written as <c>ARGS:</c> + <see cref="PtArgs.ToSmethodArgs"/>; omitted when null or empty.</param>
    public void Smethod(string name, IPEndPoint ep, PtArgs? args)
    {
        ArgumentNullException.ThrowIfNull(ep);
        var transport = TransportName(name, nameof(name));
        var address = HostPort.Format(ep);
        if (args is null || args.Count == 0)
        {
            Line("SMETHOD", transport, address);
            return;
        }
        // Tor takes the fourth space-separated token as the options, so a space inside ARGS
        // would silently cut the bridge line short.
        Line("SMETHOD", transport, address, Token("ARGS:" + args.ToSmethodArgs(), nameof(args)));
    }

    public void SmethodError(string name, string message) =>
        Line("SMETHOD-ERROR", TransportName(name, nameof(name)), message);

    public void SmethodsDone() => Line("SMETHODS", "DONE");

    /// <summary>
    /// Writes <c>LOG SEVERITY=.. MESSAGE="..."</c>. Never throws: any text is escaped, and a
    /// write failure (the parent has gone) is swallowed, because logging must not take down
    /// the connection that is being logged about.
    /// </summary>
    public void Log(PtLogSeverity severity, string message)
    {
        var line = $"LOG SEVERITY={SeverityToken(severity)} MESSAGE={CString(message ?? "")}";
        try
        {
            Write(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Writes <c>STATUS [TRANSPORT=t] K=V ...</c>. Keys must be keyword characters; values are
    /// written bare when they can be, as a CString otherwise. pt-spec: "there has to be at least one" field.
    /// </summary>
    public void Status(string? transport, IEnumerable<KeyValuePair<string, string>> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var parts = new List<string>();
        if (transport is not null)
            parts.Add("TRANSPORT=" + StatusValue(transport));
        foreach (var (key, value) in fields)
        {
            if (key.Length == 0 || !key.All(IsKeywordChar))
                throw new ArgumentException($"STATUS key \"{CStringCodec.Escape(key)}\" is not made of keyword characters", nameof(fields));
            ArgumentNullException.ThrowIfNull(value, nameof(fields));
            parts.Add(key + "=" + StatusValue(value));
        }
        if (parts.Count == (transport is null ? 0 : 1))
            throw new ArgumentException("a STATUS line needs at least one field", nameof(fields));
        Line("STATUS", [.. parts]);
    }

    /// <summary>Writes <c>STATUS TYPE=version IMPLEMENTATION="..." VERSION="..."</c>, quoted as lyrebird does.</summary>
    public void ImplementationVersion(string implementation, string version) =>
        Line("STATUS", "TYPE=version", "IMPLEMENTATION=" + CString(implementation), "VERSION=" + CString(version));

    /// <summary>
    /// Writes any line after validating it: the keyword must be keyword characters and each
    /// argument must be printable-or-space US-ASCII. For extension lines the typed methods lack.
    /// </summary>
    /// <exception cref="ArgumentException">A forbidden character; nothing is written.</exception>
    public void Line(string keyword, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        ArgumentNullException.ThrowIfNull(args);
        if (keyword.Length == 0 || !keyword.All(IsKeywordChar))
            throw new ArgumentException($"keyword \"{CStringCodec.Escape(keyword)}\" contains forbidden characters", nameof(keyword));
        var sb = new StringBuilder(keyword);
        foreach (var arg in args)
        {
            ArgumentNullException.ThrowIfNull(arg, nameof(args));
            foreach (var c in arg)
            {
                if (!IsArgChar(c))
                    throw new ArgumentException($"argument \"{CStringCodec.Escape(arg)}\" of {keyword} contains a forbidden character", nameof(args));
            }
            sb.Append(' ').Append(arg);
        }
        Write(sb.ToString());
    }

    /// <summary>Encodes text as a control-spec CString: quoted, with <c>\" \\ \n \r \t</c> and <c>\ooo</c> (UTF-8 bytes) escapes.</summary>
    public static string CString(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return CStringCodec.Encode(text);
    }

    /// <summary>
    /// Makes arbitrary text (an exception message, an OS error) safe as an error-line argument by
    /// CString-escaping it without quotes. The typed error methods refuse unsafe text instead, so
    /// call this on anything that did not come from our own string literals.
    /// </summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Only what a line may not carry is escaped: quotes and backslashes in free text stay
        // readable (an ENV-ERROR that quotes a value must not come out as \"value\").
        var needs = false;
        foreach (var c in text)
            needs |= c < 0x20 || c >= 0x7f;
        if (!needs)
            return text;
        var sb = new System.Text.StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is >= 0x20 and < 0x7f)
                sb.Append((char)rune.Value);
            else
                sb.Append(CStringCodec.Escape(rune.ToString()));
        }
        return sb.ToString();
    }

    public static string SeverityToken(PtLogSeverity severity) => severity switch
    {
        PtLogSeverity.Error => "error",
        PtLogSeverity.Warning => "warning",
        PtLogSeverity.Notice => "notice",
        PtLogSeverity.Info => "info",
        PtLogSeverity.Debug => "debug",
        _ => "notice",
    };

    /// <summary>pt-spec §3.1: "PT names MUST satisfy the regular expression [a-zA-Z_][a-zA-Z0-9_]*".</summary>
    public static bool IsTransportName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    internal static bool IsKeywordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_';

    internal static bool IsArgChar(char c) => c is >= ' ' and < '\x7f';

    private static string StatusValue(string value)
    {
        foreach (var c in value)
        {
            if (c is <= ' ' or >= '\x7f' or '"' or '\\')
                return CString(value);
        }
        // An empty bare value would read as "K=" followed by the next field; quote it for clarity.
        return value.Length == 0 ? "\"\"" : value;
    }

    private static string TransportName(string name, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        return IsTransportName(name) ? name
            : throw new ArgumentException($"\"{CStringCodec.Escape(name)}\" is not a transport name ([a-zA-Z_][a-zA-Z0-9_]*)", paramName);
    }

    private static string Token(string value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        foreach (var c in value)
        {
            if (c is <= ' ' or >= '\x7f')
                throw new ArgumentException($"\"{CStringCodec.Escape(value)}\" must be one printable token", paramName);
        }
        return value.Length > 0 ? value : throw new ArgumentException("empty token", paramName);
    }

    private void Write(string line)
    {
        lock (_lock)
        {
            // Not WriteLine: Environment.NewLine is CRLF on Windows and the grammar ends lines with LF.
            _writer.Write(line);
            _writer.Write('\n');
            _writer.Flush();
        }
    }
}
