using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Transports;

namespace Guise.Probe;

public sealed record ProbeOptions
{
    /// <summary>TCP connects per target (the RTT is the minimum over the successful ones).</summary>
    public int Tries { get; init; } = 3;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline for the transport handshake (its own dial included).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Targets measured at once.</summary>
    public int Parallel { get; init; } = 4;

    /// <summary>Where this probe is, for the location plausibility check.</summary>
    public GeoPoint? Vantage { get; init; }

    /// <summary>Run a tor client per target (after a successful handshake), or null.</summary>
    public TorProbeOptions? Tor { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// Measures targets: TCP connect (several tries, RTT), the transport handshake (in process for
/// Guise transports, through an external PT's SOCKS port for <c>--pt-binary</c> ones, a TLS
/// handshake for a bare ORPort), optionally a tor bootstrap, and the location check. Every step
/// is timed and named with the one failure taxonomy.
/// </summary>
public sealed class ProbeRunner
{
    private readonly ProbeOptions _options;
    private readonly IReadOnlyDictionary<string, ITransport> _transports;

    /// <param name="transports">Transports by name: Guise's own plus wrapped external PTs (which win).</param>
    public ProbeRunner(ProbeOptions options, IReadOnlyDictionary<string, ITransport> transports)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Tries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Parallel, 1);
        _options = options;
        _transports = transports;
    }

    /// <summary>Guise's transports, overridden by <paramref name="external"/> ones of the same name.</summary>
    public static Dictionary<string, ITransport> Transports(TransportRegistry registry, IEnumerable<ITransport>? external = null)
    {
        var map = registry.All.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in external ?? [])
            map[t.Name] = t;
        return map;
    }

    /// <summary>Fails before any socket opens when a target names a transport nobody provides.</summary>
    public void Validate(IEnumerable<ProbeTarget> targets, string source = "targets")
    {
        foreach (var t in targets)
        {
            if (!t.IsVanilla && !_transports.ContainsKey(t.Transport))
                throw new PtException(PtErrorKind.Config,
                    $"{source}:{t.Line}: no transport '{t.Transport}' here (Guise has {string.Join(", ", _transports.Keys.Order())}; " +
                    $"measure others with --pt-binary {t.Transport}=PATH)");
        }
    }

    /// <summary>
    /// Measures every target, at most <see cref="ProbeOptions.Parallel"/> at once, calling
    /// <paramref name="onResult"/> as each finishes (from any thread, one call at a time). When
    /// <paramref name="cancellationToken"/> fires, no new target starts and the running ones
    /// finish early with the verdict "interrupted" (and are still reported).
    /// </summary>
    public async Task<IReadOnlyList<ProbeResult>> RunAsync(IReadOnlyList<ProbeTarget> targets, Action<ProbeResult>? onResult,
        Action<ProbeTarget>? onStart, CancellationToken cancellationToken)
    {
        Validate(targets);
        var results = new List<ProbeResult>();
        var gate = new Lock();
        using var slots = new SemaphoreSlim(_options.Parallel);
        var running = new List<Task>();
        foreach (var target in targets)
        {
            try
            {
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            running.Add(Task.Run(async () =>
            {
                try
                {
                    onStart?.Invoke(target);
                    var result = await MeasureAsync(target, cancellationToken).ConfigureAwait(false);
                    lock (gate)
                    {
                        results.Add(result);
                        onResult?.Invoke(result);
                    }
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        return results;
    }

    /// <summary>Measures one target; never throws for network failures (they are the result).</summary>
    public async Task<ProbeResult> MeasureAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var time = _options.Time;
        var start = time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        double Now() => clock.Elapsed.TotalSeconds;

        var tries = await TcpConnectAsync(target, Now, cancellationToken).ConfigureAwait(false);
        StepResult? handshake = null;
        TorResult? tor = null;
        string verdict;
        string? failure = null, failedStep = null;

        var ok = tries.Where(t => t.Success).ToList();
        if (ok.Count == 0)
        {
            var last = tries[^1];
            verdict = ProbeFailure.TcpVerdict(last.Kind!.Value);
            failure = last.Failure;
            failedStep = "tcp_connect";
        }
        else
        {
            handshake = await HandshakeAsync(target, Now, cancellationToken).ConfigureAwait(false);
            if (!handshake.Success)
            {
                verdict = handshake.Verdict;
                failure = handshake.Failure;
                failedStep = "handshake";
            }
            else if (_options.Tor is { } torOptions)
            {
                tor = await new TorBootstrap(torOptions).RunAsync(target, cancellationToken).ConfigureAwait(false);
                verdict = tor.ReachedGoal ? "ok" : cancellationToken.IsCancellationRequested ? "interrupted" : "tor_failed";
                failure = tor.Failure;
                failedStep = tor.ReachedGoal ? null : "tor";
            }
            else
            {
                verdict = "ok";
            }
        }
        if (cancellationToken.IsCancellationRequested && verdict != "ok")
        {
            verdict = "interrupted";
            failure = ProbeFailure.OoniString(PtErrorKind.Cancelled);
        }

        var result = new ProbeResult(target, start, Now(), tries, handshake, tor, null, verdict, failure, failedStep);
        if (_options.Vantage is { } vantage && target.Claim is { } claim && result.MinRttMs is { } rtt)
            result = result with { Location = LocationCheck.Check(vantage, claim, rtt) };
        return result;
    }

    private async Task<List<TcpConnectTry>> TcpConnectAsync(ProbeTarget target, Func<double> now, CancellationToken cancellationToken)
    {
        var tries = new List<TcpConnectTry>();
        var port = target.Address.Port;
        var t0 = now();
        IPAddress address;
        if (!IPAddress.TryParse(target.Address.Host, out address!))
        {
            try
            {
                var resolved = await Dns.GetHostAddressesAsync(target.Address.Host, cancellationToken).ConfigureAwait(false);
                address = resolved.FirstOrDefault(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                    ?? throw new SocketException((int)SocketError.NoData);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                var kind = e is OperationCanceledException ? PtErrorKind.Cancelled : PtErrorKind.DnsFailure;
                tries.Add(new TcpConnectTry(target.Address.Host, port, t0, now(), kind, e.Message));
                return tries;
            }
        }
        var dialer = new TcpDialer(connectTimeout: _options.ConnectTimeout);
        var endpoint = HostPort.Format(address.ToString(), port);
        for (var i = 0; i < _options.Tries; i++)
        {
            var begin = now();
            try
            {
                var stream = await dialer.DialAsync(endpoint, cancellationToken).ConfigureAwait(false);
                var end = now();
                await stream.DisposeAsync().ConfigureAwait(false);
                tries.Add(new TcpConnectTry(address.ToString(), port, begin, end, null, null));
            }
            catch (Exception e) when (e is PtException or OperationCanceledException)
            {
                tries.Add(new TcpConnectTry(address.ToString(), port, begin, now(), PtException.Classify(e), e.Message));
                if (cancellationToken.IsCancellationRequested)
                    break;
            }
        }
        return tries;
    }

    private async Task<StepResult> HandshakeAsync(ProbeTarget target, Func<double> now, CancellationToken cancellationToken)
    {
        ITransport? transport = null;
        var mode = target.IsVanilla ? "tls"
            : (transport = _transports[target.Transport]) is WrappedSocksTransport ? "external_socks" : "in_process";
        var t0 = now();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.HandshakeTimeout);
        var dialer = new TcpDialer(connectTimeout: _options.ConnectTimeout);
        try
        {
            if (transport is null)
            {
                await TlsHandshakeAsync(dialer, target.Address.ToString(), deadline.Token).ConfigureAwait(false);
            }
            else
            {
                var session = transport.CreateClientFactory(new TransportContext(null, _options.Time, NullPtLog.Instance)).Prepare(target.Args);
                var stream = await session.ConnectAsync(target.Address.ToString(), dialer.DialAsync, deadline.Token).ConfigureAwait(false);
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            return new StepResult(mode, t0, now(), null, "ok", null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var kind = e is OperationCanceledException && !cancellationToken.IsCancellationRequested
                ? PtErrorKind.Timeout
                : cancellationToken.IsCancellationRequested ? PtErrorKind.Cancelled : PtException.Classify(e);
            var message = kind == PtErrorKind.Timeout && e is OperationCanceledException
                ? $"no handshake within {_options.HandshakeTimeout.TotalSeconds:0.#} s"
                : e.Message;
            return new StepResult(mode, t0, now(), kind, ProbeFailure.HandshakeVerdict(kind), message);
        }
    }

    /// <summary>
    /// A bare ORPort speaks TLS first (tor-spec §2): send a ClientHello and wait for the
    /// ServerHello. Tor authenticates a relay later, in its link handshake, by the identity key,
    /// so nothing past the server's first flight would tell more about reachability; a censor's
    /// interference shows as a reset, silence, an alert or bytes that are not TLS.
    /// </summary>
    private static async Task TlsHandshakeAsync(TcpDialer dialer, string target, CancellationToken cancellationToken)
    {
        await using var wire = await dialer.DialAsync(target, cancellationToken).ConfigureAwait(false);
        await wire.WriteAsync(TlsHello.CreateClientHello("www.example.com"), cancellationToken).ConfigureAwait(false);
        await wire.FlushAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[64];
        var filled = 0;
        while (true)
        {
            // A reset or refusal surfaces as an IOException the caller classifies.
            var n = await wire.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new PtException(PtErrorKind.Eof, "TLS handshake: the server closed the connection after the ClientHello");
            filled += n;
            switch (TlsHello.Classify(buffer.AsSpan(0, filled), out var detail))
            {
                case TlsHello.Answer.ServerHello:
                    return;
                case TlsHello.Answer.NeedMoreData when filled < buffer.Length:
                    continue;
                default:
                    throw new PtException(PtErrorKind.Handshake, $"TLS handshake: {detail ?? "no ServerHello"}");
            }
        }
    }
}
