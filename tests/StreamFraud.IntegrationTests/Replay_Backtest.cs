using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using StackExchange.Redis;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;
using StreamFraud.Replay;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>Replay reproduces the live scorer's decisions, stays isolated, compares versions, and reads CSV and topics alike.</summary>
[Collection(StackCollection.Name)]
public sealed class Replay_Backtest(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-replay-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task LiveThenReplay_SameBundle_IdenticalDecisions_Isolated_CsvEqualsTopic()
    {
        var registryDir = Path.Combine(_root, "registry");
        var registry = new BundleRegistry(registryDir);
        var history = TinyBundle.Stream(seed: 111, cards: 100, count: 1500);
        var staging = registry.CreateStagingDirectory();
        TinyBundle.Create(staging, "v1", history, costMinThreshold: 0.4);
        registry.Publish(staging, "v1");
        var tiny = Reopen(registry, "v1");
        var live = TinyBundle.Stream(seed: 112, cards: 100, count: 3000, start: history[^1].EventTimeMs + 1000);
        var input = await stack.CreateTopicAsync("replay-tx", 2);
        var alerts = await stack.CreateTopicAsync("replay-live-alerts", 2);
        var dlq = await stack.CreateTopicAsync("replay-dlq", 1);
        using var sr = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, sr);

        // The live scorer over the whole topic.
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8 });
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var livePrefix = $"live:{Guid.NewGuid():N}:";
        using (var loop = new ScoringLoop(
                   new ScoringLoopClients(
                       new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = $"live-{Guid.NewGuid():N}", FetchWaitMaxMs = 20 },
                       new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, sr,
                       new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = livePrefix }),
                       new FixedBundleSource(() => bundle), FeatureSpec.CardV1),
                   new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = dlq, BatchSize = 200 },
                   new ScoringOptions(), NullLogger.Instance, new ScorerMetrics()))
        {
            using var stop = new CancellationTokenSource();
            var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
            thread.Start();
            var expected = ScorerScenario.ExpectedAlerts(tiny, live, 0.4);
            var read = stack.ReadAlerts(alerts, sr, expected.Count, TimeSpan.FromSeconds(90));
            Assert.Equal(expected.Count, read.Select(a => a.AlertId).Distinct().Count());
            stop.Cancel();
            thread.Join(TimeSpan.FromSeconds(30));
        }

        var liveKeysBefore = await Snapshot(mux, livePrefix);
        var alertsEndBefore = HighWatermarks(alerts);

        // Replay the second half of the stream; the first half is warm-up.
        var from = DateTimeOffset.FromUnixTimeMilliseconds(live[1500].EventTimeMs);
        var to = DateTimeOffset.FromUnixTimeMilliseconds(live[^1].EventTimeMs + 1);
        var warmup = from - DateTimeOffset.FromUnixTimeMilliseconds(live[0].EventTimeMs);
        var topicReport = await ReplayCommand.RunAsync(new ReplayArgs
        {
            Registry = registryDir, Versions = ["v1"], Bootstrap = stack.Kafka, SchemaRegistry = stack.Registry, Topic = input,
            From = from, To = to, Warmup = warmup, Out = Path.Combine(_root, "topic-report"), LiveAlertsTopic = alerts,
        }, Quiet());

        var l = topicReport.Live!;
        var expectedInRange = ScorerScenario.ExpectedAlerts(tiny, live, 0.4).Count(kv => live.First(t => t.TransactionId == kv.Value.TransactionId).EventTimeMs >= from.ToUnixTimeMilliseconds());
        Assert.Equal("v1", l.Version);
        Assert.True(expectedInRange == l.Identical, $"live comparison: {l}; replay: {topicReport.Versions[0].Events} events, {topicReport.Versions[0].Alerts} alerts, warm-up {topicReport.WarmupEvents}"); // same ids, scores within 1e-6, same window hashes
        Assert.Equal((0L, 0L, 0L), (l.Missing, l.Extra, l.Different));
        Assert.Equal(1500, topicReport.Versions[0].Events);
        Assert.True(File.Exists(Path.Combine(_root, "topic-report", "report.json")));
        Assert.True(File.Exists(Path.Combine(_root, "topic-report", "pr.png")));

        // Isolation: nothing written to the live alerts topic or the live state keys.
        Assert.Equal(alertsEndBefore, HighWatermarks(alerts));
        Assert.Equal(liveKeysBefore, await Snapshot(mux, livePrefix));

        // The same events from a CSV give the same report.
        var csv = Path.Combine(_root, "live.csv");
        CanonicalCsv.Write(csv, live);
        var csvReport = await ReplayCommand.RunAsync(new ReplayArgs
        {
            Registry = registryDir, Versions = ["v1"], Input = csv, From = from, To = to, Warmup = warmup, Out = Path.Combine(_root, "csv-report"),
        }, Quiet());
        var (a, b) = (topicReport.Versions[0], csvReport.Versions[0]);
        Assert.Equal((a.Events, a.Alerts, a.RocAuc, a.AveragePrecision, a.CardPrecisionAt100), (b.Events, b.Alerts, b.RocAuc, b.AveragePrecision, b.CardPrecisionAt100));
        Assert.Equal(a.ScoreHistogram, b.ScoreHistogram);
    }

    [Fact]
    public async Task TwoVersionsInOnePass_CountsMatchDirectComputation()
    {
        var registryDir = Path.Combine(_root, "registry2");
        var registry = new BundleRegistry(registryDir);
        var history = TinyBundle.Stream(seed: 121, cards: 80, count: 1200);
        foreach (var (v, seed, t) in new[] { ("a", 1, 0.40), ("b", 5, 0.37) })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, history, costMinThreshold: t, seed: seed);
            registry.Publish(staging, v);
        }

        var events = TinyBundle.Stream(seed: 122, cards: 80, count: 2500, start: history[^1].EventTimeMs + 1000);
        var csv = Path.Combine(_root, "two.csv");
        CanonicalCsv.Write(csv, events);
        var report = await ReplayCommand.RunAsync(new ReplayArgs { Registry = registryDir, Versions = ["a", "b"], Input = csv, Out = Path.Combine(_root, "two-report") }, Quiet());

        var ea = ScorerScenario.ExpectedAlerts(Reopen(registry, "a"), events, 0.40);
        var eb = ScorerScenario.ExpectedAlerts(Reopen(registry, "b"), events, 0.37);
        Assert.Equal(ea.Count, report.Versions[0].Alerts);
        Assert.Equal(eb.Count, report.Versions[1].Alerts);
        var c = report.Comparisons.Single();
        Assert.Equal(("a", "b"), (c.Baseline, c.Candidate));
        Assert.Equal(eb.Keys.Count(k => !ea.ContainsKey(k)), c.Gained);
        Assert.Equal(ea.Keys.Count(k => !eb.ContainsKey(k)), c.Lost);
        Assert.Equal(ea.Keys.Count(eb.ContainsKey), c.Both);
        Assert.True(c.Gained + c.Lost > 0, "the versions should disagree somewhere for the comparison to mean anything");

        // Label metrics equal a direct computation from the offline scores.
        var labels = events.Select(e => e.IsFraud == true).ToArray();
        var offline = OfflineScores(Reopen(registry, "a"), events);
        Assert.Equal(Core.Evaluation.ScoreCurve.Create(offline, labels).AveragePrecision(), report.Versions[0].AveragePrecision!.Value, 6);
    }

    [Fact]
    public async Task Args_LiveTopicsAndLivePrefix_Refused()
    {
        var (code, error) = await RunApp("--registry", "r", "--version", "v", "--input", "x.csv", "--alerts-topic", "fraud-alerts");
        Assert.Equal(ReplayApp.UsageExitCode, code);
        Assert.Contains("live alerts topic", error);
        (code, error) = await RunApp("--registry", "r", "--version", "v", "--input", "x.csv", "--redis", "localhost:6379", "--redis-prefix", "sf:");
        Assert.Equal(ReplayApp.UsageExitCode, code);
        Assert.Contains("never touches live state", error);
        (code, error) = await RunApp("--registry", "r", "--version", "v", "--topic", "transactions");
        Assert.Equal(ReplayApp.UsageExitCode, code);
        Assert.Contains("--from and --to", error);
        (code, error) = await RunApp("--registry", "r", "--version", "v", "--input", "x.csv", "--lstm-path", "bf16");
        Assert.Equal(ReplayApp.UsageExitCode, code);
        Assert.Contains("--lstm-path 'bf16'", error);
    }

    private static double[] OfflineScores(TinyBundle tiny, List<Core.Transaction> events)
    {
        var spec = FeatureSpec.CardV1;
        var f = new OfflineFeaturizer(spec);
        var windows = new float[events.Count * spec.WindowSize];
        var newest = new float[events.Count * spec.Dimension];
        for (var i = 0; i < events.Count; i++)
        {
            f.Apply(events[i], windows.AsSpan(i * spec.WindowSize, spec.WindowSize));
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var lstm = tiny.Lstm.Predict(windows);
        using var xgb = XgBoost.Booster.Load(tiny.XgbModel);
        var x = xgb.PredictDense(newest, events.Count, iterationEnd: 0);
        return Enumerable.Range(0, events.Count).Select(i => (0.5 * lstm[i]) + (0.5 * x[i])).ToArray();
    }

    private static TinyBundle Reopen(BundleRegistry registry, string version) => TinyBundle.Open(registry.PathOf(version));

    private static async Task<(int Code, string Error)> RunApp(params string[] args)
    {
        var error = new StringWriter();
        var code = await ReplayApp.RunAsync(args, Quiet(), AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) }));
        return (code, error.ToString());
    }

    private static IAnsiConsole Quiet() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

    private List<long> HighWatermarks(string topic)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = $"hw-{Guid.NewGuid():N}" }).Build();
        return Enumerable.Range(0, 2).Select(p => c.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value).ToList();
    }

    private static async Task<List<string>> Snapshot(ConnectionMultiplexer mux, string prefix)
    {
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        var result = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: prefix + "*"))
        {
            result.Add($"{key}={Convert.ToHexString((byte[])(await mux.GetDatabase().StringGetAsync(key))!)}");
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }
}
