namespace StreamFraud.Core.Evaluation;

/// <summary>
/// Parameters of the data-driven threshold policies: the costs of <see cref="ThresholdPolicy.CostMin"/> (also used to
/// report the cost at every threshold) and the recall target of <see cref="ThresholdPolicy.TargetRecall"/>. The
/// trainer's <c>--cost-fn</c>, <c>--cost-fp</c> and <c>--target-recall</c> options.
/// </summary>
public sealed record ThresholdSettings
{
    /// <summary>Default cost of a missed fraud (the notebook's 10).</summary>
    public const double DefaultCostFalseNegative = 10.0;

    /// <summary>Default cost of a false alarm (the notebook's 1).</summary>
    public const double DefaultCostFalsePositive = 1.0;

    /// <summary>Default recall target (the notebook's 0.70).</summary>
    public const double DefaultTargetRecall = 0.70;

    /// <summary>Costs 10 (missed fraud) and 1 (false alarm), target recall 0.70.</summary>
    public static ThresholdSettings Default { get; } = new();

    /// <summary>Creates settings.</summary>
    /// <param name="costFalseNegative">Cost of one missed fraud; finite and non-negative.</param>
    /// <param name="costFalsePositive">Cost of one false alarm; finite and non-negative.</param>
    /// <param name="targetRecall">Recall target in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range.</exception>
    public ThresholdSettings(
        double costFalseNegative = DefaultCostFalseNegative,
        double costFalsePositive = DefaultCostFalsePositive,
        double targetRecall = DefaultTargetRecall)
    {
        if (!double.IsFinite(costFalseNegative) || costFalseNegative < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(costFalseNegative), costFalseNegative, "cost must be finite and >= 0");
        }

        if (!double.IsFinite(costFalsePositive) || costFalsePositive < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(costFalsePositive), costFalsePositive, "cost must be finite and >= 0");
        }

        if (!(targetRecall > 0 && targetRecall <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetRecall), targetRecall, "target recall must be in (0, 1]");
        }

        CostFalseNegative = costFalseNegative;
        CostFalsePositive = costFalsePositive;
        TargetRecall = targetRecall;
    }

    /// <summary>Cost of one missed fraud (FN).</summary>
    public double CostFalseNegative { get; }

    /// <summary>Cost of one false alarm (FP).</summary>
    public double CostFalsePositive { get; }

    /// <summary>Recall the <see cref="ThresholdPolicy.TargetRecall"/> policy must reach.</summary>
    public double TargetRecall { get; }

    /// <summary><c>CostFalseNegative · FN + CostFalsePositive · FP</c> of <paramref name="matrix"/>.</summary>
    public double Cost(in ConfusionMatrix matrix) => matrix.Cost(CostFalseNegative, CostFalsePositive);
}
