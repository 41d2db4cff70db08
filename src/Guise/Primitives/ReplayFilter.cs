using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Guise.Primitives;

/// <summary>
/// Remembers byte strings (obfs4: the client's handshake MAC) for a time-to-live, keyed by a
/// SipHash-2-4 digest under a random per-process key, as obfs4's common/replayfilter. Bounded:
/// past <see cref="MaxEntries"/> the oldest entries go first. A clock that jumps backwards
/// empties the filter (better than keeping entries forever).
/// </summary>
public sealed class ReplayFilter
{
    public const int MaxEntries = 100 * 1024;

    private readonly Lock _lock = new();
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(16);
    private readonly TimeSpan _ttl;
    private readonly Dictionary<ulong, DateTimeOffset> _seen = [];
    private readonly Queue<(ulong Digest, DateTimeOffset FirstSeen)> _fifo = new();

    public ReplayFilter(TimeSpan ttl)
    {
        _ttl = ttl;
        Sodium.EnsureInitialized();
    }

    public int Count
    {
        get { lock (_lock) return _seen.Count; }
    }

    /// <summary>True if <paramref name="data"/> was seen within the TTL; records it either way.</summary>
    public bool TestAndSet(DateTimeOffset now, ReadOnlySpan<byte> data)
    {
        Span<byte> digestBytes = stackalloc byte[8];
        Sodium.SipHash24(digestBytes, data, _key);
        var digest = BinaryPrimitives.ReadUInt64LittleEndian(digestBytes);
        lock (_lock)
        {
            Compact(now);
            if (_seen.ContainsKey(digest))
                return true;
            _seen[digest] = now;
            _fifo.Enqueue((digest, now));
            return false;
        }
    }

    private void Compact(DateTimeOffset now)
    {
        while (_fifo.TryPeek(out var oldest))
        {
            if (_fifo.Count < MaxEntries && _ttl > TimeSpan.Zero)
            {
                var age = now - oldest.FirstSeen;
                if (age < TimeSpan.Zero)
                {
                    _seen.Clear();
                    _fifo.Clear();
                    return;
                }
                if (age < _ttl)
                    return;
            }
            _fifo.Dequeue();
            _seen.Remove(oldest.Digest);
        }
    }
}
