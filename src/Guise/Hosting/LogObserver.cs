using Guise.Errors;
using Guise.Relay;
using Guise.Transports;

namespace Guise.Hosting;

/// <summary>Reports connection events as log lines; addresses scrubbed unless unsafe logging is on.</summary>
public sealed class LogObserver(IPtLog log, AddressScrubber scrubber) : IHostObserver
{
    public void ConnectionOpened(string transport, ConnectionRole role, string peer) =>
        log.Log(PtLogSeverity.Info, role == ConnectionRole.Client
            ? $"{transport}: connected to {scrubber.Address(peer)}"
            : $"{transport} server: client {scrubber.Address(peer)} completed the handshake");

    public void ConnectionFailed(string transport, ConnectionRole role, string? peer, PtException error)
    {
        var message = scrubber.Text(error.Message, peer);
        // Failed handshakes on a server are mostly scanners and probes: not worth a warning.
        if (role == ConnectionRole.Client)
            log.Log(PtLogSeverity.Warning, $"{transport}: {message} (error={error.Kind.Token()}, retry={error.Advice.Token()})");
        else
            log.Log(PtLogSeverity.Info, $"{transport} server: {message} (error={error.Kind.Token()})");
    }

    public void ConnectionClosed(string transport, ConnectionRole role, string peer, RelayResult result)
    {
        if (result.Clean || result.FailureKind == PtErrorKind.Cancelled)
        {
            log.Log(PtLogSeverity.Debug, $"{transport}: connection closed ({result.LeftToRight} bytes out, {result.RightToLeft} bytes in)");
            return;
        }
        var side = (result.FailedSide, role) switch
        {
            (RelaySide.Left, ConnectionRole.Client) => "the application",
            (RelaySide.Left, ConnectionRole.Server) => "the client",
            (_, ConnectionRole.Client) => "the bridge",
            _ => "the forward target",
        };
        log.Log(PtLogSeverity.Info,
            $"{transport}: connection ended by {side}: {scrubber.Text(result.FailureMessage ?? "", peer)} " +
            $"(error={result.FailureKind?.Token()}, {result.LeftToRight} bytes out, {result.RightToLeft} bytes in)");
    }
}
