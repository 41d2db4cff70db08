using System.Net;
using Guise.Transports;

namespace Guise.Hosting.Controller;

public sealed record PtControllerOptions
{
    /// <summary>The transports an app may start by name.</summary>
    public TransportRegistry Registry { get; init; } = TransportRegistry.Default;

    /// <summary>
    /// How client transports reach bridges. Null means plain TCP; an app that must route through
    /// its own socket (a VPN service's protected socket, an in-memory pipe) plugs in here.
    /// A proxy given to <see cref="PtController.StartClientAsync"/> wraps this dialer.
    /// </summary>
    public DialAsync? Dial { get; init; }

    /// <summary>How server transports reach their forward target. Null means plain TCP.</summary>
    public DialAsync? ServerDial { get; init; }

    /// <summary>Where transports and the controller log (never addresses of other parties unless the app logs them).</summary>
    public IPtLog Log { get; init; } = NullPtLog.Instance;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The address client SOCKS listeners bind to; the port is always chosen by the OS.</summary>
    public IPAddress ClientBindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>How long dialing plus the transport handshake may take for one client connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long an app may take to send its SOCKS request.</summary>
    public TimeSpan SocksHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>What a started server transport tells its operator.</summary>
/// <param name="ClientArgs">What clients put in their bridge line / SOCKS args (e.g. obfs4's cert and iat-mode).</param>
public sealed record PtServerInfo(string Transport, IPEndPoint EndPoint, PtArgs ClientArgs);
