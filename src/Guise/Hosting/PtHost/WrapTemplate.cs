using System.Text;
using Guise.Errors;

namespace Guise.Hosting.PtHost;

// Placeholders in a wrapped command's arguments, filled in from what Tor told guise:
//
//   {socks} {socks_host} {socks_port}           client: the tool's SOCKS address
//   {listen} {listen_host} {listen_port}        server: where the tool must listen (TOR_PT_SERVER_BINDADDR)
//   {orport} {orport_host} {orport_port}        server: where it must forward (TOR_PT_ORPORT)
//   {state}                                     TOR_PT_STATE_LOCATION
//   {transport}                                 the transport name
//   {opt:KEY}                                   server: TOR_PT_SERVER_TRANSPORT_OPTIONS value of KEY
//   {{ and }}                                   a literal brace
//
// An unknown placeholder is a Config error, so a typo never reaches the tool as text.

/// <summary>Expands <c>{name}</c> placeholders in a wrapped command line; pure.</summary>
public static class WrapTemplate
{
    public static string Expand(string text, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(values);
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '{' && i + 1 < text.Length && text[i + 1] == '{')
            {
                sb.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < text.Length && text[i + 1] == '}')
            {
                sb.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var end = text.IndexOf('}', i + 1);
                if (end < 0)
                    throw new PtException(PtErrorKind.Config, $"unclosed '{{' in \"{text}\" (write {{{{ for a literal brace)");
                var name = text[(i + 1)..end];
                if (!values.TryGetValue(name, out var value))
                {
                    var known = string.Join(", ", values.Keys.Order(StringComparer.Ordinal).Select(k => $"{{{k}}}"));
                    throw new PtException(PtErrorKind.Config, $"unknown placeholder {{{name}}} in \"{text}\"; known here: {known}");
                }
                sb.Append(value);
                i = end;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>True when <paramref name="text"/> mentions <c>{name}</c>.</summary>
    public static bool Mentions(string text, string name) => text.Contains($"{{{name}}}", StringComparison.Ordinal);
}
