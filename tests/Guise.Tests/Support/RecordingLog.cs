using Guise.Transports;

namespace Guise.Tests.Support;

/// <summary>An <see cref="IPtLog"/> that keeps every message, for tests that check what was said.</summary>
internal sealed class RecordingLog : IPtLog
{
    private readonly List<(PtLogSeverity Severity, string Message)> _entries = [];

    public IReadOnlyList<string> Lines
    {
        get { lock (_entries) return [.. _entries.Select(e => e.Message)]; }
    }

    public IReadOnlyList<(PtLogSeverity Severity, string Message)> Entries
    {
        get { lock (_entries) return [.. _entries]; }
    }

    public void Log(PtLogSeverity severity, string message)
    {
        lock (_entries)
            _entries.Add((severity, message));
    }
}
