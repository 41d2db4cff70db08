using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

// What a parent makes of one line a foreign PT prints on stdout. PtMessage is the strict grammar
// (pt-spec §3.3); this layer is the parent's tolerance on top of it:
//
//   strict line                      -> Message(PtMessage)        as PtMessage.TryParse reads it
//   LOG <LEVEL> <text>               -> Message(PtMessage.Log)    PT 3.0 style (LEVEL: error, warn,
//                                                                  warning, notice, info, debug; any case)
//   known keyword, broken arguments  -> Malformed(line, reason)   reported, never fatal by itself
//   empty line / only spaces         -> Malformed                 (PtMessage reads it as Unknown(""))
//   more than MaxLineLength chars    -> Malformed                 the reader cuts lines there
//
// Unknown keywords stay PtMessage.Unknown: "The parent process MUST ignore lines received from PT
// proxies with unknown keywords", and a host reports them so an operator sees them.

/// <summary>One stdout line of a hosted PT, classified. Never throws; safe to fuzz.</summary>
public abstract record PtHostLine
{
    private protected PtHostLine() { }

    /// <summary>The longest line the host reads whole; longer lines are cut there and reported as malformed.</summary>
    public const int MaxLineLength = 64 * 1024;

    public sealed record Message(PtMessage Value) : PtHostLine;

    public sealed record Malformed(string Line, string Reason) : PtHostLine;

    public static PtHostLine Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.Length > MaxLineLength)
            return new Malformed(line[..256], $"line longer than {MaxLineLength} characters");
        var trimmed = line.TrimEnd('\n').TrimEnd('\r');
        if (trimmed.Trim(' ').Length == 0)
            return new Malformed(trimmed, "empty line");
        if (PtMessage.TryParse(trimmed, out var message, out var error))
            return new Message(message);
        if (TryParseLevelLog(trimmed) is { } log)
            return new Message(log);
        return new Malformed(trimmed, error);
    }

    // "LOG WARN something happened": the level word first, the rest of the line is the text.
    private static PtMessage.Log? TryParseLevelLog(string line)
    {
        if (!line.StartsWith("LOG ", StringComparison.Ordinal))
            return null;
        var rest = line[4..].TrimStart(' ');
        var space = rest.IndexOf(' ', StringComparison.Ordinal);
        var level = space < 0 ? rest : rest[..space];
        var text = space < 0 ? "" : rest[(space + 1)..];
        PtLogSeverity? severity = level.ToLowerInvariant() switch
        {
            "error" or "err" => PtLogSeverity.Error,
            "warning" or "warn" => PtLogSeverity.Warning,
            "notice" => PtLogSeverity.Notice,
            "info" => PtLogSeverity.Info,
            "debug" or "trace" => PtLogSeverity.Debug,
            _ => null,
        };
        return severity is { } s ? new PtMessage.Log(s, text) : null;
    }
}
