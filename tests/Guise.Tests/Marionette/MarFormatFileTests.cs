using Guise.Errors;
using Guise.Transports;
using Guise.Transports.Marionette;

namespace Guise.Tests.Marionette;

/// <summary><c>--format FILE</c>: users add .mar files without recompiling; bridge lines name them by file name.</summary>
public sealed class MarFormatFileTests : IDisposable
{
    private const string Lines = """
        connection(tcp, 7000):
          start  talk  NULL  1.0
          talk   end   say   1.0
        action say:
          client fte.send("^[a-z ]+\n$", 256)
          server fte.send("^[a-z ]+\n$", 256)
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("guise-mar-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A file named uniquely per test: the table of added formats is process-wide.</summary>
    private string Write(string text, string? name = null)
    {
        var path = Path.Combine(_dir, (name ?? "f" + Guid.NewGuid().ToString("N")[..12]) + ".mar");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void An_added_file_is_found_by_its_file_name_without_the_extension()
    {
        var path = Write(Lines);
        var name = MarionetteTransport.AddFormatFile(path);

        Assert.Equal(Path.GetFileNameWithoutExtension(path), name);
        Assert.Same(MarionetteFormat.Resolve(name), MarionetteFormat.Resolve(name));
        Assert.Equal(name, MarionetteFormat.Resolve(name).Name);
    }

    [Fact]
    public void A_server_whose_options_name_an_added_format_puts_that_name_in_the_bridge_line()
    {
        var name = MarionetteTransport.AddFormatFile(Write(Lines));
        var server = new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(), PtArgs.ParseSocks($"format={name};key={new string('a', 64)}"));

        Assert.Equal(name, server.ClientArgs.Get("format"));
    }

    [Fact]
    public void A_broken_file_is_a_config_error_that_names_file_line_and_column()
    {
        var path = Write(Lines.Replace("256)", "256", StringComparison.Ordinal));

        var e = Assert.Throws<PtException>(() => MarionetteTransport.AddFormatFile(path));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Matches($@"^marionette: {System.Text.RegularExpressions.Regex.Escape(path)}:5:\d+: ", e.Message);
    }

    [Fact]
    public void A_file_that_does_not_exist_is_a_config_error_that_names_it()
    {
        var path = Path.Combine(_dir, "missing.mar");

        var e = Assert.Throws<PtException>(() => MarionetteTransport.AddFormatFile(path));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Equal($"marionette: no such format file '{path}'", e.Message);
    }

    [Fact]
    public void A_file_named_like_a_built_in_format_is_refused()
    {
        var e = Assert.Throws<PtException>(() => MarionetteTransport.AddFormatFile(Write(Lines, "http_post")));

        Assert.Contains("built-in", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_name_a_bridge_line_cannot_carry_is_refused()
    {
        var e = Assert.Throws<PtException>(() => MarionetteTransport.AddFormatFile(Write(Lines, "my format;x")));

        Assert.Contains("format=NAME", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Adding_a_second_file_with_the_same_name_is_refused()
    {
        var path = Write(Lines);
        MarionetteTransport.AddFormatFile(path);

        var e = Assert.Throws<PtException>(() => MarionetteTransport.AddFormatFile(path));

        Assert.Contains("already added", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_format_name_says_how_to_add_one()
    {
        var e = Assert.Throws<PtException>(() => MarionetteFormat.Resolve("no_such_format"));

        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("--format FILE", e.Message, StringComparison.Ordinal);
    }
}
