using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>A published bundle announced on model-updates reads back with its manifest's identity and checksum.</summary>
[Collection(StackCollection.Name)]
public sealed class Trainer_Announce(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-announce-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Announce_PublishedBundle_KeyedByModelName_ReadsBack()
    {
        var dir = Path.Combine(_root, "v7");
        var tiny = TinyBundle.Create(dir, "v7", TinyBundle.Stream(1, 20, 300), costMinThreshold: 0.33);
        var topic = await stack.CreateTopicAsync("model-updates", 1);
        var update = ModelAnnouncer.Describe(dir, previousVersion: "v6");
        var at = await ModelAnnouncer.AnnounceAsync(new ClientConfig { BootstrapServers = stack.Kafka }, new SchemaRegistryConfig { Url = stack.Registry }, update, topic);
        Assert.Equal(0, at.Offset.Value);

        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        using var consumer = new ConsumerBuilder<string, Contracts.ModelUpdate>(new ConsumerConfig
            {
                BootstrapServers = stack.Kafka, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
            })
            .SetValueDeserializer(new AvroDeserializer<Contracts.ModelUpdate>(registry).AsSyncOverAsync()).Build();
        consumer.Subscribe(topic);
        var r = consumer.Consume(TimeSpan.FromSeconds(30));
        Assert.NotNull(r);
        Assert.Equal("card-fraud", r.Message.Key);
        Assert.Equal(("v7", "v6"), (r.Message.Value.Version, r.Message.Value.PreviousVersion));
        Assert.Equal(BundleRegistry.Sha256(Path.Combine(dir, BundleManifest.FileName)), r.Message.Value.ManifestSha256);
        Assert.Equal(tiny.Manifest.FeatureSpec.Hash, r.Message.Value.FeatureSpecHash);
        Assert.Equal(0.33, r.Message.Value.Thresholds["cost_min"]);
        consumer.Close();
    }
}
