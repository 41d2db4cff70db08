// An app that embeds Guise: no PT process, no log parsing, just a controller and its events.
//
//   dotnet run --project examples/csharp-app                      # self-test: obfs4 server + client in-process
//   dotnet run --project examples/csharp-app -- 'cert=...;iat-mode=0'   # a client for your bridge; Ctrl+C stops it
using System.Net;
using System.Net.Sockets;
using System.Text;
using Guise.Hosting.Controller;
using Guise.Net;
using Guise.Socks;
using Guise.Transports;

var state = Path.Combine(Path.GetTempPath(), "guise-csharp-app");
await using var controller = new PtController(state);

// Events arrive on thread-pool threads; Console is thread-safe, so printing is fine here.
controller.Started += (_, e) => Console.WriteLine($"started  {e.Transport} {e.Role} on {HostPort.Format(e.EndPoint)}");
controller.ConnectionOpened += (_, e) => Console.WriteLine($"opened   {e.Transport} {e.Role} {e.Peer}");
controller.ConnectionClosed += (_, e) => Console.WriteLine($"closed   {e.Transport} {e.Role} {e.BytesUp} bytes up, {e.BytesDown} down");
controller.Failed += (_, e) => Console.WriteLine($"failed   {e.Transport} {e.Role}: {e.Kind} ({e.Advice}) {e.Message}");
controller.Stopped += (_, e) => Console.WriteLine($"stopped  {e.Transport} {e.Role}");

if (args.Length > 0)
{
    // A client for a real bridge: point the app's SOCKS5 at the printed port and connect to the bridge address.
    var socks = await controller.StartClientAsync("obfs4", defaultArgs: PtArgs.ParseSocks(args[0]));
    Console.WriteLine($"SOCKS5 on {HostPort.Format(socks)}; Ctrl+C to stop");
    var stop = new TaskCompletionSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
    await stop.Task;
    return 0;
}

// Self-test: an echo "ORPort", an obfs4 bridge in front of it, an obfs4 client, one message through all three.
using var echoListener = new TcpListener(IPAddress.Loopback, 0);
echoListener.Start();
var echo = Task.Run(async () =>
{
    using var peer = await echoListener.AcceptTcpClientAsync();
    var stream = peer.GetStream();
    var buffer = new byte[4096];
    int n;
    while ((n = await stream.ReadAsync(buffer)) > 0)
        await stream.WriteAsync(buffer.AsMemory(0, n));
});

var bridge = await controller.StartServerAsync("obfs4", "127.0.0.1:0", HostPort.Format((IPEndPoint)echoListener.LocalEndpoint));
Console.WriteLine($"bridge line: Bridge obfs4 {HostPort.Format(bridge.EndPoint)} <FINGERPRINT> {bridge.ClientArgs.ToBridgeLineArgs()}");
var socksEndPoint = await controller.StartClientAsync("obfs4", defaultArgs: bridge.ClientArgs);

using (var app = new TcpClient())
{
    await app.ConnectAsync(socksEndPoint);
    var stream = app.GetStream();
    await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, "127.0.0.1", bridge.EndPoint.Port, PtArgs.Empty, CancellationToken.None);
    var message = Encoding.UTF8.GetBytes("hello through obfs4");
    await stream.WriteAsync(message);
    var reply = new byte[message.Length];
    await stream.ReadExactlyAsync(reply);
    Console.WriteLine($"echoed:  {Encoding.UTF8.GetString(reply)}");
    if (!reply.AsSpan().SequenceEqual(message))
        return 1;
}
await echo;
await controller.StopAsync("obfs4");
return 0;
