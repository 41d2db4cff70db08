using System.Net;
using Guise.Errors;
using Guise.Net;
using Guise.Proxy;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting;

public sealed record ManagedProxyOptions
{
    /// <summary>The process environment as a dictionary, so tests never touch the global one.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Where managed-proxy lines go (stdout in production).</summary>
    public required TextWriter Output { get; init; }

    /// <summary>Tor's end of our stdin; watched when TOR_PT_EXIT_ON_STDIN_CLOSE=1.</summary>
    public Stream? Stdin { get; init; }

    public TransportRegistry Registry { get; init; } = TransportRegistry.Default;

    public bool UnsafeLogging { get; init; }

    public PtLogSeverity LogLevel { get; init; } = PtLogSeverity.Notice;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public bool WatchParent { get; init; } = true;

    public ClientEndpointOptions ClientOptions { get; init; } = new();
}

/// <summary>
/// Tor's managed-proxy mode (pt-spec): read the TOR_PT_* environment, start one listener per
/// requested transport, report them on stdout, run until Tor says stop.
/// </summary>
public static class ManagedProxy
{
    public const int ExitOk = 0;
    public const int ExitConfigError = 1;
    public const int ExitNothingLaunched = 2;

    public static async Task<int> RunAsync(ManagedProxyOptions options, CancellationToken shutdown)
    {
        var output = new PtOutput(options.Output);
        if (ParseAndAnnounce(options.Environment, output) is not { } config)
            return ExitConfigError;
        try
        {
            PtEnvironment.EnsureStateDirectory(config.StateLocation);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PtEnvironmentException)
        {
            output.EnvError(PtOutput.Sanitize($"cannot create the state directory: {e.Message}"));
            return ExitConfigError;
        }

        var log = new FilteredLog(output, options.LogLevel);
        var scrubber = new AddressScrubber(options.UnsafeLogging);
        var observer = new ManagedObserver(output, log, scrubber);
        var context = new TransportContext(config.StateLocation, options.Time, log);
        var running = new List<IAsyncDisposable>();
        try
        {
            if (config.Client is { } client)
            {
                var started = StartClients(config, client, options, context, output, observer, running);
                if (started < 0)
                    return ExitConfigError;
            }
            if (config.Server is { } server)
                StartServers(server, options, context, output, observer, running);

            if (running.Count == 0)
            {
                log.Log(PtLogSeverity.Error, "no transports were launched");
                return ExitNothingLaunched;
            }

            await WaitForShutdownAsync(config, options, log, shutdown).ConfigureAwait(false);
            return ExitOk;
        }
        finally
        {
            foreach (var r in running)
                await r.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The start of every managed proxy's conversation with Tor: parse the environment; on
    /// failure say why on the right line (VERSION-ERROR, PROXY-ERROR after VERSION, or ENV-ERROR)
    /// and return null; on success write VERSION and our implementation STATUS line.
    /// </summary>
    internal static ManagedConfig? ParseAndAnnounce(IReadOnlyDictionary<string, string> environment, PtOutput output)
    {
        ManagedConfig config;
        try
        {
            config = PtEnvironment.Parse(environment);
        }
        catch (PtEnvironmentException e)
        {
            if (e.IsVersionError)
            {
                output.VersionError();
            }
            else if (e.Variable == PtEnvironment.Vars.Proxy)
            {
                // pt-spec: a proxy the PT cannot use is reported as PROXY-ERROR, after VERSION.
                output.Version(PtEnvironment.SupportedVersion);
                output.ProxyError(PtOutput.Sanitize(e.Message));
            }
            else
            {
                output.EnvError(PtOutput.Sanitize(e.Message));
            }
            return null;
        }
        output.Version(config.Version);
        output.ImplementationVersion(GuiseInfo.Implementation, GuiseInfo.Version);
        return config;
    }

    private static int StartClients(ManagedConfig config, ClientConfig client, ManagedProxyOptions options, TransportContext context,
        PtOutput output, IHostObserver observer, List<IAsyncDisposable> running)
    {
        DialAsync dial = new TcpDialer(config.OutboundBindV4, config.OutboundBindV6).DialAsync;
        if (config.Proxy is { } proxyUri)
        {
            try
            {
                dial = UpstreamProxy.Parse(proxyUri).Wrap(dial);
            }
            catch (PtException e)
            {
                output.ProxyError(PtOutput.Sanitize(e.Message));
                return -1;
            }
            output.ProxyDone();
        }

        var started = 0;
        foreach (var name in Requested(client.Transports, options.Registry))
        {
            if (!options.Registry.TryGet(name, out var transport))
                continue; // pt-spec: a transport we do not know is simply not reported.
            try
            {
                var endpoint = SocksClientEndpoint.Start(transport, context, dial, new IPEndPoint(IPAddress.Loopback, 0), observer, options.ClientOptions);
                running.Add(endpoint);
                output.Cmethod(name, "socks5", endpoint.LocalEndPoint);
                started++;
            }
            catch (PtException e)
            {
                output.CmethodError(name, PtOutput.Sanitize(e.Message));
            }
        }
        output.CmethodsDone();
        return started;
    }

    private static void StartServers(ServerConfig server, ManagedProxyOptions options, TransportContext context,
        PtOutput output, IHostObserver observer, List<IAsyncDisposable> running)
    {
        var target = server.ExtendedOrPort is { } ext
            ? ForwardTarget.ExtOrPort(ext, server.AuthCookieFile!)
            : ForwardTarget.OrPort(server.OrPort!);
        DialAsync dialTor = new TcpDialer().DialAsync;

        foreach (var name in Requested(server.Transports, options.Registry))
        {
            if (!options.Registry.TryGet(name, out var transport))
                continue;
            var bind = server.BindAddresses.TryGetValue(name, out var b) ? b : new IPEndPoint(IPAddress.Loopback, 0);
            var transportOptions = server.Options.TryGetValue(name, out var o) ? o : PtArgs.Empty;
            try
            {
                var endpoint = ServerEndpoint.Start(transport, context, transportOptions, bind, target, dialTor, observer);
                running.Add(endpoint);
                output.Smethod(name, endpoint.LocalEndPoint, endpoint.ClientArgs.Count > 0 ? endpoint.ClientArgs : null);
            }
            catch (PtException e)
            {
                output.SmethodError(name, PtOutput.Sanitize(e.Message));
            }
        }
        output.SmethodsDone();
    }

    private static IEnumerable<string> Requested(IReadOnlyList<string> names, TransportRegistry registry) =>
        names.Count == 1 && names[0] == "*" ? registry.All.Select(t => t.Name) : names.Distinct(StringComparer.Ordinal);

    private static async Task WaitForShutdownAsync(ManagedConfig config, ManagedProxyOptions options, IPtLog log, CancellationToken shutdown)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        var waits = new List<Task> { Task.Delay(Timeout.Infinite, stop.Token) };
        if (config.ExitOnStdinClose && options.Stdin is { } stdin)
            waits.Add(ShutdownSignals.WhenClosedAsync(stdin, stop.Token).ContinueWith(_ => log.Log(PtLogSeverity.Notice, "stdin closed, shutting down"), TaskScheduler.Default));
        if (options.WatchParent)
            waits.Add(ShutdownSignals.WhenParentDiesAsync(TimeSpan.FromMilliseconds(500), stop.Token).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                    log.Log(PtLogSeverity.Notice, "parent process exited, shutting down");
            }, TaskScheduler.Default));
        await Task.WhenAny(waits).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
    }
}
