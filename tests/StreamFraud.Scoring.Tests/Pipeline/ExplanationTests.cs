using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Trees;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// The alerts' explanations, computed for all alerts of a batch at once, against the brute force: every occluded
/// window of every alert scored on its own (one LSTM run per batch), every alert's newest step explained by its own
/// libxgboost call (one contribution call per batch).
/// </summary>
public sealed class ExplanationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-explain-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData(LstmPathChoice.OnnxRuntime)]
    [InlineData(LstmPathChoice.ManagedFp32)]
    public async Task RunBatchAsync_BatchedOcclusion_EqualsEachAlertScoredAlone(LstmPathChoice path)
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 1, cards: 30, count: 800);
        var live = TinyBundle.Stream(seed: 2, cards: 30, count: 600, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, path.ToString()), "v1", history, costMinThreshold: 0.3, hidden1: 32, hidden2: 16, checkManaged: true);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 8, LstmPath = path });
        Assert.Equal(path == LstmPathChoice.ManagedFp32 ? LstmPaths.ManagedFp32 : LstmPaths.OnnxRuntime, bundle.LstmPath);

        var offline = new OfflineFeaturizer(spec);
        var windows = new Dictionary<string, float[]>();
        foreach (var tx in live)
        {
            var w = new float[spec.WindowSize];
            offline.Apply(tx, w);
            windows[FraudPipeline.AlertId(tx.CardId, tx.TransactionId)] = w;
        }

        var pipeline = new FraudPipeline(new InMemoryWindowStore(spec), () => bundle, new ScoringOptions { TopFeatures = 0 }, capacity: 200);
        var batch = new WindowBatch(spec, 200);
        var alerts = new List<Alert>();
        for (var start = 0; start < live.Count; start += 200)
        {
            batch.Clear();
            for (var i = start; i < start + 200; i++)
            {
                batch.Add(live[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
            }

            alerts.AddRange((await pipeline.RunBatchAsync(batch)).Alerts);
        }

        var explained = alerts.Where(a => a.WindowLength > 1).ToList();
        Assert.True(explained.Count >= 50, $"only {explained.Count} explained alerts: the comparison would be thin");
        Assert.Contains(explained, a => a.InfluentialStepsBack > 1); // not always the newest earlier step
        var dim = spec.Dimension;
        foreach (var a in explained)
        {
            var window = windows[a.AlertId];
            var score = (float)a.LstmScore;
            var (bestStep, bestDelta) = (0, 0f);
            var variants = a.WindowLength - 1;
            var all = new float[variants * spec.WindowSize];
            for (var back = 1; back <= variants; back++)
            {
                // Brute force: the window without the transaction `back` steps before the newest, older steps moved
                // one step later, zero padding in front — scored alone.
                var removed = 7 - 1 - back;
                var variant = new float[spec.WindowSize];
                Array.Copy(window, 0, variant, dim, removed * dim);
                Array.Copy(window, (removed + 1) * dim, variant, (removed + 1) * dim, spec.WindowSize - ((removed + 1) * dim));
                variant.CopyTo(all, (back - 1) * spec.WindowSize);
                var alone = new float[1];
                bundle.ScoreLstm(variant, 1, alone);
                var delta = score - alone[0];
                if (back == 1 || Math.Abs(delta) > Math.Abs(bestDelta))
                {
                    (bestStep, bestDelta) = (back, delta);
                }
            }

            // The per-alert run of the code before batching (one run over the alert's own variants) agrees too.
            var perAlert = new float[variants];
            bundle.ScoreLstm(all, variants, perAlert);
            Assert.Equal(score - perAlert[bestStep - 1], bestDelta);

            Assert.Equal(bestStep, a.InfluentialStepsBack);
            Assert.Equal((double)bestDelta, a.InfluentialScoreDelta);
        }
    }

    [Fact]
    public async Task RunBatchAsync_BatchedTreeContributions_EqualEachAlertsOneRowCall()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 3, cards: 30, count: 800);
        var live = TinyBundle.Stream(seed: 4, cards: 30, count: 600, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, "trees"), "v1", history, costMinThreshold: 0.3);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 8 });
        using var xgb = Booster.Load(tiny.XgbModel, threads: 1);

        var offline = new OfflineFeaturizer(spec);
        var newest = new Dictionary<string, float[]>();
        foreach (var tx in live)
        {
            var w = new float[spec.WindowSize];
            offline.Apply(tx, w);
            newest[FraudPipeline.AlertId(tx.CardId, tx.TransactionId)] = w[(spec.WindowSize - spec.Dimension)..];
        }

        var pipeline = new FraudPipeline(new InMemoryWindowStore(spec), () => bundle, new ScoringOptions { TopFeatures = 4, ExplainSequence = false }, capacity: 100);
        var batch = new WindowBatch(spec, 100);
        var alerts = new List<Alert>();
        var batchesWithSeveral = 0;
        for (var start = 0; start < live.Count; start += 100)
        {
            batch.Clear();
            for (var i = start; i < start + 100; i++)
            {
                batch.Add(live[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
            }

            var result = await pipeline.RunBatchAsync(batch);
            batchesWithSeveral += result.Alerts.Count > 1 ? 1 : 0;
            alerts.AddRange(result.Alerts);
        }

        // The managed TreeSHAP explains wherever 256-bit vectors run (else this compares libxgboost with itself).
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            Assert.Equal("managed", bundle.Explainer.Name);
        }

        // Several alerts per batch in most batches: a row mix-up inside a batch's one call would show.
        Assert.True(batchesWithSeveral >= 4 && alerts.Count >= 30, $"{alerts.Count} alerts, {batchesWithSeveral} batches with several");
        foreach (var a in alerts)
        {
            // The code before batching: one libxgboost call on this alert's newest step alone (0 = every tree). The
            // managed TreeSHAP (the bundle's explainer where 256-bit vectors run) gives the same features within its
            // tolerance.
            var row = newest[a.AlertId];
            var alone = xgb.TopContributions(row, 4, iterationEnd: 0);
            Assert.NotEmpty(alone);
            Assert.Equal(alone.Select(c => (spec.Features[c.Feature].Name, (double)row[c.Feature])), a.TopFeatures.Select(t => (t.Name, t.Value)));
            Assert.All(alone.Zip(a.TopFeatures), p => Assert.True(Math.Abs(p.First.Value - p.Second.Contribution) <= TreeShap.Tolerance, $"{p.Second.Name}: {p.Second.Contribution:R} vs libxgboost {p.First.Value:R}"));
        }
    }
}
