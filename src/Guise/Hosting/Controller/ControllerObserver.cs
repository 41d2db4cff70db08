using Guise.Errors;
using Guise.Relay;

namespace Guise.Hosting.Controller;

/// <summary>Turns the endpoints' connection reports into controller events.</summary>
internal sealed class ControllerObserver(PtController controller) : IHostObserver
{
    public void ConnectionOpened(string transport, ConnectionRole role, string peer) =>
        controller.Raise(new PtConnectionOpenedEvent(transport, role, peer));

    public void ConnectionFailed(string transport, ConnectionRole role, string? peer, PtException error) =>
        controller.Raise(new PtFailedEvent(transport, role, peer, error.Kind, error.Message, error.Advice));

    public void ConnectionClosed(string transport, ConnectionRole role, string peer, RelayResult result) =>
        controller.Raise(new PtConnectionClosedEvent(transport, role, peer, result.LeftToRight, result.RightToLeft,
            result.FailureKind, result.FailureMessage));
}
