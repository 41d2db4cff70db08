using Guise.Errors;

namespace Guise.Probe;

/// <summary>
/// Names failures for reports: OONI's failure strings (ooni/spec df-007-errors) where one fits,
/// and PT-level verdicts that say which step failed and what that means for the bridge.
/// </summary>
public static class ProbeFailure
{
    /// <summary>The <c>failure</c> string for a failure of <paramref name="kind"/>.</summary>
    public static string OoniString(PtErrorKind kind) => kind switch
    {
        PtErrorKind.Refused => "connection_refused",
        PtErrorKind.Unreachable => "host_unreachable",
        PtErrorKind.DnsFailure => "dns_nxdomain_error",
        PtErrorKind.Timeout => "generic_timeout_error",
        PtErrorKind.Reset => "connection_reset",
        PtErrorKind.Eof => "eof_error",
        PtErrorKind.Proxy => "socks_error",
        PtErrorKind.Cancelled => "interrupted",
        // PT-level failures OONI has no string for: named in the same snake_case style.
        PtErrorKind.Handshake => "pt_handshake_failed",
        PtErrorKind.Replay => "pt_replay_detected",
        PtErrorKind.PeerProtocol => "pt_protocol_error",
        PtErrorKind.Config => "pt_bad_arguments",
        _ => "unknown_failure",
    };

    /// <summary>The verdict when every TCP connect failed with <paramref name="kind"/>.</summary>
    public static string TcpVerdict(PtErrorKind kind) => kind switch
    {
        PtErrorKind.Refused => "tcp_refused",
        PtErrorKind.Timeout => "tcp_timeout",
        PtErrorKind.Unreachable => "tcp_unreachable",
        PtErrorKind.DnsFailure => "dns_failure",
        PtErrorKind.Reset => "tcp_reset",
        PtErrorKind.Cancelled => "interrupted",
        PtErrorKind.Config => "bad_target",
        _ => "tcp_failed",
    };

    /// <summary>
    /// The verdict for a transport handshake that failed with <paramref name="kind"/> after TCP
    /// connects to the same address succeeded.
    /// </summary>
    /// <remarks>
    /// An obfs4 bridge that cannot authenticate the client (wrong cert, or not an obfs4 server at
    /// all) says nothing and closes after a random delay: that is a timeout or an EOF here, and it
    /// is a different finding from a refused connect: something listens, but it rejects us.
    /// </remarks>
    public static string HandshakeVerdict(PtErrorKind kind) => kind switch
    {
        PtErrorKind.Timeout => "silent_server",
        PtErrorKind.Eof => "handshake_rejected",
        PtErrorKind.Handshake or PtErrorKind.PeerProtocol => "handshake_failed",
        PtErrorKind.Reset => "handshake_reset",
        PtErrorKind.Config => "bad_bridge_args",
        PtErrorKind.Proxy => "proxy_failure",
        PtErrorKind.Refused => "tcp_refused",
        PtErrorKind.Unreachable => "tcp_unreachable",
        PtErrorKind.Replay => "replay_detected",
        PtErrorKind.Cancelled => "interrupted",
        _ => "handshake_error",
    };

    /// <summary>One line for the summary table: what the verdict means.</summary>
    public static string Explain(string verdict) => verdict switch
    {
        "ok" => "works",
        "tcp_refused" => "nothing listens there (connection refused)",
        "tcp_timeout" => "no answer to TCP SYN (filtered or down)",
        "tcp_unreachable" => "no route to the host",
        "dns_failure" => "the name does not resolve",
        "tcp_reset" => "connection reset while connecting",
        "silent_server" => "TCP works, but the server never answers the handshake (wrong cert, or not this transport)",
        "handshake_rejected" => "TCP works, but the server closed without answering the handshake",
        "handshake_failed" => "the server answered, but the handshake did not verify",
        "handshake_reset" => "the server reset the connection during the handshake",
        "bad_bridge_args" => "the bridge line's arguments are invalid",
        "proxy_failure" => "the external PT's SOCKS port refused or failed",
        "tor_failed" => "tor did not reach the bridge descriptor",
        "interrupted" => "stopped before it finished",
        "unsupported_transport" => "no such transport here (add --pt-binary NAME=PATH)",
        _ => verdict,
    };
}
