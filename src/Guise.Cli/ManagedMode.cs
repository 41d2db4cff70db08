using System.Runtime.InteropServices;
using Guise.Hosting;
using Guise.Transports;

namespace Guise.Cli;

/// <summary>
/// The zero-argument mode Tor uses. Accepts obfs4proxy's flags so `guise` can replace it in a
/// torrc line unchanged: -enableLogging, -logLevel LEVEL, -unsafeLogging (one or two dashes).
/// Guise's own: -format FILE (repeatable), a Marionette format file that bridge lines then name
/// as format=NAME (its file name without .mar).
/// </summary>
internal static class ManagedMode
{
    private static readonly string[] Flags = ["enableLogging", "unsafeLogging", "logLevel", "format"];

    public static bool ShouldRun(string[] args, string? managedVersion)
    {
        if (string.IsNullOrEmpty(managedVersion))
            return false;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].TrimStart('-');
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
                name = name[..eq];
            if (!args[i].StartsWith('-') || !Flags.Contains(name))
                return false;
            if (name is "logLevel" or "format" && eq < 0)
                i++;
        }
        return true;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var unsafeLogging = false;
        var level = PtLogSeverity.Notice;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i].TrimStart('-');
            if (arg == "unsafeLogging")
                unsafeLogging = true;
            else if (arg.StartsWith("format", StringComparison.Ordinal))
            {
                var path = arg.Contains('=', StringComparison.Ordinal) ? arg[(arg.IndexOf('=', StringComparison.Ordinal) + 1)..] : i + 1 < args.Length ? args[++i] : "";
                try
                {
                    Commands.AddFormats([path]);
                }
                catch (Errors.PtException e)
                {
                    // Tor logs ENV-ERROR lines and gives up on this managed proxy.
                    await Console.Out.WriteLineAsync($"ENV-ERROR {e.Message.ReplaceLineEndings(" ")}");
                    return ManagedProxy.ExitConfigError;
                }
            }
            else if (arg.StartsWith("logLevel", StringComparison.Ordinal))
            {
                var value = arg.Contains('=', StringComparison.Ordinal) ? arg[(arg.IndexOf('=', StringComparison.Ordinal) + 1)..] : i + 1 < args.Length ? args[++i] : "";
                if (!ConsoleLog.TryParse(value, out level))
                {
                    await Console.Out.WriteLineAsync($"ENV-ERROR invalid -logLevel '{value}' (error, warning, notice, info, debug)");
                    return ManagedProxy.ExitConfigError;
                }
            }
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string k && k.StartsWith("TOR_PT_", StringComparison.Ordinal) && e.Value is string v)
                environment[k] = v;
        }

        using var shutdown = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        // Tor's stdout may be a pipe that closes with Tor; never let a write crash us mid-shutdown.
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
        return await ManagedProxy.RunAsync(new ManagedProxyOptions
        {
            Environment = environment,
            Output = stdout,
            Stdin = Console.OpenStandardInput(),
            UnsafeLogging = unsafeLogging,
            LogLevel = level,
        }, shutdown.Token);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            shutdown.Cancel();
        }
    }
}
