using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using StreamFraud.Secrets;

namespace StreamFraud.Scorer;

/// <summary>
/// Keeps credentials out of everything the scorer prints: error messages, log lines (every console line passes
/// through <see cref="RedactingConsoleFormatter"/>) and the configuration summary logged at start. Secrets are the
/// values of configuration keys named like a credential (<c>password</c>, <c>secret</c>, <c>token</c>,
/// <c>basic.auth.user.info</c>, …), the password inside <c>Redis:Configuration</c> and the user-info of URLs; each is
/// replaced by <c>***</c> wherever it appears. Text shaped like a credential (<c>password=…</c>, <c>user:pass@host</c>)
/// is masked even when its value is not known.
/// </summary>
public sealed partial class SecretRedactor
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

    /// <summary>The redactor of the process's configuration (set once at start; <see cref="None"/> before that).</summary>
    public static SecretRedactor Current { get; set; } = None;

    /// <summary>The secrets in <paramref name="config"/>: credential-named keys, the Redis password, URL user-info.</summary>
    public static SecretRedactor FromConfiguration(IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var secrets = new List<string>();
        foreach (var (key, value) in config.AsEnumerable())
        {
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            if (IsCredentialKey(key))
            {
                secrets.Add(value);
                if (value.Split(':', 2) is [_, { Length: > 0 } password])
                {
                    secrets.Add(password); // basic.auth.user.info is user:password
                }
            }

            secrets.AddRange(CredentialText.UrlPasswords(value));
            secrets.AddRange(CredentialText.PasswordSettings(value)); // e.g. the password in Redis:Configuration
        }

        return new SecretRedactor(secrets);
    }

    /// <summary>Whether a configuration key's value is a credential (<c>sasl.password</c>, <c>basic.auth.user.info</c>, …).</summary>
    public static bool IsCredentialKey(string key) => CredentialKey().IsMatch(key);

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

    /// <summary>Configuration key names whose values are credentials.</summary>
    [GeneratedRegex(@"(password|passwd|secret|token|api[._-]?key|basic\.auth\.user\.info|credentials?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CredentialKey();
}

/// <summary>
/// The scorer's console format: one line per entry, a UTC timestamp, level, category, event id, the message and (for
/// the unexpected) the exception — every part passed through <see cref="SecretRedactor.Current"/>.
/// </summary>
public sealed class RedactingConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The formatter's registration name.</summary>
    public const string FormatterName = "streamfraud";

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var redactor = SecretRedactor.Current;
        var line = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fff}Z {Level(logEntry.LogLevel)}: {logEntry.Category}[{logEntry.EventId.Id}] {message}";
        if (logEntry.Exception is { } e)
        {
            line += " " + e.ToString().ReplaceLineEndings(" | ");
        }

        textWriter.WriteLine(redactor.Redact(line.ReplaceLineEndings(" ")));
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
