using Guise.Errors;
using Guise.Pt;
using Guise.Relay;
using Guise.Transports;

namespace Guise.Hosting;

/// <summary>
/// Connection events in managed mode: a client's connect attempt becomes a STATUS line (Tor turns
/// it into a PT_STATUS event, so a controller learns *why* a bridge failed); everything is also
/// logged as LOG lines through <see cref="LogObserver"/>.
/// </summary>
/// <remarks>
/// STATUS fields: <c>CONNECT=Success|Failed ADDRESS=&lt;bridge&gt; ERROR=&lt;kind&gt;
/// RETRY=&lt;advice&gt; MESSAGE="..."</c>; ERROR values are <see cref="PtErrorKindExtensions.Token(PtErrorKind)"/>.
/// </remarks>
public sealed class ManagedObserver(PtOutput output, IPtLog log, AddressScrubber scrubber) : IHostObserver
{
    private readonly LogObserver _log = new(log, scrubber);

    public void ConnectionOpened(string transport, ConnectionRole role, string peer)
    {
        if (role == ConnectionRole.Client)
            output.Status(transport, [new("CONNECT", "Success"), new("ADDRESS", scrubber.Address(peer))]);
        _log.ConnectionOpened(transport, role, peer);
    }

    public void ConnectionFailed(string transport, ConnectionRole role, string? peer, PtException error)
    {
        if (role == ConnectionRole.Client)
        {
            output.Status(transport,
            [
                new("CONNECT", "Failed"),
                new("ADDRESS", scrubber.Address(peer)),
                new("ERROR", error.Kind.Token()),
                new("RETRY", error.Advice.Token()),
                new("MESSAGE", scrubber.Text(error.Message, peer)),
            ]);
        }
        _log.ConnectionFailed(transport, role, peer, error);
    }

    public void ConnectionClosed(string transport, ConnectionRole role, string peer, RelayResult result) =>
        _log.ConnectionClosed(transport, role, peer, result);
}
