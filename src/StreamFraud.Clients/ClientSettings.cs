using StreamFraud.Core;

namespace StreamFraud.Clients;

/// <summary>One configuration value and where it came from, for messages.</summary>
/// <param name="Key">The configuration key, e.g. <c>Kafka:Client:sasl.password</c>.</param>
/// <param name="Value">The value as given (<c>file:PATH</c> is resolved by <see cref="ClientSettings.Read(IEnumerable{ClientSetting}, ICollection{string}, Func{string, string}?)"/>).</param>
/// <param name="Origin">How the user set it: the key itself, a flag (<c>--kafka-config sasl.password</c>) or an environment variable.</param>
public readonly record struct ClientSetting(string Key, string Value, string Origin)
{
    /// <summary>A setting named by its key.</summary>
    public ClientSetting(string key, string value)
        : this(key, value, key)
    {
    }
}

/// <summary>Client settings are wrong; the message lists every problem, each naming the key or flag to fix.</summary>
public sealed class ClientSettingsException(string message) : Exception(message);

/// <summary>
/// The settings of every Kafka, Schema Registry and Redis client of an app, read from one set of configuration keys
/// (the scorer's keys; the command-line apps map their flags and <c>STREAMFRAUD_*</c> environment variables onto the
/// same keys, see <see cref="CommandLineClients"/>):
/// <list type="bullet">
/// <item><c>Kafka:BootstrapServers</c>, <c>Kafka:Client:&lt;librdkafka property&gt;</c> for every Kafka client, and
/// <c>Kafka:Consumer:*</c> / <c>Kafka:Producer:*</c> overriding them per client (<see cref="KafkaClientSettings"/>);</item>
/// <item><c>SchemaRegistry:Url</c> and <c>SchemaRegistry:&lt;property&gt;</c> (<see cref="SchemaRegistrySettings"/>);</item>
/// <item><c>Redis:Configuration</c>, <c>Redis:User</c>, <c>Redis:Password</c>, <c>Redis:Tls</c>, <c>Redis:CaFile</c>,
/// <c>Redis:CertFile</c>, <c>Redis:KeyFile</c> (<see cref="RedisClientSettings"/>).</item>
/// </list>
/// A value <c>file:PATH</c> is replaced by the content of that file (a mounted Kubernetes Secret), without its trailing
/// line break.
/// </summary>
public sealed class ClientSettings
{
    /// <summary>The prefix of a value read from a file.</summary>
    public const string FilePrefix = "file:";

    /// <summary>Largest file a <c>file:</c> value may name (secrets and PEM bundles are far smaller).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Kafka clients.</summary>
    public required KafkaClientSettings Kafka { get; init; }

    /// <summary>The Schema Registry client.</summary>
    public required SchemaRegistrySettings SchemaRegistry { get; init; }

    /// <summary>The Redis connection.</summary>
    public required RedisClientSettings Redis { get; init; }

    /// <summary>Every secret value the settings hold, resolved (from files too): for <see cref="SecretRedactor"/>.</summary>
    public required IReadOnlyList<string> Secrets { get; init; }

    /// <summary>
    /// Settings that are accepted but probably not what was meant — SASL credentials or TLS files under a
    /// <c>security.protocol</c> that does not use them (librdkafka ignores them) — each naming the key and the fix.
    /// Apps print them at start; they do not stop it, so a configuration that worked before keeps working.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Reads every client setting; problems are added to <paramref name="problems"/> (all of them, not the first).</summary>
    /// <param name="settings">The configuration, in increasing precedence (a later value of a key replaces an earlier one; keys are case-insensitive).</param>
    /// <param name="problems">Where problems go, each naming the key or flag and what to do.</param>
    /// <param name="nameOf">How a key the user did not set is named in messages (default: the key itself).</param>
    public static ClientSettings Read(IEnumerable<ClientSetting> settings, ICollection<string> problems, Func<string, string>? nameOf = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        var view = new SettingView(settings, problems, nameOf ?? (k => k));
        var kafka = KafkaClientSettings.Read(view);
        var registry = SchemaRegistrySettings.Read(view, kafka);
        var redis = RedisClientSettings.Read(view);
        return new ClientSettings { Kafka = kafka, SchemaRegistry = registry, Redis = redis, Secrets = view.Secrets, Warnings = view.Warnings };
    }

    /// <summary>Reads every client setting.</summary>
    /// <exception cref="ClientSettingsException">Something is wrong; the message lists every problem.</exception>
    public static ClientSettings Read(IEnumerable<ClientSetting> settings, Func<string, string>? nameOf = null)
    {
        var problems = new List<string>();
        var result = Read(settings, problems, nameOf);
        return problems.Count == 0 ? result : throw new ClientSettingsException(string.Join("\n", problems));
    }

    /// <summary>Reads every client setting of a flattened configuration (<c>IConfiguration.AsEnumerable()</c>).</summary>
    public static ClientSettings FromConfiguration(IEnumerable<KeyValuePair<string, string?>> configuration, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Read(configuration.Where(kv => kv.Value is not null).Select(kv => new ClientSetting(kv.Key, kv.Value!)), problems);
    }

    /// <summary>The defaults: local Kafka, registry and Redis, no security.</summary>
    public static ClientSettings Defaults { get; } = Read(Array.Empty<ClientSetting>());

    /// <summary>One line for start-up logs, every credential masked.</summary>
    public string Describe() =>
        SecretRedactor.Current.With(Secrets).Redact($"kafka[{KafkaClientSettings.Describe(Kafka.Common)}] registry[{SchemaRegistry.Describe()}] redis[{Redis.Describe()}]");
}

/// <summary>
/// The configuration as the readers see it: case-insensitive keys, the last value of a key wins, <c>file:</c> values
/// resolved once, secrets collected, problems named by origin.
/// </summary>
internal sealed class SettingView
{
    private readonly Dictionary<string, ClientSetting> _settings = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _precedence = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _resolved = new(StringComparer.OrdinalIgnoreCase);
    private readonly Func<string, string> _nameOf;
    private readonly List<string> _secrets = [];

    public SettingView(IEnumerable<ClientSetting> settings, ICollection<string> problems, Func<string, string> nameOf)
    {
        Problems = problems;
        _nameOf = nameOf;
        var order = 0;
        foreach (var s in settings)
        {
            _settings[s.Key] = s;
            _precedence[s.Key] = order++;
        }
    }

    public ICollection<string> Problems { get; }

    public List<string> Warnings { get; } = [];

    public IReadOnlyList<string> Secrets => _secrets;

    /// <summary>How the user set <paramref name="key"/>, or would set it.</summary>
    public string Name(string key) => _settings.TryGetValue(key, out var s) ? s.Origin : _nameOf(key);

    /// <summary>The resolved value of <paramref name="key"/>, or null when it is not set.</summary>
    public string? this[string key] => _settings.ContainsKey(key) ? Resolve(_settings[key]) : null;

    /// <summary>
    /// Every setting under <paramref name="section"/> (<c>Kafka:Client</c>), keyed relative to it, resolved, in
    /// increasing precedence (two keys naming one property, <c>SASL_PASSWORD</c> from the environment and
    /// <c>sasl.password</c> from a flag: the later one wins); nested sections are not included.
    /// </summary>
    public IEnumerable<(string Key, string Value, string FullKey)> Section(string section)
    {
        var prefix = section + ":";
        foreach (var (key, setting) in _settings.OrderBy(kv => _precedence[kv.Key]))
        {
            if (key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && key.Length > prefix.Length && !key.AsSpan(prefix.Length).Contains(':'))
            {
                yield return (key[prefix.Length..], Resolve(setting), key);
            }
        }
    }

    /// <summary>Records a secret the settings hold (for redaction).</summary>
    public void AddSecret(string value)
    {
        if (value.Length > 0)
        {
            _secrets.Add(value);
        }
    }

    private string Resolve(ClientSetting setting)
    {
        if (_resolved.TryGetValue(setting.Key, out var done))
        {
            return done;
        }

        var value = setting.Value;
        var fromFile = value.StartsWith(ClientSettings.FilePrefix, StringComparison.Ordinal);
        if (fromFile)
        {
            value = ReadFile(setting);
        }

        _resolved[setting.Key] = value;
        var property = setting.Key[(setting.Key.LastIndexOf(':') + 1)..];
        foreach (var secret in SecretRedactor.SecretsOf(property, value))
        {
            AddSecret(secret);
        }

        return value;
    }

    private string ReadFile(ClientSetting setting)
    {
        var path = setting.Value[ClientSettings.FilePrefix.Length..];
        if (path.Length == 0)
        {
            Problems.Add($"{setting.Origin}: file: names no file; write file:/path/to/the/secret (e.g. a mounted Kubernetes Secret).");
            return "";
        }

        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                Problems.Add($"{setting.Origin}: file {path} does not exist; mount the secret there or fix the path.");
                return "";
            }

            if (info.Length > ClientSettings.MaxFileBytes)
            {
                Problems.Add($"{setting.Origin}: file {path} is {info.Length:N0} bytes, more than a secret ({ClientSettings.MaxFileBytes:N0} at most); name the secret's file.");
                return "";
            }

            // A Secret written with `echo` or an editor ends in a line break that is not part of the value.
            return File.ReadAllText(path).TrimEnd('\r', '\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Problems.Add($"{setting.Origin}: file {path} cannot be read ({e.Message}); check its permissions.");
            return "";
        }
    }
}

/// <summary>Checks shared by the readers.</summary>
internal static class SettingChecks
{
    /// <summary>Adds a problem when <paramref name="path"/> is not an existing file (or directory, when allowed).</summary>
    public static void Exists(ICollection<string> problems, string name, string? path, string what, bool directoryToo = false)
    {
        if (string.IsNullOrEmpty(path) || File.Exists(path) || (directoryToo && Directory.Exists(path)))
        {
            return;
        }

        problems.Add($"{name} '{path}': no such file; mount the {what} there or fix the path.");
    }

    /// <summary>The defaults of the local stack (<see cref="Endpoints"/>).</summary>
    public static string Default(string key) => key switch
    {
        "Kafka:BootstrapServers" => Endpoints.KafkaBootstrap,
        "SchemaRegistry:Url" => Endpoints.SchemaRegistryUrl,
        "Redis:Configuration" => Endpoints.Redis,
        _ => throw new ArgumentOutOfRangeException(nameof(key)),
    };
}
