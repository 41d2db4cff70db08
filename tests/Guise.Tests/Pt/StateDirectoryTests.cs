using Guise.Pt;

namespace Guise.Tests.Pt;

public sealed class StateDirectoryTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "guise-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    // "The directory is not required to exist when the PT is launched, however PT
    // implementations SHOULD be able to create it as required." State holds private keys, so
    // only its owner may read it.
    [Fact]
    public void A_missing_state_directory_is_created_with_mode_0700()
    {
        var dir = Path.Combine(_root, "a", "pt_state");
        Assert.Equal(dir, PtEnvironment.EnsureStateDirectory(dir));
        Assert.True(Directory.Exists(dir));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
    }

    // goptlib's MakeStateDir (MkdirAll) leaves an existing directory alone; so do we.
    [Fact]
    public void An_existing_state_directory_is_kept_as_it_is()
    {
        if (OperatingSystem.IsWindows())
            return;
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        Directory.CreateDirectory(_root, mode);
        File.WriteAllText(Path.Combine(_root, "keep"), "x");
        PtEnvironment.EnsureStateDirectory(_root);
        Assert.Equal(mode, File.GetUnixFileMode(_root));
        Assert.True(File.Exists(Path.Combine(_root, "keep")));
    }

    [Fact]
    public void A_state_location_that_is_a_file_is_an_env_error()
    {
        Directory.CreateDirectory(_root);
        var file = Path.Combine(_root, "file");
        File.WriteAllText(file, "x");
        var e = Assert.Throws<PtEnvironmentException>(() => PtEnvironment.EnsureStateDirectory(file));
        Assert.Equal(PtEnvironment.Vars.StateLocation, e.Variable);
        Assert.False(e.IsVersionError);
        new PtOutput(TextWriter.Null).EnvError(e.Message);
    }
}
