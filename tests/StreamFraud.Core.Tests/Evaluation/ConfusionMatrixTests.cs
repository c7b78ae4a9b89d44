using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class ConfusionMatrixTests
{
    [Fact]
    public void Measures_HandValues_MatchDefinitions()
    {
        // The notebook's reported cost-optimal outcome on test: 5 of 28 frauds caught with 3 false alarms
        // (negatives: 142,857 · 0.2 − 28 ≈ 28,544 in its test split; 28,544 used here).
        var m = new ConfusionMatrix(TruePositives: 5, FalsePositives: 3, TrueNegatives: 28_541, FalseNegatives: 23);

        Assert.Equal(28, m.Positives);
        Assert.Equal(28_544, m.Negatives);
        Assert.Equal(8, m.Flagged);
        Assert.Equal(28_572, m.Total);
        Assert.Equal(5.0 / 8.0, m.Precision, 15);
        Assert.Equal(5.0 / 28.0, m.Recall, 15);
        Assert.Equal(10.0 / 36.0, m.F1, 15); // 2·5 / (2·5 + 3 + 23)
        Assert.Equal(3.0 / 28_544.0, m.FalsePositiveRate, 15);
        Assert.Equal((10 * 23) + 3, m.Cost(10, 1));
        Assert.Equal(233.0, new ThresholdSettings().Cost(m));
    }

    [Fact]
    public void F1_EqualsHarmonicMeanOfPrecisionAndRecall()
    {
        var m = new ConfusionMatrix(7, 4, 50, 9);
        var p = 7.0 / 11.0;
        var r = 7.0 / 16.0;
        Assert.Equal(2 * p * r / (p + r), m.F1, 14);
    }

    [Fact]
    public void Measures_ZeroDivision_AreZero()
    {
        var nothingFlagged = new ConfusionMatrix(0, 0, 10, 2);
        Assert.Equal(0.0, nothingFlagged.Precision);
        Assert.Equal(0.0, nothingFlagged.Recall);
        Assert.Equal(0.0, nothingFlagged.F1);

        var noPositives = new ConfusionMatrix(0, 3, 7, 0);
        Assert.Equal(0.0, noPositives.Recall);
        Assert.Equal(0.0, noPositives.F1);
        Assert.Equal(0.3, noPositives.FalsePositiveRate, 15);

        var empty = default(ConfusionMatrix);
        Assert.Equal(0.0, empty.FalsePositiveRate);
        Assert.Equal(0.0, empty.Cost(10, 1));
    }
}
