using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The scorer's processor without a broker: hand-made consumed messages in, output records out (only the Schema
/// Registry is real). Alerts equal the independent offline computation; bad input becomes DLQ records; a redelivered
/// batch publishes nothing new.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_BatchProcessor(StackFixture stack)
{
    [Fact]
    public async Task Messages_AlertsEqualOffline_MalformedToDlq_RedeliveryPublishesNoAlert()
    {
        using var scenario = ScorerScenario.Create("processor", seed: 91, cards: 40, events: 400);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"processor-{Guid.NewGuid():N}";
        var messages = await Serialized(registry, topic, scenario.Live);

        messages.Insert(7, Consumed(topic, 7, [1, 2], [9, 9, 9])); // not Confluent-framed Avro
        for (var i = 8; i < messages.Count; i++)
        {
            messages[i] = Consumed(topic, i, messages[i].Message.Key, messages[i].Message.Value); // offsets stay in order
        }

        var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = messages.Count };
        using var metrics = new ScorerMetrics();
        var store = new InMemoryWindowStore(FeatureSpec.CardV1);
        var processor = Processor(registry, options, metrics, new FraudPipeline(store, () => bundle, capacity: messages.Count), messages.Count);

        var published = new List<OutputRecord>();
        var cardsAtPublish = -1;
        await processor.ProcessAsync(messages, records =>
        {
            cardsAtPublish = store.Cards;
            published.AddRange(records);
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal(0, cardsAtPublish); // published before any state was written
        var deserializer = new AvroDeserializer<Contracts.FraudAlert>(registry);
        var alerts = new List<Contracts.FraudAlert>();
        foreach (var r in published.Where(r => r.Topic == "a"))
        {
            alerts.Add(await deserializer.DeserializeAsync(r.Message.Value, false, new SerializationContext(MessageComponentType.Value, "a")));
        }

        Assert.Equal(scenario.Expected.Keys.Order(), alerts.Select(a => a.AlertId).Order());
        Assert.All(alerts, a => Assert.Equal(scenario.Expected[a.AlertId].Score, a.Score, 1e-5));
        var dead = Assert.Single(published, r => r.Topic == "d");
        Assert.Equal([9, 9, 9], dead.Message.Value);
        Assert.Equal("undecodable", Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("error.class")));
        Assert.Equal("7", Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("source.offset")));

        // The same batch again (a redelivery after a crash before the offsets were stored): every event is a
        // duplicate, nothing but the DLQ record is published again.
        published.Clear();
        await processor.ProcessAsync(messages, records =>
        {
            published.AddRange(records);
            return Task.CompletedTask;
        }, CancellationToken.None);
        Assert.DoesNotContain(published, r => r.Topic == "a");
        Assert.Single(published, r => r.Topic == "d");
    }

    /// <summary>
    /// Overlap (at-least-once under load): a batch is left in flight and written while the next one is processed. The
    /// in-flight batch's commit is raced by another writer, so it is settled during the next batch: its alerts are
    /// published again (same ids) before anything of the next batch, and the alerts metric counts every publish. A
    /// batch of only DLQ records writes the batch in flight first.
    /// </summary>
    [Fact]
    public async Task Overlap_InFlightBatchRaced_SettledBeforeTheNextIsPublished_DlqOnlyBatchWritesItFirst()
    {
        using var scenario = ScorerScenario.Create("overlap", seed: 93, cards: 30, events: 300);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"overlap-{Guid.NewGuid():N}";
        var all = await Serialized(registry, topic, scenario.Live.Take(200));

        List<ConsumeResult<byte[]?, byte[]?>>[] batches = [all[..100], all[100..200], [Consumed(topic, 200, [1], [7, 7])]];
        var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = 100 };
        using var metrics = new ScorerMetrics();
        long alertsCounted = 0;
        using var listener = MeterListeners.Listen(metrics.Alerts, (_, value, _, _) => Interlocked.Add(ref alertsCounted, value));

        var inner = new InMemoryWindowStore(FeatureSpec.CardV1);
        var store = new FirstCommitRaced(inner, scenario.Live[0]);
        var processor = Processor(
            registry, options, metrics, new FraudPipeline(store, () => bundle, new ScoringOptions { Policy = ThresholdPolicy.Fixed, FixedThreshold = 0 }, capacity: 100), 100, overlap: true);

        var log = new List<(int Batch, int Alerts, int DeadLetters, int CardsStored)>();
        for (var b = 0; b < batches.Length; b++)
        {
            var number = b;
            await processor.ProcessAsync(batches[b], records =>
            {
                log.Add((number, records.Count(r => r.Topic == "a"), records.Count(r => r.Topic == "d"), inner.Cards));
                return Task.CompletedTask;
            }, CancellationToken.None);
            Assert.Equal(b < 2, processor.LastInFlight); // the DLQ-only batch leaves nothing in flight
        }

        // Batch 0 is published with nothing stored; its commit loses the race during batch 1, so its 100 alerts are
        // published again (events applied only now) before batch 1's; batch 1 is still in flight when the DLQ-only batch
        // comes, which writes it before publishing its dead letter.
        var cards0 = batches[0].Select(m => Encoding.UTF8.GetString(m.Message.Key!)).Distinct().Count();
        var cards01 = batches[..2].SelectMany(m => m).Select(m => Encoding.UTF8.GetString(m.Message.Key!)).Distinct().Count();
        Assert.Equal([(0, 100, 0, 0), (0, 100, 0, 1), (1, 100, 0, cards0), (2, 0, 1, cards01)], log);
        Assert.Equal(300, Interlocked.Read(ref alertsCounted));
        Assert.Equal(3, store.Commits); // batch 0 twice, batch 1 once (by the DLQ-only batch)
    }

    [Fact]
    public async Task Overlap_OverlappedReadFails_ThenItsRetryIsStopped_TheFailureIsStillLoggedAndCounted()
    {
        // Batch 1's reads, run alongside batch 0's write, fail; its serial retry then waits (as it would for a Redis
        // outage) until the scorer is stopped. The failure must show in the log and in streamfraud.errors{stage=overlap}
        // although the call ends in the stop (before: reported only when the call returned normally).
        using var scenario = ScorerScenario.Create("overlapfail", seed: 95, cards: 30, events: 200);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"overlapfail-{Guid.NewGuid():N}";
        var all = await Serialized(registry, topic, scenario.Live.Take(200));

        var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = 100 };
        using var metrics = new ScorerMetrics();
        var overlapErrors = new List<long>();
        using var listener = MeterListeners.Listen(metrics.Errors, (_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "stage", Value: ErrorStages.Overlap } && value > 0)
                {
                    lock (overlapErrors)
                    {
                        overlapErrors.Add(value);
                    }
                }
            }
        });
        var log = new ListLogger();
        var store = new OverlappedReadFailsThenHangs(new InMemoryWindowStore(FeatureSpec.CardV1));
        var processor = Processor(registry, options, metrics, new FraudPipeline(store, () => bundle, capacity: 100), 100, overlap: true, log);

        await processor.ProcessAsync(all[..100], _ => Task.CompletedTask, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var second = processor.ProcessAsync(all[100..], _ => Task.CompletedTask, stop.Token);
        Assert.True(await Task.Run(() => store.RetryWaiting.Wait(TimeSpan.FromSeconds(30))), "the serial retry never came");
        stop.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.Equal([1L], overlapErrors);
        var warning = Assert.Single(log.Lines, l => l.Contains("run alongside the previous batch's write, failed", StringComparison.Ordinal));
        Assert.StartsWith("Warning 26:", warning, StringComparison.Ordinal);
        Assert.Contains("overlapped read failed (test)", warning, StringComparison.Ordinal);
    }

    /// <summary>A store whose first overlapped read fails and whose serial reads after it wait until cancelled.</summary>
    private sealed class OverlappedReadFailsThenHangs(InMemoryWindowStore inner) : IWindowStore
    {
        private bool _failed;

        public ManualResetEventSlim RetryWaiting { get; } = new();

        public bool CanPrepareOnPending => true;

        public async Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
        {
            if (_failed)
            {
                RetryWaiting.Set();
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }

            return await inner.PrepareAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default)
        {
            _failed = true;
            throw new InvalidOperationException("overlapped read failed (test)");
        }

        public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default) => inner.CommitAsync(writes, cancellationToken);
    }

    /// <summary>Log lines as <c>Level EventId: message (exception message)</c>.</summary>
    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add($"{logLevel} {eventId.Id}: {formatter(state, exception)} ({exception?.Message})");
            }
        }
    }

    /// <summary>
    /// A store whose first commit loses a race: another writer applied one transaction to a card first, and nothing
    /// of the batch was written (every card reported as conflicting).
    /// </summary>
    private sealed class FirstCommitRaced(InMemoryWindowStore inner, Core.Transaction other) : IWindowStore
    {
        public int Commits { get; private set; }

        public bool CanPrepareOnPending => true;

        public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => inner.PrepareAsync(batch, cancellationToken);

        public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
            inner.PrepareOnPendingAsync(batch, pending, cancellationToken);

        public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
        {
            if (++Commits > 1)
            {
                return await inner.CommitAsync(writes, cancellationToken);
            }

            var race = new WindowBatch(FeatureSpec.CardV1, 1);
            race.Add(other with { TransactionId = "raced-" + other.TransactionId, EventTimeMs = other.EventTimeMs - 60_000 }, new SourcePosition(9, 0, SourcePosition.OfflineSource));
            await inner.ApplyAsync(race, cancellationToken);
            return writes.Cards;
        }
    }

    /// <summary>The transactions as Confluent-framed Avro messages of <paramref name="topic"/> (registered there), offsets 0, 1, …, keyed by card.</summary>
    private static async Task<List<ConsumeResult<byte[]?, byte[]?>>> Serialized(ISchemaRegistryClient registry, string topic, IEnumerable<Core.Transaction> transactions)
    {
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var messages = new List<ConsumeResult<byte[]?, byte[]?>>();
        foreach (var tx in transactions)
        {
            var value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
            messages.Add(Consumed(topic, messages.Count, Encoding.UTF8.GetBytes(tx.CardId), value));
        }

        return messages;
    }

    /// <summary>A processor over <paramref name="pipeline"/> with the registry's decoder and alert serializer, batches of <paramref name="capacity"/>.</summary>
    private static BatchProcessor Processor(
        ISchemaRegistryClient registry, ScorerOptions options, ScorerMetrics metrics, FraudPipeline pipeline, int capacity, bool overlap = false, Microsoft.Extensions.Logging.ILogger? log = null) =>
        new(
            new TransactionDecoder(registry), pipeline, new WindowBatch(FeatureSpec.CardV1, capacity),
            new OutputBuilder(options, new AvroSerializer<Contracts.FraudAlert>(registry), TimeProvider.System), metrics,
            new Outages(options, NullLogger.Instance, metrics, new DependencyHealth(TimeProvider.System), TimeProvider.System), log ?? NullLogger.Instance,
            new RepeatLimiter(TimeProvider.System, TimeSpan.FromMinutes(1)))
        {
            Overlap = overlap,
        };

    private static ConsumeResult<byte[]?, byte[]?> Consumed(string topic, long offset, byte[]? key, byte[]? value) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(topic, 0, offset),
        Message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Timestamp = new Timestamp(0, TimestampType.CreateTime) },
    };
}
