using System.Net;
using Guise.Errors;
using Guise.Net;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>
/// A "transport" whose client side is another program's SOCKS5 port: each connection Tor asks
/// for is asked of the wrapped tool, with the bridge address as the target and the bridge args,
/// when there are any, as RFC 1929 credentials (pt-spec §3.5, the way Tor would send them). This
/// lets <see cref="SocksClientEndpoint"/> front any SOCKS-exposing tool unchanged.
/// </summary>
public sealed class WrappedSocksTransport(string name, IPEndPoint socks) : ITransport
{
    public string Name { get; } = name;

    public IPEndPoint Socks { get; } = socks;

    public string Description => $"the SOCKS5 proxy at {HostPort.Format(Socks)}";

    public IClientFactory CreateClientFactory(TransportContext context) => new Factory(this);

    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options) =>
        throw new PtException(PtErrorKind.Config, $"{Name}: a wrapped SOCKS tool has no server side in-process");

    private sealed class Factory(WrappedSocksTransport transport) : IClientFactory
    {
        public IClientSession Prepare(PtArgs args)
        {
            // Fail before any socket if Tor's args cannot be carried.
            _ = SocksClient.ArgsToCredentials(args);
            return new Session(transport, args);
        }
    }

    private sealed class Session(WrappedSocksTransport transport, PtArgs args) : IClientSession
    {
        public async ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken)
        {
            var hp = HostPort.Parse(target, "target");
            // The tool's port is on this machine: dial it directly, never through TOR_PT_PROXY.
            var stream = await new TcpDialer().DialAsync(HostPort.Format(transport.Socks), cancellationToken).ConfigureAwait(false);
            try
            {
                await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, hp.Host, hp.Port, args, cancellationToken).ConfigureAwait(false);
                return stream;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                if (e is PtException { Kind: PtErrorKind.Proxy } pt)
                    throw new PtException(PtErrorKind.Proxy, $"the wrapped tool's SOCKS port: {pt.Message}", pt);
                throw;
            }
        }
    }
}
