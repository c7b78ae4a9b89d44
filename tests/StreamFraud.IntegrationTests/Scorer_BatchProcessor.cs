using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
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
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var messages = new List<ConsumeResult<byte[]?, byte[]?>>();
        foreach (var tx in scenario.Live)
        {
            var value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
            messages.Add(Consumed(topic, messages.Count, Encoding.UTF8.GetBytes(tx.CardId), value));
        }

        messages.Insert(7, Consumed(topic, 7, [1, 2], [9, 9, 9])); // not Confluent-framed Avro
        for (var i = 8; i < messages.Count; i++)
        {
            messages[i] = Consumed(topic, i, messages[i].Message.Key, messages[i].Message.Value); // offsets stay in order
        }

        var options = new ScorerOptions { InputTopic = topic, AlertsTopic = "a", DlqTopic = "d", BatchSize = messages.Count };
        using var metrics = new ScorerMetrics();
        var outages = new Outages(options, NullLogger.Instance, metrics, new DependencyHealth(TimeProvider.System), TimeProvider.System);
        var store = new InMemoryWindowStore(FeatureSpec.CardV1);
        var processor = new BatchProcessor(
            new TransactionDecoder(registry), new FraudPipeline(store, () => bundle, capacity: messages.Count), new WindowBatch(FeatureSpec.CardV1, messages.Count),
            new OutputBuilder(options, new AvroSerializer<Contracts.FraudAlert>(registry), TimeProvider.System), metrics, outages, NullLogger.Instance,
            new RepeatLimiter(TimeProvider.System, TimeSpan.FromMinutes(1)));

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

    private static ConsumeResult<byte[]?, byte[]?> Consumed(string topic, long offset, byte[]? key, byte[]? value) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(topic, 0, offset),
        Message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Timestamp = new Timestamp(0, TimestampType.CreateTime) },
    };
}
