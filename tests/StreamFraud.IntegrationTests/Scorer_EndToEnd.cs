using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Redis;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The Kafka scorer end to end: mock cluster, real redis-server, registry, a real bundle. Alerts equal an independent
/// offline computation; malformed input lands in the DLQ with its reason; good events are all scored.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_EndToEnd(StackFixture stack)
{
    [Fact]
    public async Task Stream_WithMalformedMessages_AlertsEqualOffline_BadInputInDlq()
    {
        var spec = FeatureSpec.CardV1;
        using var scenario = ScorerScenario.Create("e2e", seed: 21, cards: 80, events: 2000);
        var (_, live, expected) = scenario;
        using var bundle = scenario.LoadBundle();

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

        // Independent expectation (ScorerScenario.ExpectedAlerts): neither too few alerts nor all.
        Assert.InRange(expected.Count, 20, live.Count - 20);

        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var store = new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"e2e:{Guid.NewGuid():N}:" });
        var group = $"scorer-{Guid.NewGuid():N}";
        using var metrics = new ScorerMetrics();
        using var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                registry, store, new FixedBundleSource(() => bundle), spec),
            new ScorerOptions { InputTopic = input, AlertsTopic = alertsTopic, DlqTopic = dlqTopic, ScoresTopic = scoresTopic, BatchSize = 200, BatchTimeout = TimeSpan.FromMilliseconds(200) },
            new ScoringOptions(), NullLogger.Instance, metrics);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();

        var alerts = stack.ReadAlerts(alertsTopic, registry, expected.Count, TimeSpan.FromSeconds(120));
        var dlq = stack.ReadRaw(dlqTopic, malformed.Count, TimeSpan.FromSeconds(60));
        var scores = stack.ReadRaw(scoresTopic, live.Count, TimeSpan.FromSeconds(60));
        stop.Cancel();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the scoring loop did not stop");

        // The stream was there before the loop started, so batches were full and ran overlapped (each prepared while
        // the previous one's states were written); every position was committed at the end all the same.
        Assert.True(loop.OverlappedBatches > 0, "full batches should overlap");
        Assert.Equal(live.Count + malformed.Count, await ScorerRuns.Committed(stack.Kafka, group, input, 4));

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

    private static string Header(ConsumeResult<byte[]?, byte[]> r, string name) =>
        Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
}
