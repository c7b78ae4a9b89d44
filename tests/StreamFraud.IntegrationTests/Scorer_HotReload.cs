using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamFraud.Core.Features;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>A model-updates announcement makes the manager swap at once instead of at its next (slow) poll.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_HotReload(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-hot-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Announcement_TriggersSwap_BeforeNextPoll()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        var history = TinyBundle.Stream(1, 20, 300);
        foreach (var v in new[] { "v1", "v2" })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, history, seed: v == "v1" ? 1 : 2);
            registry.Publish(staging, v);
        }

        registry.Promote("v1");
        var topic = await stack.CreateTopicAsync("model-updates-hot", 1);
        using var manager = new BundleManager(registry, FeatureSpec.CardV1, new BundleManagerOptions { PollInterval = TimeSpan.FromMinutes(5), Debounce = TimeSpan.FromMilliseconds(200) });
        manager.LoadInitial();
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(() => manager.RunAsync(stop.Token));
        var listener = new ModelUpdateListener(new ClientConfig { BootstrapServers = stack.Kafka }, manager, NullLogger.Instance, topic);
        var thread = new Thread(() => listener.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        await Task.Delay(3000); // the listener joins at the end of the topic

        registry.Promote("v2");
        var update = ModelAnnouncer.Describe(registry.PathOf("v2"), "v1");
        await ModelAnnouncer.AnnounceAsync(new ClientConfig { BootstrapServers = stack.Kafka }, new Confluent.SchemaRegistry.SchemaRegistryConfig { Url = stack.Registry }, update, topic);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (manager.Current!.Version != "v2" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await watcher;
        thread.Join(TimeSpan.FromSeconds(10));
        Assert.Equal("v2", manager.Current!.Version); // long before the 5-minute poll
        Assert.True(listener.Announcements >= 1);
    }
}

/// <summary>A challenger scores the same windows into the shadow topic only; the live topic keeps the champion's alerts.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_Challenger(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-challenger-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Challenger_ShadowTopicGetsItsDecisions_LiveTopicOnlyChampions()
    {
        var history = TinyBundle.Stream(seed: 95, cards: 80, count: 1500);
        var live = TinyBundle.Stream(seed: 96, cards: 80, count: 1500, start: history[^1].EventTimeMs + 1000);
        var champion = TinyBundle.Create(Path.Combine(_root, "champ"), "champ", history, costMinThreshold: 0.4, seed: 1);
        var challenger = TinyBundle.Create(Path.Combine(_root, "chall"), "chall", history, costMinThreshold: 0.38, seed: 7);
        using var champ = ModelBundle.Load(champion.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8 });
        using var chall = ModelBundle.Load(challenger.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8 });
        var expectedChampion = ScorerScenario.ExpectedAlerts(champion, live, 0.4);
        var expectedChallenger = ScorerScenario.ExpectedAlerts(challenger, live, 0.38);
        Assert.NotEqual(expectedChampion.Keys.Order(), expectedChallenger.Keys.Order()); // the two disagree somewhere

        var (input, alerts, shadow, dlq) = (await stack.CreateTopicAsync("ch-tx", 2), await stack.CreateTopicAsync("ch-alerts", 2), await stack.CreateTopicAsync("ch-shadow", 2), await stack.CreateTopicAsync("ch-dlq", 1));
        using var registry = new Confluent.SchemaRegistry.CachedSchemaRegistryClient(new Confluent.SchemaRegistry.SchemaRegistryConfig { Url = stack.Registry });
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 10 }).Build())
        {
            var serializer = new Confluent.SchemaRegistry.Serdes.AvroSerializer<Contracts.Transaction>(registry);
            foreach (var tx in live)
            {
                producer.Produce(input, new Message<string, byte[]> { Key = tx.CardId, Value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, input)) });
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        await using var mux = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(stack.Redis);
        using var metrics = new ScorerMetrics();
        using var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = $"ch-{Guid.NewGuid():N}", FetchWaitMaxMs = 20 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, registry,
                new Redis.RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new Redis.RedisWindowStoreOptions { KeyPrefix = $"ch:{Guid.NewGuid():N}:" }),
                new FixedBundleSource(() => champ), FeatureSpec.CardV1) { Challenger = chall },
            new ScorerOptions { InputTopic = input, AlertsTopic = alerts, ShadowTopic = shadow, DlqTopic = dlq, BatchSize = 150 },
            new Scoring.ScoringOptions(), NullLogger.Instance, metrics);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        var liveAlerts = stack.ReadAlerts(alerts, registry, expectedChampion.Count, TimeSpan.FromSeconds(90));
        var shadowAlerts = stack.ReadAlerts(shadow, registry, expectedChallenger.Count, TimeSpan.FromSeconds(60));
        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(30));

        Assert.Equal(expectedChampion.Keys.Order(), liveAlerts.Select(a => a.AlertId).Distinct().Order());
        Assert.All(liveAlerts, a => Assert.Equal("champ", a.ModelVersion));
        Assert.Equal(expectedChallenger.Keys.Order(), shadowAlerts.Select(a => a.AlertId).Distinct().Order());
        Assert.All(shadowAlerts, a => Assert.Equal("chall", a.ModelVersion));
        foreach (var a in shadowAlerts)
        {
            Assert.Equal(expectedChallenger[a.AlertId].Score, a.Score, 1e-5);
        }
    }
}
