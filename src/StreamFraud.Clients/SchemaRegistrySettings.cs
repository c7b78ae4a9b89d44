using System.Reflection;
using Confluent.SchemaRegistry;

namespace StreamFraud.Clients;

/// <summary>
/// The Schema Registry client's properties: <c>SchemaRegistry:Url</c> and any property of Confluent's
/// <see cref="SchemaRegistryConfig"/> as <c>SchemaRegistry:&lt;property&gt;</c>, with or without its
/// <c>schema.registry.</c> prefix — basic auth (<c>basic.auth.user.info</c> = <c>USER:PASSWORD</c>,
/// <c>basic.auth.credentials.source</c> = <c>USER_INFO</c> or <c>SASL_INHERIT</c> to reuse the Kafka SASL
/// credentials), TLS (<c>ssl.ca.location</c>, a client certificate as a PKCS#12 <c>ssl.keystore.location</c> with
/// <c>ssl.keystore.password</c>, <c>enable.ssl.certificate.verification</c>), bearer auth, timeouts. Every registry
/// client of every app is built from <see cref="Config"/>.
/// </summary>
public sealed class SchemaRegistrySettings
{
    /// <summary>The section.</summary>
    public const string Section = "SchemaRegistry";

    /// <summary>The prefix of Confluent's registry property names.</summary>
    public const string Prefix = "schema.registry.";

    /// <summary>Every property name Confluent's client accepts (its <see cref="SchemaRegistryConfig.PropertyNames"/>).</summary>
    private static readonly HashSet<string> Known = [.. typeof(SchemaRegistryConfig.PropertyNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)];

    private readonly Dictionary<string, string> _properties;

    private SchemaRegistrySettings(Dictionary<string, string> properties) => _properties = properties;

    /// <summary>The registry URL(s).</summary>
    public string Url => _properties[SchemaRegistryConfig.PropertyNames.SchemaRegistryUrl];

    /// <summary>The client's properties (Confluent names), including <c>sasl.username</c>/<c>sasl.password</c> under <c>SASL_INHERIT</c>.</summary>
    public IReadOnlyDictionary<string, string> Properties => _properties;

    /// <summary>A fresh configuration for <see cref="CachedSchemaRegistryClient"/>.</summary>
    public SchemaRegistryConfig Config()
    {
        var config = new SchemaRegistryConfig();
        foreach (var (key, value) in _properties)
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>The properties in name order, credentials masked, URL user-info masked.</summary>
    public string Describe() => CredentialText.Redact(KafkaClientSettings.Describe(_properties));

    /// <summary>
    /// The Confluent name of a <c>SchemaRegistry:</c> key: as <see cref="KafkaClientSettings.PropertyName"/> (so the
    /// .NET property names work too: <c>BasicAuthUserInfo</c> is <c>basic.auth.user.info</c>), prefixed.
    /// </summary>
    public static string PropertyName(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var name = KafkaClientSettings.PropertyName(key);
        return name.StartsWith(Prefix, StringComparison.Ordinal) ? name : Prefix + name;
    }

    internal static SchemaRegistrySettings Read(SettingView view, KafkaClientSettings kafka)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value, full) in view.Section(Section))
        {
            var name = PropertyName(key);
            if (!Known.Contains(name))
            {
                view.Problems.Add($"{view.Name(full)}: not a Schema Registry client property; use one of {string.Join(", ", Known.Order().Select(k => k[Prefix.Length..]))}.");
                continue;
            }

            properties[name] = value;
            origins[name] = view.Name(full);
        }

        var url = SchemaRegistryConfig.PropertyNames.SchemaRegistryUrl;
        properties.TryAdd(url, SettingChecks.Default(Section + ":Url"));
        string Name(string property) => origins.GetValueOrDefault(property, view.Name($"{Section}:{property[Prefix.Length..]}"));

        var userInfo = SchemaRegistryConfig.PropertyNames.SchemaRegistryBasicAuthUserInfo;
        var source = properties.GetValueOrDefault(SchemaRegistryConfig.PropertyNames.SchemaRegistryBasicAuthCredentialsSource)?.ToUpperInvariant();
        if (properties.TryGetValue(userInfo, out var info) && !info.Contains(':', StringComparison.Ordinal))
        {
            view.Problems.Add($"{Name(userInfo)}: write USER:PASSWORD (the registry's basic auth).");
        }

        if (source == "SASL_INHERIT")
        {
            // Confluent's client reads the inherited credentials from the same configuration.
            if (kafka.Common.TryGetValue("sasl.username", out var user) && kafka.Common.TryGetValue("sasl.password", out var password))
            {
                properties["sasl.username"] = user;
                properties["sasl.password"] = password;
            }
            else
            {
                view.Problems.Add($"{Name(SchemaRegistryConfig.PropertyNames.SchemaRegistryBasicAuthCredentialsSource)} is SASL_INHERIT but the Kafka client settings have no sasl.username and sasl.password.");
            }
        }
        else if (source is not null and not "USER_INFO")
        {
            view.Problems.Add($"{Name(SchemaRegistryConfig.PropertyNames.SchemaRegistryBasicAuthCredentialsSource)} '{source}': use USER_INFO (with basic.auth.user.info) or SASL_INHERIT.");
        }

        foreach (var (property, what) in new[] { (SchemaRegistryConfig.PropertyNames.SslCaLocation, "CA certificate"), (SchemaRegistryConfig.PropertyNames.SslKeystoreLocation, "PKCS#12 keystore") })
        {
            SettingChecks.Exists(view.Problems, Name(property), properties.GetValueOrDefault(property), what, directoryToo: property == SchemaRegistryConfig.PropertyNames.SslCaLocation);
        }

        foreach (var secret in CredentialText.UrlPasswords(properties[url]))
        {
            view.AddSecret(secret);
        }

        return new SchemaRegistrySettings(properties);
    }
}
