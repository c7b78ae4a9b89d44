using System.Text.Json.Serialization;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// One model's figures on one split: the <c>metrics.&lt;split&gt;.&lt;model&gt;</c> entry of <c>report.json</c>.
/// </summary>
/// <remarks>
/// Serialize with a snake_case naming policy (<c>roc_auc</c>, <c>average_precision</c>; <c>card_precision_at_100</c> is
/// pinned by attribute) and <see cref="JsonNumberHandling.AllowNamedFloatingPointLiterals"/>: a metric can be NaN and a
/// "flag nothing" threshold is +∞.
/// </remarks>
/// <param name="Count">Events scored.</param>
/// <param name="Positives">Frauds among them.</param>
/// <param name="RocAuc">See <see cref="ScoreCurve.RocAuc"/> (NaN when a class is missing).</param>
/// <param name="AveragePrecision">See <see cref="ScoreCurve.AveragePrecision"/> (NaN without positives).</param>
/// <param name="CardPrecisionAt100">Mean card precision@100 per day (<see cref="CardPrecision"/>); null when the data has no dates.</param>
/// <param name="Thresholds">Outcome at each data-driven threshold: chosen on this split (validation) or carried over from validation (test).</param>
public sealed record ModelMetrics(
    long Count,
    long Positives,
    double RocAuc,
    double AveragePrecision,
    [property: JsonPropertyName("card_precision_at_100")] double? CardPrecisionAt100,
    ThresholdSet Thresholds)
{
    /// <summary>Metrics on the split the thresholds are chosen on: <see cref="ScoreCurve.SelectThresholds"/>.</summary>
    /// <param name="curve">The split's scores and labels.</param>
    /// <param name="settings">Costs and recall target; <see cref="ThresholdSettings.Default"/> when null.</param>
    /// <param name="cardPrecisionAt100">Mean card precision@100, when the split has dates.</param>
    /// <exception cref="InvalidOperationException">The curve is empty.</exception>
    public static ModelMetrics ChoosingThresholds(ScoreCurve curve, ThresholdSettings? settings = null, double? cardPrecisionAt100 = null)
    {
        ArgumentNullException.ThrowIfNull(curve);
        return From(curve, curve.SelectThresholds(settings), cardPrecisionAt100);
    }

    /// <summary>Metrics on a held-out split at thresholds chosen elsewhere: <see cref="ScoreCurve.EvaluateAt"/>.</summary>
    /// <param name="curve">The split's scores and labels.</param>
    /// <param name="chosen">Thresholds chosen on validation.</param>
    /// <param name="cardPrecisionAt100">Mean card precision@100, when the split has dates.</param>
    public static ModelMetrics AtThresholds(ScoreCurve curve, ThresholdSet chosen, double? cardPrecisionAt100 = null)
    {
        ArgumentNullException.ThrowIfNull(curve);
        return From(curve, curve.EvaluateAt(chosen), cardPrecisionAt100);
    }

    private static ModelMetrics From(ScoreCurve curve, ThresholdSet thresholds, double? cardPrecisionAt100) =>
        new(curve.Count, curve.Positives, curve.RocAuc(), curve.AveragePrecision(), cardPrecisionAt100, thresholds);
}
