using Guise.Errors;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>What a hosted PT did, in order. Match on the nested records.</summary>
public abstract record PtHostEvent
{
    private protected PtHostEvent() { }

    /// <summary>The child process started (<paramref name="Attempt"/> 0 is the first launch).</summary>
    public sealed record Started(int ProcessId, int Attempt) : PtHostEvent;

    /// <summary>The PT finished start-up.</summary>
    public sealed record Ready(PtReady Methods) : PtHostEvent;

    /// <summary>A LOG line (pt-spec §3.3.4, or the PT 3.0 form <c>LOG LEVEL text</c>).</summary>
    public sealed record Log(PtLogSeverity Severity, string Message) : PtHostEvent;

    /// <summary>A STATUS line (pt-spec §3.3.5).</summary>
    public sealed record Status(string? Transport, IReadOnlyList<KeyValuePair<string, string>> Fields) : PtHostEvent
    {
        public string? Get(string key) => Fields.FirstOrDefault(kv => kv.Key == key).Value;
    }

    /// <summary>A line with an unknown keyword: ignored, as pt-spec requires, but shown.</summary>
    public sealed record UnknownLine(string Keyword, string Arguments) : PtHostEvent;

    /// <summary>A line that breaks the grammar of a known keyword, or a method line after start-up.</summary>
    public sealed record MalformedLine(string Line, string Reason) : PtHostEvent;

    /// <summary>A line the PT wrote on stderr.</summary>
    public sealed record Stderr(string Line) : PtHostEvent;

    /// <summary>The child exited. <paramref name="Requested"/> is true when the host stopped it.</summary>
    public sealed record Exited(int ProcessId, int ExitCode, string Description, bool Requested) : PtHostEvent;

    /// <summary>The PT crashed or failed to start again; the host relaunches it after <paramref name="Delay"/>.</summary>
    public sealed record Restarting(int Attempt, TimeSpan Delay, PtException Reason) : PtHostEvent;

    /// <summary>The host gave up: start-up failed or restarts were used up.</summary>
    public sealed record Failed(PtException Error) : PtHostEvent;

    internal static PtHostEvent FromLine(PtHostLine line) => line switch
    {
        PtHostLine.Malformed m => new MalformedLine(m.Line, m.Reason),
        PtHostLine.Message { Value: PtMessage.Log l } => new Log(l.Severity, l.Message),
        PtHostLine.Message { Value: PtMessage.Status s } => new Status(s.Transport, s.Fields),
        PtHostLine.Message { Value: PtMessage.Unknown u } => new UnknownLine(u.Keyword, u.Arguments),
        PtHostLine.Message m => new MalformedLine(m.Value.ToString(), "a start-up line after start-up"),
        _ => throw new InvalidOperationException("unreachable"),
    };
}
