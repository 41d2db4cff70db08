using System.Buffers;
using System.IO.Pipelines;
using Guise.Errors;
using Guise.Relay;

namespace Guise.Transports.Marionette;

/// <summary>
/// The payload stream of a Marionette connection: reads and writes go through pipes to the
/// <see cref="MarionetteEngine"/>, which owns the wire. One reader and one writer at a time.
/// Disposing it stops the engine and closes the wire.
/// </summary>
public sealed class MarionetteStream : Stream, IHalfCloseable
{
    private readonly Stream _wire;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly CancellationTokenSource _stop;
    private readonly Task _engine;
    private int _disposed, _writeCompleted;

    internal MarionetteStream(Stream wire, MarionetteEngine engine, CancellationTokenSource stop, Task run)
    {
        _wire = wire;
        _reader = engine.AppReader;
        _writer = engine.AppWriter;
        _stop = stop;
        _engine = run;
        Engine = engine;
    }

    internal MarionetteEngine Engine { get; }

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (buffer.Length == 0)
            return 0;
        ReadResult result;
        try
        {
            result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw e is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : PtException.Wrap(e, "marionette read");
        }
        var data = result.Buffer;
        var n = (int)Math.Min(data.Length, buffer.Length);
        data.Slice(0, n).CopyTo(buffer.Span);
        _reader.AdvanceTo(data.GetPosition(n));
        return n; // 0 only when the peer sent FIN and everything was read
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_writeCompleted != 0)
            throw new InvalidOperationException("marionette: write after ShutdownWrite");
        FlushResult result;
        try
        {
            result = await _writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw e is PtException pt ? new PtException(pt.Kind, pt.Message, pt) : PtException.Wrap(e, "marionette write");
        }
        if (result.IsCompleted)
        {
            // The engine stopped reading: it failed or ended. Report why.
            try
            {
                await _engine.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not PtException)
            {
                throw PtException.Wrap(e, "marionette write");
            }
            throw new PtException(PtErrorKind.Eof, "marionette: the connection has ended");
        }
    }

    /// <summary>Sends FIN in the next cell; the stream stays readable.</summary>
    public void ShutdownWrite()
    {
        if (Interlocked.Exchange(ref _writeCompleted, 1) == 0)
            _writer.Complete();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            Stop();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Stop();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _writeCompleted, 1) == 0)
            _writer.Complete();
        _stop.Cancel();
        _wire.Dispose();
        _reader.Complete();
    }
}
