using Guise.Errors;

namespace Guise.Probe;

/// <summary>One TCP connect try (OONI df-005 TCPConnect, plus its timing).</summary>
/// <param name="Ip">The address dialed (as resolved, when the target names a host).</param>
/// <param name="T0">Seconds from the measurement start to the start of the try.</param>
/// <param name="T">Seconds from the measurement start to its end.</param>
/// <param name="Kind">Null on success.</param>
public sealed record TcpConnectTry(string Ip, int Port, double T0, double T, PtErrorKind? Kind, string? Message)
{
    public bool Success => Kind is null;

    public string? Failure => Kind is { } k ? ProbeFailure.OoniString(k) : null;

    public double RttMs => (T - T0) * 1000;
}

/// <summary>A timed step with a verdict (the transport handshake).</summary>
/// <param name="Mode">in_process, external_socks, tls (vanilla ORPort) or skipped.</param>
public sealed record StepResult(string Mode, double T0, double T, PtErrorKind? Kind, string Verdict, string? Message)
{
    public bool Success => Kind is null && Verdict == "ok";

    public string? Failure => Kind is { } k ? ProbeFailure.OoniString(k) : null;

    public double Seconds => T - T0;
}

/// <summary>What a tor client did with just this bridge (shaped after OONI's vanilla_tor / torsf keys).</summary>
/// <param name="Progress">The last bootstrap percentage tor reported.</param>
/// <param name="BootstrapTime">Seconds to 100 %, or 0 when tor did not get there (as OONI writes it).</param>
/// <param name="BridgeDescriptorTime">Seconds to "new bridge descriptor", or null.</param>
/// <param name="Failure">OONI failure string, or null when tor reached its goal.</param>
public sealed record TorResult(int Progress, string Tag, string Summary, double BootstrapTime, double? BridgeDescriptorTime,
    string? Failure, string? Error, double Timeout, IReadOnlyList<string> Logs, string TorVersion, string TransportName, string Goal)
{
    /// <summary>OONI's <c>success</c>: bootstrapped to 100 %.</summary>
    public bool Bootstrapped => Progress == 100;

    /// <summary>Whether tor reached what was asked of it (100 %, or the bridge descriptor).</summary>
    public bool ReachedGoal => Failure is null;
}

public sealed record ProbeResult(
    ProbeTarget Target,
    DateTimeOffset StartTime,
    double Runtime,
    IReadOnlyList<TcpConnectTry> TcpConnect,
    StepResult? Handshake,
    TorResult? Tor,
    LocationResult? Location,
    string Verdict,
    string? Failure,
    string? FailedStep)
{
    public bool Success => Verdict == "ok";

    public double? MinRttMs => TcpConnect.Where(t => t.Success).Select(t => (double?)t.RttMs).Min();

    public double? MedianRttMs
    {
        get
        {
            var ok = TcpConnect.Where(t => t.Success).Select(t => t.RttMs).Order().ToArray();
            if (ok.Length == 0)
                return null;
            return ok.Length % 2 == 1 ? ok[ok.Length / 2] : (ok[ok.Length / 2 - 1] + ok[ok.Length / 2]) / 2;
        }
    }
}
