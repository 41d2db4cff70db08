using System.Security.Cryptography;
using Guise.Errors;

namespace Guise.Transports.Marionette;

/// <summary>
/// Marionette (Dyer, Coull, Shrimpton, USENIX Security 2015) rebuilt: a programmable transport
/// whose wire format is a .mar file — a probabilistic automaton whose actions send FTE records
/// (ciphertext unranked into a regex's language) or template-grammar HTTP messages.
/// </summary>
/// <remarks>
/// Args (bridge line / SMETHOD ARGS): <c>format=NAME|PATH</c> (a built-in name, a name added with
/// <see cref="AddFormatFile"/> (<c>--format FILE</c>) or a .mar file; default
/// <see cref="MarionetteFormat.DefaultName"/>), <c>key=HEX</c> (32-byte shared secret; the server makes it
/// in its state directory), optional <c>host=NAME</c> (the Host header of HTTP formats).
/// </remarks>
public sealed class MarionetteTransport : ITransport
{
    public const string DefaultFormat = "http_post";
    internal const string KeyFileName = "marionette_key";

    public string Name => "marionette";

    public string Description => "Marionette: programmable formats (.mar); built-ins make the tunnel look like HTTP or IRC";

    public IClientFactory CreateClientFactory(TransportContext context) => new ClientFactory(context);


    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options)
    {
        var formatName = options.Get("format") ?? MarionetteFormat.DefaultName;
        var format = LoadFormat(formatName);
        var key = options.TryGet("key", out var k) ? ParseKey(k) : LoadOrCreateKey(context.StateDirectory);
        return new ServerFactory(context, format, formatName, key, options.Get("host") ?? "www.example.com");
    }

    internal static MarionetteFormat LoadFormat(string nameOrPath)
    {
        try
        {
            return MarionetteFormat.Resolve(nameOrPath);
        }
        catch (MarFormatException e)
        {
            throw new PtException(PtErrorKind.Config, "marionette: " + e.Message, e);
        }
        catch (IOException e)
        {
            throw new PtException(PtErrorKind.Config, $"marionette: cannot read format '{nameOrPath}': {e.Message}", e);
        }
    }

    /// <summary>
    /// <c>--format FILE</c>: adds a user's .mar file under its file name (see
    /// <see cref="MarionetteFormat.AddFile"/>); every failure is a <see cref="PtErrorKind.Config"/>
    /// error whose message names the file (and line and column when the file does not parse).
    /// </summary>
    public static string AddFormatFile(string path, bool makeDefault = false)
    {
        // Checked here: NativeAOT builds drop the runtime's own exception texts.
        if (!File.Exists(path))
            throw new PtException(PtErrorKind.Config, $"marionette: no such format file '{path}'");
        try
        {
            return MarionetteFormat.AddFile(path, makeDefault);
        }
        catch (MarFormatException e)
        {
            throw new PtException(PtErrorKind.Config, "marionette: " + e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PtException(PtErrorKind.Config, $"marionette: cannot read format file '{path}': {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new PtException(PtErrorKind.Config, "marionette: " + e.Message.Split(" (Parameter", 2)[0], e);
        }
    }

    internal static byte[] ParseKey(string hex)
    {
        try
        {
            var key = Convert.FromHexString(hex);
            if (key.Length == 32)
                return key;
        }
        catch (FormatException)
        {
        }
        throw new PtException(PtErrorKind.Config, "marionette: 'key' must be 64 hex digits");
    }

    /// <summary>Reads the bridge's secret, or creates it atomically (temp file + rename) on first run.</summary>
    internal static byte[] LoadOrCreateKey(string? stateDirectory)
    {
        if (stateDirectory is null)
            throw new PtException(PtErrorKind.Config, "marionette: the server needs a state directory for its key");
        var path = Path.Combine(stateDirectory, KeyFileName);
        try
        {
            if (File.Exists(path))
                return ParseKey(File.ReadAllText(path).Trim());
            Directory.CreateDirectory(stateDirectory);
            var key = RandomNumberGenerator.GetBytes(32);
            var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            File.WriteAllText(temp, Convert.ToHexStringLower(key) + "\n");
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process won the race: use its key.
                File.Delete(temp);
                return ParseKey(File.ReadAllText(path).Trim());
            }
            return key;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PtException(PtErrorKind.Config, $"marionette: cannot use key file {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Clients share one session per bridge (target, format, key, host): every SOCKS stream to it
    /// is multiplexed over the session's connection(s), and survives losing one.
    /// </summary>
    private sealed class ClientFactory(TransportContext context) : IClientFactory
    {
        private readonly Dictionary<(string Target, string Format, string Key, string Host), MarionetteClientMux> _sessions = [];

        public IClientSession Prepare(PtArgs args)
        {
            var formatName = args.Get("format") ?? MarionetteFormat.DefaultName;
            var format = LoadFormat(formatName);
            var key = ParseKey(args.Require("key", "marionette"));
            return new ClientSession(this, format, key, args.Get("host") ?? "www.example.com");
        }

        internal MarionetteClientMux SessionFor(string target, MarionetteFormat format, byte[] key, string host)
        {
            var id = (target, format.Name, Convert.ToHexStringLower(key), host);
            lock (_sessions)
            {
                if (_sessions.TryGetValue(id, out var mux) && !mux.IsClosed)
                    return mux;
                mux = new MarionetteClientMux(format, key, host, target, context, closed =>
                {
                    lock (_sessions)
                    {
                        if (_sessions.TryGetValue(id, out var current) && current == closed)
                            _sessions.Remove(id);
                    }
                });
                _sessions[id] = mux;
                return mux;
            }
        }
    }

    private sealed class ClientSession(ClientFactory factory, MarionetteFormat format, byte[] key, string host) : IClientSession
    {
        public async ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // No handshake round trip: the stream's first cell rides in the format's next message.
            // A session that closed (idle) between the lookup and the open is replaced once.
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await factory.SessionFor(target, format, key, host).OpenStreamAsync(dial, cancellationToken).ConfigureAwait(false);
                }
                catch (ObjectDisposedException) when (attempt == 0)
                {
                }
            }
        }
    }

    private sealed class ServerFactory(TransportContext context, MarionetteFormat format, string formatName, byte[] key, string host) : IMultiplexingServerFactory
    {
        /// <summary>How long a connection may take to send its first authentic message.</summary>
        internal static readonly TimeSpan FirstMessageTimeout = TimeSpan.FromSeconds(60);

        public PtArgs ClientArgs { get; } = new PtArgs().Add("format", formatName).Add("key", Convert.ToHexStringLower(key));

        /// <summary>Every client session of this server, whichever connection its messages come on.</summary>
        internal MarionetteServerSessions Sessions { get; } = new(context.Time);

        public async Task ServeAsync(Stream inbound, Func<Stream, Task> onStream, CancellationToken cancellationToken)
        {
            var engine = new MarionetteEngine(inbound, format, MarParty.Server, key, context.Time, host, sessions: Sessions, onStream: onStream);
            using var firstDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var run = engine.RunAsync(firstDeadline.Token);
            try
            {
                // The anti-probing policy is the format's error transition, run by the engine before this fails.
                await engine.FirstMessage.WaitAsync(FirstMessageTimeout, context.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await firstDeadline.CancelAsync().ConfigureAwait(false);
                await inbound.DisposeAsync().ConfigureAwait(false);
                try
                {
                    await run.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Its failure is the first message's failure, reported below.
                }
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                    throw;
                if (e is TimeoutException)
                    throw new PtException(PtErrorKind.Timeout, "marionette: no authentic first message", e);
                throw e is PtException pt ? new PtException(pt.Kind == PtErrorKind.PeerProtocol ? PtErrorKind.Handshake : pt.Kind, pt.Message, pt) : PtException.Wrap(e, "marionette accept");
            }
            try
            {
                await run.ConfigureAwait(false);
            }
            catch (PtException e) when (e.Kind is PtErrorKind.Eof or PtErrorKind.Cancelled || e.InnerException is IOException)
            {
                // The client (or its proxy) closed the connection; its sessions live on.
            }
            catch (PtException e)
            {
                context.Log.Log(PtLogSeverity.Info, "marionette: a client connection ended: " + e.Message);
            }
        }

        /// <summary>
        /// For hosts that want one stream per connection: the first stream a message on this
        /// connection opens. The connection is served until it ends; further streams it opens are
        /// refused (RST).
        /// </summary>
        public async ValueTask<Stream> AcceptAsync(Stream inbound, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var first = new TaskCompletionSource<Stream>(TaskCreationOptions.RunContinuationsAsynchronously);
            var serve = ServeAsync(inbound, stream =>
            {
                if (!first.TrySetResult(stream))
                    stream.Dispose();
                return Task.CompletedTask;
            }, cancellationToken);
            _ = serve.ContinueWith(t =>
            {
                if (t.IsCanceled)
                    first.TrySetCanceled(cancellationToken);
                first.TrySetException(t.Exception?.InnerException ?? new PtException(PtErrorKind.Eof, "marionette: the connection ended before it opened a stream"));
                inbound.Dispose();
            }, TaskScheduler.Default);
            try
            {
                return await first.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A stream that comes after the caller gave up is nobody's: close it.
                _ = first.Task.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                throw;
            }
        }
    }
}
