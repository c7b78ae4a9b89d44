using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.DevStack.Kafka;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>Redis frozen for 10 s and the broker down for 10 s mid-stream: the run completes with the output of an uninterrupted one.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_Outages(StackFixture stack)
{
    [MockClusterFact]
    public async Task RedisFrozenAndBrokerDown_RunCompletes_OutputEqualsUninterrupted()
    {
        var spec = FeatureSpec.CardV1;
        using var scenario = ScorerScenario.Create("outage", seed: 41, cards: 150, events: 6000);
        var (_, live, expected) = scenario;
        using var bundle = scenario.LoadBundle();

        // Own broker and own redis-server: the faults must not disturb other tests.
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [("tx", 2), ("alerts", 2), ("dlq", 1)] });
        await using var redisServer = await RedisServerProcess.StartAsync();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync("tx", live, registry, cluster.BootstrapServers);

        var redisOptions = ConfigurationOptions.Parse(redisServer.Endpoint);
        redisOptions.AbortOnConnectFail = false;
        redisOptions.AsyncTimeout = 2000;
        redisOptions.SyncTimeout = 2000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var prefix = "outage:";
        var store = new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        using var metrics = new ScorerMetrics();
        var group = $"outage-{Guid.NewGuid():N}";
        using var loop = new ScoringLoop(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000, AutoCommitIntervalMs = 200 },
                new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 5 },
                registry, store, new FixedBundleSource(() => bundle), spec),
            new ScorerOptions { InputTopic = "tx", AlertsTopic = "alerts", DlqTopic = "dlq", BatchSize = 100, RetryBaseDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromSeconds(1) },
            new ScoringOptions(), NullLogger.Instance, metrics);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();

        await WaitUntil(() => loop.Batches >= 3, TimeSpan.FromSeconds(60), "scoring to start");
        redisServer.Freeze();
        var batchesAtFreeze = loop.Batches;
        await Task.Delay(TimeSpan.FromSeconds(10));
        Assert.InRange(loop.Batches, batchesAtFreeze, batchesAtFreeze + 1); // stalled, not skipping
        redisServer.Thaw();

        await WaitUntil(() => loop.Batches >= batchesAtFreeze + 5, TimeSpan.FromSeconds(60), "scoring to resume after Redis");
        cluster.SetBrokerDown(1);
        await Task.Delay(TimeSpan.FromSeconds(10));
        cluster.SetBrokerUp(1);

        var alerts = stack.ReadAlerts("alerts", registry, expected.Count, TimeSpan.FromSeconds(120), cluster.BootstrapServers);
        await WaitUntil(() => Committed(cluster.BootstrapServers, group) >= live.Count, TimeSpan.FromSeconds(120), "all offsets committed");
        stop.Cancel();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.True(loop.Batches > batchesAtFreeze);

        // Same alerts as an uninterrupted (offline) run; same card states as one clean pass.
        Assert.Equal(expected.Keys.Order(), alerts.Select(a => a.AlertId).Distinct().Order());
        foreach (var a in alerts)
        {
            Assert.Equal(expected[a.AlertId].Score, a.Score, 1e-5);
        }

        var clean = new InMemoryWindowStore(spec);
        var batch = new WindowBatch(spec, live.Count);
        foreach (var tx in live)
        {
            batch.Add(tx, SourcePosition.None);
        }

        await clean.ApplyAsync(batch);
        var db = mux.GetDatabase();
        foreach (var card in live.Select(t => t.CardId).Distinct())
        {
            var stored = (byte[])(await db.StringGetAsync(prefix + "c:" + card))!;
            var probe = new CardState(spec);
            probe.Load(stored.AsSpan(8));
            var reference = new CardState(spec);
            reference.Load(clean.Get(card));
            Assert.Equal(reference.AppliedCount, probe.AppliedCount);
            Assert.True(reference.GetVector(reference.Count - 1).SequenceEqual(probe.GetVector(probe.Count - 1)));
        }
    }

    private static long Committed(string bootstrap, string group)
    {
        using var probe = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group, EnableAutoCommit = false }).Build();
        try
        {
            return probe.Committed([new TopicPartition("tx", 0), new TopicPartition("tx", 1)], TimeSpan.FromSeconds(5)).Sum(c => Math.Max(0, c.Offset.Value));
        }
        catch (KafkaException)
        {
            return -1;
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
