namespace Guise.Interop.Tests.Support;

public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        // Short paths: tor and unix sockets dislike long ones.
        Path = System.IO.Path.Combine("/tmp", "guise-it-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public static implicit operator string(TempDir d) => d.Path;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
