using System.Diagnostics;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.DevStack.Kafka;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Outages longer than the consumer's patience: the scorer stays in its group (the input is paused but still polled),
/// stops promptly on SIGTERM while Redis is down, and logs an outage in a few timestamped lines.
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class Scorer_LongOutages(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-long-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task RedisOutageLongerThanMaxPollInterval_NoEviction_NoReprocessingByTheOtherMember()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 51, cards: 200, count: 1200);
        var live = TinyBundle.Stream(seed: 52, cards: 200, count: 8000, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.4);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 16 });
        var expected = ScorerScenario.ExpectedAlerts(tiny, live, 0.4);
        var input = await stack.CreateTopicAsync("long-tx", 4);
        var alerts = await stack.CreateTopicAsync("long-alerts", 4);
        var dlq = await stack.CreateTopicAsync("long-dlq", 1);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, registry);

        await using var redisServer = await RedisServerProcess.StartAsync(); // its own: the freeze must not disturb other tests
        var redisOptions = ConfigurationOptions.Parse(redisServer.Endpoint);
        redisOptions.AbortOnConnectFail = false;
        redisOptions.AsyncTimeout = 2000;
        redisOptions.SyncTimeout = 2000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var group = $"long-{Guid.NewGuid():N}";
        var loops = new List<(ScoringLoop Loop, Thread Thread)>();
        var meters = new List<ScorerMetrics>();
        using var stop = new CancellationTokenSource();
        for (var i = 0; i < 2; i++)
        {
            var metrics = new ScorerMetrics();
            meters.Add(metrics);
            var loop = new ScoringLoop(
                new ScoringLoopClients(
                    new ConsumerConfig
                    {
                        BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 500,
                        MaxPollIntervalMs = 15_000, AutoCommitIntervalMs = 200,
                    },
                    new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, registry,
                    new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"{group}:" }),
                    new FixedBundleSource(() => bundle), spec),
                new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = dlq, BatchSize = 50, RetryMaxDelay = TimeSpan.FromSeconds(2) },
                new ScoringOptions(), NullLogger.Instance, metrics);
            var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
            thread.Start();
            loops.Add((loop, thread));
        }

        try
        {
            // Both members own partitions and are scoring; then Redis freezes for longer than max.poll.interval.ms.
            await WaitUntil(() => loops.All(l => l.Loop.Assignment.Count > 0 && l.Loop.Batches >= 2), TimeSpan.FromSeconds(90), "both members scoring");
            Assert.True(await ScorerRuns.Committed(stack.Kafka, group, input, 4) < live.Count, "the stream ended before the outage");
            var assignment = loops.Select(l => l.Loop.Assignment.Select(tp => tp.Partition.Value).Order().ToList()).ToList();
            redisServer.Freeze();
            var batchesAtFreeze = loops.Select(l => l.Loop.Batches).ToList();
            await Task.Delay(TimeSpan.FromSeconds(8));

            // Stuck, the scorers report their whole backlog from the committed offsets (fetched or not), and the age
            // of the oldest message they hold keeps growing.
            var committed = await ScorerRuns.Committed(stack.Kafka, group, input, 4);
            Assert.Equal(live.Count - committed, meters.Sum(m => m.Lag));
            var ages = meters.Select(m => m.OldestUnprocessedAge()).ToList();
            await Task.Delay(TimeSpan.FromSeconds(17));
            // A member whose partitions had nothing left to read when Redis froze (possible on a loaded machine) holds
            // no message, so its age rightly stays 0; every member with a backlog must show it ageing.
            var backlogged = Enumerable.Range(0, 2).Where(i => meters[i].Lag > 0).ToList();
            Assert.NotEmpty(backlogged);
            foreach (var i in backlogged)
            {
                Assert.True(meters[i].OldestUnprocessedAge() - ages[i] >= 15, $"member {i} (lag {meters[i].Lag}): age {ages[i]:0.0} s -> {meters[i].OldestUnprocessedAge():0.0} s");
            }

            Assert.Equal(live.Count - committed, meters.Sum(m => m.Lag));
            for (var i = 0; i < 2; i++)
            {
                Assert.InRange(loops[i].Loop.Batches, batchesAtFreeze[i], batchesAtFreeze[i] + 1); // stalled, not skipping
            }

            redisServer.Thaw();
            Assert.True(await ScorerRuns.WaitForCommitted(stack.Kafka, group, input, 4, live.Count, TimeSpan.FromSeconds(120)), "the group did not reach the end");

            // Neither member was evicted: the assignment never changed, and no alert was produced twice (a member
            // evicted mid-batch would have its batch re-processed by the other one).
            for (var i = 0; i < 2; i++)
            {
                Assert.Equal(assignment[i], loops[i].Loop.Assignment.Select(tp => tp.Partition.Value).Order().ToList());
            }

            await WaitUntil(() => meters.All(m => m.Lag == 0 && m.OldestUnprocessedAge() == 0), TimeSpan.FromSeconds(10), "lag and age back to 0");
            var read = stack.ReadAlerts(alerts, registry, int.MaxValue, TimeSpan.FromSeconds(15)); // everything there is
            Assert.Equal(expected.Keys.Order(), read.Select(a => a.AlertId).Order());
        }
        finally
        {
            redisServer.Thaw();
            stop.Cancel();
            foreach (var (loop, thread) in loops)
            {
                thread.Join(TimeSpan.FromSeconds(30));
                loop.Dispose();
            }

            meters.ForEach(m => m.Dispose());
        }
    }

    [Fact]
    public async Task SigTermDuringRedisOutage_ExitsWithinShutdownTimeout_NothingLostOnRestart()
    {
        var history = TinyBundle.Stream(seed: 61, cards: 150, count: 1200);
        var live = TinyBundle.Stream(seed: 62, cards: 150, count: 6000, start: history[^1].EventTimeMs + 1000);
        var registryDir = ScorerRuns.PublishBundle(_root, "v1", history, threshold: 0.4);
        var input = await stack.CreateTopicAsync("term-tx", 4);
        var alerts = await stack.CreateTopicAsync("term-alerts", 4);
        var dlq = await stack.CreateTopicAsync("term-dlq", 1);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, registry);
        await using var redisServer = await RedisServerProcess.StartAsync();
        var group = $"term-{Guid.NewGuid():N}";
        string[] args =
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "6000", "--Kafka:Consumer:auto.commit.interval.ms", "200",
            "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", redisServer.Endpoint + ",syncTimeout=2000,asyncTimeout=2000",
            "--Models:Registry", registryDir, "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts, "--Scorer:DlqTopic", dlq,
            "--Scorer:BatchSize", "50", "--urls", "http://127.0.0.1:0",
        ];

        using (var scorer = ChildProcess.Start("StreamFraud.Scorer", args))
        {
            await WaitUntil(async () => await ScorerRuns.Committed(stack.Kafka, group, input, 4) > 0, TimeSpan.FromSeconds(90), "first commits");
            redisServer.Freeze();
            await WaitUntil(() => Task.FromResult(scorer.Output.Contains("Redis unavailable", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the outage to be noticed");
            var stopping = Stopwatch.StartNew();
            scorer.Terminate();
            Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), "no exit within the shutdown timeout while Redis is down:\n" + scorer.Output);
            Assert.InRange(stopping.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15)); // the retry wait observes the stop token
            Assert.Equal(0, scorer.ExitCode);
            Assert.Contains("abandoned uncommitted", scorer.Output);
        }

        redisServer.Thaw();
        using (var restarted = ChildProcess.Start("StreamFraud.Scorer", args))
        {
            Assert.True(await ScorerRuns.WaitForCommitted(stack.Kafka, group, input, 4, live.Count, TimeSpan.FromSeconds(120)), restarted.Output);
            restarted.Terminate();
            Assert.True(restarted.WaitForExit(TimeSpan.FromSeconds(30)), restarted.Output);
        }

        var expected = ScorerScenario.ExpectedAlerts(TinyBundle.Open(Path.Combine(registryDir, "v1")), live, 0.4);
        var read = stack.ReadAlerts(alerts, registry, expected.Count, TimeSpan.FromSeconds(60));
        Assert.Equal(expected.Keys.Order(), read.Select(a => a.AlertId).Distinct().Order()); // nothing lost
    }

    [MockClusterFact]
    public async Task KafkaDown40Seconds_AtMost20LogLines_EachTimestamped()
    {
        var history = TinyBundle.Stream(seed: 71, cards: 50, count: 600);
        var live = TinyBundle.Stream(seed: 72, cards: 50, count: 500, start: history[^1].EventTimeMs + 1000);
        var registryDir = ScorerRuns.PublishBundle(_root, "v1", history, threshold: 0.4);
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [("tx", 2), ("alerts", 2), ("dlq", 1)] });
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync("tx", live, registry, cluster.BootstrapServers);
        var group = $"quiet-{Guid.NewGuid():N}";
        using var scorer = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Kafka:BootstrapServers", cluster.BootstrapServers, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "6000", "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis,
            "--Redis:KeyPrefix", $"{group}:", "--Models:Registry", registryDir, "--Scorer:InputTopic", "tx", "--Scorer:AlertsTopic", "alerts",
            "--Scorer:DlqTopic", "dlq", "--urls", "http://127.0.0.1:0",
        ]);
        await WaitUntil(async () => await ScorerRuns.Committed(cluster.BootstrapServers, group, "tx", 2) >= live.Count, TimeSpan.FromSeconds(90), "the stream scored");
        await Task.Delay(1000);

        var before = scorer.Output.Length;
        cluster.SetBrokerDown(1);
        await Task.Delay(TimeSpan.FromSeconds(40));
        var during = scorer.Output[before..];
        cluster.SetBrokerUp(1);
        scorer.Terminate();
        Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);

        var lines = during.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length <= 20, $"{lines.Length} log lines during a 40 s Kafka outage:\n{during}");
        Assert.NotEmpty(lines); // the outage was reported
        Assert.All(lines, l => Assert.Matches(Timestamped(), l));
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ")]
    private static partial Regex Timestamped();

    private static Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what) => WaitUntil(() => Task.FromResult(condition()), timeout, what);

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(200);
        }
    }
}
