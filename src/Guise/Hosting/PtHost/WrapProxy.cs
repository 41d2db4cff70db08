using System.Net;
using System.Net.Sockets;
using Guise.Errors;
using Guise.Net;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

public sealed record WrapOptions
{
    /// <summary>The TOR_PT_* environment Tor gave guise, as a dictionary.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Where managed-proxy lines go (stdout in production).</summary>
    public required TextWriter Output { get; init; }

    /// <summary>Tor's end of our stdin: its EOF stops the tool.</summary>
    public Stream? Stdin { get; init; }

    /// <summary>The one transport name to serve; null serves every name Tor asks for.</summary>
    public string? Transport { get; init; }

    /// <summary>Client: the tool's SOCKS5 address. Null or port 0 with a command: guise picks a free loopback port ({socks_port}).</summary>
    public string? Socks { get; init; }

    /// <summary>The tool to run; null attaches to an already running SOCKS port (client only).</summary>
    public string? Program { get; init; }

    /// <summary>The tool's arguments, with <see cref="WrapTemplate"/> placeholders.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Server: the ARGS reported in SMETHOD (what clients need in their bridge line).</summary>
    public PtArgs? ServerArgs { get; init; }

    /// <summary>How long the tool may take to accept on its port.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the tool gets after SIGTERM before SIGKILL.</summary>
    public TimeSpan TermGrace { get; init; } = TimeSpan.FromSeconds(1);

    public PtLogSeverity LogLevel { get; init; } = PtLogSeverity.Notice;

    public bool UnsafeLogging { get; init; }

    public bool WatchParent { get; init; } = true;

    public bool KillOnHostDeath { get; init; } = true;

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// <c>guise wrap</c>: Guise speaks the managed-proxy protocol to Tor for a tool that does not.
/// Client role: start the tool (or attach to its running SOCKS port), wait until the port
/// accepts, and offer Tor a SOCKS5 method that forwards each connection through it (bridge
/// args as SOCKS credentials). Server role: start the tool with the bind address and ORPort Tor
/// chose, wait until it listens, report SMETHOD. The tool's stderr becomes LOG lines; it is
/// stopped when Tor closes stdin, signals, or dies.
/// </summary>
public static partial class WrapProxy
{
    public const int ExitOk = 0;
    public const int ExitConfigError = 1;
    public const int ExitNothingLaunched = 2;
    public const int ExitToolDied = 3;

    public static async Task<int> RunAsync(WrapOptions options, CancellationToken shutdown)
    {
        ArgumentNullException.ThrowIfNull(options);
        var output = new PtOutput(options.Output);
        if (ManagedProxy.ParseAndAnnounce(options.Environment, output) is not { } config)
            return ExitConfigError;

        var log = new FilteredLog(output, options.LogLevel);
        var scrubber = new AddressScrubber(options.UnsafeLogging);
        var tools = new List<HostedChild>();
        var endpoints = new List<SocksClientEndpoint>();
        var pools = new List<WrapToolPool>();
        try
        {
            var launched = 0;
            if (config.Client is { } client)
            {
                var r = await StartClientAsync(config, client, options, output, log, scrubber, tools, endpoints, pools).ConfigureAwait(false);
                if (r < 0)
                    return ExitConfigError;
                launched += r;
            }
            if (config.Server is { } server)
                launched += await StartServerAsync(config, server, options, output, log, tools).ConfigureAwait(false);
            if (launched == 0)
            {
                log.Log(PtLogSeverity.Error, "no transports were launched");
                return ExitNothingLaunched;
            }
            return await WaitAsync(options, config.ExitOnStdinClose, log, tools, shutdown).ConfigureAwait(false);
        }
        finally
        {
            foreach (var e in endpoints)
                await e.DisposeAsync().ConfigureAwait(false);
            foreach (var p in pools)
                await p.DisposeAsync().ConfigureAwait(false);
            // The tool does not speak pt-spec, so closing its stdin means nothing to it: SIGTERM at once.
            await Task.WhenAll(tools.Select(t => t.StopAsync(TimeSpan.Zero, options.TermGrace))).ConfigureAwait(false);
            foreach (var t in tools)
                await t.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static IReadOnlyList<string> Names(IReadOnlyList<string> requested, string? only) =>
        only is null ? requested.Where(n => n != "*").Distinct(StringComparer.Ordinal).ToList()
        : requested.Contains(only) || requested.Contains("*") ? [only] : [];

    private static async Task<int> StartClientAsync(ManagedConfig config, ClientConfig client, WrapOptions options, PtOutput output,
        IPtLog log, AddressScrubber scrubber, List<HostedChild> tools, List<SocksClientEndpoint> endpoints, List<WrapToolPool> pools)
    {
        var names = Names(client.Transports, options.Transport);
        var mentionsProxy = options.Arguments.Any(a => WrapTemplate.Mentions(a, "proxy"));
        if (config.Proxy is not null)
        {
            if (!mentionsProxy)
            {
                output.ProxyError("guise wrap cannot send the tool's traffic through TOR_PT_PROXY; pass {proxy} to the tool's own proxy flag");
                return -1;
            }
            output.ProxyDone();
        }
        if (names.Count == 0)
        {
            log.Log(PtLogSeverity.Warning, options.Transport is null
                ? "Tor asked for \"*\": name the transport with --transport"
                : $"Tor did not ask for transport \"{options.Transport}\"");
            output.CmethodsDone();
            return 0;
        }

        try
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["state"] = config.StateLocation,
                ["transport"] = names[0],
                ["proxy"] = config.Proxy ?? "",
            };
            Func<string, WrappedSocksTransport> transportFor;
            if (options.Program is { } perBridge && WrapToolPool.Applies(options.Arguments))
            {
                if (options.Socks is { } fixedSocks && HostPort.ParseIPEndPoint(fixedSocks, "--socks").Port != 0)
                    throw new PtException(PtErrorKind.Config, "with {arg:KEY} every bridge gets its own instance and port: drop --socks and pass {socks_port}");
                WrapToolPool.Validate(options.Arguments, values);
                var pool = new WrapToolPool(perBridge, options.Arguments, values, options, log);
                pools.Add(pool);
                transportFor = name => new WrappedSocksTransport(name, $"one {Path.GetFileName(perBridge)} per bridge", pool.ResolveAsync);
            }
            else
            {
                var socks = await StartOrAttachAsync(options, values, log, tools).ConfigureAwait(false);
                transportFor = name => new WrappedSocksTransport(name, socks);
            }

            var context = new TransportContext(config.StateLocation, options.Time, log);
            var observer = new ManagedObserver(output, log, scrubber);
            var started = 0;
            foreach (var name in names)
            {
                try
                {
                    var endpoint = SocksClientEndpoint.Start(transportFor(name), context, new TcpDialer().DialAsync,
                        new IPEndPoint(IPAddress.Loopback, 0), observer);
                    endpoints.Add(endpoint);
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
        catch (PtException e)
        {
            foreach (var name in names)
                output.CmethodError(name, PtOutput.Sanitize(e.Message));
            output.CmethodsDone();
            return 0;
        }
    }

    /// <summary>Starts the one tool instance (or finds the running port in attach mode) and waits until it accepts.</summary>
    private static async Task<IPEndPoint> StartOrAttachAsync(WrapOptions options, Dictionary<string, string> values, IPtLog log, List<HostedChild> tools)
    {
        IPEndPoint socks;
        if (options.Socks is { } s)
            socks = HostPort.ParseIPEndPoint(s, "--socks");
        else if (options.Program is not null)
            socks = new IPEndPoint(IPAddress.Loopback, 0);
        else
            throw new PtException(PtErrorKind.Config, "attach mode (no command) needs --socks HOST:PORT");
        if (socks.Port == 0)
        {
            if (options.Program is null)
                throw new PtException(PtErrorKind.Config, "attach mode needs the SOCKS port, not 0");
            socks = new IPEndPoint(socks.Address, FreePort(socks.Address));
        }
        if (options.Program is not { } program)
        {
            await WaitUntilAcceptingAsync(socks, null, options, "SOCKS port").ConfigureAwait(false);
            return socks;
        }
        var all = new Dictionary<string, string>(values, StringComparer.Ordinal)
        {
            ["socks"] = HostPort.Format(socks),
            ["socks_host"] = socks.Address.ToString(),
            ["socks_port"] = socks.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var argv = options.Arguments.Select(a => WrapTemplate.Expand(a, all)).ToList();
        var tool = await StartToolAsync(program, argv, options, log).ConfigureAwait(false);
        tools.Add(tool);
        await WaitUntilAcceptingAsync(socks, tool, options, "SOCKS port").ConfigureAwait(false);
        return socks;
    }

    private static async Task<int> StartServerAsync(ManagedConfig config, ServerConfig server, WrapOptions options, PtOutput output,
        IPtLog log, List<HostedChild> tools)
    {
        var names = Names(server.Transports, options.Transport);
        var started = 0;
        foreach (var name in names)
        {
            try
            {
                if (options.Program is not { } program)
                    throw new PtException(PtErrorKind.Config, "the server side needs a command to run");
                var orPort = server.OrPort is { } o ? HostPort.Parse(o, Pt.PtEnvironment.Vars.OrPort)
                    : throw new PtException(PtErrorKind.Config, $"the wrapped tool needs {PtEnvironment.Vars.OrPort} to forward to");
                var bind = server.BindAddresses.TryGetValue(name, out var b) ? b : new IPEndPoint(IPAddress.Loopback, 0);
                if (bind.Port == 0)
                    bind = new IPEndPoint(bind.Address, FreePort(bind.Address));
                var values = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["listen"] = HostPort.Format(bind),
                    ["listen_host"] = bind.Address.ToString(),
                    ["listen_port"] = bind.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["orport"] = orPort.ToString(),
                    ["orport_host"] = orPort.Host,
                    ["orport_port"] = orPort.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["state"] = config.StateLocation,
                    ["transport"] = name,
                };
                if (server.Options.TryGetValue(name, out var transportOptions))
                {
                    foreach (var (k, v) in transportOptions)
                        values[$"opt:{k}"] = v;
                }
                var tool = await StartToolAsync(program, options.Arguments.Select(a => WrapTemplate.Expand(a, values)).ToList(), options, log).ConfigureAwait(false);
                tools.Add(tool);
                var probe = bind.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, bind.Port)
                    : bind.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, bind.Port) : bind;
                await WaitUntilAcceptingAsync(probe, tool, options, "listening port").ConfigureAwait(false);
                output.Smethod(name, bind, options.ServerArgs is { Count: > 0 } a ? a : null);
                started++;
            }
            catch (PtException e)
            {
                output.SmethodError(name, PtOutput.Sanitize(e.Message));
            }
        }
        output.SmethodsDone();
        return started;
    }

    internal static async Task<HostedChild> StartToolAsync(string program, IReadOnlyList<string> arguments, WrapOptions options, IPtLog log)
    {
        var name = Path.GetFileName(program);
        void Relay(string line)
        {
            line = line.Trim();
            if (line.Length > 0)
                log.Log(GuessSeverity(line), $"{name}: {(options.UnsafeLogging ? line : ScrubAddresses(line))}");
        }
        var tool = await HostedChild.StartAsync(program, arguments, new Dictionary<string, string>(), null, options.KillOnHostDeath, Relay, Relay)
            .ConfigureAwait(false);
        log.Log(PtLogSeverity.Info, $"started {name} (pid {tool.ProcessId})");
        return tool;
    }

    /// <summary>
    /// Polls <paramref name="address"/> until a TCP connect succeeds. Fails with Internal when the
    /// tool exits first (naming its exit and last stderr), Timeout when the deadline passes.
    /// </summary>
    internal static async Task WaitUntilAcceptingAsync(IPEndPoint address, HostedChild? tool, WrapOptions options, string what)
    {
        var started = options.Time.GetTimestamp();
        while (true)
        {
            if (tool is { Exited.IsCompleted: true })
            {
                var code = await tool.Exited.ConfigureAwait(false);
                var tail = tool.StderrTail;
                throw new PtException(PtErrorKind.Internal,
                    $"the wrapped command {HostedChild.DescribeExit(code)} before its {what} {HostPort.Format(address)} accepted" +
                    (tail.Length > 0 ? $": {tail}" : ""));
            }
            using (var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                try
                {
                    await socket.ConnectAsync(address, attempt.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    // Not yet.
                }
            }
            if (options.Time.GetElapsedTime(started) >= options.StartTimeout)
            {
                throw new PtException(PtErrorKind.Timeout,
                    $"the {(tool is null ? "" : "wrapped command's ")}{what} {HostPort.Format(address)} did not accept connections within {options.StartTimeout.TotalSeconds:0.#} s");
            }
            var delay = Task.Delay(TimeSpan.FromMilliseconds(100), options.Time);
            await (tool is null ? delay : Task.WhenAny(delay, tool.Exited)).ConfigureAwait(false);
        }
    }

    private static async Task<int> WaitAsync(WrapOptions options, bool exitOnStdinClose, IPtLog log, List<HostedChild> tools, CancellationToken shutdown)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        var waits = new List<Task> { Task.Delay(Timeout.Infinite, stop.Token) };
        // Without TOR_PT_EXIT_ON_STDIN_CLOSE=1 stdin may be /dev/null: its EOF means nothing.
        var stdinClosed = exitOnStdinClose && options.Stdin is { } stdin ? ShutdownSignals.WhenClosedAsync(stdin, stop.Token) : null;
        if (stdinClosed is not null)
            waits.Add(stdinClosed);
        var parentDied = options.WatchParent ? ShutdownSignals.WhenParentDiesAsync(TimeSpan.FromMilliseconds(500), stop.Token) : null;
        if (parentDied is not null)
            waits.Add(parentDied);
        waits.AddRange(tools.Select(t => t.Exited));
        var winner = await Task.WhenAny(waits).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        if (tools.FirstOrDefault(t => t.Exited == winner) is { } died)
        {
            log.Log(PtLogSeverity.Error, $"the wrapped command {HostedChild.DescribeExit(await died.Exited.ConfigureAwait(false))}" +
                (died.StderrTail is { Length: > 0 } tail ? $": {tail}" : ""));
            return ExitToolDied;
        }
        if (winner == stdinClosed)
            log.Log(PtLogSeverity.Notice, "stdin closed, stopping the wrapped command");
        else if (winner == parentDied && parentDied.IsCompletedSuccessfully)
            log.Log(PtLogSeverity.Notice, "parent process exited, stopping the wrapped command");
        return ExitOk;
    }

    /// <summary>
    /// Replaces IP addresses in a tool's own log line with <see cref="AddressScrubber.Placeholder"/>,
    /// as Guise's own logs do, so bridge addresses do not reach Tor's log; loopback stays readable.
    /// </summary>
    public static string ScrubAddresses(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return AddressLike().Replace(line, m =>
        {
            var host = m.Groups["v4"].Success ? m.Groups["v4"].Value : m.Groups["v6"].Value;
            return IPAddress.TryParse(host, out var ip) && !IPAddress.IsLoopback(ip) ? AddressScrubber.Placeholder : m.Value;
        });
    }

    // An IPv4 literal, or a bracketed IPv6 one, with an optional port.
    [System.Text.RegularExpressions.GeneratedRegex(@"(?<![\w.:])(?:(?<v4>\d{1,3}(?:\.\d{1,3}){3})|\[(?<v6>[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)\])(?::\d{1,5})?(?![\w.])")]
    private static partial System.Text.RegularExpressions.Regex AddressLike();

    /// <summary>A severity for a line of a tool's own log format ("ERROR: ...", "[warn] ...").</summary>
    public static PtLogSeverity GuessSeverity(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var head = line.Length > 64 ? line[..64] : line;
        if (head.Contains("ERROR", StringComparison.OrdinalIgnoreCase) || head.Contains("FATAL", StringComparison.OrdinalIgnoreCase))
            return PtLogSeverity.Error;
        if (head.Contains("WARN", StringComparison.OrdinalIgnoreCase))
            return PtLogSeverity.Warning;
        if (head.Contains("DEBUG", StringComparison.OrdinalIgnoreCase) || head.Contains("TRACE", StringComparison.OrdinalIgnoreCase))
            return PtLogSeverity.Debug;
        if (head.Contains("INFO", StringComparison.OrdinalIgnoreCase))
            return PtLogSeverity.Info;
        return PtLogSeverity.Notice;
    }

    internal static int FreePort(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
