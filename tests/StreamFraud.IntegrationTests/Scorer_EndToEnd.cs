using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Contracts;
using StreamFraud.Core.Features;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Redis;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;
using StreamFraud.XgBoost;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The Kafka scorer end to end: mock cluster, real redis-server, registry, a real bundle. Alerts equal an independent
/// offline computation; malformed input lands in the DLQ with its reason; good events are all scored.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_EndToEnd(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-e2e-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Stream_WithMalformedMessages_AlertsEqualOffline_BadInputInDlq()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 21, cards: 80, count: 1500);
        var live = TinyBundle.Stream(seed: 22, cards: 80, count: 2000, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.4);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 16 });

        var input = await stack.CreateTopicAsync("e2e-tx", partitions: 4);
        var alertsTopic = await stack.CreateTopicAsync("e2e-alerts", partitions: 4);
        var dlqTopic = await stack.CreateTopicAsync("e2e-dlq", partitions: 1);
        var scoresTopic = await stack.CreateTopicAsync("e2e-scores", partitions: 4);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });

        // Good events keyed by card, with malformed ones mixed in: garbage bytes, an unknown schema id, invalid values.
        var malformed = new List<(string Class, byte[] Value)>();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true }).Build())
        {
            var serializer = new AvroSerializer<Contracts.Transaction>(registry);
            for (var i = 0; i < live.Count; i++)
            {
                var bytes = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i]), new SerializationContext(MessageComponentType.Value, input));
                producer.Produce(input, new Message<string, byte[]> { Key = live[i].CardId, Value = bytes });
                if (i % 100 == 0)
                {
                    var bad = (i / 100 % 4) switch
                    {
                        0 => (DlqErrorClass.Undecodable, Encoding.UTF8.GetBytes("{\"json\": \"not avro\"}")),
                        1 => (DlqErrorClass.UnknownSchema, (byte[])[0, 0, 0x7f, 0xff, 0xff, 2, 3]),
                        2 => (DlqErrorClass.InvalidValue, await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i] with { TransactionId = $"neg-{i}", Amount = -5 }), new SerializationContext(MessageComponentType.Value, input))),
                        _ => (DlqErrorClass.InvalidValue, await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i] with { TransactionId = $"nocard-{i}", CardId = "" }), new SerializationContext(MessageComponentType.Value, input))),
                    };
                    malformed.Add(bad);
                    producer.Produce(input, new Message<string, byte[]> { Key = live[i].CardId, Value = bad.Item2 });
                }
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        // Independent expectation: the offline featurizer in produce order (one card = one partition = same order),
        // the C# LSTM forward pass and libxgboost.
        var expected = Expected(tiny, live, 0.4);
        Assert.InRange(expected.Count, 20, live.Count - 20);

        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var store = new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"e2e:{Guid.NewGuid():N}:" });
        using var metrics = new ScorerMetrics();
        using var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = $"scorer-{Guid.NewGuid():N}", FetchWaitMaxMs = 20, SessionTimeoutMs = 6000 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                registry, store, new FixedBundleSource(() => bundle), spec),
            new ScorerOptions { InputTopic = input, AlertsTopic = alertsTopic, DlqTopic = dlqTopic, ScoresTopic = scoresTopic, BatchSize = 200 },
            new ScoringOptions(), NullLogger.Instance, metrics);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();

        var alerts = ReadAlerts(alertsTopic, registry, expected.Count, TimeSpan.FromSeconds(120));
        var dlq = ReadRaw(dlqTopic, malformed.Count, TimeSpan.FromSeconds(60));
        var scores = ReadRaw(scoresTopic, live.Count, TimeSpan.FromSeconds(60));
        stop.Cancel();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the scoring loop did not stop");

        Assert.Equal(expected.Keys.Order(), alerts.Select(a => a.AlertId).Distinct().Order());
        foreach (var a in alerts)
        {
            var (score, hash, txId) = expected[a.AlertId];
            Assert.Equal(score, a.Score, 1e-5);
            Assert.Equal(hash, a.WindowHash);
            Assert.Equal(txId, a.TransactionId);
            Assert.Equal("v1", a.ModelVersion);
            Assert.Equal("cost_min", a.ThresholdPolicy);
        }

        // Every good event has exactly one score record (JSON), keyed by card, agreeing with its alert decision.
        Assert.Equal(live.Count, scores.Count);
        var scored = scores.Select(r => System.Text.Json.JsonDocument.Parse(r.Message.Value).RootElement).ToList();
        Assert.Equal(live.Select(t => t.TransactionId).Order(), scored.Select(e => e.GetProperty("transaction_id").GetString()).Order());
        Assert.Equal(expected.Count, scored.Count(e => e.GetProperty("alert").GetBoolean()));

        Assert.Equal(malformed.Count, dlq.Count);
        Assert.Equal(malformed.Select(m => m.Class).Order(), dlq.Select(d => Header(d, "error.class")).Order());
        Assert.Equal(malformed.Select(m => Convert.ToHexString(m.Value)).Order(), dlq.Select(d => Convert.ToHexString(d.Message.Value)).Order());
        Assert.All(dlq, d =>
        {
            Assert.Equal(input, Header(d, "source.topic"));
            Assert.False(string.IsNullOrEmpty(Header(d, "error.reason")));
            Assert.True(long.Parse(Header(d, "source.offset"), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        });
    }

    internal static Dictionary<string, (double Score, string Hash, string TransactionId)> Expected(TinyBundle tiny, List<Core.Transaction> live, double threshold)
    {
        var spec = FeatureSpec.CardV1;
        var offline = new OfflineFeaturizer(spec);
        var windows = new float[live.Count * spec.WindowSize];
        for (var i = 0; i < live.Count; i++)
        {
            offline.Apply(live[i], windows.AsSpan(i * spec.WindowSize, spec.WindowSize));
        }

        var lstm = tiny.Lstm.Predict(windows);
        using var xgb = Booster.Load(tiny.XgbModel);
        var newest = new float[live.Count * spec.Dimension];
        for (var i = 0; i < live.Count; i++)
        {
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var xgbScores = xgb.PredictDense(newest, live.Count, iterationEnd: 0);
        var expected = new Dictionary<string, (double, string, string)>();
        for (var i = 0; i < live.Count; i++)
        {
            var score = (0.5 * lstm[i]) + (0.5 * xgbScores[i]);
            if (score >= threshold)
            {
                expected[FraudPipeline.AlertId(live[i].CardId, live[i].TransactionId)] =
                    (score, FraudPipeline.WindowHash(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)), live[i].TransactionId);
            }
        }

        return expected;
    }

    internal List<FraudAlert> ReadAlerts(string topic, ISchemaRegistryClient registry, int distinct, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, FraudAlert>(new ConsumerConfig
            {
                BootstrapServers = stack.Kafka, GroupId = $"reader-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest,
                FetchWaitMaxMs = 20, IsolationLevel = IsolationLevel.ReadCommitted,
            })
            .SetValueDeserializer(new AvroDeserializer<FraudAlert>(registry).AsSyncOverAsync())
            .Build();
        consumer.Subscribe(topic);
        var result = new List<FraudAlert>();
        var ids = new HashSet<string>();
        var deadline = DateTime.UtcNow + timeout;
        while (ids.Count < distinct && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add(r.Message.Value);
                ids.Add(r.Message.Value.AlertId);
            }
        }

        consumer.Close();
        return result;
    }

    internal List<ConsumeResult<byte[]?, byte[]>> ReadRaw(string topic, int count, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.Kafka, GroupId = $"reader-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
        }).Build();
        consumer.Subscribe(topic);
        var result = new List<ConsumeResult<byte[]?, byte[]>>();
        var deadline = DateTime.UtcNow + timeout;
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add(r);
            }
        }

        consumer.Close();
        return result;
    }

    private static string Header(ConsumeResult<byte[]?, byte[]> r, string name) =>
        Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
}
