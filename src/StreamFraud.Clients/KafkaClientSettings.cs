using Confluent.Kafka;

namespace StreamFraud.Clients;

/// <summary>
/// The librdkafka properties of every Kafka client of an app. <see cref="Common"/> applies to every client — the scorer's
/// consumer and producer, its label consumer and producer, the model-updates listener, the trainer's announcer, replay's
/// readers, admin client and backtest producer, the load driver's producer: <c>bootstrap.servers</c>
/// (<c>Kafka:BootstrapServers</c>) and every <c>Kafka:Client:&lt;property&gt;</c> (<c>security.protocol</c>,
/// <c>sasl.mechanism</c>, <c>sasl.username</c>, <c>sasl.password</c>, <c>ssl.ca.location</c>,
/// <c>ssl.certificate.location</c>, <c>ssl.key.location</c>, <c>ssl.key.password</c>, … any librdkafka property).
/// <c>Kafka:Consumer:*</c> and <c>Kafka:Producer:*</c> override them for the scorer's consumers and producers. Each
/// client then sets what its role needs (group, isolation, idempotence) on top: <see cref="Client"/>,
/// <see cref="Consumer"/>, <see cref="Producer"/> and <see cref="Admin"/> return fresh copies to build on.
/// </summary>
/// <remarks>
/// Property names are lower-cased and an <c>_</c> stands for a <c>.</c> (librdkafka names have no underscores), so an
/// environment variable a shell can set works: <c>STREAMFRAUD_Kafka__Client__SASL_PASSWORD</c> is
/// <c>sasl.password</c>; so is Confluent's .NET property name <c>SaslPassword</c>.
/// </remarks>
public sealed class KafkaClientSettings
{
    /// <summary>The section whose properties every client gets.</summary>
    public const string ClientSection = "Kafka:Client";

    /// <summary>The scorer's consumers' overrides.</summary>
    public const string ConsumerSection = "Kafka:Consumer";

    /// <summary>The scorer's producers' overrides.</summary>
    public const string ProducerSection = "Kafka:Producer";

    /// <summary>The bootstrap shorthand.</summary>
    public const string BootstrapKey = "Kafka:BootstrapServers";

    private static readonly string[] Protocols = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
    private static readonly string[] SslProperties = ["ssl.ca.location", "ssl.ca.pem", "ssl.certificate.location", "ssl.certificate.pem", "ssl.key.location", "ssl.key.pem", "ssl.keystore.location"];
    private static readonly string[] FileProperties = ["ssl.certificate.location", "ssl.key.location", "ssl.keystore.location", "ssl.crl.location", "sasl.kerberos.keytab"];

    private KafkaClientSettings(Dictionary<string, string> common, Dictionary<string, string> consumer, Dictionary<string, string> producer)
    {
        Common = common;
        ConsumerOverrides = consumer;
        ProducerOverrides = producer;
    }

    /// <summary><c>bootstrap.servers</c> and <c>Kafka:Client:*</c>: every client's properties.</summary>
    public IReadOnlyDictionary<string, string> Common { get; }

    /// <summary><c>Kafka:Consumer:*</c>.</summary>
    public IReadOnlyDictionary<string, string> ConsumerOverrides { get; }

    /// <summary><c>Kafka:Producer:*</c>.</summary>
    public IReadOnlyDictionary<string, string> ProducerOverrides { get; }

    /// <summary>The brokers.</summary>
    public string BootstrapServers => Common["bootstrap.servers"];

    /// <summary>The common properties, for a client of any role (the model-updates listener, the announcer, replay's readers).</summary>
    public ClientConfig Client() => new(new Dictionary<string, string>(Common));

    /// <summary>The common properties overridden by <c>Kafka:Consumer:*</c>.</summary>
    public ConsumerConfig Consumer() => new(Merge(Common, ConsumerOverrides));

    /// <summary>The common properties overridden by <c>Kafka:Producer:*</c>.</summary>
    public ProducerConfig Producer() => new(Merge(Common, ProducerOverrides));

    /// <summary>The common properties, for an admin client.</summary>
    public AdminClientConfig Admin() => new(new Dictionary<string, string>(Common));

    /// <summary>
    /// A librdkafka property name as configured: lower case, <c>_</c> read as <c>.</c> (<c>SASL_PASSWORD</c>), and a
    /// name in Confluent's .NET style split at its capitals (<c>SaslPassword</c>, <c>SslCaLocation</c>).
    /// </summary>
    public static string PropertyName(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.Contains('.', StringComparison.Ordinal) && !key.Contains('_', StringComparison.Ordinal) && key.Skip(1).Any(char.IsUpper))
        {
            var dotted = new System.Text.StringBuilder(key.Length + 8);
            for (var i = 0; i < key.Length; i++)
            {
                if (i > 0 && char.IsUpper(key[i]))
                {
                    dotted.Append('.');
                }

                dotted.Append(key[i]);
            }

            key = dotted.ToString();
        }

        return key.ToLowerInvariant().Replace('_', '.');
    }

    /// <summary><c>key=value</c> pairs in name order, credentials masked.</summary>
    public static string Describe(IEnumerable<KeyValuePair<string, string>> config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return string.Join(" ", config
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}={(CredentialText.IsCredentialKey(kv.Key) ? CredentialText.Mask : kv.Value)}"));
    }

    internal static KafkaClientSettings Read(SettingView view)
    {
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        Dictionary<string, string> Section(string section, string scope)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value, full) in view.Section(section))
            {
                var name = PropertyName(key);
                result[name] = value;
                origins[scope + name] = view.Name(full);
            }

            return result;
        }

        var common = Section(ClientSection, "");
        var consumer = Section(ConsumerSection, "consumer:");
        var producer = Section(ProducerSection, "producer:");

        // Kafka:BootstrapServers is the short form of Kafka:Client:bootstrap.servers; two different values are a mistake.
        var shorthand = view[BootstrapKey];
        if (shorthand is not null && common.TryGetValue("bootstrap.servers", out var explicitBootstrap) && explicitBootstrap != shorthand)
        {
            view.Problems.Add($"{view.Name(BootstrapKey)} '{shorthand}' and {origins["bootstrap.servers"]} '{explicitBootstrap}' name different brokers; set one of them.");
        }

        if (!common.ContainsKey("bootstrap.servers"))
        {
            common["bootstrap.servers"] = shorthand ?? SettingChecks.Default(BootstrapKey);
            origins["bootstrap.servers"] = view.Name(BootstrapKey);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (scope, overrides) in new[] { ("", new Dictionary<string, string>()), ("consumer:", consumer), ("producer:", producer) })
        {
            foreach (var (message, fatal) in Check(Merge(common, overrides), p => overrides.ContainsKey(p) ? origins[scope + p] : origins.GetValueOrDefault(p, $"{view.Name(ClientSection + ":" + p)}")))
            {
                if (seen.Add(message))
                {
                    (fatal ? (ICollection<string>)view.Problems : view.Warnings).Add(message);
                }
            }
        }

        return new KafkaClientSettings(common, consumer, producer);
    }

    /// <summary>Mistakes librdkafka would not report, or only once connected: files that are not there and an unknown
    /// protocol (problems), credentials or TLS files that it would silently ignore under the configured
    /// <c>security.protocol</c> (warnings: such a configuration ran before and keeps running).</summary>
    private static IEnumerable<(string Message, bool Fatal)> Check(Dictionary<string, string> config, Func<string, string> name)
    {
        var protocol = config.GetValueOrDefault("security.protocol")?.ToLowerInvariant();
        if (protocol is not null && !Protocols.Contains(protocol))
        {
            yield return ($"{name("security.protocol")} '{config["security.protocol"]}': use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.", true);
            yield break;
        }

        protocol ??= "plaintext";
        var sasl = new[] { "sasl.username", "sasl.password", "sasl.mechanism", "sasl.mechanisms" }.FirstOrDefault(config.ContainsKey);
        if (sasl is not null && !protocol.StartsWith("sasl_", StringComparison.Ordinal))
        {
            yield return ($"{name(sasl)} is set but {name("security.protocol")} is {protocol.ToUpperInvariant()}, which sends no SASL credentials (librdkafka ignores them): set it to SASL_SSL (or SASL_PLAINTEXT).", false);
        }

        var ssl = SslProperties.FirstOrDefault(config.ContainsKey);
        if (ssl is not null && protocol is not ("ssl" or "sasl_ssl"))
        {
            yield return ($"{name(ssl)} is set but {name("security.protocol")} is {protocol.ToUpperInvariant()}, which does not use TLS (librdkafka ignores it): set it to SSL (or SASL_SSL).", false);
        }

        if (config.GetValueOrDefault("ssl.ca.location") is { Length: > 0 } ca && ca != "probe" && !File.Exists(ca) && !Directory.Exists(ca))
        {
            yield return ($"{name("ssl.ca.location")} '{ca}': no such file or directory; mount the CA certificate there or fix the path.", true);
        }

        foreach (var property in FileProperties)
        {
            if (config.GetValueOrDefault(property) is { Length: > 0 } path && !File.Exists(path))
            {
                yield return ($"{name(property)} '{path}': no such file; mount it there or fix the path.", true);
            }
        }
    }

    private static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> common, IReadOnlyDictionary<string, string> overrides)
    {
        var merged = new Dictionary<string, string>(common, StringComparer.Ordinal);
        foreach (var (key, value) in overrides)
        {
            merged[key] = value;
        }

        return merged;
    }
}
