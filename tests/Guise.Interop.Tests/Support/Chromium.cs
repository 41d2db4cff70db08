using System.Globalization;

namespace Guise.Interop.Tests.Support;

/// <summary>
/// Headless Chromium (Debian's <c>chromium</c>, which scripts/test installs), run once per call with a
/// fresh profile and everything that would reach the network turned off.
/// </summary>
public static class Chromium
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    public static string Binary => File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
        : throw new InvalidOperationException("chromium is not installed: scripts/test installs it (apt-get install chromium)");

    public static async Task<byte[]> ScreenshotAsync(string htmlFile, int width, int height, TempDir work)
    {
        var png = Path.Combine(work, "screenshot-" + Guid.NewGuid().ToString("N")[..8] + ".png");
        await RunAsync(work, [$"--screenshot={png}", string.Create(CultureInfo.InvariantCulture, $"--window-size={width},{height}"), "--hide-scrollbars", Url(htmlFile)]);
        return await File.ReadAllBytesAsync(png);
    }

    /// <summary>The DOM after layout, as Chromium serializes it.</summary>
    public static async Task<string> DumpDomAsync(string htmlFile, TempDir work) =>
        await RunAsync(work, ["--dump-dom", Url(htmlFile)]);

    private static string Url(string file) => new Uri(Path.GetFullPath(file)).AbsoluteUri;

    private static async Task<string> RunAsync(TempDir work, IEnumerable<string> args)
    {
        var profile = Path.Combine(work, "chromium-profile-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(profile);
        // Root (as in CI) needs --no-sandbox; the rest keeps Chromium off the network and quiet.
        string[] common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}"];
        using var chromium = ChildProcess.Start(Binary, [.. common, .. args], redirectStdin: false);
        if (!chromium.WaitForExit(Deadline))
            throw new Xunit.Sdk.XunitException($"chromium did not finish in {Deadline.TotalSeconds:F0} s:\n{chromium.Transcript}");
        if (chromium.Process.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"chromium exited with {chromium.Process.ExitCode}:\n{chromium.Transcript}");
        return string.Join('\n', chromium.Lines);
    }
}
