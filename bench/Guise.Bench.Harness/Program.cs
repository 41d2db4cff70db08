using System.Text;

namespace Guise.Bench.Harness;

/// <summary>
/// The side-by-side harness: guise and its peers (obfs4proxy) as Tor runs them, the same
/// figures for each, results.json and results.md in the output directory. See README "Benchmarks".
/// </summary>
internal static class Program
{
    /// <summary>Set for the harness itself; the proxies it starts do not inherit it (see <see cref="PtProcess"/>).</summary>
    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static async Task<int> Main(string[] args)
    {
        // The harness is Tor's side of every tunnel, and on two cores its CPU is taken from the
        // proxies it measures: socket continuations run on the epoll thread (no hand-off to a
        // worker per event), and workers do not spin before sleeping (csproj). perf during the
        // handshake figure had the harness at a third of all samples, a quarter of that in
        // sched_yield. Both proxies under test get the cores back alike.
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        return await RunAsync(args, Console.Out, Console.Error, cts.Token).ConfigureAwait(false);
    }

    /// <summary>Parses <paramref name="args"/>, runs the suite, writes the files. 0: all figures measured; 1: some failed; 2: bad options.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter log, CancellationToken cancellationToken)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args, RepoRoot());
        }
        catch (ArgumentException e)
        {
            await log.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        var command = Environment.GetEnvironmentVariable("GUISE_BENCH_COMMAND") is { Length: > 0 } c
            ? c
            : string.Join(' ', args.Prepend("Guise.Bench.Harness"));
        if (options.MarionetteFormats is not null)
            return await MarionetteSuite.RunAndWriteAsync(options, command, output, log, cancellationToken).ConfigureAwait(false);
        var results = await Runner.RunAsync(options, command, log, cancellationToken).ConfigureAwait(false);

        Directory.CreateDirectory(options.OutputDirectory);
        var json = Path.Combine(options.OutputDirectory, "results.json");
        var md = Path.Combine(options.OutputDirectory, "results.md");
        Report.WriteJson(results, json);
        var table = Report.Markdown(results);
        await File.WriteAllTextAsync(md, table, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync(table).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote {json} and {md}").ConfigureAwait(false);
        return results.HasErrors ? 1 : 0;
    }

    /// <summary>The directory holding Guise.slnx, from the current directory or this assembly's.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = start; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "Guise.slnx")))
                    return dir;
            }
        }
        return Environment.CurrentDirectory;
    }
}
