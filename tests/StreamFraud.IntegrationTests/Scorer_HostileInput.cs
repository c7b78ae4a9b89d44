using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Clients;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Input no DLQ can hold, and credentials: an oversized message never blocks its partition (the DLQ gets a reference
/// record, later events are scored, no alert is sent twice), and no secret reaches the scorer's output.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_HostileInput(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-hostile-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// A 1,000,000-byte and a 1,500,000-byte value in the middle of a stream. Under the default
    /// <c>Scorer:MaxInputBytes</c> they are referenced without decoding (too_large); with the limit raised they are
    /// decoded, found to name an unknown schema, and their DLQ copies are refused by librdkafka (message.max.bytes), so references
    /// replace them. Either way: both referenced with the right position, size and SHA-256, every expected alert
    /// exactly once (nothing re-sent), every event after them scored.
    /// </summary>
    [Theory]
    [InlineData(false, 256 * 1024, DlqErrorClass.TooLarge)]
    [InlineData(false, 2 * 1024 * 1024, DlqErrorClass.UnknownSchema)]
    [InlineData(true, 2 * 1024 * 1024, DlqErrorClass.UnknownSchema)]
    public async Task OversizedValues_DlqReferenceRecords_PartitionAdvances_NoAlertResent(bool exactlyOnce, int maxInputBytes, string expectedClass)
    {
        using var scenario = ScorerScenario.Create("hostile", seed: 71, cards: 120, events: 2500);
        var (tiny, live, expected) = scenario;
        using var bundle = scenario.LoadBundle();
        var input = await stack.CreateTopicAsync("big-tx", 2);
        var alerts = await stack.CreateTopicAsync("big-alerts", 2);
        var dlq = await stack.CreateTopicAsync("big-dlq", 1);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });

        var big = new List<(byte[] Value, TopicPartitionOffset At)>();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true, MessageMaxBytes = 4_000_000 }).Build())
        {
            var serializer = new AvroSerializer<Contracts.Transaction>(registry);
            var rng = new Random(7);
            for (var i = 0; i < live.Count; i++)
            {
                var bytes = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i]), new SerializationContext(MessageComponentType.Value, input));
                producer.Produce(input, new Message<string, byte[]> { Key = live[i].CardId, Value = bytes });
                if (i is 600 or 1400)
                {
                    var value = new byte[i == 600 ? 1_000_000 : 1_500_000];
                    rng.NextBytes(value);
                    value[0] = 0; // Confluent-framed with schema id 2147483647: the decoder really asks the registry
                    value[1] = 0x7f;
                    value[2] = value[3] = value[4] = 0xff;
                    var report = await producer.ProduceAsync(input, new Message<string, byte[]> { Key = live[i].CardId, Value = value });
                    big.Add((value, report.TopicPartitionOffset));
                }
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }

        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        using var metrics = new ScorerMetrics();
        var group = $"big-{Guid.NewGuid():N}";
        using var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000, AutoCommitIntervalMs = 200 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, // message.max.bytes stays at librdkafka's 1,000,000
                registry,
                new RedisWindowStore(mux.GetDatabase(), Core.Features.FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = $"{group}:", KeepUndo = exactlyOnce }),
                new FixedBundleSource(() => bundle), Core.Features.FeatureSpec.CardV1),
            new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = dlq, BatchSize = 200, ExactlyOnce = exactlyOnce, MaxInputBytes = maxInputBytes },
            new ScoringOptions(), NullLogger.Instance, metrics);
        using var stop = new CancellationTokenSource();
        Exception? crash = null;
        var thread = new Thread(() =>
        {
            try
            {
                loop.Run(stop.Token);
            }
            catch (Exception e)
            {
                crash = e;
            }
        }) { IsBackground = true };
        thread.Start();

        try
        {
            var references = stack.ReadRaw(dlq, 2, TimeSpan.FromSeconds(120));
            // Every alert, and only once: a retry never re-sends acknowledged alerts. Read well past the last one.
            var read = stack.ReadAlerts(alerts, registry, int.MaxValue, TimeSpan.FromSeconds(exactlyOnce ? 25 : 20));
            Assert.Null(crash);
            Assert.Equal(expected.Keys.Order(), read.Select(a => a.AlertId).Order());

            Assert.Equal(2, references.Count);
            foreach (var (value, at) in big)
            {
                var r = Assert.Single(references, d => Header(d, "source.offset") == at.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    && Header(d, "source.partition") == at.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal("true", Header(r, "dlq.reference"));
                Assert.Equal(expectedClass, Header(r, "error.class"));
                Assert.Equal(input, Header(r, "source.topic"));
                Assert.Equal(value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Header(r, "source.value.bytes"));
                var sha = Convert.ToHexStringLower(SHA256.HashData(value));
                Assert.Equal(sha, Header(r, "source.value.sha256"));
                Assert.True(r.Message.Value.Length < 2048, "a reference, not a copy");
                var json = JsonDocument.Parse(r.Message.Value).RootElement;
                Assert.Equal(sha, json.GetProperty("value_sha256").GetString());
                Assert.Equal(at.Offset.Value, json.GetProperty("source_offset").GetInt64());
                Assert.Equal(value.Length, json.GetProperty("value_bytes").GetInt32());
                if (expectedClass != DlqErrorClass.TooLarge)
                {
                    Assert.Contains("MsgSizeTooLarge", Header(r, "dlq.rejected"), StringComparison.Ordinal); // the copy was tried and refused
                }
                else
                {
                    Assert.Null(r.Message.Headers.FirstOrDefault(h => h.Key == "dlq.rejected")); // never decoded nor copied
                }
            }

            if (!exactlyOnce)
            {
                // The group's committed offsets pass the big messages: the partition advanced to its end.
                Assert.True(await ScorerRuns.WaitForCommitted(stack.Kafka, group, input, 2, live.Count + 2, TimeSpan.FromSeconds(30)), "offsets did not reach the end");
            }
        }
        finally
        {
            stop.Cancel();
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the scoring loop did not stop");
        }
    }

    /// <summary>
    /// Credentials given to the scorer (Redis password inline and from a file, SASL password, a TLS key password,
    /// registry user-info) appear neither in its start-up error nor in its configuration log line; with the secured
    /// Redis settings (password file, TLS, CA, client certificate) it connects to a redis-server that requires all of them.
    /// </summary>
    [Fact]
    public async Task Secrets_NeverPrinted_InErrorsOrTheConfigurationLine()
    {
        var registryDir = ScorerRuns.PublishBundle(_root, "v1", TinyBundle.Stream(1, 20, 300));
        const string RedisPassword = "R3dis-pa55word-x";
        const string SaslPassword = "Sasl-pa55word-y";
        const string KeyPassword = "Key-pa55word-z";
        const string RegistryPassword = "Reg-pa55word-w";
        string[] secrets = [RedisPassword, SaslPassword, KeyPassword, RegistryPassword, SecuredRedis.Password];
        string[] kafka =
        [
            "--Kafka:Client:security.protocol", "SASL_PLAINTEXT", "--Kafka:Client:sasl.mechanism", "PLAIN", "--Kafka:Client:sasl.username", "fraud",
            "--Kafka:Client:sasl.password", SaslPassword, "--Kafka:Producer:ssl.key.password", KeyPassword,
            "--SchemaRegistry:basic.auth.user.info", $"fraud:{RegistryPassword}",
        ];

        // Redis unreachable: the start-up error names the endpoint, without its password.
        using (var p = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Models:Registry", registryDir, "--Redis:Configuration", $"127.0.0.1:1,password={RedisPassword}", .. kafka, "--urls", "http://127.0.0.1:0",
        ]))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), p.Output);
            Assert.Equal(2, p.ExitCode);
            Assert.Contains("127.0.0.1:1", p.Output);
            Assert.Contains("Redis:Configuration", p.Output);
            Assert.All(secrets, s => Assert.DoesNotContain(s, p.Output));
        }

        // A running scorer, connected to the password + TLS + client-certificate Redis, logs its configuration with
        // every credential masked (by key name and by value, the file's password included).
        await using var secured = new SecuredRedis();
        await secured.InitializeAsync();
        using (var p = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Models:Registry", registryDir, "--Redis:Configuration", secured.Endpoint, "--Redis:Password", $"file:{secured.PasswordFile}",
            "--Redis:Tls", "true", "--Redis:CaFile", secured.CaFile, "--Redis:CertFile", secured.ClientCertFile, "--Redis:KeyFile", secured.ClientKeyFile,
            "--Kafka:BootstrapServers", stack.Kafka, "--SchemaRegistry:Url", stack.Registry, .. kafka,
            "--Kafka:Consumer:group.id", $"secrets-{Guid.NewGuid():N}", "--Scorer:InputTopic", $"secrets-{Guid.NewGuid():N}", "--urls", "http://127.0.0.1:0",
        ]))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!p.Output.Contains("Configuration (credentials masked)", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !p.HasExited)
            {
                Thread.Sleep(100);
            }

            p.Terminate();
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), p.Output);
            var line = Assert.Single(p.Output.Split('\n'), l => l.Contains("Configuration (credentials masked)", StringComparison.Ordinal));
            Assert.Contains("sasl.password=***", line);
            Assert.Contains("ssl.key.password=***", line);
            Assert.Contains("schema.registry.basic.auth.user.info=***", line);
            Assert.Contains($"redis[{secured.Endpoint} user=- password=*** tls=true ca={secured.CaFile}", line);
            Assert.All(secrets, s => Assert.DoesNotContain(s, p.Output));
        }
    }

    [Fact]
    public void Redactor_MasksKnownSecretsAndCredentialShapedText()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = "cache:6380,ssl=true,password=hunter2-redis,user=scorer",
            ["Kafka:Consumer:sasl.password"] = "kafka-secret-1",
            ["SchemaRegistry:basic.auth.user.info"] = "reg-user:reg-secret-2",
            ["SchemaRegistry:Url"] = "https://alice:url-secret-3@registry:8081",
            ["Scorer:InputTopic"] = "transactions",
        }).Build();
        var redactor = SecretRedactor.FromConfiguration(config.AsEnumerable());

        var text = "redis cache:6380,password=hunter2-redis failed; sasl kafka-secret-1; registry reg-secret-2 at https://alice:url-secret-3@registry:8081 topic transactions";
        var redacted = redactor.Redact(text);
        foreach (var secret in new[] { "hunter2-redis", "kafka-secret-1", "reg-secret-2", "url-secret-3" })
        {
            Assert.DoesNotContain(secret, redacted);
        }

        Assert.Contains("password=***", redacted);
        Assert.Contains("https://alice:***@registry:8081", redacted);
        Assert.Contains("topic transactions", redacted); // ordinary values stay

        // Unknown secrets in credential-shaped text are masked too; text without any stays as it was.
        Assert.Equal("host:1,password=***,ssl=true", SecretRedactor.None.Redact("host:1,password=abc,ssl=true"));
        Assert.Equal("http://u:***@h/x", SecretRedactor.None.Redact("http://u:p@h/x"));
        Assert.Equal("no secrets here", SecretRedactor.None.Redact("no secrets here"));
    }

    private static string Header(ConsumeResult<byte[]?, byte[]> r, string name) =>
        Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
}
