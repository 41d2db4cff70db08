namespace Guise.Errors;

/// <summary>
/// The one failure taxonomy of Guise. The same kinds feed SOCKS reply codes, managed-proxy
/// STATUS lines, controller events and probe verdicts, so a failure is named once, where it
/// happens, and every consumer agrees on what it was.
/// </summary>
public enum PtErrorKind
{
    /// <summary>Bad configuration or arguments: env vars, bridge args, state files, CLI flags.</summary>
    Config = 1,
    /// <summary>The peer actively refused the TCP connection (RST to SYN).</summary>
    Refused,
    /// <summary>No route to the host or network.</summary>
    Unreachable,
    /// <summary>Name resolution of the target failed.</summary>
    DnsFailure,
    /// <summary>Something took longer than its deadline.</summary>
    Timeout,
    /// <summary>The connection was reset by the peer after it was established.</summary>
    Reset,
    /// <summary>The peer closed the connection before the expected bytes arrived.</summary>
    Eof,
    /// <summary>The transport handshake failed (bad cert, wrong key, silent or rejecting server).</summary>
    Handshake,
    /// <summary>A replayed handshake was detected.</summary>
    Replay,
    /// <summary>The upstream proxy (TOR_PT_PROXY) failed or refused.</summary>
    Proxy,
    /// <summary>The peer spoke the protocol wrongly (malformed frames, bad SOCKS, bad ExtORPort reply).</summary>
    PeerProtocol,
    /// <summary>The operation was cancelled by its owner (shutdown, caller cancellation).</summary>
    Cancelled,
    /// <summary>A bug or an unexpected local failure.</summary>
    Internal,
}

/// <summary>What a caller should do after a failure of a given kind.</summary>
public enum RetryAdvice
{
    /// <summary>Retrying cannot help until the configuration changes.</summary>
    FixConfiguration,
    /// <summary>Retrying soon may succeed (transient network failure).</summary>
    RetryWithBackoff,
    /// <summary>The remote end rejects us; retrying the same way is pointless and may get us noticed.</summary>
    DoNotRetry,
    /// <summary>Nothing to retry: the owner asked for it.</summary>
    None,
}

public static class PtErrorKindExtensions
{
    public static RetryAdvice Advice(this PtErrorKind kind) => kind switch
    {
        PtErrorKind.Config => RetryAdvice.FixConfiguration,
        PtErrorKind.Refused or PtErrorKind.Unreachable or PtErrorKind.DnsFailure or PtErrorKind.Timeout
            or PtErrorKind.Reset or PtErrorKind.Eof or PtErrorKind.Proxy => RetryAdvice.RetryWithBackoff,
        PtErrorKind.Handshake or PtErrorKind.Replay or PtErrorKind.PeerProtocol => RetryAdvice.DoNotRetry,
        PtErrorKind.Cancelled => RetryAdvice.None,
        _ => RetryAdvice.RetryWithBackoff,
    };

    /// <summary>A stable lower-case token for logs, STATUS lines and JSON (e.g. "refused").</summary>
    public static string Token(this PtErrorKind kind) => kind switch
    {
        PtErrorKind.Config => "config",
        PtErrorKind.Refused => "refused",
        PtErrorKind.Unreachable => "unreachable",
        PtErrorKind.DnsFailure => "dns",
        PtErrorKind.Timeout => "timeout",
        PtErrorKind.Reset => "reset",
        PtErrorKind.Eof => "eof",
        PtErrorKind.Handshake => "handshake",
        PtErrorKind.Replay => "replay",
        PtErrorKind.Proxy => "proxy",
        PtErrorKind.PeerProtocol => "protocol",
        PtErrorKind.Cancelled => "cancelled",
        _ => "internal",
    };

    public static string Token(this RetryAdvice advice) => advice switch
    {
        RetryAdvice.FixConfiguration => "fix-config",
        RetryAdvice.RetryWithBackoff => "retry-backoff",
        RetryAdvice.DoNotRetry => "do-not-retry",
        _ => "none",
    };
}
