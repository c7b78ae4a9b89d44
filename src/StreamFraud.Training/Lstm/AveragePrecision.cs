namespace StreamFraud.Training.Lstm;

/// <summary>
/// Step-wise average precision (scikit-learn's <c>average_precision_score</c>): Σ over score thresholds, from the
/// highest down, of (recall gain) × (precision at that threshold); equal scores form one threshold.
/// </summary>
/// <remarks>Kept local so the trainer does not wait on the evaluation library; the same definition as Core's.</remarks>
internal static class AveragePrecision
{
    /// <summary>AP of <paramref name="scores"/> against 0/1 <paramref name="labels"/>; NaN without positives.</summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        if (scores.Length != labels.Length)
        {
            throw new ArgumentException("Scores and labels differ in length.");
        }

        var n = scores.Length;
        var order = new int[n];
        var keys = new float[n];
        var positives = 0;
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
            // Descending score; NaN scores sort last (they rank below everything).
            keys[i] = float.IsNaN(scores[i]) ? float.PositiveInfinity : -scores[i];
            positives += labels[i] != 0 ? 1 : 0;
        }

        if (positives == 0)
        {
            return double.NaN;
        }

        Array.Sort(keys, order);
        double ap = 0;
        long tp = 0;
        long seen = 0;
        var start = 0;
        while (start < n)
        {
            var end = start + 1;
            while (end < n && keys[end].Equals(keys[start]))
            {
                end++;
            }

            var groupTp = 0;
            for (var j = start; j < end; j++)
            {
                groupTp += labels[order[j]] != 0 ? 1 : 0;
            }

            tp += groupTp;
            seen += end - start;
            if (groupTp > 0)
            {
                ap += (double)groupTp / positives * ((double)tp / seen);
            }

            start = end;
        }

        return ap;
    }
}
