using System.Text.Json.Serialization;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// Counts of a binary decision against labels, for one threshold: an event is flagged (predicted fraud) when its
/// score is greater than or equal to the threshold.
/// </summary>
/// <remarks>
/// Zero-division conventions follow scikit-learn's <c>zero_division=0</c>: <see cref="Precision"/> is 0 when nothing
/// is flagged, <see cref="Recall"/> is 0 when there are no positives, and <see cref="F1"/> is 0 when there are no true
/// positives. F1 is computed from counts as <c>2TP / (2TP + FP + FN)</c> (one rounding), which equals
/// <c>2PR / (P + R)</c>. Only the four counts are serialized; everything else derives from them.
/// </remarks>
/// <param name="TruePositives">Frauds flagged.</param>
/// <param name="FalsePositives">Legitimate events flagged (false alarms).</param>
/// <param name="TrueNegatives">Legitimate events not flagged.</param>
/// <param name="FalseNegatives">Frauds not flagged (missed).</param>
public readonly record struct ConfusionMatrix(
    long TruePositives,
    long FalsePositives,
    long TrueNegatives,
    long FalseNegatives)
{
    /// <summary>Frauds: <c>TP + FN</c>.</summary>
    [JsonIgnore]
    public long Positives => TruePositives + FalseNegatives;

    /// <summary>Legitimate events: <c>FP + TN</c>.</summary>
    [JsonIgnore]
    public long Negatives => FalsePositives + TrueNegatives;

    /// <summary>Flagged events (alerts): <c>TP + FP</c>.</summary>
    [JsonIgnore]
    public long Flagged => TruePositives + FalsePositives;

    /// <summary>All events.</summary>
    [JsonIgnore]
    public long Total => Positives + Negatives;

    /// <summary><c>TP / (TP + FP)</c>; 0 when nothing is flagged.</summary>
    [JsonIgnore]
    public double Precision => Flagged == 0 ? 0.0 : (double)TruePositives / Flagged;

    /// <summary><c>TP / (TP + FN)</c>; 0 when there are no positives.</summary>
    [JsonIgnore]
    public double Recall => Positives == 0 ? 0.0 : (double)TruePositives / Positives;

    /// <summary><c>FP / (FP + TN)</c>; 0 when there are no negatives.</summary>
    [JsonIgnore]
    public double FalsePositiveRate => Negatives == 0 ? 0.0 : (double)FalsePositives / Negatives;

    /// <summary><c>2TP / (2TP + FP + FN)</c>, the harmonic mean of precision and recall; 0 when <c>TP = 0</c>.</summary>
    [JsonIgnore]
    public double F1 => TruePositives == 0 ? 0.0 : 2.0 * TruePositives / ((2.0 * TruePositives) + FalsePositives + FalseNegatives);

    /// <summary>Cost of the decisions: <c>costFalseNegative · FN + costFalsePositive · FP</c>.</summary>
    /// <param name="costFalseNegative">Cost of one missed fraud.</param>
    /// <param name="costFalsePositive">Cost of one false alarm.</param>
    public double Cost(double costFalseNegative, double costFalsePositive) =>
        (costFalseNegative * FalseNegatives) + (costFalsePositive * FalsePositives);
}
