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

    [Fact]
    public async Task RunOverlappedAsync_SameAlertsAndStatesAsOneByOne_PublishBeforeCommit_PreviousBatchDurableFirst()
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 11, cards: 40, count: 1200);
        var live = TinyBundle.Stream(seed: 12, cards: 40, count: 700, start: history[^1].EventTimeMs + 1000);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.4);
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });

        // Reference: the same batches one by one.
        var serialStore = new InMemoryWindowStore(spec);
        var serial = new FraudPipeline(serialStore, () => bundle, new ScoringOptions(), capacity: 64);
        var expected = new List<Alert>();
        var one = new WindowBatch(spec, 64);
        foreach (var (start, count) in Batches(live.Count))
        {
            Fill(one, live, start, count);
            expected.AddRange((await serial.RunBatchAsync(one)).Alerts);
        }

        var log = new List<string>();
        var store = new LoggedStore(new InMemoryWindowStore(spec), log);
        var pipeline = new FraudPipeline(store, () => bundle, new ScoringOptions(), capacity: 64);
        Assert.True(pipeline.Overlaps);
        WindowBatch[] batches = [new(spec, 64), new(spec, 64)];
        var alerts = new List<Alert>();
        var k = 0;
        foreach (var (start, count) in Batches(live.Count))
        {
            var batch = batches[k % 2];
            Fill(batch, live, start, count);
            var number = k++;
            var result = await pipeline.RunOverlappedAsync(batch, (_, r, _) =>
            {
                log.Add($"publish {number}");
                return Task.CompletedTask;
            });
            alerts.AddRange(result.Alerts);
            Assert.Same(batch, pipeline.InFlightBatch);
        }

        await Assert.ThrowsAsync<ArgumentException>(() => pipeline.RunOverlappedAsync(batches[(k - 1) % 2], (_, _, _) => Task.CompletedTask));
        await pipeline.FlushAsync();
        Assert.Null(pipeline.InFlightBatch);

        Assert.Equal(expected.Select(a => (a.AlertId, a.Score, a.WindowHash)), alerts.Select(a => (a.AlertId, a.Score, a.WindowHash)));
        foreach (var card in live.Select(t => t.CardId).Distinct())
        {
            Assert.Equal(serialStore.Get(card), store.Inner.Get(card));
        }

        // Batch n is prepared on batch n-1's uncommitted writes, whose commit is sent after its reads and settles
        // before batch n is published; batch n is published before its own commit.
        List<string> order = ["prepare 0", "publish 0"];
        for (var n = 1; n < k; n++)
        {
            order.AddRange([$"prepare {n} on {n - 1}", $"commit {n - 1}", $"committed {n - 1}", $"publish {n}"]);
        }

        order.AddRange([$"commit {k - 1}", $"committed {k - 1}"]);
        Assert.Equal(order, log);
        Assert.Equal(0, pipeline.OverlapsDiscarded);
    }

    [Fact]
    public async Task RunOverlappedAsync_CommitInFlightConflicts_ItIsSettled_AndTheNextBatchIsPreparedAgainOnTheStore()
    {
        // The second commit (batch 1's) loses a race to another writer that wrote the same states first.
        var run = await RunThirtyEventBatchesAsync(seed: 14, batches: 3, inner => new RacedStore(inner, racedCommit: 2));

        // Batch 1 was prepared again (its events now duplicates: no new alert) and committed; batch 2's preparation on
        // batch 1's writes was discarded and made again on the store, after batch 1 settled.
        Assert.Equal([(0, 30), (1, 30), (1, 0), (2, 30)], run.Publishes);
        Assert.Equal(1, run.Pipeline.OverlapsDiscarded);
        await AssertStatesOfOneSerialPassAsync(run);
    }

    [Fact]
    public async Task RunOverlappedAsync_OverlappedReadFails_BatchIsReadAgainAfterTheCommitSettles_AndTheFailureIsReported()
    {
        // The second overlapped read (batch 2's, sent alongside batch 1's commit) fails like a timed-out MGET.
        FailingOverlapStore? store = null;
        var run = await RunThirtyEventBatchesAsync(seed: 15, batches: 4, inner => store = new FailingOverlapStore(inner, failingRead: 2));

        // Nothing lost or doubled: each batch published once with all its alerts, the states are the serial run's.
        Assert.Equal([(0, 30), (1, 30), (2, 30), (3, 30)], run.Publishes);
        Assert.Equal(1, run.Pipeline.OverlapFailures);
        Assert.Equal(1, run.Pipeline.OverlapsDiscarded);
        Assert.Equal(4, run.Pipeline.SettledInFlight); // batches 0–2 while the next ran, batch 3 by the flush
        Assert.Same(store!.Thrown, run.Pipeline.LastOverlapFailure);
        Assert.Equal(3, store.OverlappedReads); // batch 2 was read again on the store, batch 3 overlapped again
        await AssertStatesOfOneSerialPassAsync(run);
    }

    private sealed record OverlapRun(FraudPipeline Pipeline, InMemoryWindowStore Inner, List<Transaction> Live, List<(int Batch, int Alerts)> Publishes);

    /// <summary>
    /// Runs <paramref name="batches"/> batches of 30 live events overlapped (every event alerts) on a store that
    /// <paramref name="wrap"/> puts around an in-memory one, then flushes; returns what each publish carried.
    /// </summary>
    private async Task<OverlapRun> RunThirtyEventBatchesAsync(int seed, int batches, Func<InMemoryWindowStore, IWindowStore> wrap)
    {
        var spec = FeatureSpec.CardV1;
        var history = TinyBundle.Stream(seed: 13, cards: 12, count: 500);
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", history, costMinThreshold: 0.0); // every event alerts
        using var bundle = ModelBundle.Load(tiny.Directory, spec, new BundleLoadOptions { WarmupBatch = 0 });
        var live = TinyBundle.Stream(seed: seed, cards: 12, count: 30 * batches, start: history[^1].EventTimeMs + 1000);
        var inner = new InMemoryWindowStore(spec);
        var pipeline = new FraudPipeline(wrap(inner), () => bundle, new ScoringOptions(), capacity: 30);
        WindowBatch[] pair = [new(spec, 30), new(spec, 30)];
        var publishes = new List<(int Batch, int Alerts)>();
        for (var b = 0; b < batches; b++)
        {
            Fill(pair[b % 2], live, b * 30, 30);
            var number = b;
            await pipeline.RunOverlappedAsync(pair[b % 2], (_, r, _) =>
            {
                publishes.Add((number, r.Alerts.Count));
                return Task.CompletedTask;
            });
        }

        await pipeline.FlushAsync();
        return new OverlapRun(pipeline, inner, live, publishes);
    }

    /// <summary>Every card's stored state equals the one a single serial pass over the same events leaves.</summary>
    private static async Task AssertStatesOfOneSerialPassAsync(OverlapRun run)
    {
        var spec = FeatureSpec.CardV1;
        var reference = new InMemoryWindowStore(spec);
        var all = new WindowBatch(spec, run.Live.Count);
        Fill(all, run.Live, 0, run.Live.Count);
        await reference.ApplyAsync(all);
        foreach (var card in run.Live.Select(t => t.CardId).Distinct())
        {
            Assert.Equal(reference.Get(card), run.Inner.Get(card));
        }
    }

    /// <summary>An in-memory store whose <paramref name="failingRead"/>-th overlapped read fails (a faulted task).</summary>
    private sealed class FailingOverlapStore(InMemoryWindowStore inner, int failingRead) : IWindowStore
    {
        public int OverlappedReads { get; private set; }

        public Exception Thrown { get; } = new TimeoutException("MGET timed out (test)");

        public bool CanPrepareOnPending => true;

        public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => inner.PrepareAsync(batch, cancellationToken);

        public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
            ++OverlappedReads == failingRead ? Task.FromException<PreparedWrites>(Thrown) : inner.PrepareOnPendingAsync(batch, pending, cancellationToken);

        public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default) => inner.CommitAsync(writes, cancellationToken);
    }

    /// <summary>Batches of 1 to 63 events over <paramref name="count"/> events: (start, count) pairs.</summary>
    private static List<(int Start, int Count)> Batches(int count)
    {
        var rng = new Random(5);
        var batches = new List<(int, int)>();
        for (var start = 0; start < count;)
        {
            var n = Math.Min(count - start, rng.Next(1, 64));
            batches.Add((start, n));
            start += n;
        }

        return batches;
    }

    private static void Fill(WindowBatch batch, List<Transaction> events, int start, int count)
    {
        batch.Clear();
        for (var i = start; i < start + count; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }
    }

    /// <summary>Logs the batch protocol's store calls, numbering the writes in the order they were prepared.</summary>
    private sealed class LoggedStore(InMemoryWindowStore inner, List<string> log) : IWindowStore
    {
        private readonly Dictionary<PreparedWrites, int> _numbers = [];

        public InMemoryWindowStore Inner => inner;

        public bool CanPrepareOnPending => true;

        public async Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
        {
            log.Add($"prepare {_numbers.Count}");
            var writes = await inner.PrepareAsync(batch, cancellationToken);
            _numbers[writes] = _numbers.Count;
            return writes;
        }

        public async Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default)
        {
            log.Add($"prepare {_numbers.Count} on {_numbers[pending]}");
            var writes = await inner.PrepareOnPendingAsync(batch, pending, cancellationToken);
            _numbers[writes] = _numbers.Count;
            return writes;
        }

        public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
        {
            log.Add($"commit {_numbers[writes]}");
            await Task.Yield();
            var conflicts = await inner.CommitAsync(writes, cancellationToken);
            log.Add($"committed {_numbers[writes]}");
            return conflicts;
        }
    }

    /// <summary>A store whose first commit loses the race to another writer that wrote the same states.</summary>
    private sealed class RacedStore(InMemoryWindowStore inner, int racedCommit = 1) : IWindowStore
    {
        public int Commits { get; private set; }

        public bool CanPrepareOnPending => true;

        public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => inner.PrepareAsync(batch, cancellationToken);

        public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
            inner.PrepareOnPendingAsync(batch, pending, cancellationToken);

        public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
        {
            Commits++;
            await inner.CommitAsync(writes, cancellationToken);
            return Commits == racedCommit ? writes.Cards : 0;
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
