namespace Guise.Hosting;

/// <summary>
/// Keeps bridge and client addresses out of logs unless the operator opts in, as obfs4proxy
/// does: logs get shared in bug reports, and an address in them can out a bridge or a user.
/// </summary>
public sealed class AddressScrubber(bool unsafeLogging)
{
    public const string Placeholder = "[scrubbed]";

    public bool UnsafeLogging { get; } = unsafeLogging;

    public string Address(string? address) => address is null ? "" : UnsafeLogging ? address : Placeholder;

    /// <summary>Removes a known address (and its host part) from free text such as an exception message.</summary>
    public string Text(string text, string? address)
    {
        if (UnsafeLogging || string.IsNullOrEmpty(address))
            return text;
        text = text.Replace(address, Placeholder, StringComparison.Ordinal);
        if (Net.HostPort.TryParse(address, out var hp) && hp.Value.Host.Length > 0)
            text = text.Replace(hp.Value.Host, Placeholder, StringComparison.Ordinal);
        return text;
    }
}
