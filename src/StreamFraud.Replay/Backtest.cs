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

    /// <summary>Batches scored early because an event needed a label that fell inside them (what exact interleaving costs).</summary>
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
/// <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/> merges them: every event sees
/// the labels whose label time is before its event time, and no other. A label only changes the risk of its merchant
/// and card, so it is applied to the store (<see cref="ILabelStore"/>) after the batch in which it fell, unless an event
/// after its label time in that batch names its merchant or card: then the batch is scored early, just before that
/// event (<see cref="BacktestResult.LabelCuts"/>); for simulated labels, likewise when the label one of its frauds will
/// get is due before such an event. So the windows of a replay equal the trainer's for the same history and labels,
/// bit for bit, whatever the batch size.
/// </remarks>
public static class Backtest
{
    /// <summary>Whether a label of <paramref name="merchantId"/> and <paramref name="cardId"/> changes the entity risk <paramref name="tx"/> reads.</summary>
    private static bool Touches(string merchantId, string cardId, Transaction tx) =>
        (!string.IsNullOrEmpty(merchantId) && string.Equals(merchantId, tx.MerchantId, StringComparison.Ordinal)) ||
        string.Equals(cardId, tx.CardId, StringComparison.Ordinal);

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
        long seen = 0;

        // Due labels not applied yet: none touches the merchant or card of an unscored event after its label time.
        var held = new List<TransactionLabel>();

        // The labels the unscored batch's frauds will get once scored (simulated feeds): label time, merchant, card.
        var pending = new List<(long Time, string MerchantId, string CardId)>();

        async Task ApplyHeld()
        {
            if (held.Count == 0)
            {
                return;
            }

            foreach (var decision in await labelStore!.ApplyLabelsAsync(held, cancellationToken).ConfigureAwait(false))
            {
                result.LabelOutcomes[decision.Outcome] = result.LabelOutcomes.GetValueOrDefault(decision.Outcome) + 1;
            }

            held.Clear();
        }

        // Scores the batch, then applies the held labels: the batch never sees them, every later event does.
        async Task Flush()
        {
            if (batch.Count > 0)
            {
                await Score().ConfigureAwait(false);
            }

            await ApplyHeld().ConfigureAwait(false);
        }

        async Task Score()
        {
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

                pending.Clear();
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
                // A label must be in the store before the first event after its label time whose merchant or card it
                // names, and after every event before that time; it changes nothing else (a spec reads the labels of
                // the event's merchant and card only). So the batch is cut only where an event needs a label that
                // fell inside it; other due labels wait and are applied after the batch.
                if (pending.Exists(p => p.Time < tx.EventTimeMs && Touches(p.MerchantId, p.CardId, tx)))
                {
                    result.LabelCuts++;
                    await Flush().ConfigureAwait(false); // the batch's frauds get their simulated labels
                }

                while (feed.TryTakeDue(tx.EventTimeMs, out var label))
                {
                    held.Add(label);
                }

                if (held.Exists(l => Touches(l.MerchantId, l.CardId, tx)))
                {
                    result.LabelCuts += batch.Count > 0 ? 1 : 0;
                    await Flush().ConfigureAwait(false);
                }

                if (feed.Delay is { } delay && tx.IsFraud == true)
                {
                    var ms = Math.Max(1L, delay.DelayMs(tx.TransactionId));
                    pending.Add((tx.EventTimeMs > long.MaxValue - ms ? long.MaxValue : tx.EventTimeMs + ms, tx.MerchantId, tx.CardId));
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
