using StreamFraud.Core.Evaluation;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// Step-wise average precision for the LSTM's early stopping: Core's <see cref="ScoreCurve.AveragePrecision"/> (the
/// product's one definition), tolerant of the NaN outputs a diverging network can produce.
/// </summary>
internal static class AveragePrecision
{
    /// <summary>AP of <paramref name="scores"/> against 0/1 <paramref name="labels"/>; NaN without positives; NaN scores rank last.</summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        if (scores.Length != labels.Length)
        {
            throw new ArgumentException("Scores and labels differ in length.");
        }

        var finite = new float[scores.Length];
        var truth = new bool[labels.Length];
        for (var i = 0; i < scores.Length; i++)
        {
            // Below every probability, tied with each other: exactly "rank last, as one group".
            finite[i] = float.IsNaN(scores[i]) ? float.MinValue : scores[i];
            truth[i] = labels[i] != 0;
        }

        return finite.Length == 0 ? double.NaN : ScoreCurve.Create(finite, truth).AveragePrecision();
    }
}
