using System.Text.Json.Serialization;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// The three data-driven thresholds of a model: chosen on validation by <see cref="ScoreCurve.SelectThresholds"/>, or
/// those same thresholds applied to another split by <see cref="ScoreCurve.EvaluateAt"/>.
/// </summary>
/// <param name="CostMin">The <see cref="ThresholdPolicy.CostMin"/> threshold and its outcome.</param>
/// <param name="BestF1">The <see cref="ThresholdPolicy.BestF1"/> threshold and its outcome.</param>
/// <param name="TargetRecall">The <see cref="ThresholdPolicy.TargetRecall"/> threshold and its outcome.</param>
public sealed record ThresholdSet(
    ThresholdEvaluation CostMin,
    ThresholdEvaluation BestF1,
    ThresholdEvaluation TargetRecall)
{
    /// <summary>The three, in report order (<c>cost_min</c>, <c>best_f1</c>, <c>target_recall</c>).</summary>
    [JsonIgnore]
    public IReadOnlyList<ThresholdEvaluation> All => [CostMin, BestF1, TargetRecall];

    /// <summary>The evaluation for <paramref name="policy"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="policy"/> is <see cref="ThresholdPolicy.Fixed"/>, which is not data-driven.</exception>
    public ThresholdEvaluation this[ThresholdPolicy policy] => policy switch
    {
        ThresholdPolicy.CostMin => CostMin,
        ThresholdPolicy.BestF1 => BestF1,
        ThresholdPolicy.TargetRecall => TargetRecall,
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "a threshold set holds only the data-driven policies"),
    };
}
