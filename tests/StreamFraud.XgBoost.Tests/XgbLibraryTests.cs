
namespace StreamFraud.XgBoost.Tests;

public sealed class XgbLibraryTests
{
    [Fact]
    public void LoadFirst_PathDoesNotExist_ThrowsMessageNamingPackageVariableAndPath()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-dir-{Guid.NewGuid():N}", "libxgboost.so");

        var e = Assert.Throws<DllNotFoundException>(() => XgbLibrary.LoadFirst([missing]));

        Assert.StartsWith(
            "libxgboost was not found: install the Debian package libxgboost0 (apt-get install libxgboost0), or set " +
            "STREAMFRAUD_XGBOOST_LIB to a libxgboost.so (e.g. from pip's xgboost wheel)",
            e.Message,
            StringComparison.Ordinal);
        Assert.Contains($"{missing} (file does not exist)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFirst_FileIsNotALibrary_ThrowsWithLoaderReason()
    {
        var notLibrary = Path.Combine(Path.GetTempPath(), $"not-a-library-{Guid.NewGuid():N}.so");
        File.WriteAllText(notLibrary, "this is text, not an ELF shared object");
        try
        {
            var e = Assert.Throws<DllNotFoundException>(() => XgbLibrary.LoadFirst([notLibrary, "libxgboost-nonexistent.so.9"]));

            Assert.Contains("libxgboost0", e.Message, StringComparison.Ordinal);
            Assert.Contains(notLibrary + " (", e.Message, StringComparison.Ordinal);
            Assert.Contains("libxgboost-nonexistent.so.9 (", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(notLibrary);
        }
    }

    [Fact]
    public void LoadFirst_MissingPathThenSystemName_LoadsSystemName()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-dir-{Guid.NewGuid():N}", "libxgboost.so");

        var (handle, from) = XgbLibrary.LoadFirst([missing, "libxgboost.so.0"]);

        Assert.NotEqual(nint.Zero, handle);
        Assert.Equal("libxgboost.so.0", from);
        System.Runtime.InteropServices.NativeLibrary.Free(handle);
    }

    [Fact]
    public void DefaultCandidates_VariableSet_PathTriedFirst()
    {
        var candidates = XgbLibrary.DefaultCandidates(
            name => name == XgbLibrary.PathEnvironmentVariable ? " /opt/wheel/xgboost/lib/libxgboost.so " : null);

        Assert.Equal("/opt/wheel/xgboost/lib/libxgboost.so", candidates[0]);
        Assert.Equal(XgbLibrary.SystemCandidates, candidates.Skip(1));
        Assert.Equal("libxgboost.so.0", candidates[1]);
    }

    [Fact]
    public void DefaultCandidates_VariableUnsetOrBlank_SystemNamesOnly()
    {
        Assert.Equal(XgbLibrary.SystemCandidates, XgbLibrary.DefaultCandidates(_ => null));
        Assert.Equal(XgbLibrary.SystemCandidates, XgbLibrary.DefaultCandidates(_ => "  "));
    }

    [Fact]
    public void Version_LoadedLibrary_AtLeastMinimum()
    {
        XgbLibrary.EnsureLoaded();

        Assert.True(XgbLibrary.Version >= XgbLibrary.MinimumVersion, $"loaded {XgbLibrary.Version} from {XgbLibrary.LoadedFrom}");
    }
}
