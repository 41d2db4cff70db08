using Guise.Errors;
using Guise.Transports;

namespace Guise.Hosting.Controller;

/// <summary>
/// Wraps a transport's client side for the controller: a connection request without args gets
/// the defaults the app stored for the transport (read at dial time, so they can change while the
/// listener runs), and a bridge that accepts the TCP connection but then closes or resets it
/// before the transport handshake completes is reported as a handshake failure.
/// </summary>
/// <remarks>
/// The second rule is what a wrong bridge line looks like from the client: an obfs4 bridge that
/// cannot find its mark in our request (wrong cert) stays silent and closes the connection after
/// its anti-probing delay, by design indistinguishable from any other rejection. "The TCP
/// connection worked but the handshake did not" is the part an app can act on: check the bridge
/// line rather than retry. A deadline that expires is still a timeout.
/// </remarks>
internal sealed class ControllerClientTransport(ITransport inner, Func<PtArgs?> defaults) : ITransport
{
    public string Name => inner.Name;

    public string Description => inner.Description;

    public IClientFactory CreateClientFactory(TransportContext context) => new Factory(inner.Name, inner.CreateClientFactory(context), defaults);

    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options) => inner.CreateServerFactory(context, options);

    private sealed class Factory(string name, IClientFactory inner, Func<PtArgs?> defaults) : IClientFactory
    {
        public IClientSession Prepare(PtArgs args)
        {
            if (args.Count == 0 && defaults() is { } stored)
                args = stored;
            return new Session(name, inner.Prepare(args));
        }
    }

    private sealed class Session(string name, IClientSession inner) : IClientSession
    {
        public async ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken)
        {
            var dialed = false;
            try
            {
                return await inner.ConnectAsync(target, async (t, ct) =>
                {
                    var stream = await dial(t, ct).ConfigureAwait(false);
                    dialed = true;
                    return stream;
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (dialed && !cancellationToken.IsCancellationRequested
                && PtException.Classify(e) is PtErrorKind.Eof or PtErrorKind.Reset)
            {
                throw new PtException(PtErrorKind.Handshake,
                    $"{name}: the bridge accepted the connection, then ended it during the handshake " +
                    $"(wrong bridge args such as the cert, or not a {name} bridge): {e.Message}", e);
            }
        }
    }
}
