using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

namespace Guise.Bench.Micro;

/// <summary>
/// BenchmarkDotNet micro benchmarks of the protocol cores (no I/O but the stream pump's
/// loopback pair), each with MemoryDiagnoser: bytes allocated per operation is the figure for
/// "zero allocations per frame". Run through scripts/bench --micro [BenchmarkDotNet args].
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var list = args.ToList();
        // Defaults for a shared 2-core box: in-process (no generated project to build per
        // benchmark) and the short job (3 warm-ups, 3 iterations). Pass --job default (or
        // another) for tighter error bars; pass --filter to pick benchmarks.
        if (!list.Contains("--inProcess") && !list.Contains("-i"))
            list.Add("--inProcess");
        if (!list.Contains("--job") && !list.Contains("-j"))
            list.AddRange(["--job", "short"]);
        if (!list.Contains("--filter") && !list.Contains("-f"))
            list.AddRange(["--filter", "*"]);
        var config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.JoinSummary);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. list], config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
