using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Guise.Interop.Tests.PtHost;

/// <summary>The extra Debian peers these tests run (scripts/test installs them) and small helpers.</summary>
internal static class PtHostPeers
{
    public static string SnowflakeClient => Which("snowflake-client", "snowflake-client");

    public static string SsLocal => Which("ss-local", "shadowsocks-libev");

    public static string SsServer => Which("ss-server", "shadowsocks-libev");

    private static string Which(string name, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin"]))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name)))
                return Path.Combine(dir, name);
        }
        throw new InvalidOperationException($"{name} is not installed: scripts/test installs it (apt-get install {package})");
    }

    /// <summary>Alive and not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Waits until <paramref name="pid"/> is gone; returns how long that took, or null after <paramref name="hangGuard"/>.</summary>
    public static async Task<TimeSpan?> WaitUntilGoneAsync(int pid, TimeSpan hangGuard)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < hangGuard)
        {
            if (!IsAlive(pid))
                return clock.Elapsed;
            await Task.Delay(20);
        }
        return null;
    }

    public static async Task WaitUntilAcceptingAsync(int port, TimeSpan hangGuard)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException) when (clock.Elapsed < hangGuard)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A loopback TCP echo server (stands in for an ORPort).</summary>
    public sealed class Echo : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public Echo()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var client = await _listener.AcceptTcpClientAsync();
                        _ = Task.Run(async () =>
                        {
                            using (client)
                            {
                                try { await client.GetStream().CopyToAsync(client.GetStream()); } catch (IOException) { }
                            }
                        });
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void Dispose() => _listener.Stop();
    }
}
