using System.Buffers;
using System.Text;
using Guise.Primitives.Fte;

namespace Guise.Transports.Marionette;

/// <summary>One message in an action block, seen from both sides: who sends it and how it is encoded.</summary>
public abstract class MarMessage(MarParty sender, MarPosition position)
{
    public MarParty Sender { get; } = sender;
    public MarPosition Position { get; } = position;

    /// <summary>False for steps that only the party that writes them performs (model.sleep, model.spawn).</summary>
    public virtual bool IsOnWire => true;
}

/// <summary>
/// <c>fte.send(regex, length)</c>: one cell, AEAD-sealed, unranked into the regex's strings of
/// exactly <c>length</c> bytes. <c>send</c> waits a little for data when there is none (the hold
/// time, see <see cref="MarionetteEngine"/>); <c>send_async</c> (<see cref="Immediate"/>) goes at once,
/// with acks or padding if need be, as in the original.
/// </summary>
public sealed class FteMessage(MarParty sender, MarPosition position, string regex, FteRanker ranker, bool immediate = false) : MarMessage(sender, position)
{
    public bool Immediate { get; } = immediate;
    public string Regex { get; } = regex;
    public FteRanker Ranker { get; } = ranker;
    public int CovertextLength => Ranker.Length;
    public int CellLength => Ranker.CapacityBytes - RecordCipher.Overhead;
}

/// <summary><c>tg.send(grammar)</c>: one cell, sealed, inside a whole HTTP message.</summary>
public sealed class TemplateMessage(MarParty sender, MarPosition position, HttpTemplate template) : MarMessage(sender, position)
{
    public HttpTemplate Template { get; } = template;
}

/// <summary><c>io.puts(text)</c>: literal bytes (receiver: <c>io.gets</c> expects exactly these).</summary>
public sealed class LiteralMessage(MarParty sender, MarPosition position, byte[] bytes, IncomingGuard? guard) : MarMessage(sender, position)
{
    public byte[] Bytes { get; } = bytes;
    public IncomingGuard? Guard { get; } = guard;
}

/// <summary>
/// <c>model.sleep(SECONDS)</c> or <c>model.sleep("{'SECONDS': P, ...}")</c>: the party that
/// writes the line waits before its next step, a delay drawn with the given probabilities. Local
/// only: nothing goes on the wire, and the peer skips the line.
/// </summary>
public sealed class SleepMessage(MarParty sleeper, MarPosition position, IReadOnlyList<(TimeSpan Delay, double Probability)> delays) : MarMessage(sleeper, position)
{
    public const double MaxSeconds = 60;

    public IReadOnlyList<(TimeSpan Delay, double Probability)> Delays { get; } = delays;

    public override bool IsOnWire => false;

    /// <summary>The delay for <paramref name="u"/> uniform in [0, 1).</summary>
    public TimeSpan Sample(double u)
    {
        var acc = 0.0;
        foreach (var (delay, p) in Delays)
        {
            acc += p;
            if (u < acc)
                return delay;
        }
        return Delays[^1].Delay;
    }
}

/// <summary>
/// <c>client model.spawn("FORMAT", N)</c>: the client's session keeps N more instances (connections)
/// of this format running beside the one that read the line — more turns per round trip for the
/// session's streams, whose cells then travel over several connections and are put back in order
/// by offset. Running the line again does not add more. FORMAT must be the format itself: the
/// server speaks one format per port. Local: nothing goes on the wire.
/// </summary>
public sealed class SpawnMessage(MarParty sender, MarPosition position, string format, int count) : MarMessage(sender, position)
{
    public const int MaxCount = 8;

    public string Format { get; } = format;
    public int Count { get; } = count;
    public override bool IsOnWire => false;
}

public sealed record MarBlock(string? Name, IReadOnlyList<MarMessage> Messages);

public sealed record MarEdge(string Source, string Destination, MarBlock Block, double Probability, bool IsError, MarPosition Position);

/// <summary>
/// A validated, compiled format: the probabilistic automaton and its messages. Semantics (see the
/// README section "Marionette: programmable formats"):
/// <list type="bullet">
/// <item>The automaton runs on one TCP connection (a model instance); reaching <c>end</c> starts
/// again at <c>start</c>. Every instance of a client's session carries cells of any of its streams
/// (see <see cref="MarionetteMux"/>).</item>
/// <item>At a state with several transitions, the sender of each block's first message chooses
/// (with the declared probabilities); the receiver finds out which one by decoding the message with
/// each candidate. So all choices at a state must start with a message from the same party.</item>
/// <item>An <c>error</c> transition is taken by a receiver when no candidate decodes (a prober, a
/// wrong key): it sends the block's <c>io.puts</c> whose <c>regex_match_incoming</c> guard matches,
/// then closes.</item>
/// <item><c>fte.send</c> waits up to the hold time for data, <c>fte.send_async</c> sends at once
/// (padding if need be); <c>model.sleep</c> delays the party that writes it; <c>client
/// model.spawn("SELF", N)</c> keeps N more instances of the format running for the session.</item>
/// </list>
/// </summary>
public sealed class MarionetteFormat
{
    public const int CellHeaderLength = MarionetteCell.HeaderLength;
    public const int MaxFteLength = 8192;

    private readonly Dictionary<string, List<MarEdge>> _out;

    private MarionetteFormat(string name, MarDocument doc, Dictionary<string, List<MarEdge>> edges)
    {
        Name = name;
        Document = doc;
        _out = edges;
    }

    public string Name { get; }

    public MarDocument Document { get; }

    /// <summary>Transitions leaving <paramref name="state"/> (error ones last).</summary>
    public IReadOnlyList<MarEdge> Outgoing(string state) => _out.TryGetValue(state, out var l) ? l : [];

    public static IReadOnlyList<string> BuiltInNames { get; } = ["http_get", "http_post", "irc_lines"];

    public static string BuiltInText(string name)
    {
        var asm = typeof(MarionetteFormat).Assembly;
        using var s = asm.GetManifestResourceStream($"Guise.Transports.Marionette.Formats.{name}.mar")
            ?? throw new ArgumentException($"no built-in format '{name}'", nameof(name));
        using var r = new StreamReader(s, Encoding.UTF8);
        return r.ReadToEnd();
    }

    private static readonly Dictionary<string, MarionetteFormat> BuiltInCache = new(StringComparer.Ordinal);

    /// <summary>Formats loaded from files by <see cref="AddFile"/> (the CLI's <c>--format FILE</c>), by name.</summary>
    private static readonly Dictionary<string, MarionetteFormat> Added = new(StringComparer.Ordinal);
    private static string? _addedDefault;

    /// <summary>
    /// The format a server uses when its options name none: the first file added with
    /// <c>makeDefault</c>, else <see cref="MarionetteTransport.DefaultFormat"/>.
    /// </summary>
    public static string DefaultName
    {
        get { lock (Added) return _addedDefault ?? MarionetteTransport.DefaultFormat; }
    }

    /// <summary>
    /// Loads and validates a .mar file and makes it known by its file name without the extension,
    /// so that bridge lines carry <c>format=NAME</c> rather than a path that only this machine has.
    /// Throws <see cref="MarFormatException"/> (file:line:column) for a broken file,
    /// <see cref="IOException"/> for an unreadable one, <see cref="ArgumentException"/> for a name
    /// that a bridge line cannot carry or that is taken.
    /// </summary>
    /// <returns>The name.</returns>
    public static string AddFile(string path, bool makeDefault = false)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            throw new ArgumentException($"{path}: the file name must be a format name ([A-Za-z0-9._-]+.mar): bridge lines carry it as format=NAME", nameof(path));
        if (BuiltInNames.Contains(name))
            throw new ArgumentException($"{path}: '{name}' is a built-in format's name; rename the file", nameof(path));
        var format = Load(File.ReadAllText(path), path, name);
        lock (Added)
        {
            if (!Added.TryAdd(name, format))
                throw new ArgumentException($"{path}: a format named '{name}' was already added", nameof(path));
            if (makeDefault)
                _addedDefault ??= name;
        }
        return name;
    }

    /// <summary>A built-in name (<see cref="BuiltInNames"/>), a name added with <see cref="AddFile"/>, or a path to a .mar file.</summary>
    public static MarionetteFormat Resolve(string nameOrPath)
    {
        if (BuiltInNames.Contains(nameOrPath))
        {
            lock (BuiltInCache)
            {
                if (!BuiltInCache.TryGetValue(nameOrPath, out var f))
                    BuiltInCache[nameOrPath] = f = Load(BuiltInText(nameOrPath), nameOrPath + ".mar", nameOrPath);
                return f;
            }
        }
        lock (Added)
        {
            if (Added.TryGetValue(nameOrPath, out var added))
                return added;
        }
        if (!File.Exists(nameOrPath))
        {
            string[] known;
            lock (Added)
                known = [.. BuiltInNames, .. Added.Keys.Order(StringComparer.Ordinal)];
            throw new Errors.PtException(Errors.PtErrorKind.Config,
                $"marionette: no format or file '{nameOrPath}' (known: {string.Join(", ", known)}; add your own with --format FILE)");
        }
        return Load(File.ReadAllText(nameOrPath), nameOrPath, Path.GetFileNameWithoutExtension(nameOrPath));
    }

    /// <summary>Parses and validates; throws <see cref="MarFormatException"/> with file:line:column.</summary>
    public static MarionetteFormat Load(string text, string file, string? name = null)
    {
        var doc = MarParser.Parse(text, file);
        var formatName = name ?? Path.GetFileNameWithoutExtension(file);
        var blocks = new Dictionary<string, MarBlock>(StringComparer.Ordinal);
        foreach (var (blockName, block) in doc.Actions)
            blocks[blockName] = new MarBlock(blockName, [.. block.Lines.Select(Compile)]);

        var edges = new Dictionary<string, List<MarEdge>>(StringComparer.Ordinal);
        foreach (var t in doc.Transitions)
        {
            MarBlock block;
            if (t.Action is null)
                block = new MarBlock(null, []);
            else if (!blocks.TryGetValue(t.Action, out block!))
                throw new MarFormatException(t.Position, $"transition uses action '{t.Action}', which is not defined");
            if (!edges.TryGetValue(t.Source, out var list))
                edges[t.Source] = list = [];
            list.Add(new MarEdge(t.Source, t.Destination, block, t.Probability, t.IsError, t.Position));
        }
        if (!edges.ContainsKey("start"))
            throw new MarFormatException(doc.Position, "no transition leaves 'start'");
        foreach (var (state, list) in edges)
        {
            var normal = list.Where(e => !e.IsError).ToList();
            var errors = list.Where(e => e.IsError).ToList();
            if (errors.Count > 1)
                throw new MarFormatException(errors[1].Position, $"state '{state}' has more than one error transition");
            if (normal.Count == 0)
                throw new MarFormatException(list[0].Position, $"state '{state}' has only an error transition");
            var sum = normal.Sum(e => e.Probability);
            if (Math.Abs(sum - 1) > 1e-6)
                throw new MarFormatException(normal[0].Position, $"probabilities leaving '{state}' sum to {sum:R}, not 1");
            if (normal.Count > 1)
            {
                foreach (var e in normal)
                {
                    if (e.Block.Messages.Count == 0)
                        throw new MarFormatException(e.Position, $"state '{state}' has a choice, so every transition from it needs a message (found NULL or an empty action)");
                    if (!e.Block.Messages[0].IsOnWire)
                        throw new MarFormatException(e.Position, "a choice cannot start with model.sleep or model.spawn (the receiver finds out the choice from the first message)");
                    if (e.Block.Messages[0].Sender != normal[0].Block.Messages[0].Sender)
                        throw new MarFormatException(e.Position, $"the choices at '{state}' must all start with a message from the same party");
                    if (e.Block.Messages[0] is LiteralMessage)
                        throw new MarFormatException(e.Position, "a choice cannot start with io.puts (the receiver could not tell the choices apart reliably)");
                }
            }
            foreach (var e in list)
            {
                if (e.Destination != "end" && !edges.ContainsKey(e.Destination) && !e.IsError)
                    throw new MarFormatException(e.Position, $"state '{e.Destination}' has no outgoing transitions (use 'end')");
                foreach (var m in e.Block.Messages)
                {
                    if (m is SpawnMessage spawn && spawn.Format != formatName)
                        throw new MarFormatException(m.Position, $"model.spawn: this engine spawns more instances of the same format only ('{formatName}'), not '{spawn.Format}'");
                    if (m is LiteralMessage { Guard: not null } && !e.IsError)
                        throw new MarFormatException(m.Position, "regex_match_incoming guards are supported in error transitions only");
                }
            }
        }
        return new MarionetteFormat(formatName, doc, edges);
    }

    private static MarMessage Compile(MarActionLine line)
    {
        var (sender, verb) = line.Method switch
        {
            "send" or "send_async" or "puts" => (line.Party, "send"),
            "recv" or "recv_async" or "gets" => (line.Party == MarParty.Client ? MarParty.Server : MarParty.Client, "recv"),
            "sleep" when line.Module == "model" => (line.Party, "sleep"),
            "spawn" when line.Module == "model" => line.Party == MarParty.Client
                ? (line.Party, "spawn")
                : throw new MarFormatException(line.Position, "model.spawn: only the client opens connections (write 'client model.spawn')"),
            _ => throw new MarFormatException(line.Position, $"unknown action {line.Name}"),
        };
        switch (line.Module)
        {
            case "fte":
                {
                    if (line.Method is "puts" or "gets")
                        throw new MarFormatException(line.Position, $"unknown action {line.Name}");
                    RequireArgs(line, 2);
                    var re = line.Args[0];
                    var len = line.Args[1];
                    if (!re.IsString)
                        throw new MarFormatException(re.Position, "fte: the first argument is a regex string");
                    if (!len.IsInteger || (long)len.Value is < 1 or > MaxFteLength)
                        throw new MarFormatException(len.Position, $"fte: the second argument is a covertext length in 1..{MaxFteLength}");
                    Dfa dfa;
                    try
                    {
                        dfa = Dfa.FromRegex((string)re.Value);
                    }
                    catch (FteRegexException e)
                    {
                        var p = re.Position;
                        throw new MarFormatException(p with { Column = p.Column + 1 + e.Offset }, "regex: " + e.Message);
                    }
                    var ranker = new FteRanker(dfa, (int)(long)len.Value);
                    var cell = ranker.CapacityBytes - RecordCipher.Overhead - CellHeaderLength;
                    // The client's first cell also carries its clock (MarionetteCell.HelloFlag).
                    if (cell <= MarionetteCell.ClockLength)
                        throw new MarFormatException(len.Position,
                            $"fte: the regex has too few strings of length {len.Value} (capacity {ranker.CapacityBytes} bytes; needs > {RecordCipher.Overhead + CellHeaderLength + MarionetteCell.ClockLength})");
                    return new FteMessage(sender, line.Position, (string)re.Value, ranker, immediate: line.Method is "send_async" or "recv_async");
                }
            case "tg":
                {
                    if (line.Method is "puts" or "gets")
                        throw new MarFormatException(line.Position, $"unknown action {line.Name}");
                    RequireArgs(line, 1);
                    var g = line.Args[0];
                    if (!g.IsString || !HttpTemplate.All.TryGetValue((string)g.Value, out var template))
                        throw new MarFormatException(g.Position, $"tg: unknown grammar (known: {string.Join(", ", HttpTemplate.All.Keys)})");
                    if (template.IsRequest != (sender == MarParty.Client))
                        throw new MarFormatException(line.Position, $"tg: {template.Name} is sent by the {(template.IsRequest ? "client" : "server")}");
                    return new TemplateMessage(sender, line.Position, template);
                }
            case "io":
                {
                    if (line.Method is not ("puts" or "gets"))
                        throw new MarFormatException(line.Position, $"unknown action {line.Name}");
                    RequireArgs(line, 1);
                    var s = line.Args[0];
                    if (!s.IsString)
                        throw new MarFormatException(s.Position, "io: the argument is a string");
                    IncomingGuard? guard = null;
                    if (line.IncomingRegex is not null)
                    {
                        try
                        {
                            guard = IncomingGuard.Compile(line.IncomingRegex);
                        }
                        catch (FteRegexException e)
                        {
                            var p = line.IncomingRegexPosition!.Value;
                            throw new MarFormatException(p with { Column = p.Column + 1 + e.Offset }, "regex_match_incoming: " + e.Message);
                        }
                    }
                    return new LiteralMessage(sender, line.Position, Unescape((string)s.Value, s.Position), guard);
                }
            case "model" when verb == "spawn":
                {
                    RequireArgs(line, 2);
                    var f = line.Args[0];
                    var n = line.Args[1];
                    if (!f.IsString)
                        throw new MarFormatException(f.Position, "model.spawn: the first argument is the format's name, a string");
                    if (!n.IsInteger || (long)n.Value is < 1 or > SpawnMessage.MaxCount)
                        throw new MarFormatException(n.Position, $"model.spawn: the second argument is a number of instances in 1..{SpawnMessage.MaxCount}");
                    return new SpawnMessage(sender, line.Position, (string)f.Value, (int)(long)n.Value);
                }
            case "model":
                {
                    RequireArgs(line, 1);
                    return new SleepMessage(sender, line.Position, SleepDelays(line.Args[0]));
                }
            default:
                throw new MarFormatException(line.Position, $"unknown module '{line.Module}' (fte, tg, io, model)");
        }
    }

    /// <summary>A number of seconds, or a string <c>{'SECONDS': P, ...}</c> (the original's sleep distribution; quotes optional).</summary>
    private static List<(TimeSpan, double)> SleepDelays(MarArg arg)
    {
        static TimeSpan Seconds(double s, MarPosition at) => s is >= 0 and <= SleepMessage.MaxSeconds
            ? TimeSpan.FromSeconds(s)
            : throw new MarFormatException(at, $"model.sleep: a delay is seconds in 0..{SleepMessage.MaxSeconds}");
        switch (arg.Value)
        {
            case long l:
                return [(Seconds(l, arg.Position), 1.0)];
            case double d:
                return [(Seconds(d, arg.Position), 1.0)];
        }
        var text = ((string)arg.Value).Trim();
        if (!text.StartsWith('{') || !text.EndsWith('}'))
            throw new MarFormatException(arg.Position, "model.sleep: expected seconds or \"{'SECONDS': PROBABILITY, ...}\"");
        var list = new List<(TimeSpan, double)>();
        foreach (var pair in text[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = pair.Split(':', 2, StringSplitOptions.TrimEntries);
            var inv = System.Globalization.CultureInfo.InvariantCulture;
            if (kv.Length != 2
                || !double.TryParse(kv[0].Trim('\'', '"'), System.Globalization.NumberStyles.Float, inv, out var seconds)
                || !double.TryParse(kv[1].Trim('\'', '"'), System.Globalization.NumberStyles.Float, inv, out var p)
                || p is < 0 or > 1 || double.IsNaN(p))
                throw new MarFormatException(arg.Position, $"model.sleep: '{pair}' is not 'SECONDS': PROBABILITY");
            list.Add((Seconds(seconds, arg.Position), p));
        }
        var sum = list.Sum(x => x.Item2);
        if (list.Count == 0 || Math.Abs(sum - 1) > 1e-6)
            throw new MarFormatException(arg.Position, $"model.sleep: probabilities sum to {sum:R}, not 1");
        return list;
    }

    private static void RequireArgs(MarActionLine line, int n)
    {
        if (line.Args.Count != n)
            throw new MarFormatException(line.Position, $"{line.Name} takes {n} argument{(n == 1 ? "" : "s")}, found {line.Args.Count}");
    }

    /// <summary>Python-style escapes for io strings: \r \n \t \\ \' \" \xHH.</summary>
    private static byte[] Unescape(string s, MarPosition pos)
    {
        var bytes = new ArrayBufferWriter<byte>();
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c != '\\')
            {
                if (c > 0xFF)
                    throw new MarFormatException(pos, "io strings are bytes (Latin-1)");
                bytes.Write([(byte)c]);
                continue;
            }
            if (++i >= s.Length)
                throw new MarFormatException(pos, "string ends in a lone backslash");
            byte b = s[i] switch
            {
                'r' => (byte)'\r',
                'n' => (byte)'\n',
                't' => (byte)'\t',
                '\\' => (byte)'\\',
                '\'' => (byte)'\'',
                '"' => (byte)'"',
                'x' when i + 2 < s.Length + 1 && byte.TryParse(s.AsSpan(i + 1, Math.Min(2, s.Length - i - 1)), System.Globalization.NumberStyles.HexNumber, null, out var hex) && s.Length - i - 1 >= 2 => hex,
                _ => throw new MarFormatException(pos, $"unknown escape '\\{s[i]}' in an io string"),
            };
            if (s[i] == 'x')
                i += 2;
            bytes.Write([b]);
        }
        return bytes.WrittenSpan.ToArray();
    }
}
