using System.Text.RegularExpressions;

namespace StreamFraud.Scoring.Bundles;

/// <summary>
/// The one rule for bundle versions and bundle file names (docs/ARCHITECTURE.md "Model bundle and registry"): a plain
/// name, <c>[A-Za-z0-9][A-Za-z0-9._-]{0,127}</c>, without <c>..</c>. A version is a directory name directly under the
/// registry and a file name a file directly inside its bundle, so no name can point anywhere else: no separators, no
/// parent steps, no absolute paths, no NUL or other control characters.
/// </summary>
public static partial class BundleNames
{
    /// <summary>Longest name accepted.</summary>
    public const int MaxLength = 128;

    /// <summary>The rule, for messages.</summary>
    public const string Rule = "1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'";

    /// <summary>Why <paramref name="name"/> is not a plain name, or null when it is.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "empty";
        }

        if (!PlainName().IsMatch(name))
        {
            return $"'{Printable(name)}' is not a plain name ({Rule})";
        }

        return name.Contains("..", StringComparison.Ordinal) ? $"'{Printable(name)}' contains '..' ({Rule})" : null;
    }

    /// <summary>Whether <paramref name="name"/> is a plain name.</summary>
    public static bool IsValid(string? name) => Problem(name) is null;

    /// <summary>The name with control characters escaped (\u0000) and cut to 80 characters, safe to log.</summary>
    public static string Printable(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var cut = name.Length > 80 ? name[..80] + "…" : name;
        var sb = new System.Text.StringBuilder(cut.Length);
        foreach (var c in cut)
        {
            _ = char.IsControl(c) ? sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : sb.Append(c);
        }

        return sb.ToString();
    }

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex PlainName();
}
