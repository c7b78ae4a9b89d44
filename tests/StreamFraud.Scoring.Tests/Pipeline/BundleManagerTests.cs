using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring.Bundles;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>Hot reload: verified swaps between batches, instant rollback, refusals that keep serving, pins, leases.</summary>
public sealed class BundleManagerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-reload-").FullName;
    private readonly BundleRegistry _registry;
    private readonly Dictionary<string, TinyBundle> _bundles = [];

    public BundleManagerTests()
    {
        _registry = new BundleRegistry(Path.Combine(_root, "registry"));
        var history = TinyBundle.Stream(seed: 90, cards: 40, count: 800);
        foreach (var (version, seed, threshold) in new[] { ("v1", 1, 0.40), ("v2", 2, 0.42), ("v3", 3, 0.38) })
        {
            var staging = _registry.CreateStagingDirectory();
            TinyBundle.Create(staging, version, history, threshold, seed);
            _registry.Publish(staging, version);
            _bundles[version] = TinyBundle.Open(_registry.PathOf(version));
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Promote_Swaps_Rollback_IsInstantWithoutLoading()
    {
        _registry.Promote("v1");
        using var manager = Manager();
        Assert.Equal("v1", manager.LoadInitial().Version);
        Assert.False(manager.CheckOnce()); // nothing new

        _registry.Promote("v2");
        Assert.True(manager.CheckOnce());
        Assert.Equal(("v2", "v1"), (manager.Current!.Version, manager.Previous!.Version));
        var loads = manager.Loads;

        _registry.Rollback(); // current.json back to v1, which is kept loaded
        Assert.True(manager.CheckOnce());
        Assert.Equal("v1", manager.Current!.Version);
        Assert.Equal(loads, manager.Loads);
    }

    [Fact]
    public void Debounce_BurstOfPromotions_LoadsOnlyTheLast()
    {
        _registry.Promote("v1");
        using var manager = Manager(debounce: TimeSpan.FromMilliseconds(300));
        manager.LoadInitial();
        _registry.Promote("v2");
        Assert.False(manager.CheckOnce()); // seen once: wait
        _registry.Promote("v3");
        Assert.False(manager.CheckOnce()); // changed again: wait again
        Thread.Sleep(350);
        Assert.True(manager.CheckOnce());
        Assert.Equal("v3", manager.Current!.Version);
        Assert.Equal(2, manager.Loads); // v1 and v3; v2 never loaded
    }

    [Fact]
    public void RefusedCandidate_KeepsServing_NotReloadedUntilItChanges()
    {
        _registry.Promote("v1");
        using var manager = Manager();
        manager.LoadInitial();
        var onnx = Path.Combine(_registry.PathOf("v2"), "lstm.onnx");
        var good = File.ReadAllBytes(onnx);
        File.WriteAllBytes(onnx, good[..(good.Length / 2)]); // truncated on disk
        _registry.Promote("v2");
        Assert.False(manager.CheckOnce());
        Assert.Equal("v1", manager.Current!.Version);
        Assert.Contains($"file lstm.onnx is {good.Length / 2} bytes; the manifest says {good.Length}", manager.LastRefusal!.Reason);
        var loadsAfterRefusal = manager.Loads;
        Assert.False(manager.CheckOnce()); // same refused bundle: not loaded again every poll
        Assert.Equal(loadsAfterRefusal, manager.Loads);

        File.WriteAllBytes(onnx, good); // repaired: the manifest is unchanged, so touch it as a re-publish would
        File.SetLastWriteTimeUtc(Path.Combine(_registry.PathOf("v2"), BundleManifest.FileName), DateTime.UtcNow.AddSeconds(5));
        Assert.True(manager.CheckOnce());
        Assert.Equal("v2", manager.Current!.Version);
    }

    [Fact]
    public void Pin_OverridesCurrentJson_WhileRunning()
    {
        _registry.Promote("v1");
        string? pin = null;
        using var manager = Manager(pin: () => pin);
        manager.LoadInitial();
        pin = "v3";
        Assert.True(manager.CheckOnce());
        Assert.Equal("v3", manager.Current!.Version);
        pin = null;
        Assert.True(manager.CheckOnce()); // back to what current.json names (kept as previous: instant)
        Assert.Equal("v1", manager.Current!.Version);
    }

    [Fact]
    public void Lease_KeepsRetiredBundleAlive_UntilReleased()
    {
        _registry.Promote("v1");
        using var manager = Manager();
        manager.LoadInitial();
        var lease = manager.Acquire();
        _registry.Promote("v2");
        manager.CheckOnce();
        _registry.Promote("v3");
        manager.CheckOnce(); // v1 is now neither current nor previous: retired, but leased
        var spec = FeatureSpec.CardV1;
        var scores = new ScoreBuffers(1);
        Assert.False(lease.Bundle.IsDisposed);
        lease.Bundle.Score(new float[spec.WindowSize], 1, scores); // still usable by the batch holding it
        Assert.Equal("v1", lease.Bundle.Version);
        lease.Dispose();
        Assert.True(lease.Bundle.IsDisposed); // freed once the last batch using it is done
        Assert.False(manager.Current!.IsDisposed);
        Assert.False(manager.Previous!.IsDisposed);
    }

    [Fact]
    public async Task FiveSwapsDuringStream_EachBatchScoredByOneBundle_AlertsMatchThatBundleOffline()
    {
        _registry.Promote("v1");
        using var manager = Manager();
        manager.LoadInitial();
        var spec = FeatureSpec.CardV1;
        var live = TinyBundle.Stream(seed: 91, cards: 500, count: 50_000, start: 1_800_000_000_000);

        // Offline: windows once, then each version's scores for every event.
        var offline = new OfflineFeaturizer(spec);
        var windows = new float[live.Count * spec.WindowSize];
        for (var i = 0; i < live.Count; i++)
        {
            offline.Apply(live[i], windows.AsSpan(i * spec.WindowSize, spec.WindowSize));
        }

        var newest = new float[live.Count * spec.Dimension];
        for (var i = 0; i < live.Count; i++)
        {
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var expected = new Dictionary<string, double[]>();
        foreach (var (version, tiny) in _bundles)
        {
            var lstm = tiny.Lstm.Predict(windows);
            using var xgb = Booster.Load(tiny.XgbModel);
            var x = xgb.PredictDense(newest, live.Count, iterationEnd: 0);
            expected[version] = Enumerable.Range(0, live.Count).Select(i => (0.5 * lstm[i]) + (0.5 * x[i])).ToArray();
        }

        // A watcher thread swaps while batches run: v2, v3, v1 (rollback target kept loaded or reloaded), v2, v3.
        var store = new InMemoryWindowStore(spec);
        var pipeline = new FraudPipeline(store, manager, new ScoringOptions { ExplainSequence = false, TopFeatures = 0 }, capacity: 500);
        var batch = new WindowBatch(spec, 500);
        string[] plan = ["v2", "v3", "v1", "v2", "v3"];
        var versionsSeen = new List<string>();
        var scored = 0;
        using var swapper = new CancellationTokenSource();
        var swaps = Task.Run(async () =>
        {
            foreach (var v in plan)
            {
                await Task.Delay(150);
                _registry.Promote(v);
                while (!manager.CheckOnce() && !swapper.IsCancellationRequested)
                {
                    await Task.Delay(5);
                }
            }
        });
        for (var start = 0; start < live.Count; start += 500)
        {
            batch.Clear();
            for (var i = start; i < start + 500; i++)
            {
                batch.Add(live[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
            }

            var result = await pipeline.RunBatchAsync(batch);
            var version = result.ModelVersion;
            if (versionsSeen.Count == 0 || versionsSeen[^1] != version)
            {
                versionsSeen.Add(version);
            }

            var threshold = _bundles[version].Manifest.Thresholds.CostMin.Threshold;
            var want = Enumerable.Range(start, 500).Where(i => expected[version][i] >= threshold).Select(i => live[i].TransactionId).ToList();
            Assert.Equal(want, result.Alerts.Select(a => a.TransactionId));
            Assert.All(result.Alerts, a => Assert.Equal(version, a.ModelVersion));
            foreach (var a in result.Alerts)
            {
                Assert.Equal(expected[version][start + a.BatchIndex], a.Score, 1e-5);
            }

            scored += result.Events.Count(e => e.Outcome is EventOutcome.Scored or EventOutcome.Alert);
            if (start % 5000 == 0)
            {
                await Task.Delay(20); // let swaps land between some batches
            }
        }

        await swapper.CancelAsync();
        await swaps;
        Assert.Equal(live.Count, scored); // nothing lost, nothing scored twice
        Assert.True(manager.Swaps >= 5, $"{manager.Swaps} swaps");
        Assert.True(versionsSeen.Count >= 3, string.Join(" → ", versionsSeen));
    }

    private BundleManager Manager(TimeSpan? debounce = null, Func<string?>? pin = null) =>
        new(_registry, FeatureSpec.CardV1, new BundleManagerOptions { Debounce = debounce ?? TimeSpan.Zero, Load = new BundleLoadOptions { WarmupBatch = 8 } }, pin);
}
