using Confluent.SchemaRegistry;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>The scorer service as a process: fails fast on bad configuration; survives SIGKILL without losing or double-applying events.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_Process(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-proc-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ConfigurationErrors_FailFast_WithMessageNamingTheFix()
    {
        var registry = PublishBundle("v1", TinyBundle.Stream(1, 20, 300));
        var cases = new (string[] Args, string Expected)[]
        {
            (["--Models:Registry", Path.Combine(_root, "nope")], "Models:Registry"),
            ([], "Models:Registry is not set"),
            (["--Models:Registry", registry, "--Scoring:FeatureSpec", "precomputed:8"], "feature spec"),
            (["--Models:Registry", registry, "--Redis:Configuration", "127.0.0.1:1"], "Redis:Configuration"),
            (["--Models:Registry", registry, "--Scoring:Policy", "loose"], "Scoring:Policy"),
            (["--Models:Registry", registry, "--Models:Pin", "v9"], "v9"),
        };
        foreach (var (args, expected) in cases)
        {
            using var p = ChildProcess.Start("StreamFraud.Scorer", [.. args, "--Redis:Configuration", args.Contains("--Redis:Configuration") ? args[Array.IndexOf(args, "--Redis:Configuration") + 1] : stack.Redis, "--urls", "http://127.0.0.1:0"]);
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), $"scorer did not exit for [{string.Join(' ', args)}]:\n{p.Output}");
            Assert.Equal(2, p.ExitCode);
            Assert.Contains(expected, p.Output);
        }
    }

    [Fact]
    public void SeveralConfigurationErrors_AllListedAtOnce_Exit2()
    {
        using var p = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Scoring:Policy", "loose", "--Scorer:BatchSize", "many", "--Scorer:RetryBaseDelay", "00:00:05", "--Scorer:RetryMaxDelay", "00:00:01",
            "--Scorer:ReadinessGrace", "soon", "--Redis:Configuration", stack.Redis, "--urls", "http://127.0.0.1:0",
        ]);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), p.Output);
        Assert.Equal(2, p.ExitCode);
        foreach (var key in new[] { "Models:Registry is not set", "Scoring:Policy 'loose'", "Scorer:BatchSize 'many'", "Scorer:RetryMaxDelay", "Scorer:ReadinessGrace 'soon'" })
        {
            Assert.Contains(key, p.Output);
        }

        Assert.DoesNotContain("   at ", p.Output); // a message, not a stack trace
    }

    /// <summary>
    /// Chaos: 20 SIGKILLs at random moments — mostly inside batches, some during start-up (bundle load, group join) —
    /// over one stream, at-least-once; then a last instance finishes. Every expected alert is present, duplicates are
    /// the same alert, and every card's state equals a single clean pass.
    /// </summary>
    [Fact]
    public async Task Chaos_TwentySigKills_EveryAlertPresent_NoStateDoubleApplied()
    {
        const int Kills = 20;
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 31, cards: 300, count: 1500);
        var live = TinyBundle.Stream(seed: 32, cards: 300, count: 40_000, start: history[^1].EventTimeMs + 1000);
        var registryDir = PublishBundle("v1", history, threshold: 0.4);
        var tiny = new { Directory = Path.Combine(registryDir, "v1") };
        var input = await stack.CreateTopicAsync("crash-tx", partitions: 4);
        var alertsTopic = await stack.CreateTopicAsync("crash-alerts", partitions: 4);
        var dlq = await stack.CreateTopicAsync("crash-dlq", partitions: 1);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, registry);

        var group = $"crash-{Guid.NewGuid():N}";
        var prefix = $"crash:{Guid.NewGuid():N}:";
        string[] args =
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "3000", "--Kafka:Consumer:heartbeat.interval.ms", "500",
            "--Kafka:Consumer:auto.commit.interval.ms", "200",
            "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis, "--Redis:KeyPrefix", prefix,
            "--Models:Registry", registryDir, "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alertsTopic, "--Scorer:DlqTopic", dlq,
            "--Scorer:BatchSize", "200", "--urls", "http://127.0.0.1:0",
        ];

        var kills = 0;
        var progress = new List<long>();
        var rng = new Random(5);
        while (true)
        {
            using var scorer = ChildProcess.Start("StreamFraud.Scorer", args);
            if (kills < Kills)
            {
                if (rng.Next(5) == 0)
                {
                    // During start-up: loading and warming the bundle, connecting, joining the group.
                    await Task.Delay(TimeSpan.FromMilliseconds(rng.Next(200, 2500)));
                }
                else
                {
                    // Once this instance has made progress of its own (a slow start must not turn the kill into a
                    // kill-before-work), at a random point inside the following batches.
                    var before = progress.Count == 0 ? 0 : progress[^1];
                    var deadline = DateTime.UtcNow.AddSeconds(90);
                    while (await Committed(group, input, 4) is var c && c <= before && c < live.Count && DateTime.UtcNow < deadline && !scorer.HasExited)
                    {
                        await Task.Delay(100);
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(rng.Next(600)));
                }

                Assert.False(scorer.HasExited, scorer.Output);
                scorer.KillHard();
                progress.Add(await Committed(group, input, 4));
                kills++;
                continue;
            }

            // Most kills landed mid-stream, not before the first batch or after the last.
            Assert.True(progress.Count(p => p > 0 && p < live.Count) >= Kills / 2, "kills mid-stream at committed offsets " + string.Join(", ", progress));
            var done = await WaitForCommittedEnd(group, input, 4, live.Count, TimeSpan.FromSeconds(180));
            scorer.Terminate();
            Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), "no graceful exit on SIGTERM:\n" + scorer.Output);
            Assert.True(done, "the scorer did not reach the end of the topic:\n" + scorer.Output);
            break;
        }

        var expected = ScorerScenario.ExpectedAlerts(TinyBundle.Open(tiny.Directory), live, 0.4);
        var alerts = stack.ReadAlerts(alertsTopic, registry, expected.Count, TimeSpan.FromSeconds(60));
        Assert.Equal(expected.Keys.Order(), alerts.Select(a => a.AlertId).Distinct().Order());
        foreach (var g in alerts.GroupBy(a => a.AlertId))
        {
            Assert.Single(g.Select(a => (Math.Round(a.Score, 6), a.WindowHash)).Distinct()); // duplicates are the same alert
        }

        // Card states equal a single clean pass: no event was applied twice, none was skipped.
        var clean = new InMemoryWindowStore(spec);
        var batch = new WindowBatch(spec, live.Count);
        for (var i = 0; i < live.Count; i++)
        {
            batch.Add(live[i], SourcePosition.None);
        }

        await clean.ApplyAsync(batch);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var checkedCards = 0;
        var probe = new CardState(spec);
        foreach (var card in live.Select(t => t.CardId).Distinct())
        {
            var stored = (byte[]?)await db.StringGetAsync(prefix + "c:" + card);
            Assert.NotNull(stored);
            probe.Load(stored.AsSpan(8));
            var reference = new CardState(spec);
            reference.Load(clean.Get(card));
            Assert.Equal(reference.AppliedCount, probe.AppliedCount);
            for (var k = 0; k < reference.Count; k++)
            {
                Assert.Equal(reference.GetEntry(k).TransactionIdHash, probe.GetEntry(k).TransactionIdHash);
                Assert.True(reference.GetVector(k).SequenceEqual(probe.GetVector(k)), $"card {card} step {k}");
            }

            checkedCards++;
        }

        Assert.Equal(300, checkedCards);
    }

    [Fact]
    public async Task Running_ReadyzAfterAssignment_MetricsExposeCounters_SigTermStopsCleanly()
    {
        var history = TinyBundle.Stream(seed: 81, cards: 30, count: 400);
        var live = TinyBundle.Stream(seed: 82, cards: 30, count: 300, start: history[^1].EventTimeMs + 1000);
        var registryDir = PublishBundle("v1", history, threshold: 0.4);
        var input = await stack.CreateTopicAsync("http-tx", partitions: 2);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, registry);

        var port = FreePort();
        using var scorer = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", $"http-{Guid.NewGuid():N}", "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis, "--Redis:KeyPrefix", $"http:{Guid.NewGuid():N}:",
            "--Models:Registry", registryDir, "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", await stack.CreateTopicAsync("http-alerts", 2),
            "--urls", $"http://127.0.0.1:{port}",
        ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var ready = false;
        while (!ready && DateTime.UtcNow < deadline && !scorer.HasExited)
        {
            try
            {
                ready = (await http.GetAsync("/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(250);
        }

        Assert.True(ready, "never ready:\n" + scorer.Output);
        Assert.True((await http.GetAsync("/healthz")).IsSuccessStatusCode);

        // /readyz details the label consumer's state; labels never make the scorer unready.
        var readiness = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/readyz")).RootElement;
        Assert.Equal("Healthy", readiness.GetProperty("status").GetString());
        var labels = readiness.GetProperty("ready").GetProperty("details").GetProperty("labels");
        Assert.Contains(labels.GetProperty("state").GetString(), new[] { "consuming", "degraded", "disabled" });

        // GPU by default: Scoring:Device is auto unless set; CUDA when its provider loads, else CPU with the reason,
        // logged once. This output directory holds ONNX Runtime's CPU build (a machine without GPU), so CUDA cannot load.
        var lstm = readiness.GetProperty("ready").GetProperty("details").GetProperty("lstm");
        Assert.Equal("auto", lstm.GetProperty("requested").GetString());
        var device = lstm.GetProperty("device").GetString();
        Assert.Contains(device, new[] { "cpu", "cuda" });
        var fallbacks = scorer.Output.Split('\n').Count(l => l.Contains("CUDA unavailable, the LSTM runs on CPU", StringComparison.Ordinal));
        if (device == "cpu")
        {
            Assert.False(string.IsNullOrWhiteSpace(lstm.GetProperty("cuda_unavailable").GetString()));
            Assert.Equal(1, fallbacks);
        }
        else
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Null, lstm.GetProperty("cuda_unavailable").ValueKind);
            Assert.Equal(0, fallbacks);
        }

        string metrics = "";
        deadline = DateTime.UtcNow.AddSeconds(30);
        string[] expected = ["streamfraud_events_consumed", "streamfraud_batch_duration", "model_version=\"v1\""];
        // Consumed is counted when a batch starts, the batch duration when it is committed: wait for a whole batch.
        while (!expected.All(m => metrics.Contains(m, StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            metrics = await http.GetStringAsync("/metrics");
        }

        Assert.Contains("streamfraud_events_consumed", metrics);
        Assert.Contains("streamfraud_batch_duration", metrics);
        Assert.Contains("model_version=\"v1\"", metrics);
        Assert.Matches($"streamfraud_model_serving[^\\n]*lstm_device=\"{device}\"", metrics);
        scorer.Terminate();
        Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);
        Assert.Equal(0, scorer.ExitCode);
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private Task<long> Committed(string group, string topic, int partitions) => ScorerRuns.Committed(stack.Kafka, group, topic, partitions);

    private Task<bool> WaitForCommittedEnd(string group, string topic, int partitions, int total, TimeSpan timeout) =>
        ScorerRuns.WaitForCommitted(stack.Kafka, group, topic, partitions, total, timeout);

    private string PublishBundle(string version, List<Core.Transaction> history, double threshold = 0.5) => ScorerRuns.PublishBundle(_root, version, history, threshold);
}

/// <summary>The running service follows promotions and rollbacks, and a restart serves what was promoted last.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_ProcessReload(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-proc-reload-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Promote_Rollback_Restart_AlertsCarryTheServingVersion()
    {
        var registryDir = Path.Combine(_root, "registry");
        var registry = new BundleRegistry(registryDir);
        var history = TinyBundle.Stream(seed: 101, cards: 60, count: 1000);
        foreach (var (v, seed) in new[] { ("v1", 1), ("v2", 2) })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, history, costMinThreshold: 0.35, seed: seed);
            registry.Publish(staging, v);
        }

        registry.Promote("v1");
        var input = await stack.CreateTopicAsync("reload-tx", 2);
        var alerts = await stack.CreateTopicAsync("reload-alerts", 2);
        using var sr = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var group = $"reload-{Guid.NewGuid():N}";
        string[] args =
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "6000", "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis,
            "--Redis:KeyPrefix", $"reload:{Guid.NewGuid():N}:", "--Models:Registry", registryDir, "--Models:PollInterval", "00:00:00.200",
            "--Models:ListenAnnouncements", "false", "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts, "--urls", "http://127.0.0.1:0",
        ];
        var start = history[^1].EventTimeMs + 1000;
        var phase = 0;
        var seen = new List<Contracts.FraudAlert>();

        async Task<List<string>> Phase(string expectedVersion)
        {
            var events = TinyBundle.Stream(seed: 200 + phase, cards: 60, count: 400, start: start + (phase * 100_000_000L));
            phase++;
            await stack.ProduceAsync(input, events, sr);

            var ids = events.Select(e => e.TransactionId).ToHashSet();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            List<Contracts.FraudAlert> mine = [];
            while (DateTime.UtcNow < deadline)
            {
                var all = stack.ReadAlerts(alerts, sr, int.MaxValue, TimeSpan.FromSeconds(2));
                mine = all.Where(a => ids.Contains(a.TransactionId)).ToList();
                if (mine.Count > 0 && mine.Select(a => a.TransactionId).Distinct().Count() >= 3)
                {
                    break;
                }
            }

            Assert.NotEmpty(mine);
            return mine.Select(a => a.ModelVersion).Distinct().ToList();
        }

        using (var scorer = ChildProcess.Start("StreamFraud.Scorer", args))
        {
            Assert.Equal(["v1"], await Phase("v1"));
            registry.Promote("v2");
            await WaitForLine(scorer, "Serving bundle v2", 1); // polled every 200 ms, debounced 1 s, verified off the hot path
            Assert.Equal(["v2"], await Phase("v2"));
            registry.Rollback(); // v1 was kept loaded: back without loading anything
            await WaitForLine(scorer, "Rolled back to v1", 1);
            Assert.Equal(["v1"], await Phase("v1"));
            registry.Promote("v2");
            await WaitForLine(scorer, "Rolled back to v2", 1); // v2 is now the kept one: instant as well
            scorer.Terminate();
            Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);
            Assert.Contains("Serving bundle v2", scorer.Output);
        }

        static async Task WaitForLine(ChildProcess p, string text, int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (p.Output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal)) < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no '{text}' in the scorer's log:\n{p.Output}");
                await Task.Delay(100);
            }
        }

        using (var restarted = ChildProcess.Start("StreamFraud.Scorer", args))
        {
            Assert.Equal(["v2"], await Phase("v2")); // a restart serves what current.json names: the last promotion
            restarted.Terminate();
            restarted.WaitForExit(TimeSpan.FromSeconds(30));
        }
    }
}
