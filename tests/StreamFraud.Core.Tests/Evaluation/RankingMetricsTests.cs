using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class RankingMetricsTests
{
    [Fact]
    public void RocAucAndAveragePrecision_ScikitLearnDocExample_MatchPublishedValues()
    {
        // scikit-learn's docs: roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75 and average_precision_score = 0.83.
        // AP by hand: 0.8 (fraud) R 1/2 P 1; 0.4 (legit) no recall step; 0.35 (fraud) R 1 P 2/3 -> 1/2·1 + 1/2·2/3 = 5/6.
        var curve = ScoreCurve.Create([0.1, 0.4, 0.35, 0.8], [false, false, true, true]);

        Assert.Equal(0.75, curve.RocAuc(), 15);
        Assert.Equal(5.0 / 6.0, curve.AveragePrecision(), 15);
    }

    [Fact]
    public void AveragePrecision_HandExampleWithTies_IsThirteenEighteenths()
    {
        //   score 0.9 0.8 0.8 0.5 0.5 0.2 ; fraud 1 1 0 0 0 1 ; P = 3
        //   0.9: TP 1 FP 0 -> R 1/3, P 1
        //   0.8: TP 2 FP 1 -> R 2/3, P 2/3   (the tied legit at 0.8 counts at the same threshold)
        //   0.5: TP 2 FP 3 -> R 2/3          (no recall step, no contribution)
        //   0.2: TP 3 FP 3 -> R 1,   P 1/2
        // AP = 1/3·1 + 1/3·2/3 + 1/3·1/2 = 6/18 + 4/18 + 3/18 = 13/18
        var curve = ScoreCurve.Create([0.9, 0.8, 0.8, 0.5, 0.5, 0.2], [true, true, false, false, false, true]);

        Assert.Equal(13.0 / 18.0, curve.AveragePrecision(), 15);
    }

    [Fact]
    public void RocAuc_HandExampleWithTies_CountsTiesAsHalf()
    {
        // Frauds 0.9, 0.8, 0.2 against legit 0.8, 0.5, 0.5 (9 pairs):
        // 0.9 beats 3; 0.8 ties 1 (½) and beats 2; 0.2 beats none -> 5.5 / 9.
        var curve = ScoreCurve.Create([0.9, 0.8, 0.8, 0.5, 0.5, 0.2], [true, true, false, false, false, true]);

        Assert.Equal(5.5 / 9.0, curve.RocAuc(), 15);
    }

    [Fact]
    public void RocAuc_RandomInputsWithTies_MatchesPairwiseCount()
    {
        foreach (var (seed, scores, labels) in RandomCases.Generate(500, maxLength: 60))
        {
            var expected = BruteForce.RocAuc(scores, labels);
            var actual = ScoreCurve.Create(scores, labels).RocAuc();
            if (double.IsNaN(expected))
            {
                Assert.True(double.IsNaN(actual), $"seed {seed}");
            }
            else
            {
                Assert.True(Math.Abs(expected - actual) < 1e-12, $"seed {seed}: {expected} vs {actual}");
            }
        }
    }

    [Fact]
    public void RocAuc_EqualsTrapezoidalAreaUnderRocPoints()
    {
        foreach (var (seed, scores, labels) in RandomCases.Generate(200, maxLength: 60))
        {
            var curve = ScoreCurve.Create(scores, labels);
            if (curve.Positives == 0 || curve.Negatives == 0)
            {
                continue;
            }

            // ROC points (FPR, TPR) from (0,0) through each distinct threshold; area by the trapezoid rule.
            double area = 0, x0 = 0, y0 = 0;
            for (var g = 0; g < curve.Thresholds.Length; g++)
            {
                var x1 = (double)curve.CumulativeFalsePositives[g] / curve.Negatives;
                var y1 = (double)curve.CumulativeTruePositives[g] / curve.Positives;
                area += (x1 - x0) * (y0 + y1) / 2;
                (x0, y0) = (x1, y1);
            }

            Assert.True(Math.Abs(area - curve.RocAuc()) < 1e-12, $"seed {seed}");
        }
    }

    [Fact]
    public void AveragePrecision_RandomInputsWithTies_MatchesDefinition()
    {
        foreach (var (seed, scores, labels) in RandomCases.Generate(500, maxLength: 60))
        {
            var expected = BruteForce.AveragePrecision(scores, labels);
            var actual = ScoreCurve.Create(scores, labels).AveragePrecision();
            if (double.IsNaN(expected))
            {
                Assert.True(double.IsNaN(actual), $"seed {seed}");
            }
            else
            {
                Assert.True(Math.Abs(expected - actual) < 1e-12, $"seed {seed}: {expected} vs {actual}");
            }
        }
    }

    [Fact]
    public void RocAuc_PerfectReversedAndAllTied_AreOneZeroAndHalf()
    {
        bool[] labels = [false, false, true, true];
        Assert.Equal(1.0, ScoreCurve.Create([0.1, 0.2, 0.3, 0.4], labels).RocAuc());
        Assert.Equal(0.0, ScoreCurve.Create([0.4, 0.3, 0.2, 0.1], labels).RocAuc());
        Assert.Equal(0.5, ScoreCurve.Create([0.5, 0.5, 0.5, 0.5], labels).RocAuc());
        Assert.Equal(0.5, ScoreCurve.Create([0.5, 0.5, 0.5, 0.5], labels).AveragePrecision()); // one step: R 1, P 2/4
    }

    [Fact]
    public void Metrics_NoPositives_AreNaN()
    {
        var curve = ScoreCurve.Create([0.1, 0.9], [false, false]);
        Assert.True(double.IsNaN(curve.RocAuc()));
        Assert.True(double.IsNaN(curve.AveragePrecision()));
    }

    [Fact]
    public void Metrics_NoNegatives_AucIsNaNAndApIsOne()
    {
        var curve = ScoreCurve.Create([0.1, 0.9, 0.9], [true, true, true]);
        Assert.True(double.IsNaN(curve.RocAuc()));
        Assert.Equal(1.0, curve.AveragePrecision());
    }

    [Fact]
    public void Metrics_Empty_AreNaN()
    {
        var curve = ScoreCurve.Create(ReadOnlySpan<double>.Empty, ReadOnlySpan<bool>.Empty);
        Assert.True(double.IsNaN(curve.RocAuc()));
        Assert.True(double.IsNaN(curve.AveragePrecision()));
        Assert.Equal(0, curve.Count);
    }

    [Fact]
    public void Curve_CumulativeCounts_AreDescendingThresholdsWithScanCounts()
    {
        double[] scores = [0.3, 0.9, 0.3, 0.1, 0.9];
        bool[] labels = [true, false, false, true, true];
        var curve = ScoreCurve.Create(scores, labels);

        Assert.Equal([0.9, 0.3, 0.1], curve.Thresholds.ToArray());
        Assert.Equal([1L, 2L, 3L], curve.CumulativeTruePositives.ToArray());
        Assert.Equal([1L, 2L, 2L], curve.CumulativeFalsePositives.ToArray());
        Assert.Equal(3, curve.Positives);
        Assert.Equal(2, curve.Negatives);
    }
}
