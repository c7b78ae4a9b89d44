namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>The repository the tests run from, for tests that read its files (compose, manifests, dashboards).</summary>
internal static class Repository
{
    /// <summary>The directory holding StreamFraud.sln, found above the test binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamFraud.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("StreamFraud.sln not found above the test binaries");
    }
}
