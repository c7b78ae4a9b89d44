using Microsoft.Extensions.Configuration;
using StreamFraud.Clients;
using StreamFraud.Replay;
using StreamFraud.Scorer;
using StreamFraud.Sim;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Credentials — given inline, read from files (<c>file:PATH</c>) or from the environment — never appear in the
/// scorer's configuration line nor in the command-line apps' errors: the line shows each credential key with
/// <c>***</c>, and an error names the flag or key to fix without its value.
/// </summary>
public sealed class Clients_Redaction : IDisposable
{
    private const string SaslPassword = "Sasl-file-pa55word-1";
    private const string KeyPassword = "Key-inline-pa55word-2";
    private const string RegistryPassword = "Registry-file-pa55word-3";
    private const string RedisPassword = "Redis-file-pa55word-4";
    private const string RedisInlinePassword = "Redis-inline-pa55word-5";

    private readonly string _dir = Directory.CreateTempSubdirectory("sf-redaction-").FullName;

    public Clients_Redaction()
    {
        File.WriteAllText(Path.Combine(_dir, "sasl"), SaslPassword + "\n");
        File.WriteAllText(Path.Combine(_dir, "registry"), $"fraud:{RegistryPassword}\n");
        File.WriteAllText(Path.Combine(_dir, "redis"), RedisPassword);
        Directory.CreateDirectory(Path.Combine(_dir, "models"));
    }

    private static string[] Secrets => [SaslPassword, KeyPassword, RegistryPassword, RedisPassword, RedisInlinePassword];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ScorerConfigurationLine_EveryCredentialMasked()
    {
        var settings = Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Registry"] = Path.Combine(_dir, "models"),
            ["Kafka:Client:security.protocol"] = "SASL_SSL",
            ["Kafka:Client:sasl.mechanism"] = "PLAIN",
            ["Kafka:Client:sasl.username"] = "fraud",
            ["Kafka:Client:sasl.password"] = $"file:{_dir}/sasl",
            ["Kafka:Producer:ssl.key.password"] = KeyPassword,
            ["SchemaRegistry:basic.auth.user.info"] = $"file:{_dir}/registry",
            ["Redis:Configuration"] = $"cache:6380,password={RedisInlinePassword}",
            ["Redis:Password"] = $"file:{_dir}/redis",
        }).Build());

        var line = settings.Describe();

        Assert.All(Secrets, s => Assert.DoesNotContain(s, line));
        Assert.Contains("sasl.password=***", line);
        Assert.Contains("ssl.key.password=***", line);
        Assert.Contains("schema.registry.basic.auth.user.info=***", line);
        Assert.Contains("redis[cache:6380,password=*** user=- password=*** tls=false]", line);
        Assert.Contains("sasl.username=fraud", line); // ordinary values stay
        Assert.Contains("security.protocol=SASL_SSL", line);
    }

    [Fact]
    public void CommandLineSecrets_JoinTheRedactorOfEveryError()
    {
        var settings = CommandLineClients.Read(
            new ClientFlagValues
            {
                KafkaConfig = ["security.protocol=SASL_SSL", "sasl.mechanism=PLAIN", "sasl.username=fraud", $"sasl.password=file:{_dir}/sasl"],
                SchemaRegistryConfig = [$"basic.auth.user.info=file:{_dir}/registry"],
                RedisConfig = [$"Password=file:{_dir}/redis"],
            },
            ClientKinds.Kafka | ClientKinds.SchemaRegistry | ClientKinds.Redis,
            environment: []);

        Assert.Equal(SaslPassword, settings.Kafka.Common["sasl.password"]);
        var text = $"failed with {SaslPassword}, {RegistryPassword} and {RedisPassword}";
        Assert.Equal("failed with ***, *** and ***", SecretRedactor.Current.Redact(text)); // what CliApp prints errors through
    }

    [Fact]
    public async Task Replay_WrongClientFlags_Exit2NamingTheFlags_WithoutTheSecrets()
    {
        var (code, output, error) = await Replay(
            "--registry", Path.Combine(_dir, "models"), "--version", "v1", "--input", "x.csv",
            "--kafka-config", "security.protocol=PLAINTEXT", "--kafka-config", $"sasl.password=file:{_dir}/sasl",
            "--schema-registry-config", $"basic.auth.user.info=file:{_dir}/registry", "--schema-registry-config", "ssl.ca.location=/absent/ca.pem",
            "--redis", $"127.0.0.1:1,password={RedisInlinePassword}", "--redis-prefix", "bt:", "--redis-config", "CaFile=/absent/ca.pem");

        Assert.Equal(2, code);
        Assert.Contains("--schema-registry-config ssl.ca.location '/absent/ca.pem': no such file", error);
        Assert.Contains("--redis-config CaFile is set but TLS is off: set --redis-config Tls true", error);
        Assert.All(Secrets, s => Assert.DoesNotContain(s, output + error));
    }

    [Fact]
    public async Task SimProduce_MalformedKafkaConfig_Exit2_WithoutTheSecret()
    {
        var console = new StringWriter();
        var code = await SimApp.RunAsync(
            ["produce", "--kafka-config", $"sasl.password={KeyPassword}", "--kafka-config", "sasl.mechanism", "--limit", "1"],
            Console(console), Console(console), () => Stream.Null);

        Assert.Equal(2, code);
        Assert.Contains("--kafka-config: an entry is not KEY=VALUE", console.ToString());
        Assert.DoesNotContain(KeyPassword, console.ToString());
    }

    private static async Task<(int Code, string Output, string Error)> Replay(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ReplayApp.RunAsync(args, Console(output), Console(error));
        return (code, output.ToString(), error.ToString());
    }
}
