using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Guise.Tests.Support;
using Guise.Transports;
using Guise.Transports.Obfs4;
using TransportContext = Guise.Transports.TransportContext;

namespace Guise.Tests.Obfs4;

/// <summary>
/// Against the real obfs4proxy (Debian's 0.0.14) when it is installed; each test returns early
/// otherwise. obfs4proxy runs in managed mode with loopback-only addresses.
/// </summary>
public class Obfs4ProxyInteropTests
{
    private const string Binary = "/usr/bin/obfs4proxy";
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Guise_client_talks_to_an_obfs4proxy_bridge_that_uses_a_guise_made_state_file()
    {
        if (!File.Exists(Binary))
            return;
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        // Guise writes the state; obfs4proxy must accept it and advertise the same cert.
        var identity = Obfs4Identity.LoadOrCreate(state.Path, PtArgs.Empty);
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var echoTask = EchoOnceAsync(echo, cts.Token);

        using var proxy = Start(new()
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = state.Path,
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
            ["TOR_PT_SERVER_TRANSPORTS"] = "obfs4",
            ["TOR_PT_SERVER_BINDADDR"] = "obfs4-127.0.0.1:" + FreePort(),
            ["TOR_PT_ORPORT"] = echo.LocalEndpoint.ToString()!,
        });
        var line = await ReadLineStartingAsync(proxy, "SMETHOD obfs4 ", cts.Token);
        var parts = line.Split(' ');
        Assert.Equal("ARGS:" + identity.ClientArgs.ToSmethodArgs(), parts[3]);

        var session = new Obfs4Transport().CreateClientFactory(TransportContext.ForTests()).Prepare(PtArgs.ParseSmethodArgs(parts[3]["ARGS:".Length..]));
        await using var stream = await session.ConnectAsync(parts[2], DialAsync, cts.Token);
        var payload = RandomNumberGenerator.GetBytes(100_000);
        var write = stream.WriteAsync(payload, cts.Token).AsTask();
        var back = new byte[payload.Length];
        await stream.ReadExactlyAsync(back, cts.Token);
        await write;
        Assert.Equal(payload, back);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task An_obfs4proxy_client_talks_to_a_guise_bridge(int iatMode)
    {
        if (!File.Exists(Binary))
            return;
        using var cts = new CancellationTokenSource(HangGuard);
        using var state = new TempDirectory();
        var server = new Obfs4Transport().CreateServerFactory(TransportContext.ForTests(state.Path),
            new PtArgs().Add("iat-mode", iatMode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            var socket = await listener.AcceptSocketAsync(cts.Token);
            await using var s = await server.AcceptAsync(new NetworkStream(socket, ownsSocket: true), cts.Token);
            var buf = new byte[65536];
            int n;
            while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
                await s.WriteAsync(buf.AsMemory(0, n), cts.Token);
        }, cts.Token);

        using var clientState = new TempDirectory();
        using var proxy = Start(new()
        {
            ["TOR_PT_MANAGED_TRANSPORT_VER"] = "1",
            ["TOR_PT_STATE_LOCATION"] = clientState.Path,
            ["TOR_PT_EXIT_ON_STDIN_CLOSE"] = "1",
            ["TOR_PT_CLIENT_TRANSPORTS"] = "obfs4",
        });
        var line = await ReadLineStartingAsync(proxy, "CMETHOD obfs4 socks5 ", cts.Token);
        var socks = IPEndPoint.Parse(line.Split(' ')[3]);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(socks, cts.Token);
        await using var ns = new NetworkStream(client, ownsSocket: false);
        await Socks5ConnectAsync(ns, server.ClientArgs.ToSocksString(), (IPEndPoint)listener.LocalEndpoint, cts.Token);

        var payload = RandomNumberGenerator.GetBytes(50_000);
        var write = ns.WriteAsync(payload, cts.Token).AsTask();
        var back = new byte[payload.Length];
        await ns.ReadExactlyAsync(back, cts.Token);
        await write;
        Assert.Equal(payload, back);
    }

    private static async ValueTask<Stream> DialAsync(string target, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPEndPoint.Parse(target), ct);
        return new NetworkStream(socket, ownsSocket: true);
    }

    // pt-spec: per-connection args go in the RFC 1929 username (and password when longer than 255).
    private static async Task Socks5ConnectAsync(NetworkStream s, string args, IPEndPoint target, CancellationToken ct)
    {
        var argBytes = Encoding.UTF8.GetBytes(args);
        var user = argBytes.AsSpan(0, Math.Min(255, argBytes.Length)).ToArray();
        var pass = argBytes.Length > 255 ? argBytes[255..] : [0];
        await s.WriteAsync(new byte[] { 5, 1, 2 }, ct);
        var reply = new byte[2];
        await s.ReadExactlyAsync(reply, ct);
        Assert.Equal(new byte[] { 5, 2 }, reply);
        await s.WriteAsync((byte[])[1, (byte)user.Length, .. user, (byte)pass.Length, .. pass], ct);
        await s.ReadExactlyAsync(reply, ct);
        Assert.Equal(0, reply[1]);
        var port = (ushort)target.Port;
        await s.WriteAsync((byte[])[5, 1, 0, 1, .. target.Address.GetAddressBytes(), (byte)(port >> 8), (byte)port], ct);
        var connect = new byte[10];
        await s.ReadExactlyAsync(connect, ct);
        Assert.Equal(0, connect[1]);
    }

    private static async Task EchoOnceAsync(TcpListener listener, CancellationToken ct)
    {
        using var socket = await listener.AcceptSocketAsync(ct);
        var buf = new byte[65536];
        int n;
        while ((n = await socket.ReceiveAsync(buf, ct)) > 0)
            await socket.SendAsync(buf.AsMemory(0, n), ct);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static Proc Start(Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (k, v) in env)
            psi.Environment[k] = v;
        return new Proc(Process.Start(psi)!);
    }

    private static async Task<string> ReadLineStartingAsync(Proc p, string prefix, CancellationToken ct)
    {
        while (true)
        {
            var line = await p.Process.StandardOutput.ReadLineAsync(ct) ?? throw new InvalidOperationException("obfs4proxy exited: " + await p.Process.StandardError.ReadToEndAsync(ct));
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line;
            Assert.DoesNotContain("ERROR", line, StringComparison.Ordinal);
        }
    }

    /// <summary>Ends the child we started (closing stdin first, which obfs4proxy treats as shutdown).</summary>
    private sealed class Proc(Process process) : IDisposable
    {
        public Process Process { get; } = process;

        public void Dispose()
        {
            try
            {
                Process.StandardInput.Close();
                if (!Process.WaitForExit(3000))
                    Process.Kill();
            }
            catch (InvalidOperationException)
            {
            }
            Process.Dispose();
        }
    }
}
