using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring.Bundles;

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

    /// <summary>Whether alerts carry the LSTM occlusion explanation (one extra LSTM run per alert).</summary>
    public bool ExplainSequence { get; init; } = true;

    /// <summary>
    /// Score redelivered events again (from their recovered windows) and re-emit their alerts. Not needed when
    /// states are committed only after alerts are acknowledged (at-least-once); needed in exactly-once mode, where an
    /// aborted transaction may have dropped alerts whose window state was already written.
    /// </summary>
    public bool RescoreDuplicates { get; init; }
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
    double? InfluentialScoreDelta);

/// <summary>Stage timings of one batch, for metrics.</summary>
public readonly record struct StageTimings(TimeSpan Windows, TimeSpan Models, TimeSpan Explain);

/// <summary>Result of one batch.</summary>
public sealed record BatchResult(IReadOnlyList<EventScore> Events, IReadOnlyList<Alert> Alerts, string ModelVersion, double Threshold, StageTimings Timings);

/// <summary>
/// THE scoring path, independent of Kafka: a batch of decoded events → one window-store call (append each event to
/// its card's state, get its window) → one LSTM run over all windows and XGBoost on the newest steps → 50/50 ensemble
/// → threshold → alerts with explanations. The Kafka scorer, replay/backtest and tests all run exactly this.
/// One instance per worker; not thread-safe.
/// </summary>
public sealed class FraudPipeline
{
    private readonly IWindowStore _store;
    private readonly IBundleSource _bundles;
    private readonly ScoringOptions _options;
    private readonly TimeProvider _time;
    private ScoreBuffers _scores;

    /// <summary>Creates a pipeline over a window store and a fixed bundle.</summary>
    public FraudPipeline(IWindowStore store, Func<ModelBundle> servingBundle, ScoringOptions? options = null, TimeProvider? time = null, int capacity = 1024)
        : this(store, new FixedBundleSource(servingBundle), options, time, capacity)
    {
    }

    /// <summary>
    /// Creates a pipeline over a window store and a bundle source: each batch leases the serving bundle once, so a
    /// swap lands between batches and a retired bundle is freed only after the batches using it are done.
    /// </summary>
    public FraudPipeline(IWindowStore store, IBundleSource bundles, ScoringOptions? options = null, TimeProvider? time = null, int capacity = 1024)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bundles);
        _store = store;
        _bundles = bundles;
        _options = options ?? new ScoringOptions();
        _time = time ?? TimeProvider.System;
        _scores = new ScoreBuffers(capacity);
        if (_options.Policy == ThresholdPolicy.Fixed && _options.FixedThreshold is null)
        {
            throw new ArgumentException("Scoring:Policy=fixed needs Scoring:FixedThreshold.");
        }
    }

    /// <summary>
    /// Computes every event's window (nothing written yet) and scores the batch. Publish the alerts, then call
    /// <see cref="CommitAsync"/>. Throws when the window store is unavailable (the caller retries the whole batch).
    /// </summary>
    public async Task<BatchResult> ProcessAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var clock = Stopwatch.StartNew();
        await _store.PrepareAsync(batch, cancellationToken).ConfigureAwait(false);
        return ScoreWith(batch, clock.Elapsed);
    }

    /// <summary>
    /// Computes every event's window from the stored states without writing (the I/O half of
    /// <see cref="ProcessAsync"/>); follow with <see cref="Score"/> on the thread that should run the models.
    /// </summary>
    public Task PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => _store.PrepareAsync(batch, cancellationToken);

    /// <summary>
    /// Scores a prepared batch on the calling thread (the compute half of <see cref="ProcessAsync"/>): a scorer
    /// calls it from its dedicated inference thread, never from an arbitrary pool thread.
    /// </summary>
    public BatchResult Score(WindowBatch batch) => ScoreWith(batch, TimeSpan.Zero);

    private BatchResult ScoreWith(WindowBatch batch, TimeSpan windowsTime)
    {
        using var lease = _bundles.Acquire(); // one bundle for the whole batch, alive until its alerts are built
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
        var alerts = new List<Alert>();
        for (var i = 0; i < batch.Count; i++)
        {
            var result = batch.Result(i);
            var (lstm, xgb, score) = (_scores.Lstm[i], _scores.Xgb[i], _scores.Ensemble[i]);
            var outcome = result.Status switch
            {
                ApplyStatus.Invalid => EventOutcome.Invalid,
                ApplyStatus.Applied => score >= threshold ? EventOutcome.Alert : EventOutcome.Scored,
                _ => _options.RescoreDuplicates && result.HasWindow && result.WindowComplete ? EventOutcome.DuplicateRescored : EventOutcome.DuplicateSkipped,
            };
            events[i] = outcome is EventOutcome.Invalid or EventOutcome.DuplicateSkipped
                ? new EventScore(outcome, double.NaN, float.NaN, float.NaN, result.Error)
                : new EventScore(outcome, score, lstm, xgb, null);
            if (outcome == EventOutcome.Alert || (outcome == EventOutcome.DuplicateRescored && score >= threshold))
            {
                alerts.Add(BuildAlert(batch, i, bundle, threshold, scoredAt, result.RealSteps));
            }
        }

        return new BatchResult(events, alerts, bundle.Version, threshold, new StageTimings(windowsTime, modelsTime, clock.Elapsed));
    }

    /// <summary>
    /// Writes the card states computed by the last <see cref="ProcessAsync"/>; returns how many cards changed
    /// meanwhile (process and commit the batch again: their events are re-scored, the written ones are duplicates).
    /// </summary>
    public Task<int> CommitAsync(WindowBatch batch, CancellationToken cancellationToken = default) => _store.CommitAsync(batch, cancellationToken);

    /// <summary>Scores a batch and commits its states at once (replay, tests): <see cref="ProcessAsync"/> then <see cref="CommitAsync"/> until no conflict.</summary>
    public async Task<BatchResult> ProcessAndCommitAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        var result = await ProcessAsync(batch, cancellationToken).ConfigureAwait(false);
        var alerts = result.Alerts.ToList();
        while (await CommitAsync(batch, cancellationToken).ConfigureAwait(false) > 0)
        {
            var again = await ProcessAsync(batch, cancellationToken).ConfigureAwait(false);
            alerts.AddRange(again.Alerts.Where(a => batch.Result(a.BatchIndex).IsApplied));
            result = again with { Alerts = alerts };
        }

        return result;
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

    private Alert BuildAlert(WindowBatch batch, int i, ModelBundle bundle, double threshold, long scoredAt, int realSteps)
    {
        var tx = batch.Event(i);
        var window = batch.Window(i);
        var spec = bundle.Spec;
        IReadOnlyList<(string, double, double)> top = [];
        if (_options.TopFeatures > 0)
        {
            var newest = window[(spec.WindowSize - spec.Dimension)..];
            var contributions = bundle.Xgb.TopContributions(newest, _options.TopFeatures,
                bundle.Manifest.XgbIterations);
            var list = new List<(string, double, double)>(contributions.Count);
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
            (stepsBack, delta) = MostInfluentialStep(bundle, window, realSteps, _scores.Lstm[i]);
            var times = batch.WindowEventTimes(i);
            influentialTime = times[times.Length - 1 - stepsBack.Value];
        }

        return new Alert(
            i, AlertId(tx.CardId, tx.TransactionId), tx.TransactionId, tx.CardId, tx.EventTimeMs, scoredAt,
            _scores.Ensemble[i], _scores.Lstm[i], _scores.Xgb[i], threshold, _options.Policy, bundle.Version,
            WindowHash(window), realSteps, batch.Position(i), top, stepsBack, influentialTime, delta);
    }

    /// <summary>
    /// Occlusion: for each earlier real step, the window without it (later steps shifted, one more zero step of
    /// padding in front); the step whose removal moves the LSTM score most is the most influential.
    /// </summary>
    private static (int StepsBack, double Delta) MostInfluentialStep(ModelBundle bundle, ReadOnlySpan<float> window, int realSteps, float score)
    {
        var dim = bundle.Spec.Dimension;
        var size = bundle.Spec.WindowSize;
        var variants = realSteps - 1;
        var buffer = new float[variants * size];
        var steps = size / dim;
        for (var v = 0; v < variants; v++)
        {
            var removed = steps - 1 - (v + 1); // step index of the transaction v+1 steps back
            var target = buffer.AsSpan(v * size, size);
            // Steps before the removed one move one step later; the first step becomes padding.
            window[..(removed * dim)].CopyTo(target.Slice(dim, removed * dim));
            window[((removed + 1) * dim)..].CopyTo(target[((removed + 1) * dim)..]);
        }

        var scores = new ScoreBuffers(variants);
        bundle.Score(buffer, variants, scores);
        var best = 0;
        for (var v = 1; v < variants; v++)
        {
            if (Math.Abs(score - scores.Lstm[v]) > Math.Abs(score - scores.Lstm[best]))
            {
                best = v;
            }
        }

        return (best + 1, score - scores.Lstm[best]);
    }

}
