using System.Text;
using Guise.Errors;
using Guise.Hosting;
using Guise.Transports;

namespace Guise.Native;

/// <summary>guise_managed_main: Tor's managed-proxy mode with the environment taken from envp.</summary>
internal static unsafe class ManagedMain
{
    private static readonly Lock Gate = new();
    private static CancellationTokenSource? s_running;

    public static int Run(int argc, byte** argv, byte** envp)
    {
        var args = new List<string>();
        for (var i = 1; i < argc && argv is not null; i++)
            args.Add(Utf8.Read(argv[i]) ?? "");
        var environment = ReadEnvironment(envp);
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { NewLine = "\n" };

        if (!TryParseFlags(args, out var level, out var unsafeLogging, out var error))
        {
            stdout.WriteLine($"ENV-ERROR {error}");
            stdout.Flush();
            throw new PtException(PtErrorKind.Config, error);
        }

        using var shutdown = new CancellationTokenSource();
        lock (Gate)
        {
            if (s_running is not null)
                throw new PtException(PtErrorKind.Config, "guise_managed_main is already running in this process");
            s_running = shutdown;
        }
        try
        {
            var exit = ManagedProxy.RunAsync(new ManagedProxyOptions
            {
                Environment = environment,
                Output = stdout,
                Stdin = Console.OpenStandardInput(),
                UnsafeLogging = unsafeLogging,
                LogLevel = level,
            }, shutdown.Token).GetAwaiter().GetResult();
            stdout.Flush();
            return exit switch
            {
                ManagedProxy.ExitOk => 0,
                ManagedProxy.ExitNothingLaunched => throw new PtException(PtErrorKind.Config, "managed mode: no transport could be launched"),
                _ => throw new PtException(PtErrorKind.Config, "managed mode: bad environment (see the ENV-ERROR line on stdout)"),
            };
        }
        finally
        {
            lock (Gate)
                s_running = null;
        }
    }

    public static void Stop()
    {
        lock (Gate)
        {
            if (s_running is null)
                throw new PtException(PtErrorKind.Config, "guise_managed_main is not running");
            s_running.Cancel();
        }
    }

    /// <summary>The TOR_PT_* variables of a C envp array (NULL-terminated "KEY=value" strings).</summary>
    private static Dictionary<string, string> ReadEnvironment(byte** envp)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var p = envp; p is not null && *p is not null; p++)
        {
            var entry = Utf8.Read(*p)!;
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && entry.StartsWith("TOR_PT_", StringComparison.Ordinal))
                environment[entry[..eq]] = entry[(eq + 1)..];
        }
        return environment;
    }

    /// <summary>obfs4proxy's flags, with one or two dashes: -enableLogging, -logLevel LEVEL (or =LEVEL), -unsafeLogging.</summary>
    internal static bool TryParseFlags(IReadOnlyList<string> args, out PtLogSeverity level, out bool unsafeLogging, out string error)
    {
        level = PtLogSeverity.Notice;
        unsafeLogging = false;
        error = "";
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-'))
            {
                error = $"unexpected argument '{arg}'";
                return false;
            }
            var name = arg.TrimStart('-');
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            switch (name)
            {
                case "enableLogging":
                    break; // logs always go to Tor as LOG lines
                case "unsafeLogging":
                    unsafeLogging = true;
                    break;
                case "logLevel":
                    value ??= i + 1 < args.Count ? args[++i] : "";
                    if (!ConsoleLog.TryParse(value, out level))
                    {
                        error = $"invalid -logLevel '{value}' (error, warning, notice, info, debug)";
                        return false;
                    }
                    break;
                default:
                    error = $"unknown flag '{arg}'";
                    return false;
            }
        }
        return true;
    }
}
