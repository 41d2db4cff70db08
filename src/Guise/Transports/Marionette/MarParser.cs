using System.Globalization;
using Guise.Errors;

namespace Guise.Transports.Marionette;

/// <summary>Where something is in a .mar file (1-based line and column).</summary>
public readonly record struct MarPosition(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A format that does not parse or validate; the message starts with <c>file:line:column:</c>.</summary>
/// <remarks>The transport turns it into a Config <see cref="PtException"/> (which is sealed).</remarks>
public sealed class MarFormatException(MarPosition position, string message)
    : FormatException($"{position}: {message}")
{
    public MarPosition Position { get; } = position;
    public string Reason { get; } = message;
}

public enum MarParty { Client, Server }

/// <summary>An argument: a string (raw, as written between the quotes), an integer or a float.</summary>
public sealed record MarArg(object Value, MarPosition Position)
{
    public bool IsString => Value is string;
    public bool IsInteger => Value is long;
}

/// <summary><c>src dst action probability</c>; <see cref="Action"/> is null for NULL.</summary>
public sealed record MarTransition(string Source, string Destination, string? Action, double Probability, bool IsError, MarPosition Position);

/// <summary>One line of an action block: <c>party module.method(args) [if regex_match_incoming("re")]</c>.</summary>
public sealed record MarActionLine(MarParty Party, string Module, string Method, IReadOnlyList<MarArg> Args,
    string? IncomingRegex, MarPosition Position, MarPosition? IncomingRegexPosition)
{
    public string Name => Module + "." + Method;
}

public sealed record MarActionBlock(string Name, IReadOnlyList<MarActionLine> Lines, MarPosition Position);

/// <summary>A parsed .mar file: <c>connection(transport, port):</c>, its transitions and action blocks.</summary>
public sealed record MarDocument(string File, string Transport, string Port, IReadOnlyList<MarTransition> Transitions,
    IReadOnlyDictionary<string, MarActionBlock> Actions, MarPosition Position);

/// <summary>
/// Parser for Marionette's format language, written from the paper and the language's documentation:
/// <code>
/// # comment
/// connection(tcp, 8080):
///   start      request   NULL        1.0
///   request    response  http_get    1.0
///   request    decoy     NULL        error
/// action http_get:
///   client fte.send("^GET /[a-z]+ HTTP/1\.1\r\n\r\n$", 128)
///   server io.puts("HTTP/1.1 404 Not Found\r\n\r\n") if regex_match_incoming("^GET")
/// </code>
/// Strings keep backslashes as written (regexes are read raw); <c>\"</c> escapes a quote. Layout is
/// line based; indentation is free.
/// </summary>
public static class MarParser
{
    private enum Tok { Ident, String, Number, LParen, RParen, Comma, Colon, Dot, End }

    private readonly record struct Token(Tok Kind, string Text, int Column);

    public static MarDocument Parse(string text, string file)
    {
        string? transport = null, port = null;
        MarPosition? connectionPos = null;
        var transitions = new List<MarTransition>();
        var actions = new Dictionary<string, MarActionBlock>(StringComparer.Ordinal);
        string? blockName = null;
        MarPosition blockPos = default;
        List<MarActionLine>? blockLines = null;
        var section = 0; // 0 nothing yet, 1 connection, 2 action

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var ln = 0; ln < lines.Length; ln++)
        {
            var lineNo = ln + 1;
            var tokens = Lex(lines[ln], file, lineNo);
            if (tokens.Count == 1)
                continue; // blank or comment
            var cursor = new Cursor(tokens, file, lineNo);
            var first = tokens[0];
            if (first.Kind == Tok.Ident && first.Text == "connection")
            {
                if (section != 0)
                    throw cursor.Error(first, "only one connection(...) block is allowed, and it comes first");
                connectionPos = cursor.Pos(first);
                cursor.Next();
                cursor.Expect(Tok.LParen, "'('");
                transport = cursor.Expect(Tok.Ident, "a transport (tcp)").Text;
                if (transport != "tcp")
                    throw cursor.Error(cursor.Previous, $"unsupported connection type '{transport}' (only tcp)");
                cursor.Expect(Tok.Comma, "','");
                var p = cursor.Next();
                if (p.Kind is not (Tok.Number or Tok.Ident))
                    throw cursor.Error(p, "expected a port number or name");
                port = p.Text;
                cursor.Expect(Tok.RParen, "')'");
                cursor.Expect(Tok.Colon, "':'");
                cursor.ExpectEnd();
                section = 1;
                continue;
            }
            if (first.Kind == Tok.Ident && first.Text == "action")
            {
                if (section == 0)
                    throw cursor.Error(first, "expected connection(...) before any action");
                Flush();
                cursor.Next();
                var name = cursor.Expect(Tok.Ident, "an action name");
                if (name.Text == "NULL")
                    throw cursor.Error(name, "NULL is reserved for transitions without actions");
                if (actions.ContainsKey(name.Text))
                    throw cursor.Error(name, $"action '{name.Text}' is defined twice");
                cursor.Expect(Tok.Colon, "':'");
                cursor.ExpectEnd();
                blockName = name.Text;
                blockPos = cursor.Pos(name);
                blockLines = [];
                section = 2;
                continue;
            }
            if (section == 0)
                throw cursor.Error(first, "expected connection(tcp, PORT):");
            if (section == 1)
                transitions.Add(ParseTransition(cursor));
            else
                blockLines!.Add(ParseActionLine(cursor));
        }
        Flush();
        if (connectionPos is null)
            throw new MarFormatException(new MarPosition(file, 1, 1), "the format has no connection(...) block");
        if (transitions.Count == 0)
            throw new MarFormatException(connectionPos.Value, "the connection block has no transitions");
        return new MarDocument(file, transport!, port!, transitions, actions, connectionPos.Value);

        void Flush()
        {
            if (blockName is not null)
                actions.Add(blockName, new MarActionBlock(blockName, blockLines!, blockPos));
            blockName = null;
        }
    }

    private static MarTransition ParseTransition(Cursor c)
    {
        var src = c.Expect(Tok.Ident, "a source state");
        var dst = c.Expect(Tok.Ident, "a destination state");
        var action = c.Expect(Tok.Ident, "an action name or NULL");
        var prob = c.Next();
        double p;
        var isError = false;
        if (prob.Kind == Tok.Ident && prob.Text == "error")
        {
            isError = true;
            p = 0;
        }
        else if (prob.Kind == Tok.Number && double.TryParse(prob.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out p))
        {
            if (p is < 0 or > 1 || double.IsNaN(p))
                throw c.Error(prob, $"probability {prob.Text} is not in [0, 1]");
        }
        else
        {
            throw c.Error(prob, "expected a probability or 'error'");
        }
        c.ExpectEnd();
        if (src.Text == "end")
            throw c.Error(src, "no transition may leave 'end'");
        return new MarTransition(src.Text, dst.Text, action.Text == "NULL" ? null : action.Text, p, isError, c.Pos(src));
    }

    private static MarActionLine ParseActionLine(Cursor c)
    {
        var partyTok = c.Expect(Tok.Ident, "client or server");
        var party = partyTok.Text switch
        {
            "client" => MarParty.Client,
            "server" => MarParty.Server,
            _ => throw c.Error(partyTok, $"expected client or server, found '{partyTok.Text}'"),
        };
        var module = c.Expect(Tok.Ident, "a module (fte, tg, io, model)");
        c.Expect(Tok.Dot, "'.'");
        var method = c.Expect(Tok.Ident, "a method name");
        c.Expect(Tok.LParen, "'('");
        var args = new List<MarArg>();
        if (c.Peek.Kind != Tok.RParen)
        {
            while (true)
            {
                var a = c.Next();
                object value = a.Kind switch
                {
                    Tok.String => a.Text,
                    Tok.Number when long.TryParse(a.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
                    Tok.Number when double.TryParse(a.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                    _ => throw c.Error(a, "expected a string or number argument"),
                };
                args.Add(new MarArg(value, c.Pos(a)));
                if (c.Peek.Kind == Tok.Comma)
                {
                    c.Next();
                    continue;
                }
                break;
            }
        }
        c.Expect(Tok.RParen, "')' or ','");
        string? regex = null;
        MarPosition? regexPos = null;
        if (c.Peek.Kind == Tok.Ident && c.Peek.Text == "if")
        {
            c.Next();
            var kw = c.Expect(Tok.Ident, "regex_match_incoming");
            if (kw.Text != "regex_match_incoming")
                throw c.Error(kw, $"expected regex_match_incoming, found '{kw.Text}'");
            c.Expect(Tok.LParen, "'('");
            var r = c.Expect(Tok.String, "a regex string");
            regex = r.Text;
            regexPos = c.Pos(r);
            c.Expect(Tok.RParen, "')'");
        }
        c.ExpectEnd();
        return new MarActionLine(party, module.Text, method.Text, args, regex, c.Pos(partyTok), regexPos);
    }

    private static List<Token> Lex(string line, string file, int lineNo)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < line.Length)
        {
            var ch = line[i];
            if (ch is ' ' or '\t')
            {
                i++;
                continue;
            }
            if (ch == '#')
                break;
            var start = i;
            switch (ch)
            {
                case '(': tokens.Add(new(Tok.LParen, "(", start + 1)); i++; continue;
                case ')': tokens.Add(new(Tok.RParen, ")", start + 1)); i++; continue;
                case ',': tokens.Add(new(Tok.Comma, ",", start + 1)); i++; continue;
                case ':': tokens.Add(new(Tok.Colon, ":", start + 1)); i++; continue;
                case '.' when i + 1 >= line.Length || !char.IsAsciiDigit(line[i + 1]):
                    tokens.Add(new(Tok.Dot, ".", start + 1)); i++; continue;
                default:
                    break;
            }
            if (ch is '"' or '\'')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                var closed = false;
                while (i < line.Length)
                {
                    var c = line[i];
                    if (c == '\\' && i + 1 < line.Length)
                    {
                        // \" (or \') is a quote; every other escape is kept verbatim for the regex/io layer.
                        if (line[i + 1] == ch)
                            sb.Append(ch);
                        else
                            sb.Append(c).Append(line[i + 1]);
                        i += 2;
                        continue;
                    }
                    if (c == ch)
                    {
                        closed = true;
                        i++;
                        break;
                    }
                    sb.Append(c);
                    i++;
                }
                if (!closed)
                    throw new MarFormatException(new MarPosition(file, lineNo, start + 1), "unterminated string");
                tokens.Add(new(Tok.String, sb.ToString(), start + 1));
                continue;
            }
            if (char.IsAsciiDigit(ch) || ch is '-' or '+' or '.')
            {
                i++;
                while (i < line.Length && (char.IsAsciiDigit(line[i]) || line[i] is '.' or 'e' or 'E' or '-' or '+'))
                    i++;
                tokens.Add(new(Tok.Number, line[start..i], start + 1));
                continue;
            }
            if (char.IsAsciiLetter(ch) || ch == '_')
            {
                while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_'))
                    i++;
                tokens.Add(new(Tok.Ident, line[start..i], start + 1));
                continue;
            }
            throw new MarFormatException(new MarPosition(file, lineNo, start + 1), $"unexpected character '{ch}'");
        }
        tokens.Add(new(Tok.End, "end of line", line.Length + 1));
        return tokens;
    }

    private sealed class Cursor(List<Token> tokens, string file, int line)
    {
        private int _i;

        public Token Peek => tokens[_i];

        public Token Previous => tokens[Math.Max(0, _i - 1)];

        public Token Next()
        {
            var t = tokens[_i];
            if (t.Kind != Tok.End)
                _i++;
            return t;
        }

        public Token Expect(Tok kind, string what)
        {
            var t = Next();
            return t.Kind == kind ? t : throw Error(t, $"expected {what}, found {Describe(t)}");
        }

        public void ExpectEnd()
        {
            var t = Peek;
            if (t.Kind != Tok.End)
                throw Error(t, $"unexpected {Describe(t)} at the end of the line");
        }

        public MarPosition Pos(Token t) => new(file, line, t.Column);

        public MarFormatException Error(Token t, string message) => new(Pos(t), message);

        private static string Describe(Token t) => t.Kind switch
        {
            Tok.End => "end of line",
            Tok.String => "a string",
            _ => $"'{t.Text}'",
        };
    }
}
