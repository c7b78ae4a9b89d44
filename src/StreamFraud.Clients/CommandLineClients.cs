using System.Collections;

namespace StreamFraud.Clients;

/// <summary>The kinds of client a command uses.</summary>
[Flags]
public enum ClientKinds
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>Kafka clients.</summary>
    Kafka = 1,

    /// <summary>A Schema Registry client.</summary>
    SchemaRegistry = 2,

    /// <summary>A Redis connection.</summary>
    Redis = 4,
}

/// <summary>The client flags of a command-line app, as given (null or empty: not given).</summary>
public sealed record ClientFlagValues
{
    /// <summary><c>--bootstrap</c>.</summary>
    public string? Bootstrap { get; init; }

    /// <summary><c>--kafka-config KEY=VALUE</c>, repeated.</summary>
    public IReadOnlyList<string> KafkaConfig { get; init; } = [];

    /// <summary><c>--schema-registry</c>.</summary>
    public string? SchemaRegistry { get; init; }

    /// <summary><c>--schema-registry-config KEY=VALUE</c>, repeated.</summary>
    public IReadOnlyList<string> SchemaRegistryConfig { get; init; } = [];

    /// <summary><c>--redis</c>.</summary>
    public string? Redis { get; init; }

    /// <summary><c>--redis-config KEY=VALUE</c>, repeated.</summary>
    public IReadOnlyList<string> RedisConfig { get; init; } = [];
}

/// <summary>
/// The command-line apps' client flags, mapped onto the scorer's configuration keys so that every app reads them with
/// the same code (<see cref="ClientSettings"/>): <c>--bootstrap</c> is <c>Kafka:BootstrapServers</c>,
/// <c>--kafka-config KEY=VALUE</c> is <c>Kafka:Client:KEY</c>, <c>--schema-registry</c> is <c>SchemaRegistry:Url</c>,
/// <c>--schema-registry-config KEY=VALUE</c> is <c>SchemaRegistry:KEY</c>, <c>--redis</c> is
/// <c>Redis:Configuration</c> and <c>--redis-config KEY=VALUE</c> is <c>Redis:KEY</c>. The same keys come from
/// <c>STREAMFRAUD_Section__Key</c> environment variables (as the scorer reads them); a flag wins over the environment.
/// </summary>
public static class CommandLineClients
{
    /// <summary>The environment variables' prefix (as the scorer's).</summary>
    public const string EnvironmentPrefix = "STREAMFRAUD_";

    /// <summary>Help of <c>--kafka-config</c>.</summary>
    public const string KafkaConfigHelp =
        "A librdkafka property for every Kafka client of the command, as KEY=VALUE; repeat it (security.protocol=SASL_SSL, "
        + "sasl.mechanism=SCRAM-SHA-512, sasl.username=NAME, sasl.password=file:/run/secrets/kafka-password, ssl.ca.location=ca.pem, "
        + "ssl.certificate.location, ssl.key.location, ssl.key.password...). A value file:PATH is read from that file. "
        + "Environment: STREAMFRAUD_Kafka__Client__KEY (the flag wins).";

    /// <summary>Help of <c>--schema-registry-config</c>.</summary>
    public const string SchemaRegistryConfigHelp =
        "A Schema Registry client property as KEY=VALUE; repeat it: basic.auth.user.info=USER:PASSWORD (or file:PATH), "
        + "basic.auth.credentials.source=SASL_INHERIT (reuse the Kafka SASL credentials), ssl.ca.location=ca.pem, "
        + "ssl.keystore.location=client.p12 with ssl.keystore.password (a client certificate). Environment: STREAMFRAUD_SchemaRegistry__KEY.";

    /// <summary>Help of <c>--redis-config</c>.</summary>
    public const string RedisConfigHelp =
        "Redis credentials and TLS as KEY=VALUE; repeat it: Password=file:/run/secrets/redis-password, User=NAME (ACL), Tls=true, "
        + "CaFile=ca.pem (the CA that signed the server's certificate), CertFile=client.pem and KeyFile=client.key (client certificate). "
        + "Environment: STREAMFRAUD_Redis__KEY.";

    /// <summary>
    /// The client settings of the flags over the <c>STREAMFRAUD_*</c> environment; the secrets they hold join
    /// <see cref="SecretRedactor.Current"/>, so no error message of the app prints them.
    /// </summary>
    /// <param name="flags">The flags.</param>
    /// <param name="uses">The clients the command uses: the settings (flags and variables) of the others are not read,
    /// so a variable meant for another app (the scorer's Redis TLS in the same pod) never fails a command that does not
    /// use that client; they keep their defaults.</param>
    /// <param name="environment">The environment variables (default: the process's).</param>
    /// <exception cref="ClientSettingsException">A flag or variable is wrong; the message names each.</exception>
    public static ClientSettings Read(ClientFlagValues flags, ClientKinds uses, IEnumerable<KeyValuePair<string, string>>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var problems = new List<string>();
        var settings = Environment(environment ?? ProcessEnvironment())
            .Where(s => uses.HasFlag(KindOf(s.Key)))
            .ToList();
        void Add(string key, string? value, string origin)
        {
            if (!string.IsNullOrEmpty(value))
            {
                settings.Add(new ClientSetting(key, value, origin));
            }
        }

        void AddPairs(string flag, string section, IEnumerable<string> pairs, IReadOnlyList<string>? allowed = null)
        {
            foreach (var pair in pairs)
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    problems.Add($"{flag}: an entry is not KEY=VALUE (e.g. {(allowed is null ? "security.protocol=SASL_SSL" : "Tls=true")}); write one KEY=VALUE per flag.");
                    continue;
                }

                var key = pair[..eq].Trim();
                if (allowed is not null && !allowed.Contains(key, StringComparer.OrdinalIgnoreCase))
                {
                    problems.Add($"{flag} {key}: not a setting here; use {string.Join(", ", allowed)}.");
                    continue;
                }

                settings.Add(new ClientSetting($"{section}:{key}", pair[(eq + 1)..], $"{flag} {key}"));
            }
        }

        if (uses.HasFlag(ClientKinds.Kafka))
        {
            Add(KafkaClientSettings.BootstrapKey, flags.Bootstrap, "--bootstrap");
            AddPairs("--kafka-config", KafkaClientSettings.ClientSection, flags.KafkaConfig);
        }

        if (uses.HasFlag(ClientKinds.SchemaRegistry))
        {
            Add($"{SchemaRegistrySettings.Section}:Url", flags.SchemaRegistry, "--schema-registry");
            AddPairs("--schema-registry-config", SchemaRegistrySettings.Section, flags.SchemaRegistryConfig);
        }

        if (uses.HasFlag(ClientKinds.Redis))
        {
            Add($"{RedisClientSettings.Section}:Configuration", flags.Redis, "--redis");
            AddPairs("--redis-config", RedisClientSettings.Section, flags.RedisConfig, [.. RedisClientSettings.Keys.Skip(1)]);
        }

        var result = ClientSettings.Read(settings, problems, FlagOf);
        SecretRedactor.AddToCurrent(result.Secrets);
        return problems.Count == 0 ? result : throw new ClientSettingsException(string.Join("\n", problems));
    }

    /// <summary>How a configuration key is set on the command line.</summary>
    public static string FlagOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key switch
        {
            KafkaClientSettings.BootstrapKey => "--bootstrap",
            _ when key.StartsWith(KafkaClientSettings.ClientSection + ":", StringComparison.OrdinalIgnoreCase) => $"--kafka-config {key[(KafkaClientSettings.ClientSection.Length + 1)..]}",
            _ when key.Equals($"{SchemaRegistrySettings.Section}:Url", StringComparison.OrdinalIgnoreCase) => "--schema-registry",
            _ when key.StartsWith(SchemaRegistrySettings.Section + ":", StringComparison.OrdinalIgnoreCase) => $"--schema-registry-config {key[(SchemaRegistrySettings.Section.Length + 1)..]}",
            _ when key.Equals($"{RedisClientSettings.Section}:Configuration", StringComparison.OrdinalIgnoreCase) => "--redis",
            _ when key.StartsWith(RedisClientSettings.Section + ":", StringComparison.OrdinalIgnoreCase) => $"--redis-config {key[(RedisClientSettings.Section.Length + 1)..]}",
            _ => key,
        };
    }

    /// <summary>
    /// The client keys among <c>STREAMFRAUD_Section__Key</c> variables, as ASP.NET's environment provider maps them
    /// (<c>__</c> is <c>:</c>): <c>Kafka:BootstrapServers</c>, <c>Kafka:Client:*</c>, <c>SchemaRegistry:*</c> and the
    /// connection keys of <c>Redis:*</c>. Other variables (the scorer's own keys, the tests' endpoints) are not read.
    /// </summary>
    private static IEnumerable<ClientSetting> Environment(IEnumerable<KeyValuePair<string, string>> environment)
    {
        foreach (var (name, value) in environment.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) || string.IsNullOrEmpty(value))
            {
                continue;
            }

            var key = name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal);
            var parts = key.Split(':');
            var wanted = parts switch
            {
                [var s, var k] when s.Equals("Kafka", StringComparison.OrdinalIgnoreCase) => k.Equals("BootstrapServers", StringComparison.OrdinalIgnoreCase),
                [var s, var c, _] when s.Equals("Kafka", StringComparison.OrdinalIgnoreCase) => c.Equals("Client", StringComparison.OrdinalIgnoreCase),
                [var s, _] when s.Equals(SchemaRegistrySettings.Section, StringComparison.OrdinalIgnoreCase) => true,
                [var s, var k] when s.Equals(RedisClientSettings.Section, StringComparison.OrdinalIgnoreCase) => RedisClientSettings.Keys.Contains(k, StringComparer.OrdinalIgnoreCase),
                _ => false,
            };
            if (wanted)
            {
                yield return new ClientSetting(key, value, name);
            }
        }
    }

    private static ClientKinds KindOf(string key) =>
        key.StartsWith("Kafka:", StringComparison.OrdinalIgnoreCase) ? ClientKinds.Kafka
        : key.StartsWith(SchemaRegistrySettings.Section + ":", StringComparison.OrdinalIgnoreCase) ? ClientKinds.SchemaRegistry
        : ClientKinds.Redis;

    private static IEnumerable<KeyValuePair<string, string>> ProcessEnvironment() =>
        System.Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Select(e => new KeyValuePair<string, string>((string)e.Key, e.Value as string ?? ""));
}
