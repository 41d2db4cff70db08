namespace Guise.Transports;

public enum PtLogSeverity { Error, Warning, Notice, Info, Debug }

/// <summary>
/// Where transports and hosting report what happens. In managed mode this becomes
/// <c>LOG SEVERITY=... MESSAGE=...</c> lines that Tor turns into PT_LOG events.
/// </summary>
public interface IPtLog
{
    void Log(PtLogSeverity severity, string message);
}

public sealed class NullPtLog : IPtLog
{
    public static NullPtLog Instance { get; } = new();
    public void Log(PtLogSeverity severity, string message) { }
}
