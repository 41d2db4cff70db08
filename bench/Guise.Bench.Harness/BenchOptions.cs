using System.Globalization;

namespace Guise.Bench.Harness;

/// <summary>A pluggable-transport binary under test: a name for the tables and the path Tor would exec.</summary>
internal sealed record Implementation(string Name, string Path)
{
    public bool IsGuise => Name == "guise";
}

/// <summary>What one harness run measures and how much. Sizes are in bytes.</summary>
internal sealed class BenchOptions
{
    public string Guise { get; set; } = "";
    public List<Implementation> Peers { get; } = [];
    public int Runs { get; set; } = 3;
    public bool Quick { get; set; }
    public string OutputDirectory { get; set; } = "";
    public long BulkBytes { get; set; } = 256L << 20;
    public int ParallelStreams { get; set; } = 8;
    public long ParallelBytesPerStream { get; set; } = 64L << 20;
    public int Handshakes { get; set; } = 300;
    public int Tunnels { get; set; } = 1000;
    public int Startups { get; set; } = 15;
    public long OverheadBytes { get; set; } = 16L << 20;
    public bool Mixed { get; set; } = true;
    public bool Plain { get; set; } = true;

    /// <summary>Marionette formats (built-in names or .mar paths) to measure instead of the obfs4 suite; null: the obfs4 suite.</summary>
    public List<string>? MarionetteFormats { get; set; }
    public long MarionetteBytes { get; set; } = 1L << 20;
    public int MarionetteTunnels { get; set; } = 50;

    /// <summary>Per-operation deadline: a stuck peer fails the run instead of hanging it.</summary>
    public TimeSpan Patience { get; set; } = TimeSpan.FromSeconds(60);

    public const string Usage = """
        usage: Guise.Bench.Harness [options]
          --guise PATH          the guise binary (default: $GUISE_BINARY, else artifacts/native/guise)
          --peer NAME=PATH      a peer binary speaking obfs4 in managed mode (repeatable;
                                default: obfs4proxy=/usr/bin/obfs4proxy when installed)
          --no-peers            measure guise alone
          --runs N              repetitions of the whole suite (default 3); min/median/max reported
          --quick               tiny sizes (a few KB, a handful of tunnels): checks the harness, times nothing useful
          --out DIR             where results.json and results.md go (default artifacts/bench)
          --bulk-mib N          bytes per single-stream bulk transfer (default 256)
          --streams N           parallel streams for the parallel bulk figure (default 8)
          --stream-mib N        bytes per parallel stream (default 64)
          --handshakes N        sequential tunnels for handshakes/s and time to first byte (default 300)
          --tunnels N           idle tunnels held open for the RSS figure (default 1000)
          --startups N          process starts timed to CMETHODS DONE per run (default 15)
          --overhead-mib N      bytes each way through the counting forwarder (default 16)
          --no-mixed            skip the mixed pairs (guise client with a peer server and back)
          --no-plain            skip guise's plain transport (the no-crypto limit)
          --marionette FORMATS  instead of the obfs4 suite, measure guise's marionette transport per
                                format ("all" = every built-in, or a comma list of built-in names and
                                .mar paths): goodput up/down (1 stream), wire bytes per payload byte,
                                time to first byte; writes marionette.json and marionette.md
          --marionette-mib N    MiB per marionette transfer, each figure (default 1;
                                irc_lines moves about 0.1 MiB/s)
          --marionette-tunnels N  sequential marionette tunnels for time to first byte (default 50)
        """;

    /// <summary>Parses command-line options; throws <see cref="ArgumentException"/> with a message on a bad one.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args, string repoRoot)
    {
        var o = new BenchOptions
        {
            Guise = Environment.GetEnvironmentVariable("GUISE_BINARY") is { Length: > 0 } g ? g : Path.Combine(repoRoot, "artifacts", "native", "guise"),
            OutputDirectory = Path.Combine(repoRoot, "artifacts", "bench"),
        };
        var peersGiven = false;
        var noPeers = false;
        double? bulkMib = null, streamMib = null, overheadMib = null;
        int? handshakes = null, tunnels = null, startups = null, runs = null, marionetteTunnels = null;
        double? marionetteMib = null;
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{a} needs a value");
            int NextInt() => int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v : throw new ArgumentException($"{a} needs a positive integer");
            double NextDouble() => double.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v : throw new ArgumentException($"{a} needs a positive number");
            switch (a)
            {
                case "--guise": o.Guise = Next(); break;
                case "--peer":
                    var spec = Next();
                    var eq = spec.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0 || eq == spec.Length - 1)
                        throw new ArgumentException("--peer wants NAME=PATH");
                    var name = spec[..eq];
                    if (name == "guise" || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                        throw new ArgumentException($"--peer name '{name}' must be [A-Za-z0-9._-] and not 'guise'");
                    o.Peers.Add(new Implementation(name, spec[(eq + 1)..]));
                    peersGiven = true;
                    break;
                case "--no-peers": noPeers = true; break;
                case "--runs": runs = NextInt(); break;
                case "--quick": o.Quick = true; break;
                case "--out": o.OutputDirectory = Path.GetFullPath(Next()); break;
                case "--bulk-mib": bulkMib = NextDouble(); break;
                case "--streams": o.ParallelStreams = NextInt(); break;
                case "--stream-mib": streamMib = NextDouble(); break;
                case "--handshakes": handshakes = NextInt(); break;
                case "--tunnels": tunnels = NextInt(); break;
                case "--startups": startups = NextInt(); break;
                case "--overhead-mib": overheadMib = NextDouble(); break;
                case "--no-mixed": o.Mixed = false; break;
                case "--no-plain": o.Plain = false; break;
                case "--marionette":
                    var formats = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    o.MarionetteFormats = formats is ["all"] ? [.. global::Guise.Transports.Marionette.MarionetteFormat.BuiltInNames] : [.. formats];
                    if (o.MarionetteFormats.Count == 0)
                        throw new ArgumentException("--marionette wants 'all' or a comma list of formats");
                    break;
                case "--marionette-mib": marionetteMib = NextDouble(); break;
                case "--marionette-tunnels": marionetteTunnels = NextInt(); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"unknown option {a}\n{Usage}");
            }
        }
        if (o.Quick)
            o.ApplyQuickSizes();
        if (runs is { } r) o.Runs = r;
        if (bulkMib is { } b) o.BulkBytes = Mib(b);
        if (streamMib is { } s) o.ParallelBytesPerStream = Mib(s);
        if (overheadMib is { } ov) o.OverheadBytes = Mib(ov);
        if (handshakes is { } h) o.Handshakes = h;
        if (tunnels is { } t) o.Tunnels = t;
        if (startups is { } st) o.Startups = st;
        if (marionetteMib is { } mm) o.MarionetteBytes = Mib(mm);
        if (marionetteTunnels is { } mt) o.MarionetteTunnels = mt;
        if (!peersGiven && !noPeers && File.Exists("/usr/bin/obfs4proxy"))
            o.Peers.Add(new Implementation("obfs4proxy", "/usr/bin/obfs4proxy"));
        if (noPeers)
            o.Peers.Clear();
        if (o.Peers.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != o.Peers.Count)
            throw new ArgumentException("two --peer options have the same name");
        return o;
    }

    /// <summary>Sizes that exercise every code path in a few seconds (the smoke test's).</summary>
    public void ApplyQuickSizes()
    {
        Quick = true;
        Runs = 1;
        BulkBytes = 64 << 10;
        ParallelStreams = 2;
        ParallelBytesPerStream = 16 << 10;
        Handshakes = 4;
        Tunnels = 4;
        Startups = 2;
        OverheadBytes = 32 << 10;
        MarionetteBytes = 16 << 10;
        MarionetteTunnels = 2;
        Patience = TimeSpan.FromSeconds(20);
    }

    private static long Mib(double mib) => Math.Max(1, (long)(mib * (1 << 20)));
}
