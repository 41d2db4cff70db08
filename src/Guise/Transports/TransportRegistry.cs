using System.Collections.Frozen;
using Guise.Errors;
using Guise.Transports.Marionette;
using Guise.Transports.Obfs4;
using Guise.Transports.Plain;

namespace Guise.Transports;

/// <summary>An immutable set of transports, built explicitly; duplicate names are a programming error.</summary>
public sealed class TransportRegistry
{
    private readonly FrozenDictionary<string, ITransport> _byName;

    public TransportRegistry(IEnumerable<ITransport> transports)
    {
        var map = new Dictionary<string, ITransport>(StringComparer.Ordinal);
        var order = new List<ITransport>();
        foreach (var t in transports)
        {
            if (!IsCIdentifier(t.Name))
                throw new ArgumentException($"transport name '{t.Name}' is not a C identifier");
            if (!map.TryAdd(t.Name, t))
                throw new ArgumentException($"transport '{t.Name}' registered twice");
            order.Add(t);
        }
        _byName = map.ToFrozenDictionary(StringComparer.Ordinal);
        All = order;
    }

    /// <summary>Every transport Guise ships, in a stable order (the default first).</summary>
    public static TransportRegistry Default { get; } = new([new Obfs4Transport(), new MarionetteTransport(), new PlainTransport()]);

    /// <summary>The transport <c>guise demo</c> and unmanaged modes use when none is named.</summary>
    public string DefaultName => All[0].Name;

    public IReadOnlyList<ITransport> All { get; }

    public bool TryGet(string name, out ITransport transport) => _byName.TryGetValue(name, out transport!);

    public ITransport Get(string name) => TryGet(name, out var t)
        ? t
        : throw new PtException(PtErrorKind.Config,
            $"no such transport '{name}' (available: {string.Join(", ", All.Select(x => x.Name))})");

    public static bool IsCIdentifier(string s)
    {
        if (s.Length == 0 || char.IsAsciiDigit(s[0]))
            return false;
        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                return false;
        }
        return true;
    }
}
