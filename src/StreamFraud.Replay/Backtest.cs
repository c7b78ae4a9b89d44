using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Replay;

/// <summary>What one bundle decided for the in-range events of a replay.</summary>
public sealed class VersionRun(ModelBundle bundle)
{
    /// <summary>The bundle.</summary>
    public ModelBundle Bundle { get; } = bundle;

    /// <summary>Ensemble score per in-range event (same order as <see cref="BacktestResult.Events"/>).</summary>
    public List<double> Scores { get; } = [];

    /// <summary>Alerts, by alert id.</summary>
    public Dictionary<string, Alert> Alerts { get; } = new(StringComparer.Ordinal);
}

/// <summary>The outcome of a replay: the in-range events and each version's decisions on them.</summary>
public sealed class BacktestResult
{
    /// <summary>In-range events scored.</summary>
    public List<Transaction> Events { get; } = [];

    /// <summary>Warm-up events (state only).</summary>
    public long WarmupEvents { get; set; }

    /// <summary>Events of the range the window store refused (invalid for the spec).</summary>
    public long Invalid { get; set; }

    /// <summary>Messages that could not be decoded.</summary>
    public long Undecodable { get; set; }

    /// <summary>One run per version, in the order given.</summary>
    public List<VersionRun> Versions { get; } = [];

    /// <summary>What the labels fed to the window store did, by outcome (empty when none were fed).</summary>
    public Dictionary<LabelOutcome, long> LabelOutcomes { get; } = [];

    /// <summary>Labels the feed still held at the end (label time after the last event): they changed no window.</summary>
    public long LabelsNotReached { get; set; }

    /// <summary>Labels simulated from <c>is_fraud</c> (simulated feeds only).</summary>
    public long LabelsSimulated { get; set; }

    /// <summary>Batches scored early so that a label falls between them (what exact interleaving by label time costs).</summary>
    public long LabelCuts { get; set; }

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; set; }
}

/// <summary>
/// Runs replayed events through the scorer's own pipeline: one window store (isolated: in memory, or a separate Redis
/// prefix), the first version prepares and commits each batch's windows, every version scores the same windows.
/// </summary>
/// <remarks>
/// With labels (a spec that reads them, <c>card</c> v2) the labels are merged in by label time exactly as
/// <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/> merges them: every label whose
/// label time is before an event's event time is applied to the store (<see cref="ILabelStore"/>) before that event, and
/// none after. A batch is scored early when a label falls inside it (<see cref="BacktestResult.LabelCuts"/>), and, for
/// simulated labels, when the label of one of its frauds becomes due before a later event. So the windows of a replay
/// equal the trainer's for the same history and labels, bit for bit, whatever the batch size.
/// </remarks>
public static class Backtest
{
    /// <summary>Replays <paramref name="source"/> with every bundle of <paramref name="bundles"/>.</summary>
    public static Task<BacktestResult> RunAsync(
        IReplaySource source, IReadOnlyList<ModelBundle> bundles, IWindowStore store, FeatureSpec spec, int batchSize = 512,
        Action<long>? progress = null, CancellationToken cancellationToken = default) =>
        RunAsync(source, bundles, store, spec, null, batchSize, progress, cancellationToken);

    /// <summary>
    /// Replays <paramref name="source"/> with every bundle of <paramref name="bundles"/>, merging <paramref name="labels"/>
    /// in by label time when <paramref name="spec"/> reads labels (ignored otherwise).
    /// </summary>
    /// <exception cref="ArgumentException">The spec reads labels and <paramref name="store"/> cannot apply them.</exception>
    public static async Task<BacktestResult> RunAsync(
        IReplaySource source, IReadOnlyList<ModelBundle> bundles, IWindowStore store, FeatureSpec spec, LabelFeed? labels, int batchSize = 512,
        Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfZero(bundles.Count);
        var feed = spec.UsesEntityRisk ? labels : null;
        var labelStore = store as ILabelStore;
        if (feed is not null && labelStore is null)
        {
            throw new ArgumentException($"Spec {spec} reads labels, and {store.GetType().Name} cannot apply them.", nameof(store));
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = new BacktestResult();
        var options = new ScoringOptions { ExplainSequence = false, TopFeatures = 3 };
        // The first version prepares and commits the windows; the others score the same windows as shadows.
        var pipeline = new FraudPipeline(store, new FixedBundleSource(() => bundles[0]), options, TimeProvider.System, batchSize,
            [.. bundles.Skip(1).Select(b => new FixedBundleSource(() => b))]);
        result.Versions.AddRange(bundles.Select(b => new VersionRun(b)));
        var batch = new WindowBatch(spec, batchSize);
        var inRange = new List<bool>(batchSize);
        var due = new List<TransactionLabel>();
        long seen = 0;

        // Earliest label time of the simulated labels the unscored batch's frauds will get (simulated feeds only).
        var pendingLabelTime = long.MaxValue;

        async Task Flush()
        {
            if (batch.Count == 0)
            {
                return;
            }

            var run = await pipeline.RunBatchAsync(batch, cancellationToken: cancellationToken).ConfigureAwait(false);
            List<BatchResult> scored = [run, .. run.Shadows];
            if (feed is not null)
            {
                // In batch order, as a sequential replay observes them: simulated labels of equal time keep that order.
                for (var i = 0; i < batch.Count; i++)
                {
                    if (batch.Result(i).IsApplied)
                    {
                        feed.Observe(batch.Event(i));
                    }
                }

                pendingLabelTime = long.MaxValue;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                if (!inRange[i])
                {
                    result.WarmupEvents++;
                    continue;
                }

                if (scored[0].Events[i].Outcome is EventOutcome.Invalid or EventOutcome.ReusedTransactionId)
                {
                    result.Invalid++;
                    continue;
                }

                result.Events.Add(batch.Event(i));
                for (var v = 0; v < scored.Count; v++)
                {
                    result.Versions[v].Scores.Add(scored[v].Events[i].Score);
                }
            }

            for (var v = 0; v < scored.Count; v++)
            {
                foreach (var alert in scored[v].Alerts)
                {
                    if (inRange[alert.BatchIndex])
                    {
                        result.Versions[v].Alerts[alert.AlertId] = alert;
                    }
                }
            }

            seen += batch.Count;
            progress?.Invoke(seen);
            batch.Clear();
            inRange.Clear();
        }

        foreach (var e in source.Read(cancellationToken))
        {
            var tx = e.Transaction;
            if (feed is not null)
            {
                if (pendingLabelTime < tx.EventTimeMs)
                {
                    result.LabelCuts++;
                    await Flush().ConfigureAwait(false); // the batch's frauds are labelled before this event
                }

                while (feed.TryTakeDue(tx.EventTimeMs, out var label))
                {
                    due.Add(label);
                }

                if (due.Count > 0)
                {
                    if (batch.Count > 0)
                    {
                        result.LabelCuts++;
                        await Flush().ConfigureAwait(false); // the batch so far must not see these labels
                    }

                    foreach (var decision in await labelStore!.ApplyLabelsAsync(due, cancellationToken).ConfigureAwait(false))
                    {
                        result.LabelOutcomes[decision.Outcome] = result.LabelOutcomes.GetValueOrDefault(decision.Outcome) + 1;
                    }

                    due.Clear();
                }

                if (feed.Delay is { } delay && tx.IsFraud == true)
                {
                    var ms = Math.Max(1L, delay.DelayMs(tx.TransactionId));
                    pendingLabelTime = Math.Min(pendingLabelTime, tx.EventTimeMs > long.MaxValue - ms ? long.MaxValue : tx.EventTimeMs + ms);
                }
            }

            batch.Add(tx, e.Position);
            inRange.Add(e.InRange);
            if (batch.Count == batch.Capacity)
            {
                await Flush().ConfigureAwait(false);
            }
        }

        await Flush().ConfigureAwait(false);
        if (feed is not null)
        {
            result.LabelsNotReached = feed.Pending;
            result.LabelsSimulated = feed.Simulated;
        }

        result.Undecodable = source.Undecodable;
        result.Elapsed = clock.Elapsed;
        return result;
    }
}
