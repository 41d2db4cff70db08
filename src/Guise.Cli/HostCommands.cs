// Tests and demos that start tor from this code must append ../shared/tor/loopback-only.torrc (UseDefaultFallbackDirs 0 ...): see Tor.LoopbackOnly in tests.
using System.CommandLine;
using System.Net;
using Guise.Errors;
using Guise.Hosting;
using Guise.Hosting.PtHost;
using Guise.Net;
using Guise.Pt;
using Guise.Transports;

namespace Guise.Cli;

/// <summary><c>guise host</c> (run any PT as Tor would) and <c>guise wrap</c> (make a SOCKS tool a PT).</summary>
internal static class HostCommands
{
    public static Command Host()
    {
        var client = new Option<string?>("--client") { Description = "Client transports to ask for, comma-separated (TOR_PT_CLIENT_TRANSPORTS). The default when neither --client nor --server is given: '*'." };
        var server = new Option<string?>("--server") { Description = "Server transports to ask for, comma-separated (TOR_PT_SERVER_TRANSPORTS)." };
        var orPort = new Option<string>("--orport") { Description = "Server: where the PT forwards (TOR_PT_ORPORT).", DefaultValueFactory = _ => "127.0.0.1:9" };
        var bind = new Option<string[]>("--bind") { Description = "Server: NAME-IP:PORT listen address (TOR_PT_SERVER_BINDADDR); repeatable.", AllowMultipleArgumentsPerToken = false };
        var options = new Option<string[]>("--option") { Description = "Server: NAME:KEY=VALUE transport option; repeatable." };
        var state = new Option<string?>("--state") { Description = "TOR_PT_STATE_LOCATION (default: a new directory under /tmp, kept and printed)." };
        var proxy = new Option<string?>("--proxy") { Description = "Upstream proxy for the PT (TOR_PT_PROXY): socks5://, socks4a:// or http:// URL." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds the PT may take to finish start-up.", DefaultValueFactory = _ => 30 };
        var restarts = new Option<int>("--restarts") { Description = "Restarts after crashes before giving up.", DefaultValueFactory = _ => 5 };
        var once = new Option<bool>("--once") { Description = "Stop the PT as soon as it is ready (print its methods and exit)." };
        var fingerprint = new Option<string>("--fingerprint") { Description = "Server: the relay fingerprint to put in printed bridge lines.", DefaultValueFactory = _ => "<FINGERPRINT>" };
        var command = new Argument<string[]>("command") { Description = "The PT binary and its arguments (after --).", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("host", "Run a pluggable-transport binary as Tor would, and print its methods and events.\n" +
            "Example: guise host --client obfs4 -- obfs4proxy -enableLogging")
        {
            client, server, orPort, bind, options, state, proxy, timeout, restarts, once, fingerprint, command,
        };
        cmd.SetAction((parse, ct) => Commands.Guarded(async () =>
        {
            var argv = parse.GetValue(command)!;
            var stateDir = parse.GetValue(state) is { } s ? Path.GetFullPath(s) : Directory.CreateTempSubdirectory("guise-host-").FullName;
            var clientList = parse.GetValue(client);
            var serverList = parse.GetValue(server);
            if (clientList is null && serverList is null)
                clientList = "*";
            PtServerRole? serverRole = null;
            if (serverList is not null)
            {
                serverRole = new PtServerRole(Split(serverList))
                {
                    OrPort = HostPort.Parse(parse.GetValue(orPort)!, "--orport").ToString(),
                    BindAddresses = ParseBinds(parse.GetValue(bind) ?? []),
                    Options = ParseOptions(parse.GetValue(options) ?? []),
                };
            }
            var launch = new PtLaunch
            {
                Program = argv[0],
                Arguments = argv[1..],
                StateDirectory = stateDir,
                Client = clientList is null ? null : new PtClientRole(Split(clientList)),
                Server = serverRole,
                Proxy = parse.GetValue(proxy),
            };
            var hostOptions = new PtHostOptions
            {
                StartTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                Restart = new PtRestartPolicy { MaxAttempts = Math.Max(0, parse.GetValue(restarts)) },
            };
            var fpr = parse.GetValue(fingerprint)!;
            Console.WriteLine($"state directory: {stateDir}");
            await using var host = new PtHost(launch, hostOptions);
            var printer = Task.Run(async () =>
            {
                await foreach (var e in host.Events.ReadAllAsync(CancellationToken.None))
                    Print(e, fpr);
            }, CancellationToken.None);
            try
            {
                await host.StartAsync(ct);
                if (!parse.GetValue(once))
                {
                    try
                    {
                        await host.Completion.WaitAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                await host.StopAsync();
                await printer;
                return host.Completion.IsFaulted ? 1 : 0;
            }
            finally
            {
                await host.StopAsync();
                await printer;
            }
        }));
        return cmd;
    }

    public static Command Wrap()
    {
        var socks = new Option<string?>("--socks") { Description = "The tool's SOCKS5 address, 127.0.0.1:PORT. With a command it may be omitted (or port 0): guise picks a free port, passed as {socks_port}." };
        var transport = new Option<string?>("--transport", "-t") { Description = "The transport name to serve (default: every name Tor asks for)." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds the tool may take until its port accepts connections.", DefaultValueFactory = _ => 30 };
        var serverArgs = new Option<string?>("--server-args") { Description = "Server: k=v;k=v reported as SMETHOD ARGS (what clients put in their bridge line)." };
        var logLevel = new Option<string>("--log-level") { Description = "error, warning, notice, info or debug.", DefaultValueFactory = _ => "notice" };
        var unsafeLogging = new Option<bool>("--unsafe-logging") { Description = "Write bridge addresses into logs (scrubbed by default)." };
        var command = new Argument<string[]>("command")
        {
            Description = "The tool and its arguments (after --). Placeholders: {socks} {socks_host} {socks_port} {proxy} (client), " +
                "{listen} {listen_host} {listen_port} {orport} {orport_host} {orport_port} {opt:KEY} (server), {state} {transport}; {{ }} for braces. " +
                "No command: attach to an already running SOCKS port.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new Command("wrap", "Be the managed proxy Tor talks to for a tool that only exposes a SOCKS5 port (client) or listens and forwards (server).\n" +
            "torrc: ClientTransportPlugin ss exec /usr/local/bin/guise wrap --transport ss -- ss-local -l {socks_port} -s HOST -p PORT -k PASSWORD -m aes-256-gcm")
        {
            socks, transport, timeout, serverArgs, logLevel, unsafeLogging, command,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
            var argv = parse.GetValue(command) ?? [];
            var level = parse.GetValue(logLevel)!;
            if (!ConsoleLog.TryParse(level, out var severity))
            {
                await stdout.WriteLineAsync($"ENV-ERROR invalid --log-level '{PtOutput.Sanitize(level)}' (error, warning, notice, info, debug)");
                await stdout.FlushAsync(CancellationToken.None);
                return WrapProxy.ExitConfigError;
            }
            PtArgs? smethodArgs;
            try
            {
                smethodArgs = parse.GetValue(serverArgs) is { } a ? PtArgs.ParseSocks(a) : null;
            }
            catch (PtException e)
            {
                await stdout.WriteLineAsync($"ENV-ERROR --server-args: {PtOutput.Sanitize(e.Message)}");
                await stdout.FlushAsync(CancellationToken.None);
                return WrapProxy.ExitConfigError;
            }
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                if (e.Key is string k && k.StartsWith("TOR_PT_", StringComparison.Ordinal) && e.Value is string v)
                    environment[k] = v;
            }
            return await WrapProxy.RunAsync(new WrapOptions
            {
                Environment = environment,
                Output = stdout,
                Stdin = Console.OpenStandardInput(),
                Transport = parse.GetValue(transport),
                Socks = parse.GetValue(socks),
                Program = argv.Length > 0 ? argv[0] : null,
                Arguments = argv.Length > 1 ? argv[1..] : [],
                ServerArgs = smethodArgs,
                StartTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                LogLevel = severity,
                UnsafeLogging = parse.GetValue(unsafeLogging),
            }, ct);
        });
        return cmd;
    }

    private static void Print(PtHostEvent e, string fingerprint)
    {
        switch (e)
        {
            case PtHostEvent.Started s:
                Console.WriteLine(s.Attempt == 0 ? $"started: pid {s.ProcessId}" : $"started: pid {s.ProcessId} (restart {s.Attempt})");
                break;
            case PtHostEvent.Ready r:
                var m = r.Methods;
                var impl = m.Implementation is null ? "" : $" ({m.Implementation} {m.ImplementationVersion})";
                Console.WriteLine($"version: {m.Version}{impl}");
                if (m.ProxyAccepted)
                    Console.WriteLine("proxy: accepted");
                foreach (var c in m.ClientMethods)
                    Console.WriteLine($"client: {c.Transport} {c.Protocol} {c.Address}");
                foreach (var s in m.ServerMethods)
                {
                    Console.WriteLine($"server: {s.Transport} {s.Address}{(s.Args.Count > 0 ? " ARGS:" + s.Args.ToSmethodArgs() : "")}");
                    Console.WriteLine($"  Bridge {s.BridgeLine(fingerprint)}");
                }
                foreach (var err in m.Errors)
                    Console.WriteLine($"method-error: {(err.Server ? "server" : "client")} {err.Transport}: {err.Message}");
                Console.WriteLine($"ready: pid {m.ProcessId}");
                break;
            case PtHostEvent.Log l:
                Console.WriteLine($"log {ConsoleLog.Name(l.Severity)}: {l.Message}");
                break;
            case PtHostEvent.Status st:
                Console.WriteLine($"status{(st.Transport is null ? "" : " " + st.Transport)}: {string.Join(' ', st.Fields.Select(kv => $"{kv.Key}={kv.Value}"))}");
                break;
            case PtHostEvent.UnknownLine u:
                Console.WriteLine($"unknown line: {u.Keyword} {u.Arguments}".TrimEnd());
                break;
            case PtHostEvent.MalformedLine b:
                Console.WriteLine($"malformed line ({b.Reason}): {b.Line}");
                break;
            case PtHostEvent.Stderr err:
                Console.WriteLine($"stderr: {err.Line}");
                break;
            case PtHostEvent.Exited x:
                Console.WriteLine($"exited: pid {x.ProcessId} {x.Description}{(x.Requested ? " (stopped)" : "")}");
                break;
            case PtHostEvent.Restarting r:
                Console.WriteLine($"restarting in {r.Delay.TotalSeconds:0.#} s (attempt {r.Attempt}): {r.Reason.Message}");
                break;
            case PtHostEvent.Failed f:
                Console.WriteLine($"failed ({f.Error.Kind.Token()}): {f.Error.Message}");
                break;
        }
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Dictionary<string, IPEndPoint> ParseBinds(string[] specs)
    {
        var result = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var dash = spec.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0)
                throw new PtException(PtErrorKind.Config, $"--bind '{spec}' is not NAME-IP:PORT");
            result[spec[..dash]] = HostPort.ParseIPEndPoint(spec[(dash + 1)..], "--bind");
        }
        return result;
    }

    private static Dictionary<string, PtArgs> ParseOptions(string[] specs)
    {
        var result = new Dictionary<string, PtArgs>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var colon = spec.IndexOf(':', StringComparison.Ordinal);
            var eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (colon <= 0 || eq < colon + 2)
                throw new PtException(PtErrorKind.Config, $"--option '{spec}' is not NAME:KEY=VALUE");
            var name = spec[..colon];
            if (!result.TryGetValue(name, out var args))
                result[name] = args = new PtArgs();
            args.Add(spec[(colon + 1)..eq], spec[(eq + 1)..]);
        }
        return result;
    }
}
