using System.Net;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using StreamFraud.Clients;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Replay;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Labels;
using StreamFraud.Scorer.Loop;
using StreamFraud.Sim.Commands;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Every Kafka client of every app gets the one client section's security settings: the effective librdkafka
/// configuration of each — built by the code each app runs, from the scorer's keys or the command-line apps' flags — holds
/// bootstrap, SASL_SSL, the SASL credentials (the password read from a file) and the TLS files, and librdkafka accepts
/// it. The registry client gets its basic auth and TLS settings and sends the credentials.
/// </summary>
public sealed class Clients_EffectiveConfig : IDisposable
{
    private const string KafkaPassword = "Kafka-pa55word-k";
    private const string KeyPassword = "Key-pa55word-p";
    private const string RegistryUserInfo = "reg-user:Registry-pa55word-r";
    private const string Bootstrap = "broker-1.invalid:9093";

    private readonly string _dir = Directory.CreateTempSubdirectory("sf-clients-").FullName;

    public Clients_EffectiveConfig()
    {
        TestCertificates.Write(_dir);
        File.WriteAllText(Path.Combine(_dir, "kafka-password"), KafkaPassword + "\n");
        File.WriteAllText(Path.Combine(_dir, "key-password"), KeyPassword);
        File.WriteAllText(Path.Combine(_dir, "registry-user-info"), RegistryUserInfo + "\n");
        Directory.CreateDirectory(Path.Combine(_dir, "models"));
    }

    /// <summary>The expected security settings of every client.</summary>
    private Dictionary<string, string> Expected => new()
    {
        ["bootstrap.servers"] = Bootstrap,
        ["security.protocol"] = "SASL_SSL",
        ["sasl.mechanism"] = "SCRAM-SHA-512",
        ["sasl.username"] = "svc-fraud",
        ["sasl.password"] = KafkaPassword,
        ["ssl.ca.location"] = Path.Combine(_dir, "ca.pem"),
        ["ssl.certificate.location"] = Path.Combine(_dir, "client.pem"),
        ["ssl.key.location"] = Path.Combine(_dir, "client.key"),
        ["ssl.key.password"] = KeyPassword,
    };

    /// <summary>The command-line apps' flags for the same settings.</summary>
    private string[] KafkaFlags =>
    [
        "security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512", "sasl.username=svc-fraud", $"sasl.password=file:{_dir}/kafka-password",
        $"ssl.ca.location={_dir}/ca.pem", $"ssl.certificate.location={_dir}/client.pem", $"ssl.key.location={_dir}/client.key",
        $"ssl.key.password=file:{_dir}/key-password",
    ];

    private string[] RegistryFlags => [$"basic.auth.user.info=file:{_dir}/registry-user-info", $"ssl.ca.location={_dir}/ca.pem"];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Scorer_EveryClient_HasTheClientSectionsSecurity_AndPerClientOverrides()
    {
        var settings = Settings.Read(ScorerConfiguration(new()
        {
            ["Kafka:Consumer:sasl.username"] = "svc-consumer", // a per-client override
            ["Kafka:Producer:linger.ms"] = "5",
        }));
        var labels = LabelLoop.ClientConfigs(new LabelLoopClients(settings.Consumer, settings.Producer, null!, null!), "scorer-sec-labels");
        var clients = new (string Client, IEnumerable<KeyValuePair<string, string>> Config)[]
        {
            ("scorer consumer", KafkaInput.Effective(settings.Consumer, exactlyOnce: false)),
            ("scorer consumer, exactly-once", KafkaInput.Effective(settings.Consumer, exactlyOnce: true)),
            ("scorer producer", KafkaOutput.Effective(settings.Producer, exactlyOnce: false, "scorer-sec")),
            ("scorer producer, exactly-once", KafkaOutput.Effective(settings.Producer, exactlyOnce: true, "scorer-sec")),
            ("label consumer", KafkaInput.Effective(labels.Consumer, exactlyOnce: false)),
            ("label producer", KafkaOutput.Effective(labels.Producer, exactlyOnce: false, "scorer-sec-labels")),
            ("model-updates listener", ModelUpdateListener.ConsumerConfig(settings.Clients.Kafka.Client())),
        };

        foreach (var (client, config) in clients)
        {
            var expected = Expected;
            if (client.Contains("consumer", StringComparison.Ordinal))
            {
                expected["sasl.username"] = "svc-consumer";
            }

            AssertHas(client, config, expected);
        }

        Assert.Equal("5", settings.Producer.LingerMs?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("scorer-sec-labels", labels.Consumer.GroupId);
        Assert.Equal("svc-fraud", ModelUpdateListener.ConsumerConfig(settings.Clients.Kafka.Client()).SaslUsername); // not a consumer override
        AssertRegistry("scorer registry client", settings.Clients.SchemaRegistry.Config());
        AssertAccepted(clients[0].Config, clients[3].Config);
    }

    [Fact]
    public void ReplaySimAndTrainerAnnouncer_FromTheirFlags_HaveTheSameSecurity()
    {
        var replay = new ReplayArgs
        {
            Registry = "r", Versions = ["v"], Bootstrap = Bootstrap, KafkaConfig = KafkaFlags, SchemaRegistry = "https://registry.invalid:8081",
            SchemaRegistryConfig = RegistryFlags,
        }.Clients();
        var sim = new ProduceSettings
        {
            Bootstrap = Bootstrap, KafkaConfig = KafkaFlags, SchemaRegistry = "https://registry.invalid:8081", SchemaRegistryConfig = RegistryFlags,
        }.Clients();

        // The trainer's flags are read by the same reader (its own test is in StreamFraud.Training.Tests); its announcer:
        var trainer = CommandLineClients.Read(
            new ClientFlagValues { Bootstrap = Bootstrap, KafkaConfig = KafkaFlags, SchemaRegistry = "https://registry.invalid:8081", SchemaRegistryConfig = RegistryFlags },
            ClientKinds.Kafka | ClientKinds.SchemaRegistry, environment: []);
        var clients = new (string Client, IEnumerable<KeyValuePair<string, string>> Config)[]
        {
            ("replay topic reader", ReplayClients.Reader(replay.Kafka, "streamfraud-replay")),
            ("replay labels reader", ReplayClients.Reader(replay.Kafka, "streamfraud-replay-labels")),
            ("replay admin", ReplayClients.Admin(replay.Kafka)),
            ("replay backtest producer", ReplayClients.AlertsProducer(replay.Kafka)),
            ("sim produce", ProduceCommand.ProducerConfig(sim.Kafka)),
            ("trainer announcer", ModelAnnouncer.ProducerConfig(trainer.Kafka.Client())),
        };

        foreach (var (client, config) in clients)
        {
            AssertHas(client, config, Expected);
        }

        AssertRegistry("replay registry client", replay.SchemaRegistry.Config());
        AssertRegistry("sim registry client", sim.SchemaRegistry.Config());
        AssertRegistry("trainer registry client", trainer.SchemaRegistry.Config());
        AssertAccepted(clients[0].Config, clients[4].Config, clients[2].Config);
    }

    [Fact]
    public void CommandLine_EnvironmentUnderTheFlags_SameNamesAsTheScorer()
    {
        var environment = new Dictionary<string, string>
        {
            ["STREAMFRAUD_Kafka__BootstrapServers"] = Bootstrap,
            ["STREAMFRAUD_Kafka__Client__SECURITY_PROTOCOL"] = "SASL_SSL", // '_' for '.', any case: what a shell can export
            ["STREAMFRAUD_Kafka__Client__sasl.mechanism"] = "SCRAM-SHA-512",
            ["STREAMFRAUD_Kafka__Client__SASL_USERNAME"] = "env-user", // another spelling of the flag's key: the flag still wins
            ["STREAMFRAUD_Kafka__Client__SASL_PASSWORD"] = $"file:{_dir}/kafka-password",
            ["STREAMFRAUD_SchemaRegistry__BasicAuthUserInfo"] = $"file:{_dir}/registry-user-info", // the .NET property name (deploy/k8s)
            ["STREAMFRAUD_Redis__CaFile"] = $"{_dir}/ca.pem", // for another app: this command uses no Redis
            ["STREAMFRAUD_Scorer__BatchSize"] = "7",
        };

        var settings = CommandLineClients.Read(new ClientFlagValues { KafkaConfig = ["sasl.username=svc-fraud"] }, ClientKinds.Kafka | ClientKinds.SchemaRegistry, environment);

        var producer = ProduceCommand.ProducerConfig(settings.Kafka);
        Assert.Equal((Bootstrap, "SASL_SSL", "svc-fraud", KafkaPassword), (producer.BootstrapServers, producer.Get("security.protocol"), producer.SaslUsername, producer.SaslPassword));
        Assert.Equal(RegistryUserInfo, settings.SchemaRegistry.Config().BasicAuthUserInfo);
        Assert.False(settings.Redis.Tls);
        Assert.Contains(KafkaPassword, settings.Secrets);
    }

    [Fact]
    public void Scorer_MissingFilesAndUnknownProperties_EveryProblemNamed_IgnoredCredentialsWarned()
    {
        var config = ScorerConfiguration(new()
        {
            ["Kafka:Client:ssl.key.location"] = Path.Combine(_dir, "absent.key"),
            ["SchemaRegistry:basic.auth.user.infoo"] = "x",
        });

        var e = Assert.Throws<ScorerConfigurationException>(() => Settings.Read(config));

        Assert.Contains($"Kafka:Client:ssl.key.location '{Path.Combine(_dir, "absent.key")}': no such file", e.Message);
        Assert.Contains("SchemaRegistry:basic.auth.user.infoo: not a Schema Registry client property", e.Message);
        Assert.DoesNotContain(KafkaPassword, e.Message);

        // SASL credentials under SSL would be ignored by librdkafka: accepted (as before), with a warning naming the fix.
        var settings = Settings.Read(ScorerConfiguration(new() { ["Kafka:Client:security.protocol"] = "SSL" }));
        var warning = Assert.Single(settings.Clients.Warnings);
        Assert.StartsWith("Kafka:Client:sasl.username is set but Kafka:Client:security.protocol is SSL, which sends no SASL credentials", warning);
        Assert.EndsWith("set it to SASL_SSL (or SASL_PLAINTEXT).", warning);
    }

    [Fact]
    public async Task RegistryClient_SendsTheBasicAuthOfItsSettings()
    {
        using var listener = new HttpListener();
        var port = FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var seen = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var authorization = context.Request.Headers["Authorization"];
            context.Response.ContentType = "application/vnd.schemaregistry.v1+json";
            await context.Response.OutputStream.WriteAsync("[]"u8.ToArray());
            context.Response.Close();
            return authorization;
        });

        var settings = ClientSettings.Read([new("SchemaRegistry:Url", $"http://127.0.0.1:{port}"), new("SchemaRegistry:basic.auth.user.info", $"file:{_dir}/registry-user-info")]);
        using var registry = new CachedSchemaRegistryClient(settings.SchemaRegistry.Config());
        Assert.Empty(await registry.GetAllSubjectsAsync());

        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(RegistryUserInfo)), await seen.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private IConfiguration ScorerConfiguration(Dictionary<string, string?> extra)
    {
        var values = new Dictionary<string, string?>
        {
            ["Models:Registry"] = Path.Combine(_dir, "models"),
            ["Kafka:BootstrapServers"] = Bootstrap,
            ["Kafka:Client:security.protocol"] = "SASL_SSL",
            ["Kafka:Client:sasl.mechanism"] = "SCRAM-SHA-512",
            ["Kafka:Client:sasl.username"] = "svc-fraud",
            ["Kafka:Client:sasl.password"] = $"file:{_dir}/kafka-password",
            ["Kafka:Client:ssl.ca.location"] = $"{_dir}/ca.pem",
            ["Kafka:Client:ssl.certificate.location"] = $"{_dir}/client.pem",
            ["Kafka:Client:ssl.key.location"] = $"{_dir}/client.key",
            ["Kafka:Client:ssl.key.password"] = $"file:{_dir}/key-password",
            ["Kafka:Consumer:group.id"] = "scorer-sec",
            ["SchemaRegistry:Url"] = "https://registry.invalid:8081",
            ["SchemaRegistry:basic.auth.user.info"] = $"file:{_dir}/registry-user-info",
            ["SchemaRegistry:ssl.ca.location"] = $"{_dir}/ca.pem",
        };
        foreach (var (key, value) in extra)
        {
            values[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    private static void AssertHas(string client, IEnumerable<KeyValuePair<string, string>> config, Dictionary<string, string> expected)
    {
        var actual = config.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (key, value) in expected)
        {
            Assert.True(actual.TryGetValue(key, out var got), $"{client}: {key} is missing");
            Assert.True(value == got, $"{client}: {key} is '{got}', expected '{value}'");
        }
    }

    private void AssertRegistry(string client, SchemaRegistryConfig config)
    {
        Assert.True(RegistryUserInfo == config.BasicAuthUserInfo, $"{client}: basic.auth.user.info");
        Assert.True(Path.Combine(_dir, "ca.pem") == config.SslCaLocation, $"{client}: ssl.ca.location");
        using var registry = new CachedSchemaRegistryClient(config); // Confluent's client accepts every property
    }

    /// <summary>librdkafka accepts the configurations: every property exists, the TLS files load, the mechanism is supported.</summary>
    private static void AssertAccepted(IEnumerable<KeyValuePair<string, string>> consumer, IEnumerable<KeyValuePair<string, string>> producer, IEnumerable<KeyValuePair<string, string>>? admin = null)
    {
        using (new ConsumerBuilder<byte[], byte[]>(consumer).SetLogHandler((_, _) => { }).Build())
        {
        }

        using (new ProducerBuilder<byte[], byte[]>(producer).SetLogHandler((_, _) => { }).Build())
        {
        }

        if (admin is not null)
        {
            using (new AdminClientBuilder(admin).SetLogHandler((_, _) => { }).Build())
            {
            }
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
