using System.Threading.Channels;
using Guise.Errors;
using Guise.Pt;

namespace Guise.Hosting.PtHost;

/// <summary>When and how often a crashed PT is started again.</summary>
public sealed record PtRestartPolicy
{
    public static PtRestartPolicy Never { get; } = new() { MaxAttempts = 0 };

    /// <summary>Consecutive failed runs before the host gives up.</summary>
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A run that stays ready this long resets the attempt count.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The delay before attempt <paramref name="attempt"/> (1-based): doubling from InitialDelay, capped.</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var ticks = InitialDelay.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30));
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }
}

public sealed record PtHostOptions
{
    /// <summary>How long the PT may take from launch to its last DONE line.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait after closing stdin before SIGTERM.</summary>
    public TimeSpan StdinGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait after SIGTERM before SIGKILL.</summary>
    public TimeSpan TermGrace { get; init; } = TimeSpan.FromSeconds(2);

    public PtRestartPolicy Restart { get; init; } = new();

    /// <summary>Have the kernel kill the PT when this process dies (Linux, util-linux setpriv).</summary>
    public bool KillOnHostDeath { get; init; } = true;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Called for every event, on the reading thread, before it is queued on <see cref="PtHost.Events"/>.</summary>
    public Action<PtHostEvent>? OnEvent { get; init; }
}

/// <summary>
/// Runs a pluggable-transport binary the way Tor does (pt-spec §3): builds its TOR_PT_*
/// environment, reads every line it prints, tells when it is ready and with which methods,
/// reports its LOG and STATUS lines as events, restarts it with backoff when it crashes, and
/// stops it gracefully. Usable by any app that needs a PT without being Tor.
/// </summary>
/// <example><code>
/// await using var host = new PtHost(new PtLaunch { Program = "obfs4proxy", StateDirectory = dir,
///     Client = new PtClientRole(["obfs4"]) });
/// var ready = await host.StartAsync(ct);
/// var socks = ready.Client("obfs4")!.Address;   // point a SOCKS5 client here, bridge args as credentials
/// </code></example>
public sealed class PtHost : IAsyncDisposable
{
    private readonly PtLaunch _launch;
    private readonly PtHostOptions _options;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly Channel<PtHostEvent> _events = Channel.CreateBounded<PtHostEvent>(
        new BoundedChannelOptions(4096) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = false });
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile HostedChild? _child;
    private Task? _supervisor;
    private int _started;

    /// <exception cref="PtException">Config: the launch cannot be expressed as a PT environment.</exception>
    public PtHost(PtLaunch launch, PtHostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(launch);
        _launch = launch;
        _options = options ?? new();
        try
        {
            _environment = PtLaunchEnvironment.Build(launch);
        }
        catch (ArgumentException e)
        {
            throw new PtException(PtErrorKind.Config, e.Message, e);
        }
    }

    /// <summary>Every event, in order; completes when the host has stopped or given up.</summary>
    public ChannelReader<PtHostEvent> Events => _events.Reader;

    /// <summary>The methods of the running PT, or null while it is (re)starting or stopped.</summary>
    public PtReady? Current { get; private set; }

    /// <summary>The environment the PT is started with.</summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;

    /// <summary>Completes when the host stopped on request; faults with a <see cref="PtException"/> when it gave up.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Launches the PT and waits for start-up. The first launch is not retried: its failure is
    /// thrown (<see cref="PtException"/>: Config for VERSION-ERROR/ENV-ERROR/missing program, Proxy,
    /// PeerProtocol, Timeout, or Internal for a crash) and the host is stopped.
    /// </summary>
    public async Task<PtReady> StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("a PtHost starts once");
        try
        {
            var ready = await RunOnceAsync(0, cancellationToken).ConfigureAwait(false);
            _supervisor = Task.Run(() => SuperviseAsync(ready));
            return ready;
        }
        catch (Exception e)
        {
            var error = e is OperationCanceledException && cancellationToken.IsCancellationRequested
                ? new PtException(PtErrorKind.Cancelled, "start-up was cancelled", e)
                : PtException.Wrap(e);
            Emit(new PtHostEvent.Failed(error));
            Finish(error);
            throw error;
        }
    }

    /// <summary>Starts one run and waits for it to be ready; on failure the child is stopped first.</summary>
    private async Task<PtReady> RunOnceAsync(int attempt, CancellationToken cancellationToken)
    {
        var startup = new PtStartup(_launch.Client is not null, _launch.Server is not null, _launch.Proxy is not null);
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pid = 0;
        var startupLock = new Lock();

        void OnStdout(string text)
        {
            var line = PtHostLine.Parse(text);
            lock (startupLock)
            {
                if (startup.State == PtStartupState.Starting && line is PtHostLine.Message m)
                {
                    if (m.Value is not (PtMessage.Log or PtMessage.Status or PtMessage.Unknown))
                    {
                        if (startup.Feed(m.Value, pid) != PtStartupState.Starting)
                            settled.TrySetResult();
                        return;
                    }
                    startup.Feed(m.Value, pid);
                }
            }
            Emit(PtHostEvent.FromLine(line));
        }

        var child = await HostedChild.StartAsync(_launch.Program, _launch.Arguments, _environment, _launch.WorkingDirectory,
            _options.KillOnHostDeath, OnStdout, l => Emit(new PtHostEvent.Stderr(l))).ConfigureAwait(false);
        lock (startupLock)
            pid = child.ProcessId;
        _child = child;
        Emit(new PtHostEvent.Started(child.ProcessId, attempt));

        using var timeout = new CancellationTokenSource(_options.StartTimeout, _options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken, _stop.Token);
        var cancelled = Task.Delay(Timeout.Infinite, linked.Token);
        await Task.WhenAny(settled.Task, child.Exited, cancelled).ConfigureAwait(false);

        PtException? error;
        lock (startupLock)
        {
            if (startup.State == PtStartupState.Ready)
            {
                // A pid captured before the lock was taken would be 0: rebuild with the real one.
                var ready = startup.Ready! with { ProcessId = child.ProcessId };
                Current = ready;
                Emit(new PtHostEvent.Ready(ready));
                return ready;
            }
            error = startup.State == PtStartupState.Failed ? startup.Error
                : child.Exited.IsCompleted ? null
                : cancellationToken.IsCancellationRequested || _stop.IsCancellationRequested
                    ? new PtException(PtErrorKind.Cancelled, "start-up was cancelled")
                    : new PtException(PtErrorKind.Timeout,
                        $"the PT did not finish start-up within {_options.StartTimeout.TotalSeconds:0.#} s (still waiting for {startup.Awaiting})");
        }
        if (error is null)
        {
            var code = await child.Exited.ConfigureAwait(false);
            lock (startupLock)
                error = startup.State == PtStartupState.Failed ? startup.Error! : startup.Exited(HostedChild.DescribeExit(code), child.StderrTail);
        }
        await StopChildAsync(child, requested: true).ConfigureAwait(false);
        throw error!;
    }

    private async Task SuperviseAsync(PtReady ready)
    {
        var attempt = 0;
        var readySince = _options.Time.GetTimestamp();
        while (true)
        {
            if (_child is not { } child)
                return; // StopAsync got there first.
            var code = await WaitAsync(child.Exited).ConfigureAwait(false);
            if (_stop.IsCancellationRequested)
                return; // StopAsync reports the exit and finishes.
            Current = null;
            Emit(new PtHostEvent.Exited(child.ProcessId, code, HostedChild.DescribeExit(code), Requested: false));
            await child.DisposeAsync().ConfigureAwait(false);
            _child = null;
            PtException reason = new(PtErrorKind.Internal, $"the PT {HostedChild.DescribeExit(code)} after start-up" +
                (child.StderrTail is { Length: > 0 } tail ? $"; its last stderr: {tail}" : ""));
            if (_options.Time.GetElapsedTime(readySince) >= _options.Restart.StableAfter)
                attempt = 0;

            while (true)
            {
                attempt++;
                if (attempt > _options.Restart.MaxAttempts)
                {
                    var final = new PtException(reason.Kind, $"gave up after {attempt - 1} restart(s): {reason.Message}", reason);
                    Emit(new PtHostEvent.Failed(final));
                    Finish(final);
                    return;
                }
                var delay = _options.Restart.DelayBefore(attempt);
                Emit(new PtHostEvent.Restarting(attempt, delay, reason));
                try
                {
                    await Task.Delay(delay, _options.Time, _stop.Token).ConfigureAwait(false);
                    await RunOnceAsync(attempt, _stop.Token).ConfigureAwait(false);
                    readySince = _options.Time.GetTimestamp();
                    break;
                }
                catch (Exception e) when (_stop.IsCancellationRequested && e is OperationCanceledException or PtException)
                {
                    return;
                }
                catch (PtException e)
                {
                    reason = e;
                    if (e.Kind == PtErrorKind.Config)
                        attempt = _options.Restart.MaxAttempts; // nothing will change by trying again
                }
            }
        }
    }

    private static async Task<int> WaitAsync(Task<int> exited) => await exited.ConfigureAwait(false);

    private async Task StopChildAsync(HostedChild child, bool requested)
    {
        await child.StopAsync(_options.StdinGrace, _options.TermGrace).ConfigureAwait(false);
        var code = await child.Exited.ConfigureAwait(false);
        Emit(new PtHostEvent.Exited(child.ProcessId, code, HostedChild.DescribeExit(code), requested));
        await child.DisposeAsync().ConfigureAwait(false);
        if (ReferenceEquals(_child, child))
            _child = null;
    }

    /// <summary>
    /// Stops the PT: closes its stdin, waits <see cref="PtHostOptions.StdinGrace"/>, sends SIGTERM,
    /// waits <see cref="PtHostOptions.TermGrace"/>, then kills it. No restart follows.
    /// </summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_child is { } child)
            await StopChildAsync(child, requested: true).ConfigureAwait(false);
        if (_supervisor is { } s)
            await s.ConfigureAwait(false);
        Current = null;
        Finish(null);
    }

    private void Emit(PtHostEvent e)
    {
        _options.OnEvent?.Invoke(e);
        _events.Writer.TryWrite(e);
    }

    private void Finish(PtException? error)
    {
        if (error is null ? _completion.TrySetResult() : _completion.TrySetException(error))
            _events.Writer.TryComplete();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
