using StreamFraud.Core;
using StreamFraud.Core.Features;
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

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; set; }
}

/// <summary>
/// Runs replayed events through the scorer's own pipeline: one window store (isolated: in memory, or a separate Redis
/// prefix), the first version prepares and commits each batch's windows, every version scores the same windows.
/// </summary>
public static class Backtest
{
    /// <summary>Replays <paramref name="source"/> with every bundle of <paramref name="bundles"/>.</summary>
    public static async Task<BacktestResult> RunAsync(
        IReplaySource source, IReadOnlyList<ModelBundle> bundles, IWindowStore store, FeatureSpec spec, int batchSize = 512,
        Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfZero(bundles.Count);
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

        async Task Flush()
        {
            if (batch.Count == 0)
            {
                return;
            }

            var run = await pipeline.RunBatchAsync(batch, cancellationToken: cancellationToken).ConfigureAwait(false);
            List<BatchResult> scored = [run, .. run.Shadows];

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
            batch.Add(e.Transaction, e.Position);
            inRange.Add(e.InRange);
            if (batch.Count == batch.Capacity)
            {
                await Flush().ConfigureAwait(false);
            }
        }

        await Flush().ConfigureAwait(false);
        result.Undecodable = source.Undecodable;
        result.Elapsed = clock.Elapsed;
        return result;
    }
}
