using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Guise.Tests.Proxy;

/// <summary>
/// A one-connection proxy on 127.0.0.1 written byte by byte from the RFCs, independently of
/// Guise's own SOCKS code, so a shared misreading cannot make both sides agree. It records
/// what the client asked for and, when it grants the request, echoes (standing in for the
/// target).
/// </summary>
internal sealed class FakeProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _serving;

    private FakeProxy(Func<NetworkStream, FakeProxy, Task<bool>> handshake)
    {
        _listener.Start();
        _serving = ServeOneAsync(handshake);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string? Target { get; private set; }

    public string? UserName { get; private set; }

    public string? Password { get; private set; }

    public string? RequestHead { get; private set; }

    /// <summary>SOCKS5; with <paramref name="requiredUser"/>, insists on RFC 1929 and checks the pair.</summary>
    public static FakeProxy Socks5(string? requiredUser = null, string? requiredPassword = null, byte reply = 0) =>
        new(async (s, self) =>
        {
            var head = await ReadAsync(s, 2);
            var methods = await ReadAsync(s, head[1]);
            var method = requiredUser is null ? (byte)0 : (byte)2;
            if (!methods.Contains(method))
            {
                await s.WriteAsync(new byte[] { 5, 0xFF });
                return false;
            }
            await s.WriteAsync(new byte[] { 5, method });
            if (requiredUser is not null)
            {
                var version = await ReadAsync(s, 2);
                self.UserName = Encoding.UTF8.GetString(await ReadAsync(s, version[1]));
                var plen = await ReadAsync(s, 1);
                self.Password = Encoding.UTF8.GetString(await ReadAsync(s, plen[0]));
                var ok = self.UserName == requiredUser && self.Password == requiredPassword;
                await s.WriteAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 });
                if (!ok)
                    return false;
            }
            var request = await ReadAsync(s, 4);
            string host = request[3] switch
            {
                1 => new IPAddress(await ReadAsync(s, 4)).ToString(),
                4 => "[" + new IPAddress(await ReadAsync(s, 16)) + "]",
                _ => Encoding.UTF8.GetString(await ReadAsync(s, (await ReadAsync(s, 1))[0])),
            };
            var port = await ReadAsync(s, 2);
            self.Target = $"{host}:{(port[0] << 8) | port[1]}";
            // A bind address of the domain type, to make the client read a variable-length reply.
            await s.WriteAsync(new byte[] { 5, reply, 0, 3, 4, (byte)'b', (byte)'n', (byte)'d', (byte)'.', 0x12, 0x34 });
            return reply == 0;
        });

    public static FakeProxy Socks4a(byte reply = 0x5A) =>
        new(async (s, self) =>
        {
            var head = await ReadAsync(s, 8);
            self.UserName = await ReadNulTerminatedAsync(s);
            var host = head[4..8] is [0, 0, 0, not 0]
                ? await ReadNulTerminatedAsync(s)
                : new IPAddress(head[4..8]).ToString();
            self.Target = $"{host}:{(head[2] << 8) | head[3]}";
            await s.WriteAsync(new byte[] { 0, reply, 0, 0, 0, 0, 0, 0 });
            return reply == 0x5A;
        });

    public static FakeProxy Http(string statusLine) =>
        new(async (s, self) =>
        {
            var head = new StringBuilder();
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                head.Append((char)(await ReadAsync(s, 1))[0]);
            self.RequestHead = head.ToString();
            self.Target = self.RequestHead.Split(' ')[1];
            await s.WriteAsync(Encoding.ASCII.GetBytes($"{statusLine}\r\nProxy-Agent: fake\r\n\r\n"));
            return statusLine.Split(' ')[1].StartsWith('2');
        });

    private async Task ServeOneAsync(Func<NetworkStream, FakeProxy, Task<bool>> handshake)
    {
        try
        {
            using var socket = await _listener.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            if (await handshake(stream, this))
                await stream.CopyToAsync(stream);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
        }
    }

    private static async Task<byte[]> ReadAsync(Stream s, int count)
    {
        var buffer = new byte[count];
        await s.ReadExactlyAsync(buffer);
        return buffer;
    }

    private static async Task<string> ReadNulTerminatedAsync(Stream s)
    {
        var bytes = new List<byte>();
        while ((await ReadAsync(s, 1))[0] is var b && b != 0)
            bytes.Add(b);
        return Encoding.UTF8.GetString([.. bytes]);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving;
    }
}
