namespace Guise.Relay;

/// <summary>
/// Base of the transports' payload streams: an <see cref="AsyncStream"/> that can also send EOF
/// while staying readable.
/// </summary>
public abstract class PayloadStream : AsyncStream, IHalfCloseable
{
    /// <inheritdoc/>
    public abstract void ShutdownWrite();
}
