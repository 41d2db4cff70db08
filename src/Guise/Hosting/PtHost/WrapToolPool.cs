using System.Net;
using System.Text.RegularExpressions;
using Guise.Errors;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>
/// Per-bridge instances of a wrapped tool whose command line uses <c>{arg:KEY}</c>: the bridge
/// line's args become the tool's flags. The first connection with a given set of values starts
/// an instance on a fresh loopback port ({socks_port}); later ones reuse it; one that has died
/// is started again by the next connection. Args consumed this way are not also sent as SOCKS
/// credentials.
/// </summary>
internal sealed partial class WrapToolPool(string program, IReadOnlyList<string> template, IReadOnlyDictionary<string, string> values,
    WrapOptions options, IPtLog log) : IAsyncDisposable
{
    private const string PortMarker = "\u0001socks_port\u0001";
    private const string SocksMarker = "\u0001socks\u0001";
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Task<(HostedChild Tool, IPEndPoint Socks)>> _instances = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<string> _keys = [.. template.SelectMany(a => ArgPlaceholder().Matches(a).Select(m => m.Groups[1].Value)).Distinct(StringComparer.Ordinal)];
    private bool _disposed;

    public static bool Applies(IReadOnlyList<string> arguments) => arguments.Any(a => ArgPlaceholder().IsMatch(a));

    /// <summary>Checks the template once, at launch, so a typo is a CMETHOD-ERROR and not a failure per connection.</summary>
    public static void Validate(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> values)
    {
        if (!arguments.Any(a => WrapTemplate.Mentions(a, "socks_port") || WrapTemplate.Mentions(a, "socks")))
            throw new PtException(PtErrorKind.Config, "a command with {arg:KEY} runs one instance per bridge and must take its port from {socks_port} or {socks}");
        var probe = ProbeValues(values, arguments);
        foreach (var a in arguments)
            _ = WrapTemplate.Expand(a, probe);
    }

    public async ValueTask<WrappedSocksTarget> ResolveAsync(PtArgs args, CancellationToken cancellationToken)
    {
        var missing = _keys.Where(k => !args.TryGet(k, out _)).ToList();
        if (missing.Count > 0)
        {
            throw new PtException(PtErrorKind.Config,
                $"the bridge line lacks {string.Join(", ", missing.Select(k => k + "="))} (the wrapped command uses {string.Join(" ", missing.Select(k => $"{{arg:{k}}}"))})");
        }
        var all = new Dictionary<string, string>(values, StringComparer.Ordinal) { ["socks_port"] = PortMarker, ["socks"] = SocksMarker, ["socks_host"] = "127.0.0.1" };
        foreach (var (k, v) in args)
            all[$"arg:{k}"] = v;
        var argv = template.Select(a => WrapTemplate.Expand(a, all)).ToList();
        var key = string.Join('\0', argv);

        Task<(HostedChild Tool, IPEndPoint Socks)> instance;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_instances.TryGetValue(key, out instance!) || instance.IsFaulted || instance is { IsCompletedSuccessfully: true, Result.Tool.Exited.IsCompleted: true })
            {
                if (instance is { IsCompletedSuccessfully: true })
                    log.Log(PtLogSeverity.Warning, $"{Path.GetFileName(program)} (pid {instance.Result.Tool.ProcessId}) had exited; starting it again");
                instance = StartAsync(argv);
                _instances[key] = instance;
            }
        }
        var (_, socks) = await instance.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Only the args the command did not consume go on as SOCKS credentials.
        return new WrappedSocksTarget(socks, new PtArgs(args.Where(kv => !_keys.Contains(kv.Key))));
    }

    private async Task<(HostedChild, IPEndPoint)> StartAsync(List<string> argv)
    {
        var socks = new IPEndPoint(IPAddress.Loopback, WrapProxy.FreePort(IPAddress.Loopback));
        var port = socks.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expanded = argv.Select(a => a.Replace(PortMarker, port, StringComparison.Ordinal).Replace(SocksMarker, $"127.0.0.1:{port}", StringComparison.Ordinal)).ToList();
        var tool = await WrapProxy.StartToolAsync(program, expanded, options, log).ConfigureAwait(false);
        try
        {
            await WrapProxy.WaitUntilAcceptingAsync(socks, tool, options, "SOCKS port").ConfigureAwait(false);
        }
        catch
        {
            await tool.StopAsync(TimeSpan.Zero, options.TermGrace).ConfigureAwait(false);
            await tool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return (tool, socks);
    }

    private static Dictionary<string, string> ProbeValues(IReadOnlyDictionary<string, string> values, IReadOnlyList<string> arguments)
    {
        var probe = new Dictionary<string, string>(values, StringComparer.Ordinal) { ["socks_port"] = "0", ["socks"] = "127.0.0.1:0", ["socks_host"] = "127.0.0.1" };
        foreach (var a in arguments)
        {
            foreach (Match m in ArgPlaceholder().Matches(a))
                probe[$"arg:{m.Groups[1].Value}"] = "";
        }
        return probe;
    }

    public async ValueTask DisposeAsync()
    {
        List<Task<(HostedChild Tool, IPEndPoint Socks)>> instances;
        lock (_lock)
        {
            _disposed = true;
            instances = [.. _instances.Values];
            _instances.Clear();
        }
        foreach (var i in instances)
        {
            try
            {
                var (tool, _) = await i.ConfigureAwait(false);
                await tool.StopAsync(TimeSpan.Zero, options.TermGrace).ConfigureAwait(false);
                await tool.DisposeAsync().ConfigureAwait(false);
            }
            catch (PtException)
            {
                // It never started; its failure was reported to the connection that asked for it.
            }
        }
    }

    [GeneratedRegex(@"(?<!\{)\{arg:([^{}]+)\}")]
    private static partial Regex ArgPlaceholder();
}
