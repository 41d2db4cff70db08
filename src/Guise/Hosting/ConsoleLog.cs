using Guise.Transports;

namespace Guise.Hosting;

/// <summary>Human-readable log lines for the unmanaged modes: <c>2026-11-26 23:59:01 [notice] text</c>.</summary>
public sealed class ConsoleLog(TextWriter writer, TimeProvider? time = null) : IPtLog
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public void Log(PtLogSeverity severity, string message)
    {
        var line = $"{_time.GetLocalNow():yyyy-MM-dd HH:mm:ss} [{Name(severity)}] {message}";
        lock (_lock)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    public static string Name(PtLogSeverity severity) => severity switch
    {
        PtLogSeverity.Error => "error",
        PtLogSeverity.Warning => "warning",
        PtLogSeverity.Notice => "notice",
        PtLogSeverity.Info => "info",
        _ => "debug",
    };

    public static bool TryParse(string text, out PtLogSeverity severity)
    {
        switch (text.ToLowerInvariant())
        {
            case "error": severity = PtLogSeverity.Error; return true;
            case "warn" or "warning": severity = PtLogSeverity.Warning; return true;
            case "notice": severity = PtLogSeverity.Notice; return true;
            case "info": severity = PtLogSeverity.Info; return true;
            case "debug": severity = PtLogSeverity.Debug; return true;
            default: severity = PtLogSeverity.Notice; return false;
        }
    }
}
