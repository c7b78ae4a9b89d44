using System.Text.RegularExpressions;

namespace StreamFraud.Clients;

/// <summary>
/// What counts as a credential, by key name and by shape. Keys: every configuration key or client property whose value
/// is a secret (<c>sasl.password</c>, <c>ssl.key.password</c>, <c>ssl.key.pem</c>, <c>basic.auth.user.info</c>,
/// <c>Redis:Password</c>, …). Shapes, masked even when the value is not known in advance: <c>password=…</c> (and
/// <c>secret=</c>, <c>token=</c>, <c>basic.auth.user.info=</c>) in connection strings and flags, and the password of
/// <c>scheme://user:password@host</c>. Every app passes what it prints through <see cref="SecretRedactor"/>, which
/// applies these rules after masking the secrets it knows.
/// </summary>
public static partial class CredentialText
{
    /// <summary>The mask.</summary>
    public const string Mask = "***";

    /// <summary>
    /// Whether a configuration key's (or client property's) value is a credential: its last part ends in password,
    /// secret, token, credentials, api key, or it is <c>basic.auth.user.info</c>, <c>ssl.key.pem</c> (an inline
    /// private key) or <c>sasl.oauthbearer.config</c>. <c>Kafka:Client:sasl.password</c>, <c>Redis:Password</c>,
    /// <c>SchemaRegistry:basic.auth.user.info</c> and <c>schema.registry.ssl.keystore.password</c> all are.
    /// </summary>
    public static bool IsCredentialKey(string key) => CredentialKey().IsMatch(key);

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

    [GeneratedRegex(@"(password|passwd|secret|token|api[._-]?key|basic\.auth\.user\.info|credentials?|ssl\.key\.pem|sasl\.oauthbearer\.config)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CredentialKey();

    // `password=`, `ssl.key.password=`, `sasl.oauthbearer.client.secret=`, `basic.auth.user.info=`… as written in a
    // connection string or a KEY=VALUE flag.
    [GeneratedRegex(@"(?<name>\b(?:password|passwd|pwd|secret|token|basic\.auth\.user\.info)\s*=\s*)(?!\*\*\*)[^,;\s""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PasswordSetting();

    [GeneratedRegex(@"(?<user>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?<secret>(?!\*\*\*@)[^@/\s]+)@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlUserInfo();
}
