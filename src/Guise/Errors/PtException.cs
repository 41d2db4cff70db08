using System.Net.Sockets;

namespace Guise.Errors;

/// <summary>The single exception type Guise throws for expected failures; see <see cref="PtErrorKind"/>.</summary>
public sealed class PtException : Exception
{
    public PtException(PtErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public PtErrorKind Kind { get; }

    public RetryAdvice Advice => Kind.Advice();

    /// <summary>
    /// Names any exception in the taxonomy. Socket errors keep their meaning (refused,
    /// unreachable, reset...), which is what a user needs to learn why a tunnel failed.
    /// </summary>
    public static PtErrorKind Classify(Exception e) => e switch
    {
        PtException pt => pt.Kind,
        OperationCanceledException => PtErrorKind.Cancelled,
        TimeoutException => PtErrorKind.Timeout,
        EndOfStreamException => PtErrorKind.Eof,
        SocketException se => FromSocketError(se.SocketErrorCode),
        IOException { InnerException: SocketException se } => FromSocketError(se.SocketErrorCode),
        IOException => PtErrorKind.Reset,
        _ => PtErrorKind.Internal,
    };

    public static PtException Wrap(Exception e, string? context = null)
    {
        if (e is PtException pt)
            return pt;
        var kind = Classify(e);
        var message = context is null ? e.Message : $"{context}: {e.Message}";
        return new PtException(kind, message, e);
    }

    public static PtErrorKind FromSocketError(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => PtErrorKind.Refused,
        SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown
            or SocketError.NetworkDown or SocketError.AddressNotAvailable => PtErrorKind.Unreachable,
        SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => PtErrorKind.DnsFailure,
        SocketError.TimedOut => PtErrorKind.Timeout,
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
            or SocketError.NetworkReset => PtErrorKind.Reset,
        SocketError.OperationAborted => PtErrorKind.Cancelled,
        _ => PtErrorKind.Internal,
    };
}
