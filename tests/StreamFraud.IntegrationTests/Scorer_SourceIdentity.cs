using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 11 through a running scorer (mock cluster, real redis-server, registry, a real bundle): after switching the
/// input topic to a new one whose offsets restart at 0, no new event is taken for a redelivery and the alerts equal
/// the offline computation over both topics; a reused transaction id with other content and a message with trailing
/// bytes land in the DLQ with their classes.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_SourceIdentity(StackFixture stack)
{
    [Fact]
    public async Task TopicSwitch_NoEventSkipped_AlertsEqualOffline_ReusedIdAndTrailingBytesInDlq()
    {
        var spec = FeatureSpec.CardV1;
        using var scenario = ScorerScenario.Create("switch", seed: 41, cards: 60, events: 2000);
        var (_, live, expected) = scenario;
        using var bundle = scenario.LoadBundle();
        var first = live[..1000];
        var second = live[1000..];

        var topicA = await stack.CreateTopicAsync("switch-a", partitions: 4);
        var topicB = await stack.CreateTopicAsync("switch-b", partitions: 4);
        var alertsTopic = await stack.CreateTopicAsync("switch-alerts", partitions: 4);
        var dlqTopic = await stack.CreateTopicAsync("switch-dlq", partitions: 1);
        var scoresTopic = await stack.CreateTopicAsync("switch-scores", partitions: 4);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"switch:{Guid.NewGuid():N}:";
        var group = $"scorer-{Guid.NewGuid():N}";

        // Phase 1: topic A, then the scorer stops once every event's state is in Redis.
        await stack.ProduceAsync(topicA, first, registry);
        using (var metrics1 = new ScorerMetrics())
        {
            var (loop, stop, thread) = Start(topicA, group, prefix, mux, registry, bundle, alertsTopic, dlqTopic, scoresTopic, metrics1);
            using (loop)
            using (stop)
            {
                Assert.Equal(first.Count, stack.ReadRaw(scoresTopic, first.Count, TimeSpan.FromSeconds(120)).Count);
                await WaitForAppliedAsync(mux.GetDatabase(), prefix, first, TimeSpan.FromSeconds(30));
                stop.Cancel();
                Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the first scoring loop did not stop");
            }
        }

        // The old rule compared (partition, offset) only: topic B's offsets restart at 0, below the cards' watermarks.
        var probe = new CardState(spec);
        probe.Load(((byte[])(await mux.GetDatabase().StringGetAsync(prefix + "c:" + first[^1].CardId))!).AsSpan(8));
        Assert.Equal(SourcePosition.SourceHash(topicA), probe.HighWatermark.Source);
        Assert.True(probe.HighWatermark.Offset > 0);

        // Phase 2: topic B with the rest of the stream, plus a reused transaction id and a value with trailing bytes.
        var reused = second[10] with { Amount = second[10].Amount + 100 };
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var trailing = (await serializer.SerializeAsync(
            Contracts.Transaction.FromDomain(second[20] with { TransactionId = "trailing-1" }), new SerializationContext(MessageComponentType.Value, topicB)))
            .Concat(new byte[] { 0, 0, 0 }).ToArray();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < second.Count; i++)
            {
                await ProduceAsync(producer, serializer, topicB, second[i]);
                if (i == 10)
                {
                    await ProduceAsync(producer, serializer, topicB, reused); // same card, right after the original
                }

                if (i == 20)
                {
                    producer.Produce(topicB, new Message<string, byte[]> { Key = second[i].CardId, Value = trailing });
                }
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        using var metrics2 = new ScorerMetrics();
        var dlqByClass = new ConcurrentDictionary<string, long>();
        using var listener = MeterListeners.Listen(metrics2.Dlq, (_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "error.class")
                {
                    dlqByClass.AddOrUpdate((string)tag.Value!, value, (_, v) => v + value);
                }
            }
        });

        var (loop2, stop2, thread2) = Start(topicB, group, prefix, mux, registry, bundle, alertsTopic, dlqTopic, scoresTopic, metrics2);
        List<Contracts.FraudAlert> alerts;
        List<ConsumeResult<byte[]?, byte[]>> scores, dlq;
        using (loop2)
        using (stop2)
        {
            alerts = stack.ReadAlerts(alertsTopic, registry, expected.Count, TimeSpan.FromSeconds(120));
            scores = stack.ReadRaw(scoresTopic, live.Count, TimeSpan.FromSeconds(60));
            dlq = stack.ReadRaw(dlqTopic, 2, TimeSpan.FromSeconds(30));
            stop2.Cancel();
            Assert.True(thread2.Join(TimeSpan.FromSeconds(30)), "the second scoring loop did not stop");
        }

        // Every event of both topics scored once; the alerts are exactly the offline computation's.
        Assert.InRange(expected.Count(e => second.Any(t => t.TransactionId == e.Value.TransactionId)), 5, second.Count - 5);
        Assert.Equal(live.Select(t => t.TransactionId).Order(), scores.Select(r => System.Text.Json.JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("transaction_id").GetString()).Order());
        Assert.Equal(expected.Keys.Order(), alerts.Select(a => a.AlertId).Distinct().Order());
        foreach (var a in alerts)
        {
            Assert.Equal(expected[a.AlertId].Score, a.Score, 1e-5);
            Assert.Equal(expected[a.AlertId].Hash, a.WindowHash);
        }

        // The DLQ: the reused id with its own class and a reason naming it; the trailing bytes as undecodable.
        Assert.Equal(2, dlq.Count);
        var reusedRecord = Assert.Single(dlq, d => Header(d, "error.class") == DlqErrorClass.ReusedTransactionId);
        Assert.Contains($"transaction_id '{reused.TransactionId}'", Header(reusedRecord, "error.reason"), StringComparison.Ordinal);
        Assert.Equal(reused.CardId, Encoding.UTF8.GetString(reusedRecord.Message.Key!));
        var trailingRecord = Assert.Single(dlq, d => Header(d, "error.class") == DlqErrorClass.Undecodable);
        Assert.Contains("3 trailing byte(s)", Header(trailingRecord, "error.reason"), StringComparison.Ordinal);
        Assert.Equal(trailing, trailingRecord.Message.Value);
        Assert.All(dlq, d => Assert.Equal(topicB, Header(d, "source.topic")));
        Assert.Equal(1, dlqByClass.GetValueOrDefault(DlqErrorClass.ReusedTransactionId));
        Assert.Equal(1, dlqByClass.GetValueOrDefault(DlqErrorClass.Undecodable));
    }

    [Fact]
    public async Task RecreatedTopicSameName_NewSourceId_AppliesEverything_WithoutItOffsetsAreTakenForRedeliveries()
    {
        using var scenario = ScorerScenario.Create("recreate", seed: 53, cards: 30, events: 600);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"recreated-{Guid.NewGuid():N}";
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var first = new List<ConsumeResult<byte[]?, byte[]?>>();
        var second = new List<ConsumeResult<byte[]?, byte[]?>>();
        for (var i = 0; i < scenario.Live.Count; i++)
        {
            var tx = scenario.Live[i];
            var value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
            var list = i < 300 ? first : second;
            // One partition; the re-created topic's offsets restart at 0, below every card's watermark.
            list.Add(new ConsumeResult<byte[]?, byte[]?>
            {
                TopicPartitionOffset = new TopicPartitionOffset(topic, 0, list.Count),
                Message = new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(tx.CardId), Value = value, Timestamp = new Timestamp(0, TimestampType.CreateTime) },
            });
        }

        Assert.Equal("t", BatchProcessor.SourceIdentity("t", null));
        Assert.Equal("t#gen-2", BatchProcessor.SourceIdentity("t", "gen-2"));

        var alerts = new Dictionary<string, List<string>>();
        var skipped = new Dictionary<string, long>();
        foreach (var sourceId in new[] { "gen-2", "" })
        {
            var store = new InMemoryWindowStore(FeatureSpec.CardV1);
            var ids = alerts[sourceId] = [];
            using var metrics = new ScorerMetrics();
            var duplicates = 0L;
            using var listener = MeterListeners.Listen(metrics.Duplicates, (_, value, _, _) => Interlocked.Add(ref duplicates, value));
            foreach (var (batch, source) in new[] { (first, (string?)null), (second, sourceId) })
            {
                var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = batch.Count, SourceId = source };
                var processor = new BatchProcessor(
                    new TransactionDecoder(registry), new FraudPipeline(store, () => bundle, capacity: batch.Count), new WindowBatch(FeatureSpec.CardV1, batch.Count),
                    new OutputBuilder(options, new AvroSerializer<Contracts.FraudAlert>(registry), TimeProvider.System), metrics,
                    new Outages(options, NullLogger.Instance, metrics, new DependencyHealth(TimeProvider.System), TimeProvider.System), NullLogger.Instance,
                    new RepeatLimiter(TimeProvider.System, TimeSpan.FromMinutes(1)))
                {
                    SourceId = source,
                };
                var deserializer = new AvroDeserializer<Contracts.FraudAlert>(registry);
                await processor.ProcessAsync(batch, async records =>
                {
                    foreach (var r in records.Where(r => r.Topic == "a"))
                    {
                        ids.Add((await deserializer.DeserializeAsync(r.Message.Value, false, new SerializationContext(MessageComponentType.Value, "a"))).AlertId);
                    }
                }, CancellationToken.None);
            }

            skipped[sourceId] = Interlocked.Read(ref duplicates);
        }

        // A new source id: nothing taken for a redelivery, the alerts are exactly the offline computation's.
        Assert.Equal(0, skipped["gen-2"]);
        Assert.Equal(scenario.Expected.Keys.Order(), alerts["gen-2"].Order());
        // The same name without it: the re-created topic's events are taken for redeliveries (documented: set a new
        // Scorer:SourceId when re-creating a topic under the same name).
        Assert.InRange(skipped[""], 100, 300);
    }

    [Fact]
    public async Task ReusedIdSeenOnlyAfterAStoreConflict_StillDeadLettered()
    {
        using var scenario = ScorerScenario.Create("reuse-conflict", seed: 61, cards: 10, events: 50);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"reuse-{Guid.NewGuid():N}";
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var t0 = scenario.Live[0].EventTimeMs;
        Core.Transaction[] events =
        [
            new("a", "c1", "m1", 10, "EUR", t0, "5411", "DE", "pos"),
            new("b", "c1", "m1", 20, "EUR", t0 + 60_000, "5411", "DE", "pos"),
            new("c", "c1", "m1", 30, "EUR", t0 + 120_000, "5411", "DE", "pos"),
        ];
        var messages = new List<ConsumeResult<byte[]?, byte[]?>>();
        foreach (var tx in events)
        {
            messages.Add(new ConsumeResult<byte[]?, byte[]?>
            {
                TopicPartitionOffset = new TopicPartitionOffset(topic, 0, messages.Count),
                Message = new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes(tx.CardId), Timestamp = new Timestamp(0, TimestampType.CreateTime),
                    Value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic)),
                },
            });
        }

        // Between this scorer's prepare and its commit another writer applies its own transaction "b" (other amount)
        // to card c1: the commit conflicts, and only the re-prepared batch sees "b" as a reused id.
        var inner = new InMemoryWindowStore(FeatureSpec.CardV1);
        var store = new InterferingStore(inner, async () =>
        {
            var other = new WindowBatch(FeatureSpec.CardV1, 1);
            other.Add(events[1] with { Amount = 99 }, new SourcePosition(5, 0, SourcePosition.SourceHash("elsewhere")));
            await inner.ApplyAsync(other);
        });
        var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = 3 };
        using var metrics = new ScorerMetrics();
        var processor = new BatchProcessor(
            new TransactionDecoder(registry), new FraudPipeline(store, () => bundle, capacity: 3), new WindowBatch(FeatureSpec.CardV1, 3),
            new OutputBuilder(options, new AvroSerializer<Contracts.FraudAlert>(registry), TimeProvider.System), metrics,
            new Outages(options, NullLogger.Instance, metrics, new DependencyHealth(TimeProvider.System), TimeProvider.System), NullLogger.Instance,
            new RepeatLimiter(TimeProvider.System, TimeSpan.FromMinutes(1)));
        var published = new List<OutputRecord>();
        await processor.ProcessAsync(messages, records =>
        {
            published.AddRange(records);
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.True(store.Interfered);
        var dead = Assert.Single(published, r => r.Topic == "d");
        Assert.Equal(DlqErrorClass.ReusedTransactionId, Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("error.class")));
        Assert.Equal("1", Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("source.offset")));
        Assert.Contains("transaction_id 'b'", Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("error.reason")), StringComparison.Ordinal);
        var state = new CardState(FeatureSpec.CardV1);
        state.Load(inner.Get("c1"));
        Assert.Equal(3, state.AppliedCount); // the other writer's b, then a and c
    }

    /// <summary>A store whose first commit loses to another writer (<paramref name="interfere"/> runs, nothing is written).</summary>
    private sealed class InterferingStore(InMemoryWindowStore inner, Func<Task> interfere) : IWindowStore
    {
        public bool Interfered { get; private set; }

        public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) =>
            inner.PrepareAsync(batch, cancellationToken);

        public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
        {
            if (!Interfered)
            {
                Interfered = true;
                await interfere();
                return 1;
            }

            return await inner.CommitAsync(writes, cancellationToken);
        }
    }

    private (ScoringLoop Loop, CancellationTokenSource Stop, Thread Thread) Start(
        string input, string group, string prefix, ConnectionMultiplexer mux, ISchemaRegistryClient registry, ModelBundle bundle,
        string alerts, string dlq, string scores, ScorerMetrics metrics)
    {
        var spec = FeatureSpec.CardV1;
        var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                registry, new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = prefix }), new FixedBundleSource(() => bundle), spec),
            new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = dlq, ScoresTopic = scores, BatchSize = 200 },
            new ScoringOptions(), NullLogger.Instance, metrics);
        var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        return (loop, stop, thread);
    }

    private static async Task ProduceAsync(IProducer<string, byte[]> producer, AvroSerializer<Contracts.Transaction> serializer, string topic, Core.Transaction tx)
    {
        var bytes = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
        producer.Produce(topic, new Message<string, byte[]> { Key = tx.CardId, Value = bytes });
    }

    /// <summary>Waits until every card of <paramref name="events"/> has all its events applied in Redis.</summary>
    private static async Task WaitForAppliedAsync(IDatabase db, string prefix, List<Core.Transaction> events, TimeSpan timeout)
    {
        var counts = events.GroupBy(e => e.CardId).ToDictionary(g => g.Key, g => (long)g.Count());
        var state = new CardState(FeatureSpec.CardV1);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var missing = 0;
            foreach (var (card, count) in counts)
            {
                var value = (byte[]?)await db.StringGetAsync(prefix + "c:" + card);
                if (value is null || state.Load(value.AsSpan(8)) != StateLoadStatus.Loaded || state.AppliedCount != count)
                {
                    missing++;
                }
            }

            if (missing == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{missing} card(s) of the first topic still lack events in Redis");
            await Task.Delay(100);
        }
    }

    private static string Header(ConsumeResult<byte[]?, byte[]> r, string name) =>
        Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
}
