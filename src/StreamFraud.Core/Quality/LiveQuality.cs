using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Quality;

/// <summary>A labelled transaction joined with what the scorer decided about it.</summary>
public enum QualityResult
{
    /// <summary>Alerted, confirmed fraud.</summary>
    TruePositive = 0,

    /// <summary>Alerted, confirmed legitimate (a confirmed false positive).</summary>
    FalsePositive = 1,

    /// <summary>Not alerted, confirmed fraud.</summary>
    FalseNegative = 2,

    /// <summary>Not alerted, confirmed legitimate.</summary>
    TrueNegative = 3,
}

/// <summary>One change to a version's confirmed counts: +1 counts a result, −1 retracts one (a flipped label).</summary>
/// <param name="ModelVersion">The version the result is attributed to.</param>
/// <param name="Result">The result.</param>
/// <param name="Delta">+1 or −1.</param>
public readonly record struct QualityChange(string ModelVersion, QualityResult Result, int Delta);

/// <summary>What one label does to the confirmed counts (<see cref="LiveQuality.Join"/>).</summary>
/// <param name="Retracted">The result the label's previous verdict counted, taken back (a flip), or null.</param>
/// <param name="Counted">The result the label's verdict counts, or null when it changes nothing.</param>
/// <param name="Attribution">
/// A record to write for a transaction without alert joined for the first time (the version a later flip is
/// attributed to), or null.
/// </param>
public readonly record struct QualityJoin(QualityChange? Retracted, QualityChange? Counted, DecisionRecord? Attribution);

/// <summary>
/// Live quality (README "Live quality"): labels joined with the scorer's decisions. A label whose store decision is
/// <see cref="LabelOutcome.Applied"/> (the transaction's first verdict) counts one result; a
/// <see cref="LabelOutcome.Flipped"/> one retracts the previous verdict's result and counts the new one; every other
/// outcome (duplicate, superseded, stale, conflicting, invalid) changes nothing, so a redelivered or repeated label is
/// never counted twice. An alerted transaction's result goes to the version that alerted; a transaction without alert
/// goes to the version serving when its first label arrived (recorded, so a flip retracts from the same version).
/// </summary>
public static class LiveQuality
{
    /// <summary>Cost of a missed fraud (false negative), in units of a false alert (the trainer's cost_min policy).</summary>
    public const double FalseNegativeCost = 10;

    /// <summary>Cost of a false alert (false positive).</summary>
    public const double FalsePositiveCost = 1;

    /// <summary>Whether a store decision changes the confirmed counts.</summary>
    public static bool Joins(LabelOutcome outcome) => outcome is LabelOutcome.Applied or LabelOutcome.Flipped;

    /// <summary>The result of a verdict on a transaction the scorer did or did not alert on.</summary>
    public static QualityResult Classify(bool alerted, bool isFraud) => (alerted, isFraud) switch
    {
        (true, true) => QualityResult.TruePositive,
        (true, false) => QualityResult.FalsePositive,
        (false, true) => QualityResult.FalseNegative,
        _ => QualityResult.TrueNegative,
    };

    /// <summary>
    /// What <paramref name="label"/>, decided <paramref name="decision"/> by the label store, does to the counts, given
    /// the transaction's decision <paramref name="record"/> (null: none; a record of another card does not match).
    /// </summary>
    /// <param name="label">The label.</param>
    /// <param name="decision">The label store's decision on it.</param>
    /// <param name="record">The transaction's decision record, if any.</param>
    /// <param name="servingVersion">The version serving now (attributed a transaction without alert or record).</param>
    /// <param name="nowMs">Now, Unix ms UTC (the time of a new attribution record).</param>
    public static QualityJoin Join(TransactionLabel label, LabelDecision decision, DecisionRecord? record, string servingVersion, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(servingVersion);
        if (!Joins(decision.Outcome))
        {
            return default;
        }

        var matched = record is not null && string.Equals(record.CardId, label.CardId, StringComparison.Ordinal) ? record : null;
        var alerted = matched?.Alerted == true;
        var version = matched?.ModelVersion ?? servingVersion;
        var counted = new QualityChange(version, Classify(alerted, label.IsFraud), +1);
        QualityChange? retracted = decision.Outcome == LabelOutcome.Flipped ? new QualityChange(version, Classify(alerted, !label.IsFraud), -1) : null;
        var attribution = record is null
            ? new DecisionRecord(label.TransactionId, label.CardId, servingVersion, Alerted: false, double.NaN, double.NaN, nowMs)
            : null;
        return new QualityJoin(retracted, counted, attribution);
    }
}

/// <summary>Net confirmed counts of one model version.</summary>
/// <param name="ModelVersion">The version.</param>
/// <param name="TruePositives">Alerts confirmed fraud.</param>
/// <param name="FalsePositives">Alerts confirmed legitimate.</param>
/// <param name="FalseNegatives">Confirmed frauds without alert.</param>
/// <param name="TrueNegatives">Confirmed legitimate transactions without alert.</param>
public readonly record struct QualityCounts(string ModelVersion, long TruePositives, long FalsePositives, long FalseNegatives, long TrueNegatives)
{
    /// <summary>Confirmed precision: TP / (TP + FP) over labelled alerts; NaN before any.</summary>
    public double Precision => TruePositives + FalsePositives > 0 ? (double)TruePositives / (TruePositives + FalsePositives) : double.NaN;

    /// <summary>Delayed-label recall: TP / (TP + FN) over labelled frauds; NaN before any.</summary>
    public double Recall => TruePositives + FalseNegatives > 0 ? (double)TruePositives / (TruePositives + FalseNegatives) : double.NaN;

    /// <summary>Confirmed cost: <see cref="LiveQuality.FalseNegativeCost"/> × FN + <see cref="LiveQuality.FalsePositiveCost"/> × FP.</summary>
    public double Cost => (LiveQuality.FalseNegativeCost * FalseNegatives) + (LiveQuality.FalsePositiveCost * FalsePositives);
}

/// <summary>Net confirmed counts per model version, summed from <see cref="QualityChange"/>s. Thread-safe.</summary>
public sealed class QualityTally
{
    private readonly Dictionary<string, long[]> _counts = new(StringComparer.Ordinal);

    /// <summary>Adds one change.</summary>
    public void Add(QualityChange change)
    {
        ArgumentNullException.ThrowIfNull(change.ModelVersion);
        lock (_counts)
        {
            if (!_counts.TryGetValue(change.ModelVersion, out var counts))
            {
                counts = new long[4];
                _counts.Add(change.ModelVersion, counts);
            }

            counts[(int)change.Result] += change.Delta;
        }
    }

    /// <summary>The counts of every version seen, by version name.</summary>
    public IReadOnlyList<QualityCounts> Snapshot()
    {
        lock (_counts)
        {
            return [.. _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new QualityCounts(kv.Key, kv.Value[0], kv.Value[1], kv.Value[2], kv.Value[3]))];
        }
    }
}
