using System.Net;
using Guise.Errors;
using Guise.Net;
using Guise.Socks;
using Guise.Transports;

namespace Guise.Hosting.PtHost;

/// <summary>Where one connection goes: the tool's SOCKS port, and the args to send it as credentials.</summary>
public readonly record struct WrappedSocksTarget(IPEndPoint Socks, PtArgs Args);

/// <summary>
/// A "transport" whose client side is another program's SOCKS5 port: each connection Tor asks
/// for is asked of the wrapped tool, with the bridge address as the target and the bridge args,
/// when there are any, as RFC 1929 credentials (pt-spec §3.5, the way Tor would send them). This
/// lets <see cref="SocksClientEndpoint"/> front any SOCKS-exposing tool unchanged.
/// </summary>
/// <remarks>
/// With a resolver, each connection's args choose the tool instance (and may be consumed by it,
/// as command-line flags): see <see cref="WrapProxy"/>'s <c>{arg:KEY}</c> placeholders.
/// </remarks>
public sealed class WrappedSocksTransport : ITransport
{
    private readonly Func<PtArgs, CancellationToken, ValueTask<WrappedSocksTarget>> _resolve;

    /// <summary>A fixed SOCKS port; args are passed through as credentials.</summary>
    public WrappedSocksTransport(string name, IPEndPoint socks)
        : this(name, $"the SOCKS5 proxy at {HostPort.Format(socks)}", (args, _) => ValueTask.FromResult(new WrappedSocksTarget(socks, args)))
    {
    }

    /// <summary>A SOCKS port chosen per connection from its args.</summary>
    public WrappedSocksTransport(string name, string description, Func<PtArgs, CancellationToken, ValueTask<WrappedSocksTarget>> resolve)
    {
        Name = name;
        Description = description;
        _resolve = resolve;
    }

    public string Name { get; }

    public string Description { get; }

    public IClientFactory CreateClientFactory(TransportContext context) => new Factory(this);

    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options) =>
        throw new PtException(PtErrorKind.Config, $"{Name}: a wrapped SOCKS tool has no server side in-process");

    private sealed class Factory(WrappedSocksTransport transport) : IClientFactory
    {
        public IClientSession Prepare(PtArgs args) => new Session(transport, args);
    }

    private sealed class Session(WrappedSocksTransport transport, PtArgs args) : IClientSession
    {
        public async ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken)
        {
            var hp = HostPort.Parse(target, "target");
            var to = await transport._resolve(args, cancellationToken).ConfigureAwait(false);
            // Fail before any socket if the args cannot be carried.
            _ = SocksClient.ArgsToCredentials(to.Args);
            // The tool's port is on this machine: dial it directly, never through TOR_PT_PROXY.
            var stream = await new TcpDialer().DialAsync(HostPort.Format(to.Socks), cancellationToken).ConfigureAwait(false);
            try
            {
                await SocksClient.ConnectAsync(stream, SocksVersion.Socks5, hp.Host, hp.Port, to.Args, cancellationToken).ConfigureAwait(false);
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
