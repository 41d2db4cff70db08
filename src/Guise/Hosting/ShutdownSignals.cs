using System.Runtime.InteropServices;

namespace Guise.Hosting;

/// <summary>
/// The ways a managed proxy learns it must stop besides a signal: Tor closing our stdin
/// (TOR_PT_EXIT_ON_STDIN_CLOSE=1), or Tor dying without a word, which leaves us re-parented.
/// Without these a crashed Tor leaves orphaned listeners holding the bridge's port.
/// </summary>
public static partial class ShutdownSignals
{
    /// <summary>Completes when <paramref name="stdin"/> reaches EOF or fails.</summary>
    public static async Task WhenClosedAsync(Stream stdin, CancellationToken cancellationToken)
    {
        var buffer = new byte[256];
        try
        {
            while (await stdin.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
            {
                // Tor sends nothing on stdin; anything read is ignored.
            }
        }
        catch (IOException)
        {
            // A broken pipe means the same as EOF: the parent is gone.
        }
    }

    /// <summary>Completes when the parent process changes (it exited and we were re-parented).</summary>
    public static async Task WhenParentDiesAsync(TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            return;
        }
        var parent = GetParentProcessId();
        using var timer = new PeriodicTimer(pollInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            if (GetParentProcessId() != parent)
                return;
        }
    }

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();
}
