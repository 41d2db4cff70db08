namespace Guise.Transports.Plain;

/// <summary>
/// Pass-through: bytes go on the wire as they are. Useful for testing the hosting layers and as
/// the no-crypto performance limit. It hides nothing.
/// </summary>
public sealed class PlainTransport : ITransport
{
    public string Name => "plain";

    public string Description => "pass-through, no obfuscation (testing and benchmarks only)";

    public IClientFactory CreateClientFactory(TransportContext context) => new Factory();

    public IServerFactory CreateServerFactory(TransportContext context, PtArgs options) => new Factory();

    private sealed class Factory : IClientFactory, IClientSession, IServerFactory
    {
        public PtArgs ClientArgs => PtArgs.Empty;

        public IClientSession Prepare(PtArgs args) => this;

        public ValueTask<Stream> ConnectAsync(string target, DialAsync dial, CancellationToken cancellationToken) =>
            dial(target, cancellationToken);

        public ValueTask<Stream> AcceptAsync(Stream inbound, CancellationToken cancellationToken) =>
            cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<Stream>(cancellationToken)
                : ValueTask.FromResult(inbound);
    }
}
