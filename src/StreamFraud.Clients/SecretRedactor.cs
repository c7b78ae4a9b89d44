namespace StreamFraud.Clients;

/// <summary>
/// Keeps credentials out of everything an app prints: error messages, log lines and configuration summaries. It masks
/// the secret values it knows — the values of credential-named keys (<see cref="CredentialText.IsCredentialKey"/>),
/// secrets read from files or environment variables (<see cref="ClientSettings.Secrets"/>), the password inside
/// <c>Redis:Configuration</c> and the user-info of URLs — wherever they appear, then text shaped like a credential
/// (<see cref="CredentialText.Redact"/>) even when its value is not known.
/// </summary>
public sealed class SecretRedactor
{
    /// <summary>The mask.</summary>
    public const string Mask = CredentialText.Mask;

    private readonly string[] _secrets;

    /// <summary>A redactor for the given secret values (empty and very short values are ignored).</summary>
    public SecretRedactor(IEnumerable<string> secrets) =>
        // Longest first, so a secret containing another is masked whole. Values under 3 characters would mask
        // ordinary text; they are left to the pattern rules.
        _secrets = [.. secrets.Where(s => s.Length >= 3).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];

    /// <summary>No known secrets: only the pattern rules apply.</summary>
    public static SecretRedactor None { get; } = new([]);

    private static SecretRedactor _current = None;

    /// <summary>
    /// The redactor of the process (set at start, extended when client settings resolve their secrets; <see cref="None"/>
    /// before that). The scorer's log formatter and every app's error output go through it.
    /// </summary>
    public static SecretRedactor Current
    {
        get => Volatile.Read(ref _current);
        set => Volatile.Write(ref _current, value ?? None);
    }

    /// <summary>Adds <paramref name="secrets"/> to <see cref="Current"/> (atomically: concurrent additions all stay).</summary>
    public static void AddToCurrent(IEnumerable<string> secrets)
    {
        var added = secrets.ToList();
        while (true)
        {
            var current = Current;
            if (Interlocked.CompareExchange(ref _current, current.With(added), current) == current)
            {
                return;
            }
        }
    }

    /// <summary>The secrets in a flattened configuration: credential-named keys, the Redis password, URL user-info.</summary>
    public static SecretRedactor FromConfiguration(IEnumerable<KeyValuePair<string, string?>> configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var secrets = new List<string>();
        foreach (var (key, value) in configuration)
        {
            if (!string.IsNullOrEmpty(value))
            {
                secrets.AddRange(SecretsOf(key, value));
            }
        }

        return new SecretRedactor(secrets);
    }

    /// <summary>
    /// The secrets a setting holds: the whole value of a credential-named key (and the password of a
    /// <c>user:password</c> value such as <c>basic.auth.user.info</c>), URL passwords and <c>password=</c> values.
    /// </summary>
    public static IEnumerable<string> SecretsOf(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (CredentialText.IsCredentialKey(key) && !value.StartsWith(ClientSettings.FilePrefix, StringComparison.Ordinal))
        {
            yield return value;
            if (value.Split(':', 2) is [_, { Length: > 0 } password])
            {
                yield return password; // basic.auth.user.info is user:password
            }
        }

        foreach (var secret in CredentialText.UrlPasswords(value).Concat(CredentialText.PasswordSettings(value)))
        {
            yield return secret;
        }
    }

    /// <summary>This redactor and <paramref name="more"/> secrets.</summary>
    public SecretRedactor With(IEnumerable<string> more) => new(_secrets.Concat(more));

    /// <summary><paramref name="text"/> with every known secret and credential-shaped value masked.</summary>
    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        return CredentialText.Redact(text);
    }
}
