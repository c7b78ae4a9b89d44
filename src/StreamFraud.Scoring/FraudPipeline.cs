using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring.Bundles;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring;

/// <summary>Options of the scoring path.</summary>
public sealed record ScoringOptions
{
    /// <summary>Threshold policy (default <c>cost_min</c>, the bundle's cost-optimal threshold).</summary>
    public ThresholdPolicy Policy { get; init; } = ThresholdPolicyNames.Default;

    /// <summary>Threshold for <see cref="ThresholdPolicy.Fixed"/>.</summary>
    public double? FixedThreshold { get; init; }

    /// <summary>XGBoost features reported per alert (0: none).</summary>
    public int TopFeatures { get; init; } = 3;

    /// <summary>Whether alerts carry the LSTM occlusion explanation (one extra LSTM run per batch with alerts, over every alert's occluded windows).</summary>
    public bool ExplainSequence { get; init; } = true;

    /// <summary>
    /// Score redelivered events again (from their recovered windows) and re-emit their alerts. Not needed when
    /// states are committed only after alerts are acknowledged (at-least-once); needed in exactly-once mode, where an
    /// aborted transaction may have dropped alerts whose window state was already written.
    /// </summary>
    public bool RescoreDuplicates { get; init; }

    /// <summary>Commits of one batch before cards that keep changing under this writer are an error.</summary>
    public int MaxCommitAttempts { get; init; } = 5;
}

/// <summary>What happened to one event of a batch.</summary>
public enum EventOutcome
{
    /// <summary>Scored below the threshold.</summary>
    Scored,

    /// <summary>Scored at or above the threshold: an alert.</summary>
    Alert,

    /// <summary>Already applied; its window was recovered and it was scored again (its alert, if any, is re-emitted with the same id).</summary>
    DuplicateRescored,

    /// <summary>Already applied and not scored again (rescoring off, or its full window is gone).</summary>
    DuplicateSkipped,

    /// <summary>Invalid for the feature spec (e.g. <c>features</c> of the wrong length): route to the DLQ.</summary>
    Invalid,

    /// <summary>
    /// Its transaction id was already applied to the card with different content (<see cref="ApplyStatus.ConflictingTransactionId"/>):
    /// not applied, not scored; route to the DLQ (class <c>reused_transaction_id</c>).
    /// </summary>
    ReusedTransactionId,
}

/// <summary>Score and decision of one event (valid when the outcome is scored, alert or rescored duplicate).</summary>
public readonly record struct EventScore(EventOutcome Outcome, double Score, float Lstm, float Xgb, string? Error);

/// <summary>An alert, ready to be written as <c>StreamFraud.Contracts.FraudAlert</c> by the Kafka adapter.</summary>
public sealed record Alert(
    int BatchIndex,
    string AlertId,
    string TransactionId,
    string CardId,
    long EventTimeMs,
    long ScoredAtMs,
    double Score,
    double LstmScore,
    double XgbScore,
    double Threshold,
    ThresholdPolicy Policy,
    string ModelVersion,
    string WindowHash,
    int WindowLength,
    SourcePosition Position,
    IReadOnlyList<(string Name, double Value, double Contribution)> TopFeatures,
    int? InfluentialStepsBack,
    long? InfluentialEventTimeMs,
    double? InfluentialScoreDelta)
{
    /// <summary>Merchant of the scored transaction.</summary>
    public string? MerchantId { get; init; }

    /// <summary>Amount of the scored transaction, in <see cref="Currency"/>.</summary>
    public double? Amount { get; init; }

    /// <summary>ISO-4217 currency of <see cref="Amount"/>.</summary>
    public string? Currency { get; init; }
}

/// <summary>Stage timings of one batch, for metrics.</summary>
public readonly record struct StageTimings(TimeSpan Windows, TimeSpan Models, TimeSpan Explain);

/// <summary>
/// Result of one batch: every event's score and the alerts, plus what each shadow bundle (challenger, backtest
/// versions) decided on the same windows.
/// </summary>
public sealed record BatchResult(IReadOnlyList<EventScore> Events, IReadOnlyList<Alert> Alerts, string ModelVersion, double Threshold, StageTimings Timings)
{
    /// <summary>The shadow bundles' results on the same windows, in the order the pipeline was given them.</summary>
    public IReadOnlyList<BatchResult> Shadows { get; init; } = [];

    /// <summary>The LSTM serving path that scored the batch (<see cref="ModelBundle.LstmPath"/>).</summary>
    public string LstmPath { get; init; } = "";
}

/// <summary>
/// Publishes a batch's alerts (and whatever else the caller derives from the result) before its states are written.
/// It must not return until what it published is durable (acknowledged, or part of the caller's transaction).
/// </summary>
public delegate Task PublishBatch(WindowBatch batch, BatchResult result, CancellationToken cancellationToken);

/// <summary>
/// THE scoring path, independent of Kafka: a batch of decoded events → one window-store call (append each event to
/// its card's state, get its window) → one LSTM run over all windows and XGBoost on the newest steps → 50/50 ensemble
/// → threshold → alerts with explanations. <see cref="RunBatchAsync"/> is the one batch protocol the Kafka scorer,
/// replay/backtest and tests all run; <see cref="RunOverlappedAsync"/> runs the same steps one batch deep (the
/// at-least-once scorer under load). One instance per worker; not thread-safe.
/// </summary>
public sealed class FraudPipeline
{
    private readonly IWindowStore _store;
    private readonly IBundleSource _bundles;
    private readonly IReadOnlyList<IBundleSource> _shadows;
    private readonly ScoringOptions _options;
    private readonly TimeProvider _time;
    private ScoreBuffers _scores;
    private readonly List<int> _alertRows = [];
    private float[] _occluded = [];        // every alert's occlusion variants of one batch, [variants, 7, F]
    private float[] _occludedScores = [];  // their LSTM scores
    private (int StepsBack, double Delta)[] _influence = []; // per alert row of _alertRows
    private float[] _alertNewest = [];     // every alert's newest step of one batch, [alerts, F]
    private float[] _contributions = [];   // their XGBoost contributions, [alerts, F + 1] (bias last)

    /// <summary>Creates a pipeline over a window store and a fixed bundle.</summary>
    public FraudPipeline(IWindowStore store, Func<ModelBundle> servingBundle, ScoringOptions? options = null, TimeProvider? time = null, int capacity = 1024)
        : this(store, new FixedBundleSource(servingBundle), options, time, capacity)
    {
    }

    /// <summary>
    /// Creates a pipeline over a window store and a bundle source: each batch leases the serving bundle once, so a
    /// swap lands between batches and a retired bundle is freed only after the batches using it are done.
    /// <paramref name="shadows"/> score the same windows (challenger, backtest versions); they never write state.
    /// </summary>
    public FraudPipeline(
        IWindowStore store, IBundleSource bundles, ScoringOptions? options = null, TimeProvider? time = null, int capacity = 1024,
        IReadOnlyList<IBundleSource>? shadows = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bundles);
        _store = store;
        _bundles = bundles;
        _shadows = shadows ?? [];
        _options = options ?? new ScoringOptions();
        _time = time ?? TimeProvider.System;
        _scores = new ScoreBuffers(capacity);
        if (_options.Policy == ThresholdPolicy.Fixed && _options.FixedThreshold is null)
        {
            throw new ArgumentException("Scoring:Policy=fixed needs Scoring:FixedThreshold.");
        }
    }

    /// <summary>
    /// The batch protocol: prepare the windows (nothing written) → score with the serving bundle and the shadows →
    /// <paramref name="publish"/> → commit exactly the prepared states. When another writer changed some cards in
    /// between, the batch is prepared and scored again on their new states, the alerts of events applied only now are
    /// published, and committed again (written cards then show their events as duplicates). Whatever is durable in
    /// the store has therefore had its alert published.
    /// </summary>
    /// <remarks>
    /// Awaits resume on the caller's synchronization context: the scorer runs this on its dedicated scoring thread
    /// (a single-threaded context), so the model stage always runs there (its parallel parts, the LSTM's chunk workers
    /// and the trees beside them, use pool threads).
    /// </remarks>
    /// <returns>The first scoring's result, with the alerts of every publish.</returns>
    /// <exception cref="WindowConflictException">Cards kept changing for <see cref="ScoringOptions.MaxCommitAttempts"/> commits.</exception>
    public async Task<BatchResult> RunBatchAsync(WindowBatch batch, PublishBatch? publish = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await FlushAsync(cancellationToken).ConfigureAwait(true);
        var clock = Stopwatch.StartNew();
        var writes = await _store.PrepareAsync(batch, cancellationToken).ConfigureAwait(true);
        var result = ScoreAll(batch, clock.Elapsed);
        if (publish is not null)
        {
            await publish(batch, result, cancellationToken).ConfigureAwait(true);
        }

        var conflicts = await _store.CommitAsync(writes, cancellationToken).ConfigureAwait(true);
        return await SettleAsync(new InFlight(batch, writes, publish, result), conflicts, cancellationToken).ConfigureAwait(true);
    }

    /// <summary>Whether <see cref="RunOverlappedAsync"/> overlaps commits with the next batch (the store supports it).</summary>
    public bool Overlaps => _store.CanPrepareOnPending;

    /// <summary>The batch whose commit <see cref="RunOverlappedAsync"/> left in flight (published, not yet durable), or null.</summary>
    public WindowBatch? InFlightBatch => _inFlight?.Batch;

    /// <summary>
    /// The batch protocol, one batch deep (at-least-once): the previous batch's commit runs in the store while this
    /// batch is prepared and scored. This batch's reads are sent first and see the previous batch's states and counts
    /// laid over the store (<see cref="IWindowStore.PrepareOnPendingAsync"/>); then that commit is sent; once it has
    /// written every card, this batch is published and its own commit is left in flight. A conflict or an error in
    /// that commit discards this batch's preparation: the previous batch is settled as <see cref="RunBatchAsync"/>
    /// settles it (prepared again, its new alerts published, committed again), and this batch is prepared again on
    /// the store. So alerts are still published before their states are written, and every published batch but the
    /// last is durable when this returns. Pass two batch instances in turn (the one in flight is kept for a possible
    /// settle); call <see cref="FlushAsync"/> before taking positions of the last batch as done. Without store support,
    /// this batch is committed before it returns, as in <see cref="RunBatchAsync"/>.
    /// </summary>
    /// <returns>This batch's result (its alerts published); the batch previously in flight is durable.</returns>
    /// <exception cref="WindowConflictException">The previous batch's cards kept changing (it is not durable).</exception>
    public async Task<BatchResult> RunOverlappedAsync(WindowBatch batch, PublishBatch publish, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(publish);
        if (!_store.CanPrepareOnPending)
        {
            return await RunBatchAsync(batch, publish, cancellationToken).ConfigureAwait(true);
        }

        if (_inFlight is not { } previous)
        {
            var clock = Stopwatch.StartNew();
            var first = await _store.PrepareAsync(batch, cancellationToken).ConfigureAwait(true);
            var scored = ScoreAll(batch, clock.Elapsed);
            await publish(batch, scored, cancellationToken).ConfigureAwait(true);
            _inFlight = new InFlight(batch, first, publish, scored);
            return scored;
        }

        if (ReferenceEquals(previous.Batch, batch))
        {
            throw new ArgumentException("The batch in flight is still needed until its commit settles: pass two batch instances in turn.", nameof(batch));
        }

        _inFlight = null;
        var running = Stopwatch.StartNew();
        Task<PreparedWrites> preparing;
        try
        {
            preparing = _store.PrepareOnPendingAsync(batch, previous.Writes, cancellationToken); // its reads go out first
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            preparing = Task.FromException<PreparedWrites>(e);
        }

        var committing = _store.CommitAsync(previous.Writes, cancellationToken);
        PreparedWrites? writes = null;
        BatchResult? result = null;
        try
        {
            writes = await preparing.ConfigureAwait(true);
            result = ScoreAll(batch, running.Elapsed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            writes = null; // prepared again below, on the store, once the previous batch is settled
            OverlapFailures++;
            LastOverlapFailure = e;
        }
        finally
        {
            // Settled (durable, or the error that says why not) before anything of this batch is published.
            var conflicts = await committing.ConfigureAwait(true);
            await SettleAsync(previous, conflicts, cancellationToken).ConfigureAwait(true);
            SettledInFlight++;
            if (conflicts > 0)
            {
                writes = null;
            }
        }

        if (writes is null || result is null)
        {
            OverlapsDiscarded++;
            var clock = Stopwatch.StartNew();
            writes = await _store.PrepareAsync(batch, cancellationToken).ConfigureAwait(true);
            result = ScoreAll(batch, clock.Elapsed);
        }

        await publish(batch, result, cancellationToken).ConfigureAwait(true);
        _inFlight = new InFlight(batch, writes, publish, result);
        return result;
    }

    /// <summary>Preparations of <see cref="RunOverlappedAsync"/> discarded because the commit before them conflicted or failed.</summary>
    public long OverlapsDiscarded { get; private set; }

    /// <summary>
    /// Overlapped preparations (or their scoring) of <see cref="RunOverlappedAsync"/> that threw, e.g. a read that timed
    /// out: each such batch was prepared and scored again on the store once the batch before it had settled (counted in
    /// <see cref="OverlapsDiscarded"/> too). A caller that logs compares this count before and after a call.
    /// </summary>
    public long OverlapFailures { get; private set; }

    /// <summary>The error of the latest <see cref="OverlapFailures"/> (null until one happens).</summary>
    public Exception? LastOverlapFailure { get; private set; }

    /// <summary>
    /// Commits the batch <see cref="RunOverlappedAsync"/> left in flight and settles it (no-op when none): afterwards
    /// every published batch is durable. On an error the batch is dropped from the pipeline (the caller abandons it).
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_inFlight is not { } pending)
        {
            return;
        }

        _inFlight = null;
        var conflicts = await _store.CommitAsync(pending.Writes, cancellationToken).ConfigureAwait(true);
        await SettleAsync(pending, conflicts, cancellationToken).ConfigureAwait(true);
        SettledInFlight++;
    }

    /// <summary>
    /// Batches left in flight that have since been written (their alerts published, their states durable), by
    /// <see cref="RunOverlappedAsync"/> or <see cref="FlushAsync"/>. A call that throws may still have settled the batch
    /// in flight before it: a caller that compares this count before and after knows that batch's positions are done.
    /// </summary>
    public long SettledInFlight { get; private set; }

    /// <summary>Forgets the batch in flight without committing it (the caller abandons it: it is read again).</summary>
    public void DropInFlight() => _inFlight = null;

    private sealed record InFlight(WindowBatch Batch, PreparedWrites Writes, PublishBatch? Publish, BatchResult Result);

    private InFlight? _inFlight;

    /// <summary>
    /// After a commit that left <paramref name="conflicts"/> cards unwritten: prepares and scores the batch again on
    /// their new states, publishes the alerts of events applied only now, and commits again, until nothing conflicts.
    /// </summary>
    private async Task<BatchResult> SettleAsync(InFlight inFlight, int conflicts, CancellationToken cancellationToken)
    {
        var (batch, writes, publish, result) = inFlight;
        for (var attempt = 1; ; attempt++)
        {
            if (conflicts == 0)
            {
                return result;
            }

            WindowConflictException.ThrowIfExhausted(attempt, _options.MaxCommitAttempts, conflicts);
            writes = await _store.PrepareAsync(batch, cancellationToken).ConfigureAwait(true);
            var again = ScoreAll(batch, TimeSpan.Zero);
            var fresh = again with
            {
                Alerts = OnlyApplied(batch, again.Alerts),
                Shadows = [.. again.Shadows.Select(s => s with { Alerts = OnlyApplied(batch, s.Alerts) })],
            };
            if (publish is not null)
            {
                await publish(batch, fresh, cancellationToken).ConfigureAwait(true);
            }

            result = result with { Alerts = [.. result.Alerts, .. fresh.Alerts] };
            conflicts = await _store.CommitAsync(writes, cancellationToken).ConfigureAwait(true);
        }
    }

    private static List<Alert> OnlyApplied(WindowBatch batch, IReadOnlyList<Alert> alerts) =>
        [.. alerts.Where(a => batch.Result(a.BatchIndex).IsApplied)];

    private BatchResult ScoreAll(WindowBatch batch, TimeSpan windowsTime)
    {
        var result = ScoreWith(_bundles, batch, windowsTime);
        return _shadows.Count == 0 ? result : result with { Shadows = [.. _shadows.Select(s => ScoreWith(s, batch, TimeSpan.Zero))] };
    }

    private BatchResult ScoreWith(IBundleSource source, WindowBatch batch, TimeSpan windowsTime)
    {
        using var lease = source.Acquire(); // one bundle for the whole batch, alive until its alerts are built
        var bundle = lease.Bundle;
        if (!ReferenceEquals(bundle.Spec, batch.Spec) && bundle.Spec.ContentHash != batch.Spec.ContentHash)
        {
            throw new InvalidOperationException($"Batch windows use spec {batch.Spec.Name} but bundle {bundle.Version} needs {bundle.Spec.Name}.");
        }

        var clock = Stopwatch.StartNew();

        if (_scores.Capacity < batch.Count)
        {
            _scores = new ScoreBuffers(batch.Capacity);
        }

        // One LSTM run and one XGBoost call for the whole batch; windows of invalid events are zeroed first so the
        // models only ever see well-formed input (their scores are discarded).
        for (var i = 0; i < batch.Count; i++)
        {
            if (!batch.Result(i).HasWindow)
            {
                batch.Window(i).Clear();
            }
        }

        clock.Restart();
        bundle.Score(batch.Windows, batch.Count, _scores);
        var modelsTime = clock.Elapsed;

        clock.Restart();
        var threshold = bundle.Threshold(_options.Policy, _options.FixedThreshold);
        var scoredAt = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var events = new EventScore[batch.Count];
        _alertRows.Clear();
        for (var i = 0; i < batch.Count; i++)
        {
            var result = batch.Result(i);
            var (lstm, xgb, score) = (_scores.Lstm[i], _scores.Xgb[i], _scores.Ensemble[i]);
            var outcome = result.Status switch
            {
                ApplyStatus.Invalid => EventOutcome.Invalid,
                ApplyStatus.ConflictingTransactionId => EventOutcome.ReusedTransactionId,
                ApplyStatus.Applied => score >= threshold ? EventOutcome.Alert : EventOutcome.Scored,
                _ => _options.RescoreDuplicates && result.HasWindow && result.WindowComplete ? EventOutcome.DuplicateRescored : EventOutcome.DuplicateSkipped,
            };
            events[i] = outcome is EventOutcome.Invalid or EventOutcome.ReusedTransactionId or EventOutcome.DuplicateSkipped
                ? new EventScore(outcome, double.NaN, float.NaN, float.NaN, result.Error)
                : new EventScore(outcome, score, lstm, xgb, null);
            if (outcome == EventOutcome.Alert || (outcome == EventOutcome.DuplicateRescored && score >= threshold))
            {
                _alertRows.Add(i);
            }
        }

        if (_options.ExplainSequence)
        {
            ExplainSequences(batch, bundle);
        }

        if (_options.TopFeatures > 0)
        {
            ExplainTrees(batch, bundle);
        }

        var alerts = new List<Alert>(_alertRows.Count);
        for (var a = 0; a < _alertRows.Count; a++)
        {
            var i = _alertRows[a];
            alerts.Add(BuildAlert(batch, i, a, bundle, threshold, scoredAt, batch.Result(i).RealSteps));
        }

        return new BatchResult(events, alerts, bundle.Version, threshold, new StageTimings(windowsTime, modelsTime, clock.Elapsed)) { LstmPath = bundle.LstmPath };
    }

    /// <summary>Deterministic alert id of an event: the same transaction always yields the same id.</summary>
    public static string AlertId(string cardId, string transactionId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{cardId}\u001f{transactionId}"), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>Lower-case hex SHA-256 of a window's float32 little-endian bytes.</summary>
    public static string WindowHash(ReadOnlySpan<float> window)
    {
        Span<byte> hash = stackalloc byte[32];
        if (BitConverter.IsLittleEndian)
        {
            SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(window), hash);
        }
        else
        {
            var bytes = new byte[window.Length * 4];
            for (var i = 0; i < window.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), window[i]);
            }

            SHA256.HashData(bytes, hash);
        }

        return Convert.ToHexStringLower(hash);
    }

    private Alert BuildAlert(WindowBatch batch, int i, int alert, ModelBundle bundle, double threshold, long scoredAt, int realSteps)
    {
        var tx = batch.Event(i);
        var window = batch.Window(i);
        var spec = bundle.Spec;
        IReadOnlyList<(string, double, double)> top = [];
        if (_options.TopFeatures > 0)
        {
            var dim = spec.Dimension;
            var newest = window[(spec.WindowSize - dim)..];
            var contributions = XgbContributions.TopK(_contributions.AsSpan(alert * (dim + 1), dim), _options.TopFeatures);
            var list = new List<(string, double, double)>(contributions.Length);
            foreach (var c in contributions)
            {
                list.Add((spec.Features[c.Feature].Name, newest[c.Feature], c.Value));
            }

            top = list;
        }

        int? stepsBack = null;
        long? influentialTime = null;
        double? delta = null;
        if (_options.ExplainSequence && realSteps > 1)
        {
            (stepsBack, delta) = _influence[alert];
            var times = batch.WindowEventTimes(i);
            influentialTime = times[times.Length - 1 - stepsBack.Value];
        }

        return new Alert(
            i, AlertId(tx.CardId, tx.TransactionId), tx.TransactionId, tx.CardId, tx.EventTimeMs, scoredAt,
            _scores.Ensemble[i], _scores.Lstm[i], _scores.Xgb[i], threshold, _options.Policy, bundle.Version,
            WindowHash(window), realSteps, batch.Position(i), top, stepsBack, influentialTime, delta)
        {
            MerchantId = tx.MerchantId, Amount = tx.Amount, Currency = tx.Currency,
        };
    }

    /// <summary>
    /// XGBoost contributions (exact TreeSHAP, by the bundle's explainer: the managed TreeSHAP, 8 rows per vector pass,
    /// or libxgboost) of every alert's newest step in ONE call; TreeSHAP computes each row on its own, so an alert's row
    /// is what a call with its step alone gives. Buffers are the pipeline's,
    /// grown when a batch needs more.
    /// </summary>
    private void ExplainTrees(WindowBatch batch, ModelBundle bundle)
    {
        var count = _alertRows.Count;
        if (count == 0)
        {
            return;
        }

        var size = bundle.Spec.WindowSize;
        var dim = bundle.Spec.Dimension;
        if (_alertNewest.Length < count * dim || _contributions.Length < count * (dim + 1))
        {
            var rows = Math.Max(count, _scores.Capacity);
            _alertNewest = new float[rows * dim];
            _contributions = new float[rows * (dim + 1)];
        }

        for (var a = 0; a < count; a++)
        {
            batch.Window(_alertRows[a])[(size - dim)..].CopyTo(_alertNewest.AsSpan(a * dim, dim));
        }

        bundle.Explain(_alertNewest.AsSpan(0, count * dim), count, _contributions.AsSpan(0, count * (dim + 1)));
    }

    /// <summary>
    /// Occlusion, for every alert of the batch at once: for each earlier real step of an alert's window, the window
    /// without it (later steps shifted, one more zero step of padding in front); the step whose removal moves the LSTM
    /// score most is the most influential. All variants of all alerts go through ONE LSTM run (the LSTM alone, not the
    /// ensemble); a window's LSTM score does not depend on the other windows of a run, so each alert's result is the
    /// one a run over its own variants gives. Buffers are the pipeline's, grown when a batch needs more.
    /// </summary>
    private void ExplainSequences(WindowBatch batch, ModelBundle bundle)
    {
        var size = bundle.Spec.WindowSize;
        var dim = bundle.Spec.Dimension;
        var steps = size / dim;
        var total = 0;
        foreach (var i in _alertRows)
        {
            total += Math.Max(0, batch.Result(i).RealSteps - 1);
        }

        if (_influence.Length < _alertRows.Count)
        {
            _influence = new (int, double)[Math.Max(_alertRows.Count, _scores.Capacity)];
        }

        if (total == 0)
        {
            return;
        }

        if (_occludedScores.Length < total)
        {
            _occluded = new float[total * size];
            _occludedScores = new float[total];
        }

        var next = 0;
        foreach (var i in _alertRows)
        {
            var window = batch.Window(i);
            var variants = batch.Result(i).RealSteps - 1;
            for (var v = 0; v < variants; v++)
            {
                var removed = steps - 1 - (v + 1); // step index of the transaction v+1 steps back
                var target = _occluded.AsSpan((next + v) * size, size);
                // Steps before the removed one move one step later; the first step becomes padding.
                target[..dim].Clear();
                window[..(removed * dim)].CopyTo(target.Slice(dim, removed * dim));
                window[((removed + 1) * dim)..].CopyTo(target[((removed + 1) * dim)..]);
            }

            next += Math.Max(0, variants);
        }

        bundle.ScoreLstm(_occluded.AsMemory(0, total * size), total, _occludedScores.AsMemory(0, total));
        next = 0;
        for (var a = 0; a < _alertRows.Count; a++)
        {
            var i = _alertRows[a];
            var variants = batch.Result(i).RealSteps - 1;
            if (variants < 1)
            {
                continue;
            }

            var score = _scores.Lstm[i];
            var scores = _occludedScores.AsSpan(next, variants);
            var best = 0;
            for (var v = 1; v < variants; v++)
            {
                if (Math.Abs(score - scores[v]) > Math.Abs(score - scores[best]))
                {
                    best = v;
                }
            }

            _influence[a] = (best + 1, score - scores[best]);
            next += variants;
        }
    }
}
