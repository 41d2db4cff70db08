using System.Diagnostics;
using Guise.Interop.Tests.Support;

namespace Guise.Interop.Tests.Native;

/// <summary>The published libguise and the machine's C tool chain (gcc, nm, valgrind).</summary>
public static class NativeTools
{
    /// <summary>artifacts/native, where scripts/publish puts libguise.so, libsodium.so and guise.h.</summary>
    public static string ArtifactDirectory
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("GUISE_LIBGUISE");
            var library = !string.IsNullOrEmpty(fromEnv) ? fromEnv : Path.Combine(Peers.RepoRoot, "artifacts", "native", "libguise.so");
            if (!File.Exists(library))
                throw new InvalidOperationException($"libguise.so not found at {library}: run scripts/publish (scripts/test does) or set GUISE_LIBGUISE");
            return Path.GetDirectoryName(library)!;
        }
    }

    public static string Library => Path.Combine(ArtifactDirectory, "libguise.so");

    /// <summary>The header as published next to the library (what an app developer gets).</summary>
    public static string PublishedHeader => Path.Combine(ArtifactDirectory, "guise.h");

    public static string SourceHeader => Path.Combine(Peers.RepoRoot, "src", "Guise.Native", "include", "guise.h");

    /// <summary>Compiles one C file against the published guise.h with warnings as errors.</summary>
    public static async Task<string> CompileAsync(string source, string outputDirectory)
    {
        var output = Path.Combine(outputDirectory, Path.GetFileNameWithoutExtension(source));
        var (code, stdout, stderr) = await RunAsync("gcc", ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
            "-I", ArtifactDirectory, source, "-o", output, "-ldl", "-lpthread"], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"gcc failed ({code}):\n{stdout}{stderr}");
        return output;
    }

    /// <summary>Runs a program to completion (killed by its PID after <paramref name="timeout"/>).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new Xunit.Sdk.XunitException($"{file} still running after {timeout.TotalSeconds:F0} s:\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
