// Tests and demos that start tor from this code must append ../shared/tor/loopback-only.torrc (UseDefaultFallbackDirs 0 ...): see Tor.LoopbackOnly in tests.
using System.CommandLine;
using System.Net;
using Guise.Errors;
using Guise.Hosting;
using Guise.Net;
using Guise.Proxy;
using Guise.Transports;
using Guise.Transports.Marionette;

namespace Guise.Cli;

internal static class Commands
{
    private static readonly TransportRegistry Registry = TransportRegistry.Default;

    public static RootCommand Build()
    {
        var root = new RootCommand(
            "Guise: pluggable transports for Tor and apps.\n\n" +
            "Started by Tor with no arguments (ClientTransportPlugin / ServerTransportPlugin ... exec guise), it runs\n" +
            "as a managed proxy, like obfs4proxy. The commands below run it by hand.");
        root.Subcommands.Add(Demo());
        root.Subcommands.Add(Client());
        root.Subcommands.Add(Server());
        root.Subcommands.Add(Transports());
        root.Subcommands.Add(HostCommands.Host());
        root.Subcommands.Add(HostCommands.Wrap());
        root.Subcommands.Add(ProbeCommands.Probe());
        root.Subcommands.Add(ProbeCommands.LocateCommand());
        root.Subcommands.Add(ProbeCommands.Report());
        return root;
    }

    private static Option<string> TransportOption() => new("--transport", "-t")
    {
        Description = $"Transport to use ({string.Join(", ", Registry.All.Select(t => t.Name))}).",
        DefaultValueFactory = _ => Registry.DefaultName,
    };

    private static Option<string> LogLevelOption() => new("--log-level")
    {
        Description = "error, warning, notice, info or debug.",
        DefaultValueFactory = _ => "notice",
    };

    private static Option<string[]> FormatOption() => new("--format")
    {
        Description = "A Marionette format file (.mar) to add (repeatable). Bridge lines name it by its file name without .mar " +
            "(format=NAME); the first one is the marionette server's default format.",
    };

    /// <summary>Loads every <c>--format FILE</c> before a transport is made: a broken file stops here, with file:line:column.</summary>
    internal static void AddFormats(IEnumerable<string>? paths)
    {
        foreach (var path in paths ?? [])
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new PtException(PtErrorKind.Config, "--format needs a .mar file");
            MarionetteTransport.AddFormatFile(Path.GetFullPath(path), makeDefault: true);
        }
    }

    private static Option<bool> UnsafeLoggingOption() => new("--unsafe-logging")
    {
        Description = "Write client and bridge addresses into logs (scrubbed by default).",
    };

    private static Command Demo()
    {
        var transport = TransportOption();
        var mebibytes = new Option<int>("--mib") { Description = "MiB to send through the tunnel and back.", DefaultValueFactory = _ => 8 };
        var logLevel = LogLevelOption();
        var format = FormatOption();
        var command = new Command("demo", "Run a server and a client in this process, move data through them and check it.")
        {
            transport, mebibytes, logLevel, format,
        };
        command.SetAction((parse, ct) => Guarded(async () =>
        {
            var log = MakeLog(parse.GetValue(logLevel)!);
            AddFormats(parse.GetValue(format));
            var t = Registry.Get(parse.GetValue(transport)!);
            var size = (long)Math.Max(1, parse.GetValue(mebibytes)) << 20;
            Console.WriteLine($"guise {GuiseInfo.Version} demo: transport '{t.Name}', {size >> 20} MiB each way");
            var result = await Hosting.Demo.RunAsync(t, size, log, ct);
            Console.WriteLine();
            Console.WriteLine($"  SOCKS5 endpoint (point an app here): {HostPort.Format(result.SocksEndPoint)}");
            Console.WriteLine($"  bridge endpoint:                     {HostPort.Format(result.BridgeEndPoint)}");
            Console.WriteLine($"  bridge args:                         {(result.BridgeArgs.Count == 0 ? "(none)" : result.BridgeArgs.ToBridgeLineArgs())}");
            Console.WriteLine($"  moved:    {result.BytesEachWay:N0} bytes each way in {result.Elapsed.TotalMilliseconds:F0} ms ({result.MebibytesPerSecond:F1} MiB/s)");
            Console.WriteLine($"  verified: {(result.Verified ? "yes, SHA-256 of the echoed bytes matches what was sent" : "NO: the bytes that came back differ")}");
            return result.Verified ? 0 : 1;
        }));
        return command;
    }

    private static Command Client()
    {
        var transport = TransportOption();
        var listen = new Option<string>("--listen", "-l") { Description = "SOCKS5 listen address.", DefaultValueFactory = _ => "127.0.0.1:1080" };
        var argsOption = new Option<string?>("--args", "-a") { Description = "Bridge args used when a SOCKS request carries none: 'k=v;k=v' (e.g. 'cert=...;iat-mode=0')." };
        var proxy = new Option<string?>("--proxy") { Description = "Upstream proxy for outgoing connections: socks5://, socks4a:// or http:// URL." };
        var logLevel = LogLevelOption();
        var unsafeLogging = UnsafeLoggingOption();
        var format = FormatOption();
        var command = new Command("client", "Run a transport's client side as a SOCKS5/4a proxy (no Tor needed).\n" +
            "Apps connect through it to the bridge address; bridge args go in the SOCKS username/password or --args.")
        {
            transport, listen, argsOption, proxy, logLevel, unsafeLogging, format,
        };
        command.SetAction((parse, ct) => Guarded(async () =>
        {
            var log = MakeLog(parse.GetValue(logLevel)!);
            AddFormats(parse.GetValue(format));
            var t = Registry.Get(parse.GetValue(transport)!);
            var bind = HostPort.ParseIPEndPoint(parse.GetValue(listen)!, "--listen");
            DialAsync dial = new TcpDialer().DialAsync;
            if (parse.GetValue(proxy) is { } proxyUri)
                dial = UpstreamProxy.Parse(proxyUri).Wrap(dial);
            var defaults = parse.GetValue(argsOption) is { Length: > 0 } a ? PtArgs.ParseSocks(a) : null;
            if (defaults is not null)
                t.CreateClientFactory(TransportContext.ForTests()).Prepare(defaults); // validate now, not at the first connection
            var context = new TransportContext(null, TimeProvider.System, log);
            await using var endpoint = SocksClientEndpoint.Start(t, context, dial, bind,
                new LogObserver(log, new AddressScrubber(parse.GetValue(unsafeLogging))), new ClientEndpointOptions { DefaultArgs = defaults });
            Console.WriteLine($"{t.Name} client: SOCKS5/4a proxy on {HostPort.Format(endpoint.LocalEndPoint)}");
            await WaitForCancelAsync(ct);
            log.Log(PtLogSeverity.Notice, "stopping");
            return 0;
        }));
        return command;
    }

    private static Command Server()
    {
        var transport = TransportOption();
        var listen = new Option<string>("--listen", "-l") { Description = "Address to accept transport connections on.", Required = true };
        var target = new Option<string>("--target") { Description = "Where to forward clients' traffic (host:port), e.g. a Tor ORPort.", Required = true };
        var state = new Option<string>("--state") { Description = "Directory for the transport's persistent state (keys). Keep it: new keys lock out every user of the bridge.", Required = true };
        var options = new Option<string?>("--options") { Description = "Server options 'k=v;k=v' (as TOR_PT_SERVER_TRANSPORT_OPTIONS would give)." };
        var extOrPortCookie = new Option<string?>("--ext-orport-cookie") { Description = "Treat --target as Tor's Extended ORPort, authenticating with this cookie file." };
        var logLevel = LogLevelOption();
        var unsafeLogging = UnsafeLoggingOption();
        var format = FormatOption();
        var command = new Command("server", "Run a transport's server side, forwarding to a TCP target (no Tor needed). Prints the bridge line.")
        {
            transport, listen, target, state, options, extOrPortCookie, logLevel, unsafeLogging, format,
        };
        command.SetAction((parse, ct) => Guarded(async () =>
        {
            var log = MakeLog(parse.GetValue(logLevel)!);
            AddFormats(parse.GetValue(format));
            var t = Registry.Get(parse.GetValue(transport)!);
            var bind = HostPort.ParseIPEndPoint(parse.GetValue(listen)!, "--listen");
            var targetAddress = HostPort.Parse(parse.GetValue(target)!, "--target").ToString();
            var stateDirectory = Path.GetFullPath(parse.GetValue(state)!);
            Pt.PtEnvironment.EnsureStateDirectory(stateDirectory);
            var serverOptions = parse.GetValue(options) is { } o ? PtArgs.ParseSocks(o) : PtArgs.Empty;
            var forward = parse.GetValue(extOrPortCookie) is { } cookie
                ? ForwardTarget.ExtOrPort(targetAddress, cookie)
                : ForwardTarget.OrPort(targetAddress);
            var context = new TransportContext(stateDirectory, TimeProvider.System, log);
            await using var endpoint = ServerEndpoint.Start(t, context, serverOptions, bind, forward, new TcpDialer().DialAsync,
                new LogObserver(log, new AddressScrubber(parse.GetValue(unsafeLogging))));
            var address = HostPort.Format(endpoint.LocalEndPoint.Address.Equals(IPAddress.Any) ? "<public-ip>" : endpoint.LocalEndPoint.Address.ToString(), endpoint.LocalEndPoint.Port);
            Console.WriteLine($"{t.Name} server on {HostPort.Format(endpoint.LocalEndPoint)}, forwarding to {targetAddress}");
            Console.WriteLine($"Bridge line (add your relay's fingerprint):");
            Console.WriteLine($"  Bridge {t.Name} {address} <FINGERPRINT> {endpoint.ClientArgs.ToBridgeLineArgs()}".TrimEnd());
            Console.WriteLine($"Client args (guise client --args): '{endpoint.ClientArgs.ToSocksString()}'");
            await WaitForCancelAsync(ct);
            log.Log(PtLogSeverity.Notice, "stopping");
            return 0;
        }));
        return command;
    }

    private static Command Transports()
    {
        var command = new Command("transports", "List the transports this binary holds.");
        command.SetAction(_ =>
        {
            foreach (var t in Registry.All)
                Console.WriteLine($"{t.Name,-12} {t.Description}{(t.Name == Registry.DefaultName ? " [default]" : "")}");
            return 0;
        });
        return command;
    }

    private static IPtLog MakeLog(string level)
    {
        if (!ConsoleLog.TryParse(level, out var severity))
            throw new PtException(PtErrorKind.Config, $"unknown log level '{level}' (error, warning, notice, info, debug)");
        return new FilteredLog(new ConsoleLog(Console.Error), severity);
    }

    /// <summary>Expected failures print one clear line and exit 1; only bugs get a stack trace.</summary>
    internal static async Task<int> Guarded(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (PtException e)
        {
            await Console.Error.WriteLineAsync($"guise: {e.Message}");
            return e.Kind == PtErrorKind.Config ? 2 : 1;
        }
    }

    private static async Task WaitForCancelAsync(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
