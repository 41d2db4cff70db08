using System.Net;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Hosting.Controller;

/// <summary>A transport's listener is up: <see cref="EndPoint"/> is where apps (client) or bridge users (server) connect.</summary>
/// <param name="ClientArgs">For a server: what its clients need in their bridge line; null for a client.</param>
public sealed record PtStartedEvent(string Transport, ConnectionRole Role, IPEndPoint EndPoint, PtArgs? ClientArgs);

/// <summary>A connection finished its transport handshake and now relays bytes.</summary>
/// <param name="Peer">For a client: the bridge ("host:port"); for a server: the client's address.</param>
public sealed record PtConnectionOpenedEvent(string Transport, ConnectionRole Role, string Peer);

/// <summary>
/// A relayed connection ended. <see cref="BytesUp"/> went towards the network (app → bridge for a
/// client, client → target for a server), <see cref="BytesDown"/> came back.
/// <see cref="FailureKind"/> is null when both sides closed cleanly.
/// </summary>
public sealed record PtConnectionClosedEvent(string Transport, ConnectionRole Role, string Peer, long BytesUp, long BytesDown,
    PtErrorKind? FailureKind, string? FailureMessage);

/// <summary>A connection failed before it carried any bytes; the kind comes from the one taxonomy.</summary>
/// <param name="Peer">The bridge or client address when known.</param>
public sealed record PtFailedEvent(string Transport, ConnectionRole Role, string? Peer, PtErrorKind Kind, string Message, RetryAdvice Advice);

/// <summary>A transport's listener is closed and every connection it accepted has ended.</summary>
public sealed record PtStoppedEvent(string Transport, ConnectionRole Role);
