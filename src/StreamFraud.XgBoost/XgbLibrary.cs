using System.Runtime.InteropServices;

namespace StreamFraud.XgBoost;

/// <summary>
/// Finds and loads libxgboost. Candidates are tried in order: the file named by
/// <see cref="PathEnvironmentVariable"/> (for example a pip <c>xgboost</c> wheel's <c>xgboost/lib/libxgboost.so</c>),
/// then the sonames a system package provides (<c>libxgboost.so.0</c> is Debian 12's <c>libxgboost0</c>). The library
/// is loaded explicitly with <see cref="NativeLibrary"/> and its functions are bound as function pointers rather than
/// through an assembly-wide <see cref="NativeLibrary.SetDllImportResolver"/>, which an assembly can register only once.
/// </summary>
public static class XgbLibrary
{
    /// <summary>Environment variable holding an explicit path to a libxgboost shared library.</summary>
    public const string PathEnvironmentVariable = "STREAMFRAUD_XGBOOST_LIB";

    /// <summary>Oldest XGBoost release whose C API has everything this binding calls (JSON save to buffer).</summary>
    public static readonly Version MinimumVersion = new(1, 6, 0);

    /// <summary>Library names tried after the environment variable, most specific first.</summary>
    public static readonly IReadOnlyList<string> SystemCandidates =
    [
        "libxgboost.so.0", "libxgboost.so", "libxgboost.so.2", "libxgboost.so.1", "libxgboost.dylib", "xgboost.dll",
    ];

    private const string NotFoundMessage =
        "libxgboost was not found: install the Debian package libxgboost0 (apt-get install libxgboost0), or set " +
        PathEnvironmentVariable + " to a libxgboost.so (e.g. from pip's xgboost wheel)";

    private static readonly Lazy<XgbNative.Api> Loaded = new(LoadDefault, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path or name of the loaded library file (loads it on first use).</summary>
    public static string LoadedFrom => Loaded.Value.LoadedFrom;

    /// <summary>Version reported by the loaded library's <c>XGBoostVersion</c> (loads it on first use).</summary>
    public static Version Version => Loaded.Value.Version;

    /// <summary>Loads libxgboost now so that a missing library fails at start-up rather than on first use.</summary>
    /// <exception cref="DllNotFoundException">No candidate could be loaded.</exception>
    public static void EnsureLoaded() => _ = Loaded.Value;

    internal static XgbNative.Api Api => Loaded.Value;

    /// <summary>
    /// The candidates tried by default: the environment variable's path when it is set, then
    /// <see cref="SystemCandidates"/>.
    /// </summary>
    /// <param name="getEnvironmentVariable">Reads an environment variable; <see cref="Environment.GetEnvironmentVariable(string)"/> when null.</param>
    public static IReadOnlyList<string> DefaultCandidates(Func<string, string?>? getEnvironmentVariable = null)
    {
        var explicitPath = (getEnvironmentVariable ?? Environment.GetEnvironmentVariable)(PathEnvironmentVariable);
        var candidates = new List<string>(SystemCandidates.Count + 1);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            candidates.Add(explicitPath.Trim());
        }

        candidates.AddRange(SystemCandidates);
        return candidates;
    }

    /// <summary>
    /// Loads the first candidate that the dynamic loader accepts. A candidate containing a directory separator is a
    /// file path and must exist; a bare name goes through the loader's search path.
    /// </summary>
    /// <returns>The library handle and the candidate that loaded.</returns>
    /// <exception cref="DllNotFoundException">
    /// None loaded; the message names the package to install, the environment variable, and why each candidate failed.
    /// </exception>
    public static (nint Handle, string LoadedFrom) LoadFirst(IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var failures = new List<string>();
        foreach (var candidate in candidates)
        {
            var isPath = candidate.Contains('/', StringComparison.Ordinal) || candidate.Contains('\\', StringComparison.Ordinal);
            if (isPath && !File.Exists(candidate))
            {
                failures.Add($"{candidate} (file does not exist)");
                continue;
            }

            try
            {
                return (NativeLibrary.Load(candidate), candidate);
            }
            catch (DllNotFoundException e)
            {
                failures.Add($"{candidate} ({FirstLine(e.Message)})");
            }
            catch (BadImageFormatException e)
            {
                failures.Add($"{candidate} (not a loadable library: {FirstLine(e.Message)})");
            }
        }

        throw new DllNotFoundException(
            NotFoundMessage + (failures.Count == 0 ? "." : ". Tried: " + string.Join("; ", failures) + "."));
    }

    private static XgbNative.Api LoadDefault()
    {
        var (handle, from) = LoadFirst(DefaultCandidates());
        return XgbNative.Api.Bind(handle, from, MinimumVersion);
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).Trim();
    }
}
