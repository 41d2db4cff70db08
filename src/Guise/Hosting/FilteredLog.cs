using Guise.Transports;

namespace Guise.Hosting;

/// <summary>Passes on messages at or above a severity (Error is the most severe).</summary>
public sealed class FilteredLog(IPtLog inner, PtLogSeverity minimum) : IPtLog
{
    public void Log(PtLogSeverity severity, string message)
    {
        if (severity <= minimum)
            inner.Log(severity, message);
    }
}
