using Guise.Relay;

namespace Guise.Tests.Support;

/// <summary>
/// Passes everything to an inner stream; test doubles (taps, recorders, fault injectors) override
/// only the async read or write they change — the array and synchronous overloads run those.
/// </summary>
internal abstract class WrappedStream(Stream inner, bool ownsInner = true) : AsyncStream
{
    protected Stream Inner => inner;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsInner)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
