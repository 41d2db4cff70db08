using System.Collections;
using System.Text;
using Guise.Errors;

namespace Guise.Transports;

/// <summary>
/// Ordered key=value arguments of a transport (bridge-line args, SOCKS-auth args, server options).
/// Order is kept because it shows in bridge lines (<c>cert=...,iat-mode=0</c>).
/// </summary>
/// <remarks>
/// Two text forms exist in pt-spec:
/// <list type="bullet">
/// <item>SOCKS auth (client args): <c>k=v;k=v</c>, where <c>\</c> escapes <c>;</c>, <c>=</c> and <c>\</c>.</item>
/// <item>SMETHOD <c>ARGS:</c> (server args): <c>k=v,k=v</c>, where <c>\</c> escapes <c>,</c>, <c>=</c> and <c>\</c>.</item>
/// </list>
/// </remarks>
public sealed class PtArgs : IReadOnlyList<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _items = [];

    public static PtArgs Empty => new();

    public PtArgs() { }

    public PtArgs(IEnumerable<KeyValuePair<string, string>> items)
    {
        foreach (var (k, v) in items)
            Add(k, v);
    }

    public int Count => _items.Count;

    public KeyValuePair<string, string> this[int index] => _items[index];

    /// <summary>Adds a pair; a repeated key replaces nothing and is an error, as in goptlib.</summary>
    public PtArgs Add(string key, string value)
    {
        if (key.Length == 0)
            throw new PtException(PtErrorKind.Config, "empty argument key");
        if (TryGet(key, out _))
            throw new PtException(PtErrorKind.Config, $"duplicate argument '{key}'");
        _items.Add(new(key, value));
        return this;
    }

    public bool TryGet(string key, out string value)
    {
        foreach (var (k, v) in _items)
        {
            if (k == key)
            {
                value = v;
                return true;
            }
        }
        value = "";
        return false;
    }

    public string? Get(string key) => TryGet(key, out var v) ? v : null;

    /// <summary>Returns the value of a required argument or throws a Config error naming it.</summary>
    public string Require(string key, string transport) =>
        TryGet(key, out var v) ? v : throw new PtException(PtErrorKind.Config, $"{transport}: missing argument '{key}'");

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Parses the SOCKS-auth form <c>k=v;k=v</c> (pt-spec §3.5 "Pluggable Transport Client Per-Connection Arguments").</summary>
    public static PtArgs ParseSocks(string text) => ParseDelimited(text, ';');

    /// <summary>Parses the SMETHOD ARGS / bridge-line form <c>k=v,k=v</c>.</summary>
    public static PtArgs ParseSmethodArgs(string text) => ParseDelimited(text, ',');

    /// <summary>Formats the SOCKS-auth form, escaping <c>\ ; =</c>.</summary>
    public string ToSocksString() => Format(';');

    /// <summary>Formats the SMETHOD ARGS form, escaping <c>\ , =</c>.</summary>
    public string ToSmethodArgs() => Format(',');

    /// <summary>Formats as a torrc Bridge line tail: space-separated <c>k=v</c> (values must not contain spaces).</summary>
    public string ToBridgeLineArgs() => string.Join(' ', _items.Select(kv => $"{kv.Key}={kv.Value}"));

    public override string ToString() => ToSocksString();

    private string Format(char separator)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in _items)
        {
            if (sb.Length > 0)
                sb.Append(separator);
            Escape(sb, k, separator);
            sb.Append('=');
            Escape(sb, v, separator);
        }
        return sb.ToString();
    }

    private static void Escape(StringBuilder sb, string s, char separator)
    {
        foreach (var c in s)
        {
            if (c == '\\' || c == '=' || c == separator)
                sb.Append('\\');
            sb.Append(c);
        }
    }

    private static PtArgs ParseDelimited(string text, char separator)
    {
        var args = new PtArgs();
        if (text.Length == 0)
            return args;
        var key = new StringBuilder();
        var value = new StringBuilder();
        var inValue = false;
        var escaped = false;
        foreach (var c in text)
        {
            if (escaped)
            {
                (inValue ? value : key).Append(c);
                escaped = false;
            }
            else if (c == '\\')
            {
                escaped = true;
            }
            else if (c == '=' && !inValue)
            {
                if (key.Length == 0)
                    throw new PtException(PtErrorKind.Config, $"argument with an empty key in \"{text}\"");
                inValue = true;
            }
            else if (c == separator)
            {
                Finish();
            }
            else
            {
                (inValue ? value : key).Append(c);
            }
        }
        if (escaped)
            throw new PtException(PtErrorKind.Config, $"argument string ends in a lone backslash: \"{text}\"");
        Finish();
        return args;

        void Finish()
        {
            if (!inValue)
                throw new PtException(PtErrorKind.Config, key.Length == 0
                    ? $"empty argument in \"{text}\""
                    : $"argument '{key}' has no '=' in \"{text}\"");
            args.Add(key.ToString(), value.ToString());
            key.Clear();
            value.Clear();
            inValue = false;
        }
    }
}
