using System.Net;
using System.Net.Sockets;
using Guise.Errors;

namespace Guise.Net;

/// <summary>
/// The direct dialer: "host:port" to a connected TCP stream. Its <see cref="DialAsync"/> fits
/// the <see cref="Transports.DialAsync"/> delegate, so it is what <c>UpstreamProxy.Wrap</c>
/// wraps and what transports get when there is no proxy.
/// </summary>
/// <remarks>
/// Exception messages name no address: the hosting layer knows the target and logs it through
/// its scrubber, and a message does not pass through one.
/// </remarks>
public sealed class TcpDialer
{
    private readonly IPAddress? _bindV4;
    private readonly IPAddress? _bindV6;

    /// <summary>Tests can only reach loopback, so they need the bind path on loopback too.</summary>
    internal bool BindLoopbackForTests { get; init; }
    private readonly TimeSpan _connectTimeout;

    /// <param name="bindV4">Source address for IPv4 connections (TOR_PT_OUTBOUND_BIND_ADDRESS_V4).</param>
    /// <param name="bindV6">Source address for IPv6 connections (TOR_PT_OUTBOUND_BIND_ADDRESS_V6).</param>
    /// <param name="connectTimeout">Deadline for name resolution plus connecting; 30 s by default.</param>
    public TcpDialer(IPAddress? bindV4 = null, IPAddress? bindV6 = null, TimeSpan? connectTimeout = null)
    {
        if (bindV4 is not null && bindV4.AddressFamily != AddressFamily.InterNetwork)
            throw new PtException(PtErrorKind.Config, "outbound IPv4 bind address is not an IPv4 address");
        if (bindV6 is not null && bindV6.AddressFamily != AddressFamily.InterNetworkV6)
            throw new PtException(PtErrorKind.Config, "outbound IPv6 bind address is not an IPv6 address");
        if (connectTimeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(connectTimeout), t, "must be positive or infinite");
        _bindV4 = bindV4;
        _bindV6 = bindV6;
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>
    /// Resolves <paramref name="target"/> if it is a name, then tries its addresses in the order
    /// the resolver gave until one connects. Returns a <see cref="NetworkStream"/> that owns the
    /// socket (NoDelay on); disposing it closes the connection.
    /// </summary>
    /// <exception cref="PtException">
    /// Config for a bad target or bind address; DnsFailure; Refused / Unreachable / ... for the
    /// last address tried; Timeout when the connect deadline passed.
    /// </exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> fires.</exception>
    public async ValueTask<Stream> DialAsync(string target, CancellationToken cancellationToken)
    {
        if (!HostPort.TryParse(target, out var parsed) || parsed.Value.Port == 0)
            throw new PtException(PtErrorKind.Config, "dial target is not host:port with a port from 1 to 65535");
        var (host, port) = parsed.Value;

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_connectTimeout);
        try
        {
            var addresses = await ResolveAsync(host, deadline.Token).ConfigureAwait(false);
            PtException? last = null;
            foreach (var address in addresses)
            {
                try
                {
                    return await ConnectAsync(new IPEndPoint(address, port), deadline.Token).ConfigureAwait(false);
                }
                catch (PtException e) when (e.Kind != PtErrorKind.Config)
                {
                    // Try the next address, as a browser would; report the last failure.
                    last = e;
                }
            }
            throw last ?? new PtException(PtErrorKind.DnsFailure, "name resolved to no usable address");
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PtException(PtErrorKind.Timeout, $"connect did not finish within {_connectTimeout.TotalSeconds:0.#} s", e);
        }
    }

    private static async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal))
            return [literal];
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return addresses.Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).ToArray();
        }
        catch (SocketException e)
        {
            throw new PtException(PtErrorKind.DnsFailure, $"name resolution failed: {e.SocketErrorCode}", e);
        }
        catch (ArgumentException e)
        {
            throw new PtException(PtErrorKind.Config, "dial target host is not a valid name", e);
        }
    }

    private async ValueTask<Stream> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            // pt-spec: the outbound bind addresses MUST NOT apply to loopback destinations.
            var bind = IPAddress.IsLoopback(endPoint.Address) && !BindLoopbackForTests ? null : endPoint.AddressFamily == AddressFamily.InterNetwork ? _bindV4 : _bindV6;
            if (bind is not null)
            {
                try
                {
                    socket.Bind(new IPEndPoint(bind, 0));
                }
                catch (SocketException e)
                {
                    throw new PtException(PtErrorKind.Config, $"cannot bind the outbound address: {e.SocketErrorCode}", e);
                }
            }
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            // An aborted connect is the deadline or the caller, not the network.
            cancellationToken.ThrowIfCancellationRequested();
            throw new PtException(PtException.FromSocketError(e.SocketErrorCode), $"connect failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
