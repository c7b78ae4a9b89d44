namespace StreamFraud.Core.Evaluation;

/// <summary>
/// The outcome of alerting on <c>score &gt;= <see cref="Threshold"/></c> over one labelled data set: the confusion
/// matrix and the measures derived from it.
/// </summary>
/// <remarks>
/// <see cref="Threshold"/> is <see cref="double.PositiveInfinity"/> when the best decision is to flag nothing (only
/// possible for <see cref="ThresholdPolicy.CostMin"/>, or <see cref="ThresholdPolicy.BestF1"/> on data without
/// positives). JSON writers must allow named floating-point literals, or map it explicitly.
/// </remarks>
/// <param name="Policy">How the threshold was chosen.</param>
/// <param name="Threshold">The threshold; events with <c>score &gt;= Threshold</c> are flagged.</param>
/// <param name="Confusion">Counts at the threshold.</param>
/// <param name="Settings">Costs (for <see cref="Cost"/>) and the recall target used.</param>
public sealed record ThresholdEvaluation(
    ThresholdPolicy Policy,
    double Threshold,
    ConfusionMatrix Confusion,
    ThresholdSettings Settings)
{
    /// <summary>See <see cref="ConfusionMatrix.Precision"/> (0 when nothing is flagged).</summary>
    public double Precision => Confusion.Precision;

    /// <summary>See <see cref="ConfusionMatrix.Recall"/> (0 when there are no positives).</summary>
    public double Recall => Confusion.Recall;

    /// <summary>See <see cref="ConfusionMatrix.F1"/>.</summary>
    public double F1 => Confusion.F1;

    /// <summary><c>cost_fn · FN + cost_fp · FP</c> with the costs of <see cref="Settings"/>.</summary>
    public double Cost => Settings.Cost(Confusion);

    /// <summary>Whether <paramref name="score"/> is flagged: <c>score &gt;= Threshold</c>.</summary>
    public bool Flags(double score) => score >= Threshold;
}
