using System.Text.RegularExpressions;

namespace StreamFraud.Secrets;

/// <summary>
/// Masks credential-shaped text whose value is not known in advance: <c>password=…</c> in connection strings (Redis,
/// JAAS-like settings) and the password of <c>scheme://user:password@host</c>. Every app passes its error messages
/// through it; the scorer also masks the secret values of its configuration (<c>SecretRedactor</c>).
/// </summary>
internal static partial class CredentialText
{
    /// <summary>The mask.</summary>
    public const string Mask = "***";

    /// <summary><paramref name="text"/> with credential-shaped values masked.</summary>
    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        text = PasswordSetting().Replace(text, m => m.Groups["name"].Value + Mask);
        return UrlUserInfo().Replace(text, m => m.Groups["user"].Value + ":" + Mask + "@");
    }

    /// <summary>The password parts of every <c>scheme://user:password@</c> in <paramref name="text"/>.</summary>
    public static IEnumerable<string> UrlPasswords(string text) => UrlUserInfo().Matches(text).Select(m => m.Groups["secret"].Value);

    /// <summary>The values of every <c>password=…</c> setting in <paramref name="text"/>.</summary>
    public static IEnumerable<string> PasswordSettings(string text) => PasswordSetting().Matches(text).Select(m => m.Value[m.Groups["name"].Length..]);

    [GeneratedRegex(@"(?<name>\b(?:password|pwd|sasl\.password)\s*=\s*)(?!\*\*\*)[^,;\s""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PasswordSetting();

    [GeneratedRegex(@"(?<user>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?<secret>(?!\*\*\*@)[^@/\s]+)@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlUserInfo();
}
