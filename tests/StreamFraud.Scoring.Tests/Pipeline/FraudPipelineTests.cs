using StreamFraud.Core;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring.Bundles;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Pipeline;

public sealed class FraudPipelineTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-pipeline-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ProcessAsync_Batches_AlertsEqualOfflineComputation()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 1, cards: 60, count: 1500);
        var live = TinyBundle.Stream(seed: 2, cards: 60, count: 900, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.4);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 8 });

        // Independent computation: offline featurizer windows, the C# LSTM forward pass, libxgboost predictions.
        var offline = new OfflineFeaturizer(spec);
        var windows = new float[live.Count * spec.WindowSize];
        var steps = new int[live.Count];
        for (var i = 0; i < live.Count; i++)
        {
            steps[i] = offline.Apply(live[i], windows.AsSpan(i * spec.WindowSize, spec.WindowSize)).RealSteps;
        }

        var lstm = tiny.Lstm.Predict(windows);
        using var xgb = Booster.Load(tiny.XgbModel);
        var newest = new float[live.Count * spec.Dimension];
        for (var i = 0; i < live.Count; i++)
        {
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var xgbScores = xgb.PredictDense(newest, live.Count, iterationEnd: 0);
        var expected = new Dictionary<string, (double Score, string Hash, int Steps)>();
        for (var i = 0; i < live.Count; i++)
        {
            var score = (0.5 * lstm[i]) + (0.5 * xgbScores[i]);
            if (score >= 0.4)
            {
                expected[FraudPipeline.AlertId(live[i].CardId, live[i].TransactionId)] =
                    (score, FraudPipeline.WindowHash(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)), steps[i]);
            }
        }

        Assert.InRange(expected.Count, 10, live.Count - 10); // the threshold splits the stream: the comparison is not vacuous

        var store = new InMemoryWindowStore(spec);
        var pipeline = new FraudPipeline(store, () => bundle, new ScoringOptions(), capacity: 100);
        var batch = new WindowBatch(spec, 100);
        var alerts = new List<Alert>();
        for (var start = 0; start < live.Count; start += 100)
        {
            batch.Clear();
            for (var i = start; i < start + 100; i++)
            {
                batch.Add(live[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
            }

            var result = await pipeline.RunBatchAsync(batch);
            Assert.Equal("v1", result.ModelVersion);
            alerts.AddRange(result.Alerts);
        }

        Assert.Equal(expected.Keys.Order(), alerts.Select(a => a.AlertId).Order());
        foreach (var a in alerts)
        {
            var (score, hash, realSteps) = expected[a.AlertId];
            Assert.Equal(score, a.Score, 1e-5);
            Assert.Equal(hash, a.WindowHash);
            Assert.Equal(realSteps, a.WindowLength);
            Assert.Equal(0.4, a.Threshold);
            Assert.Equal(ThresholdPolicy.CostMin, a.Policy);
            Assert.Equal("v1", a.ModelVersion);
            Assert.Equal(3, a.TopFeatures.Count);
            Assert.Equal(realSteps > 1, a.InfluentialStepsBack is not null);
        }
    }

    [Fact]
    public async Task ProcessAsync_RedeliveredBatch_ReemitsSameAlertIds_AndLeavesStateUnchanged()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 3, cards: 20, count: 600);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.2);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });
        var live = TinyBundle.Stream(seed: 4, cards: 20, count: 60, start: history[^1].EventTimeMs + 1);
        var store = new InMemoryWindowStore(spec);
        var pipeline = new FraudPipeline(store, () => bundle, new ScoringOptions { RescoreDuplicates = true });
        var batch = new WindowBatch(spec, 60);
        foreach (var (tx, i) in live.Select((t, i) => (t, i)))
        {
            batch.Add(tx, new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        var first = await pipeline.RunBatchAsync(batch);
        var state = live.Select(t => t.CardId).Distinct().ToDictionary(c => c, c => store.Get(c)!);
        var again = await pipeline.RunBatchAsync(batch); // same events, same positions: a redelivery
        foreach (var (card, bytes) in state)
        {
            Assert.Equal(bytes, store.Get(card));
        }

        Assert.All(again.Events, e => Assert.True(e.Outcome is EventOutcome.DuplicateRescored or EventOutcome.DuplicateSkipped));
        var firstById = first.Alerts.ToDictionary(a => a.AlertId);
        foreach (var a in again.Alerts)
        {
            Assert.True(firstById.TryGetValue(a.AlertId, out var original), $"re-emitted alert {a.AlertId} was not emitted the first time");
            Assert.Equal(original.Score, a.Score, 1e-9);
            Assert.Equal(original.WindowHash, a.WindowHash);
        }

        // Every original alert whose window is still whole comes back with its id.
        var rescored = again.Events.Count(e => e.Outcome == EventOutcome.DuplicateRescored);
        Assert.True(rescored > 0);
    }

    [Fact]
    public async Task RunBatchAsync_PublishSeesNothingWritten_FailedPublishWritesNothing_RescoringOff_DuplicatesSkipped()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 6, cards: 10, count: 300);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });
        var store = new InMemoryWindowStore(spec);
        var pipeline = new FraudPipeline(store, () => bundle);
        var batch = new WindowBatch(spec, 20);
        for (var i = 0; i < 20; i++)
        {
            batch.Add(history[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        // A publish that fails (broker down, crash) leaves the store untouched: the redelivery scores everything again.
        await Assert.ThrowsAsync<IOException>(() => pipeline.RunBatchAsync(batch, (_, _, _) => throw new IOException("broker down")));
        Assert.Equal(0, store.Cards);

        var cardsAtPublish = -1;
        BatchResult? published = null;
        var result = await pipeline.RunBatchAsync(batch, (_, r, _) =>
        {
            cardsAtPublish = store.Cards; // scored, not yet written
            published = r;
            return Task.CompletedTask;
        });
        Assert.Equal(0, cardsAtPublish);
        Assert.Same(published, result);
        Assert.All(result.Events, e => Assert.True(e.Outcome is EventOutcome.Scored or EventOutcome.Alert));
        Assert.Equal(history.Take(20).Select(t => t.CardId).Distinct().Count(), store.Cards);

        var again = await pipeline.RunBatchAsync(batch);
        Assert.All(again.Events, e => Assert.Equal(EventOutcome.DuplicateSkipped, e.Outcome));
        Assert.Empty(again.Alerts);
    }

    [Fact]
    public async Task RunBatchAsync_CardsWrittenMeanwhile_PreparesAgainAndPublishesOnlyNewlyAppliedAlerts()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 8, cards: 10, count: 400);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.0); // every event alerts
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });
        var store = new RacedStore(new InMemoryWindowStore(spec));
        var pipeline = new FraudPipeline(store, () => bundle);
        var batch = new WindowBatch(spec, 30);
        for (var i = 0; i < 30; i++)
        {
            batch.Add(history[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        var publishes = new List<int>();
        var result = await pipeline.RunBatchAsync(batch, (_, r, _) =>
        {
            publishes.Add(r.Alerts.Count);
            return Task.CompletedTask;
        });

        // The other writer applied the same events first: the commit conflicts, the batch is prepared again and its
        // events are now duplicates, so the second publish adds no alert and the result keeps the first 30.
        Assert.Equal([30, 0], publishes);
        Assert.Equal(30, result.Alerts.Count);
        Assert.Equal(2, store.Commits);
    }

    /// <summary>A store whose first commit loses the race to another writer that wrote the same states.</summary>
    private sealed class RacedStore(InMemoryWindowStore inner) : IWindowStore
    {
        public int Commits { get; private set; }

        public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => inner.PrepareAsync(batch, cancellationToken);

        public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
        {
            Commits++;
            await inner.CommitAsync(writes, cancellationToken);
            return Commits == 1 ? writes.Cards : 0;
        }
    }

    [Fact]
    public async Task ProcessAsync_InvalidEvent_IsReportedNotScored()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 5, cards: 10, count: 300);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });
        var pipeline = new FraudPipeline(new InMemoryWindowStore(spec), () => bundle);
        var batch = new WindowBatch(spec, 4);
        batch.Add(history[0], new SourcePosition(0, 0, SourcePosition.OfflineSource));
        batch.Add(history[1] with { Amount = double.NaN }, new SourcePosition(0, 1, SourcePosition.OfflineSource));
        var result = await pipeline.RunBatchAsync(batch);
        Assert.Equal(EventOutcome.Invalid, result.Events[1].Outcome);
        Assert.NotNull(result.Events[1].Error);
        Assert.DoesNotContain(result.Alerts, a => a.BatchIndex == 1);
        Assert.NotEqual(EventOutcome.Invalid, result.Events[0].Outcome);
    }
}
