using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Guise.Errors;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Marionette;

namespace Guise.Tests.Marionette;

public class MarionetteTunnelTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    /// <summary>Copies everything written to the wire, for checks on what an observer sees.</summary>
    private sealed class TapStream(Stream inner) : WrappedStream(inner)
    {
        private readonly MemoryStream _written = new();
        public byte[] Written { get { lock (_written) return _written.ToArray(); } }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_written)
                _written.Write(buffer.Span);
            return Inner.WriteAsync(buffer, cancellationToken);
        }
    }

    private static async Task<(Stream Client, Stream Server, TapStream ClientWire, TapStream ServerWire, LoopbackPair Pair)> OpenAsync(string format, CancellationToken ct)
    {
        using var state = new TempDirectory();
        var transport = new MarionetteTransport();
        var server = transport.CreateServerFactory(TransportContext.ForTests(state.Path), new PtArgs().Add("format", format));
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);
        var pair = await LoopbackPair.CreateAsync();
        var serverWire = new TapStream(pair.Server);
        var clientWire = new TapStream(pair.Client);
        var accept = server.AcceptAsync(serverWire, ct).AsTask();
        var client = await session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult<Stream>(clientWire), ct);
        return (client, await accept, clientWire, serverWire, pair);
    }

    public static TheoryData<string> Formats()
    {
        var data = new TheoryData<string>();
        foreach (var n in MarionetteFormat.BuiltInNames)
            data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Every_built_in_format_carries_data_both_ways(string format)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (client, server, clientWire, serverWire, pair) = await OpenAsync(format, cts.Token);
        await using var _ = pair;
        await ExchangeAsync(client, server, 40_000, 30_000, cts.Token);

        if (format == "irc_lines")
        {
            // Every message on the wire is one 512-byte line matching its regex.
            var f = MarionetteFormat.Resolve(format);
            var chat = f.Outgoing("talk").Single(e => !e.IsError).Block.Messages.Cast<FteMessage>().ToArray();
            AssertLines(clientWire.Written, chat[0]);
            AssertLines(serverWire.Written, chat[1]);
        }
        else
        {
            // Every message parses as HTTP/1.1 with a Content-Length that frames it exactly.
            AssertHttp(clientWire.Written, request: true);
            AssertHttp(serverWire.Written, request: false);
        }
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    /// <summary>Random bytes both ways at once; each side must read exactly what the other wrote.</summary>
    private static async Task ExchangeAsync(Stream client, Stream server, int upBytes, int downBytes, CancellationToken ct)
    {
        var up = RandomNumberGenerator.GetBytes(upBytes);
        var down = RandomNumberGenerator.GetBytes(downBytes);
        var writes = Task.WhenAll(client.WriteAsync(up, ct).AsTask(), server.WriteAsync(down, ct).AsTask());
        var gotUp = new byte[up.Length];
        var gotDown = new byte[down.Length];
        await server.ReadExactlyAsync(gotUp, ct);
        await client.ReadExactlyAsync(gotDown, ct);
        await writes;
        Assert.Equal(up, gotUp);
        Assert.Equal(down, gotDown);
    }

    private static void AssertLines(byte[] wire, FteMessage m)
    {
        Assert.True(wire.Length > 0);
        Assert.Equal(0, wire.Length % m.CovertextLength);
        var re = new Regex(m.Regex, RegexOptions.Singleline);
        for (var i = 0; i < wire.Length; i += m.CovertextLength)
            Assert.Matches(re, Encoding.Latin1.GetString(wire, i, m.CovertextLength));
    }

    private static void AssertHttp(byte[] wire, bool request)
    {
        var text = Encoding.Latin1.GetString(wire);
        var pos = 0;
        var messages = 0;
        var start = request ? new Regex(@"\A(GET|POST) /[!-~]* HTTP/1\.1\r\n") : new Regex(@"\AHTTP/1\.1 200 OK\r\n");
        while (pos < wire.Length)
        {
            Assert.Matches(start, text[pos..Math.Min(text.Length, pos + 200)]);
            var end = text.IndexOf("\r\n\r\n", pos, StringComparison.Ordinal);
            Assert.True(end > 0);
            var head = text[pos..end];
            var cl = Regex.Match(head, @"\r\nContent-Length: (\d+)");
            var length = cl.Success ? int.Parse(cl.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            Assert.True(cl.Success || head.StartsWith("GET ", StringComparison.Ordinal), "a message with a body lacks Content-Length");
            pos = end + 4 + length;
            messages++;
        }
        Assert.Equal(wire.Length, pos);
        Assert.True(messages > 0);
    }

    [Fact]
    public async Task A_format_whose_server_greets_with_io_puts_carries_data_after_the_banner()
    {
        // io.puts messages carry no cell, so they must not use up a sequence number on either side.
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "banner.mar");
        await File.WriteAllTextAsync(file, """
            connection(tcp, 21):
              start  talk  banner  1.0
              talk   end   chat    1.0
            action banner:
              server io.puts("220 ready\r\n")
            action chat:
              client fte.send("^[a-z ]+\n$", 256)
              server fte.send("^[a-z ]+\n$", 256)
            """);
        using var cts = new CancellationTokenSource(HangGuard);
        var (client, server, _, serverWire, pair) = await OpenAsync(file, cts.Token);
        await using var _p = pair;
        await ExchangeAsync(client, server, 3000, 2000, cts.Token);
        Assert.StartsWith("220 ready\r\n", Encoding.Latin1.GetString(serverWire.Written), StringComparison.Ordinal);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Model_sleep_delays_the_party_that_writes_it_before_its_next_message()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "slow.mar");
        await File.WriteAllTextAsync(file, """
            connection(tcp, 7000):
              start  end  say  1.0
            action say:
              client fte.send("^[a-z ]+\n$", 256)
              server model.sleep(0.3)
              server fte.send("^[a-z ]+\n$", 256)
            """);
        using var cts = new CancellationTokenSource(HangGuard);
        var (client, server, _, _, pair) = await OpenAsync(file, cts.Token);
        await using var _p = pair;
        // The server's app echoes; its engine sends each reply only after sleeping past the client
        // line that carried the request, so no echo can come back sooner than the sleep.
        var echo = Task.Run(async () =>
        {
            var b = new byte[1];
            while (await server.ReadAsync(b, cts.Token) > 0)
                await server.WriteAsync(b, cts.Token);
        }, cts.Token);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await client.WriteAsync("p"u8.ToArray(), cts.Token);
        var got = new byte[1];
        await client.ReadExactlyAsync(got, cts.Token);
        Assert.Equal((byte)'p', got[0]);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.29), $"the reply came after {watch.Elapsed.TotalMilliseconds:F0} ms");
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }

    [Fact]
    public async Task A_replayed_first_message_gets_the_decoy_answer_and_the_accept_fails()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var transport = new MarionetteTransport();
        var server = transport.CreateServerFactory(TransportContext.ForTests(state.Path), new PtArgs().Add("format", "irc_lines"));
        var session = transport.CreateClientFactory(TransportContext.ForTests()).Prepare(server.ClientArgs);

        // A real tunnel, whose first 512-byte line an observer records.
        await using (var pair = await LoopbackPair.CreateAsync())
        {
            var clientWire = new TapStream(pair.Client);
            var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
            await using var client = await session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult<Stream>(clientWire), cts.Token);
            await client.WriteAsync("hello"u8.ToArray(), cts.Token);
            await using var tunnel = await accept;
            var got = new byte[5];
            await tunnel.ReadExactlyAsync(got, cts.Token);
            var firstLine = clientWire.Written[..512];

            // The observer replays it on a new connection.
            await using var replay = await LoopbackPair.CreateAsync();
            var second = server.AcceptAsync(replay.Server, cts.Token).AsTask();
            await replay.Client.WriteAsync(firstLine, cts.Token);
            var ex = await Assert.ThrowsAsync<PtException>(() => second);
            Assert.Equal(PtErrorKind.Handshake, ex.Kind);
            Assert.Contains("replayed", ex.Message, StringComparison.Ordinal);
            var reply = new MemoryStream();
            await replay.Client.CopyToAsync(reply, cts.Token);
            Assert.StartsWith("ERROR :Closing Link", Encoding.Latin1.GetString(reply.ToArray()), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(2)]
    public async Task A_client_whose_clock_is_hours_off_gets_the_decoy_answer_and_the_accept_fails(int hours)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var transport = new MarionetteTransport();
        var server = transport.CreateServerFactory(TransportContext.ForTests(state.Path), new PtArgs().Add("format", "irc_lines"));
        var skewed = new TransportContext(null, new ShiftedTime(TimeSpan.FromHours(hours)), NullPtLog.Instance);
        var session = transport.CreateClientFactory(skewed).Prepare(server.ClientArgs);
        await using var pair = await LoopbackPair.CreateAsync();
        var serverWire = new TapStream(pair.Server);
        var accept = server.AcceptAsync(serverWire, cts.Token).AsTask();
        await using var client = await session.ConnectAsync("127.0.0.1:1", (_, _) => ValueTask.FromResult<Stream>(pair.Client), cts.Token);

        var ex = await Assert.ThrowsAsync<PtException>(() => accept);

        Assert.Equal(PtErrorKind.Handshake, ex.Kind);
        Assert.Contains("clock", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("ERROR :Closing Link", Encoding.Latin1.GetString(serverWire.Written), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_closes_its_write_side_ends_the_server_read_with_eof()
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var (client, server, _, _, pair) = await OpenAsync("http_get", cts.Token);
        await using var _p = pair;
        await client.WriteAsync("hello"u8.ToArray(), cts.Token);
        ((Guise.Relay.IHalfCloseable)client).ShutdownWrite();
        var all = new MemoryStream();
        await server.CopyToAsync(all, cts.Token);
        Assert.Equal("hello"u8.ToArray(), all.ToArray());
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Theory]
    [InlineData("http_post", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found\r\n")]
    [InlineData("http_post", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003garbage\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n")]
    [InlineData("irc_lines", "NICK probe\r\n", "ERROR :Closing Link")]
    public async Task A_prober_gets_the_formats_decoy_answer_and_the_accept_fails(string format, string probe, string answer)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var server = new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(state.Path), new PtArgs().Add("format", format));
        await using var pair = await LoopbackPair.CreateAsync();
        var accept = server.AcceptAsync(pair.Server, cts.Token).AsTask();
        var bytes = Encoding.Latin1.GetBytes(probe);
        if (format == "irc_lines")
            bytes = [.. bytes, .. new byte[512 - bytes.Length]]; // a whole (wrong) line's worth
        await pair.Client.WriteAsync(bytes, cts.Token);
        var ex = await Assert.ThrowsAsync<PtException>(() => accept);
        Assert.Equal(PtErrorKind.Handshake, ex.Kind);
        var reply = new MemoryStream();
        await pair.Client.CopyToAsync(reply, cts.Token);
        Assert.StartsWith(answer, Encoding.Latin1.GetString(reply.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public void Transitions_are_sampled_with_the_declared_probabilities()
    {
        // http_post: upload 0.9, poll 0.1. Chi-squared with 1 degree of freedom, fixed seed.
        var edges = MarionetteFormat.Resolve("http_post").Outgoing("request").Where(e => !e.IsError).ToList();
        var rng = new Random(20261126);
        const int n = 20_000;
        var upload = 0;
        for (var i = 0; i < n; i++)
        {
            if (Guise.Transports.Marionette.MarionetteEngine.Sample(edges, rng.NextDouble()).Block.Name == "upload")
                upload++;
        }
        var expectedUp = n * 0.9;
        var expectedPoll = n * 0.1;
        var chi2 = Math.Pow(upload - expectedUp, 2) / expectedUp + Math.Pow(n - upload - expectedPoll, 2) / expectedPoll;
        Assert.True(chi2 < 6.63, $"chi² = {chi2} (p < 0.01 rejects); uploads {upload}/{n}");
    }

    [Fact]
    public void The_server_key_is_created_once_and_reused_and_exposed_in_client_args()
    {
        using var state = new TempDirectory();
        var a = new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty).ClientArgs;
        var b = new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(state.Path), PtArgs.Empty).ClientArgs;
        Assert.Equal(a.Get("key"), b.Get("key"));
        Assert.Equal(MarionetteTransport.DefaultFormat, a.Get("format"));
        Assert.Equal(64, a.Get("key")!.Length);
    }

    [Fact]
    public void A_user_format_file_is_loaded_and_a_broken_one_is_a_config_error_naming_the_place()
    {
        using var dir = new TempDirectory();
        var good = Path.Combine(dir.Path, "mine.mar");
        File.WriteAllText(good, MarionetteFormat.BuiltInText("irc_lines"));
        var args = new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(dir.Path), new PtArgs().Add("format", good)).ClientArgs;
        Assert.Equal(good, args.Get("format"));
        var bad = Path.Combine(dir.Path, "bad.mar");
        File.WriteAllText(bad, "connection(tcp, 80):\n  start end nope 1.0\n");
        var e = Assert.Throws<PtException>(() => new MarionetteTransport().CreateServerFactory(TransportContext.ForTests(dir.Path), new PtArgs().Add("format", bad)));
        Assert.Equal(PtErrorKind.Config, e.Kind);
        Assert.Contains("bad.mar:2:3:", e.Message, StringComparison.Ordinal);
    }
}
