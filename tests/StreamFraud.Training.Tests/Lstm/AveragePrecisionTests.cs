using StreamFraud.Training.Lstm;

namespace StreamFraud.Training.Tests.Lstm;

public class AveragePrecisionTests
{
    [Fact]
    public void Compute_ScikitLearnExample_Matches()
    {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.8333...
        var ap = AveragePrecision.Compute([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]);

        Assert.Equal(5.0 / 6.0, ap, 12);
    }

    [Fact]
    public void Compute_TiedScores_TreatsTiesAsOneThreshold()
    {
        // Threshold 0.5 admits three windows with one fraud (precision 1/3, recall 1/2); 0.1 admits all (1/2, 1).
        var ap = AveragePrecision.Compute([0.5f, 0.5f, 0.5f, 0.1f], [1, 0, 0, 1]);

        Assert.Equal((0.5 * (1.0 / 3.0)) + (0.5 * 0.5), ap, 12);
    }

    [Fact]
    public void Compute_RandomScores_MatchesBruteForceThresholdSweep()
    {
        var rng = new Random(11);
        var scores = new float[500];
        var labels = new byte[500];
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = MathF.Round((float)rng.NextDouble(), 2); // many ties
            labels[i] = (byte)(rng.NextDouble() < 0.2 ? 1 : 0);
        }

        // Independent definition: Σ over distinct thresholds t (descending) of (R(t) − R(prev)) · P(t).
        var positives = labels.Count(l => l == 1);
        double expected = 0, previousRecall = 0;
        foreach (var t in scores.Distinct().OrderByDescending(s => s))
        {
            var selected = Enumerable.Range(0, scores.Length).Where(i => scores[i] >= t).ToList();
            var tp = selected.Count(i => labels[i] == 1);
            var recall = (double)tp / positives;
            expected += (recall - previousRecall) * tp / selected.Count;
            previousRecall = recall;
        }

        Assert.Equal(expected, AveragePrecision.Compute(scores, labels), 12);
    }

    [Fact]
    public void Compute_NoPositives_ReturnsNaN()
    {
        Assert.True(double.IsNaN(AveragePrecision.Compute([0.2f, 0.3f], [0, 0])));
    }
}
