namespace Guise.Transports.Marionette;

/// <summary>
/// A FIFO of bytes in one circular array that grows by doubling up to a fixed limit. Holds a
/// stream's unacknowledged send data and its received-but-unread data; an idle stream holds none.
/// Not thread-safe: the owning session's lock guards it.
/// </summary>
internal sealed class ByteRing(int limit)
{
    private byte[] _buffer = [];
    private int _head;

    public int Count { get; private set; }

    public int Limit => limit;

    public int Free => limit - Count;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length > Free)
            throw new InvalidOperationException("ring overflow");
        if (Count + data.Length > _buffer.Length)
            Grow(Count + data.Length);
        var tail = (_head + Count) % _buffer.Length;
        var first = Math.Min(data.Length, _buffer.Length - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..].CopyTo(_buffer);
        Count += data.Length;
    }

    /// <summary>Copies bytes starting <paramref name="skip"/> bytes after the head, without removing them.</summary>
    public void CopyTo(int skip, Span<byte> destination)
    {
        if (skip < 0 || skip + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(skip));
        if (destination.IsEmpty)
            return;
        var start = (_head + skip) % _buffer.Length;
        var first = Math.Min(destination.Length, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Discard(int count)
    {
        if (count < 0 || count > Count)
            throw new ArgumentOutOfRangeException(nameof(count));
        Count -= count;
        _head = Count == 0 ? 0 : (_head + count) % _buffer.Length;
        if (Count == 0 && _buffer.Length > 64 * 1024)
            _buffer = []; // an idle stream gives its memory back
    }

    private void Grow(int needed)
    {
        var size = Math.Max(4096, _buffer.Length);
        while (size < needed)
            size *= 2;
        size = Math.Min(size, Math.Max(limit, needed));
        var bigger = new byte[size];
        CopyTo(0, bigger.AsSpan(0, Count));
        _buffer = bigger;
        _head = 0;
    }
}
