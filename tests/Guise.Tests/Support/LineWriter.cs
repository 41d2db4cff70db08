using System.Collections.Concurrent;
using System.Text;

namespace Guise.Tests.Support;

/// <summary>A TextWriter that keeps each completed line and lets a test await one.</summary>
public sealed class LineWriter : TextWriter
{
    private readonly StringBuilder _current = new();
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _signal = new(0);

    public override Encoding Encoding => Encoding.UTF8;

    public IReadOnlyList<string> Lines => [.. _lines];

    public override void Write(char value)
    {
        lock (_current)
        {
            if (value == '\n')
            {
                _lines.Enqueue(_current.ToString().TrimEnd('\r'));
                _current.Clear();
                _signal.Release();
            }
            else
            {
                _current.Append(value);
            }
        }
    }

    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var hit = _lines.FirstOrDefault(match);
            if (hit is not null)
                return hit;
            try
            {
                await _signal.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException("no matching line; got:\n" + string.Join('\n', _lines));
            }
        }
    }
}
