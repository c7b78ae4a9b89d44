using System.Text.Json;
using Confluent.SchemaRegistry;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The scorer process against bad bundles (issue 11): a malformed promotion is refused, logged and counted while the
/// old bundle keeps scoring, and a later good promotion is followed; at start a bad current bundle exits 2 with the
/// reason, unless the previous version can be served instead.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_BadBundles(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-bad-bundles-").FullName;
    private readonly List<Core.Transaction> _history = TinyBundle.Stream(seed: 141, cards: 40, count: 500);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task MalformedPromotion_RefusedWhileOldKeepsScoring_ThenGoodPromotionFollowed()
    {
        var registry = Registry("run", "v1", "v2", "v3");
        registry.Promote("v1");
        var input = await stack.CreateTopicAsync("bad-run-tx", 1);
        var alerts = await stack.CreateTopicAsync("bad-run-alerts", 1);
        using var sr = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var port = FreePort();
        using var scorer = ChildProcess.Start("StreamFraud.Scorer", Args(registry.Directory, input, alerts, port));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await WaitForLine(scorer, "Serving bundle v1");

        // v2's manifest has a NaN threshold: served, it would silently disable every alert.
        TinyBundle.EditManifest(registry.PathOf("v2"), m => m["thresholds"]!["cost_min"]!["threshold"] = "NaN");
        registry.Promote("v2");
        await WaitForLine(scorer, "Candidate bundle v2 from current.json refused (manifest)");
        Assert.Contains("thresholds.cost_min.threshold NaN must be in [0, 1]", scorer.Output);
        Assert.False(scorer.HasExited, scorer.Output);
        Assert.Equal(["v1"], await Phase(0, input, alerts, sr)); // the old bundle keeps scoring
        var metrics = "";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        // Every reason is exported at 0 from the start: wait for the count itself.
        while (!(RunningScorer.Value(metrics, "streamfraud_model_refusals_total", "reason=\"manifest\"") >= 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(300);
            metrics = await http.GetStringAsync("/metrics");
        }

        Assert.Equal(1, RunningScorer.Value(metrics, "streamfraud_model_refusals_total", "reason=\"manifest\""));
        Assert.Equal(0, RunningScorer.Value(metrics, "streamfraud_model_refusals_total", "reason=\"checksum\""));

        registry.Promote("v3");
        await WaitForLine(scorer, "Serving bundle v3");
        Assert.Equal(["v3"], await Phase(1, input, alerts, sr));
        scorer.Terminate();
        Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);
        Assert.Equal(0, scorer.ExitCode);
    }

    [Fact]
    public void Start_BadCurrentBundle_NoPrevious_Exits2WithTheReason()
    {
        var cases = new (string Name, Action<BundleRegistry> Break, string Expected)[]
        {
            ("files-null", r => TinyBundle.EditManifest(r.PathOf("v1"), m => m["files"] = null), "files is missing or null"),
            ("golden-not-base64", r => TinyBundle.EditManifest(r.PathOf("v1"), m => m["golden_windows"]![0]!["window"] = "!!"), "golden window 0 is not valid base64"),
            ("xgb-dev-zero", r =>
            {
                File.Delete(Path.Combine(r.PathOf("v1"), "xgb.json"));
                File.CreateSymbolicLink(Path.Combine(r.PathOf("v1"), "xgb.json"), "/dev/zero");
            }, "file xgb.json is a symbolic link"),
            ("escaping-version", r => WriteCurrent(r, "../outside", "0000"), "current.json names version '../outside' is not a plain name"),
            ("no-digest", r => WriteCurrent(r, "v1", null), "records no manifest digest for v1"),
        };
        foreach (var (name, breakIt, expected) in cases)
        {
            var registry = Registry(name, "v1");
            breakIt(registry);
            if (name is not ("escaping-version" or "no-digest"))
            {
                registry.Promote("v1"); // promoted as it is now: the manifest digest matches, the bundle is what is wrong
            }

            using var p = ChildProcess.Start("StreamFraud.Scorer", ["--Models:Registry", registry.Directory, "--Redis:Configuration", stack.Redis, "--urls", "http://127.0.0.1:0"]);
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(90)), $"{name}: the scorer did not exit:\n{p.Output}");
            Assert.True(p.ExitCode == 2, $"{name}: exit code {p.ExitCode}:\n{p.Output}");
            Assert.Contains(expected, p.Output);
            Assert.Contains("Fix the bundle, promote another version, or set Models:Pin", p.Output);
            Assert.DoesNotContain("   at ", p.Output); // a message, not a stack trace
        }

        using var pin = ChildProcess.Start("StreamFraud.Scorer", ["--Models:Registry", Registry("pin", "v1").Directory, "--Models:Pin", "../v1", "--Redis:Configuration", stack.Redis, "--urls", "http://127.0.0.1:0"]);
        Assert.True(pin.WaitForExit(TimeSpan.FromSeconds(60)), pin.Output);
        Assert.Equal(2, pin.ExitCode);
        Assert.Contains("Models:Pin: version '../v1' is not a plain name", pin.Output);

        using var limits = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Models:Registry", Registry("limits", "v1").Directory, "--Models:Challenger", "/etc", "--Models:MaxFileBytes", "-5",
            "--Models:LoadTimeout", "00:00:00", "--Models:RequireDigest", "maybe", "--Redis:Configuration", stack.Redis, "--urls", "http://127.0.0.1:0",
        ]);
        Assert.True(limits.WaitForExit(TimeSpan.FromSeconds(60)), limits.Output);
        Assert.Equal(2, limits.ExitCode);
        foreach (var expected in new[] { "Models:Challenger: version '/etc' is not a plain name", "Models:MaxFileBytes '-5'", "Models:LoadTimeout '00:00:00'", "Models:RequireDigest 'maybe'" })
        {
            Assert.Contains(expected, limits.Output);
        }
    }

    [Fact]
    public async Task Start_BadCurrentBundle_PreviousGood_ServesPrevious()
    {
        var registry = Registry("fallback", "v1", "v2");
        registry.Promote("v1");
        TinyBundle.EditManifest(registry.PathOf("v2"), m => m["ensemble"] = JsonSerializer.SerializeToNode(new { lstm = 0.9, xgb = 0.9 }));
        registry.Promote("v2");
        var input = await stack.CreateTopicAsync("bad-fallback-tx", 1);
        var alerts = await stack.CreateTopicAsync("bad-fallback-alerts", 1);
        using var sr = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        using var scorer = ChildProcess.Start("StreamFraud.Scorer", Args(registry.Directory, input, alerts, FreePort()));

        await WaitForLine(scorer, "Serving the previous version v1");
        Assert.Contains("Current bundle v2 refused at start (manifest): manifest.json: ensemble weights lstm 0.9 and xgb 0.9", scorer.Output);
        Assert.Equal(["v1"], await Phase(0, input, alerts, sr));
        scorer.Terminate();
        Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);
        Assert.Equal(0, scorer.ExitCode);
    }

    private BundleRegistry Registry(string name, params string[] versions)
    {
        var registry = new BundleRegistry(Path.Combine(_root, name));
        foreach (var (v, i) in versions.Select((v, i) => (v, i)))
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, _history, costMinThreshold: 0.0, seed: i + 1); // threshold 0: every event alerts, naming the bundle
            registry.Publish(staging, v);
        }

        return registry;
    }

    private string[] Args(string registry, string input, string alerts, int port) =>
    [
        "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", $"bad-{Guid.NewGuid():N}", "--Kafka:Consumer:fetch.wait.max.ms", "20",
        "--Kafka:Consumer:session.timeout.ms", "6000", "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis,
        "--Redis:KeyPrefix", $"bad:{Guid.NewGuid():N}:", "--Models:Registry", registry, "--Models:PollInterval", "00:00:00.200",
        "--Models:ListenAnnouncements", "false", "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts, "--urls", $"http://127.0.0.1:{port}",
    ];

    /// <summary>Produces 100 new events and returns the model versions on their alerts (every event alerts at threshold 0).</summary>
    private async Task<List<string>> Phase(int phase, string input, string alerts, ISchemaRegistryClient sr)
    {
        var events = TinyBundle.Stream(seed: 300 + phase, cards: 40, count: 100, start: _history[^1].EventTimeMs + 1000 + (phase * 100_000_000L));
        await stack.ProduceAsync(input, events, sr);
        var ids = events.Select(e => e.TransactionId).ToHashSet();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        List<Contracts.FraudAlert> mine = [];
        while (DateTime.UtcNow < deadline && mine.Select(a => a.TransactionId).Distinct().Count() < ids.Count)
        {
            mine = stack.ReadAlerts(alerts, sr, int.MaxValue, TimeSpan.FromSeconds(2)).Where(a => ids.Contains(a.TransactionId)).ToList();
        }

        Assert.Equal(ids.Count, mine.Select(a => a.TransactionId).Distinct().Count());
        return mine.Select(a => a.ModelVersion).Distinct().ToList();
    }

    private static void WriteCurrent(BundleRegistry registry, string version, string? digest) =>
        BundleRegistry.WriteAtomically(Path.Combine(registry.Directory, BundleRegistry.CurrentFile),
            JsonSerializer.SerializeToUtf8Bytes(new CurrentPointer(version, null, DateTimeOffset.UtcNow) { ManifestSha256 = digest }, BundleManifest.JsonOptions));

    private static async Task WaitForLine(ChildProcess p, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!p.Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline && !p.HasExited, $"no '{text}' in the scorer's log (exited: {p.HasExited}):\n{p.Output}");
            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
