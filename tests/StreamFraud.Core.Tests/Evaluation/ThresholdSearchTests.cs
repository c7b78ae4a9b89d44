using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class ThresholdSearchTests
{
    private const int Cases = 600;

    // Hand example with a tie at 0.8 (fraud and legit) and at 0.5 (two legit):
    //   score  0.9 0.8 0.8 0.5 0.5 0.2
    //   fraud   1   1   0   0   0   1      P = 3, N = 3
    // threshold: TP FP FN | F1 = 2TP/(2TP+FP+FN) | cost 10FN + FP | recall
    //   +inf     0  0  3  | 0                    | 30             | 0
    //   0.9      1  0  2  | 2/4 = 0.5            | 20             | 1/3
    //   0.8      2  1  1  | 4/6 = 0.667          | 11             | 2/3
    //   0.5      2  3  1  | 4/8 = 0.5            | 13             | 2/3
    //   0.2      3  3  0  | 6/9 = 0.667          |  3             | 1
    private static readonly double[] HandScores = [0.9, 0.8, 0.8, 0.5, 0.5, 0.2];
    private static readonly bool[] HandLabels = [true, true, false, false, false, true];

    [Fact]
    public void BestF1_HandExampleWithTiedF1_TakesHighestThreshold()
    {
        var e = ScoreCurve.Create(HandScores, HandLabels).BestF1();

        Assert.Equal(0.8, e.Threshold);
        Assert.Equal(new ConfusionMatrix(2, 1, 2, 1), e.Confusion);
        Assert.Equal(4.0 / 6.0, e.F1, 15);
        Assert.Equal(2.0 / 3.0, e.Precision, 15);
        Assert.Equal(2.0 / 3.0, e.Recall, 15);
        Assert.Equal(11.0, e.Cost);
        Assert.Equal(ThresholdPolicy.BestF1, e.Policy);
    }

    [Fact]
    public void MinCost_HandExample_FlagsEverythingAtCost3()
    {
        var e = ScoreCurve.Create(HandScores, HandLabels).MinCost();

        Assert.Equal(0.2, e.Threshold);
        Assert.Equal(new ConfusionMatrix(3, 3, 0, 0), e.Confusion);
        Assert.Equal(3.0, e.Cost);
    }

    [Fact]
    public void MinCost_HandExampleWithExpensiveFalseAlarms_FlagsNothing()
    {
        // cost_fp = 20: +inf costs 30, 0.9 costs 20 (the minimum), 0.8 costs 10 + 20 = 30, 0.2 costs 60.
        var e = ScoreCurve.Create(HandScores, HandLabels).MinCost(new ThresholdSettings(10, 20));
        Assert.Equal(0.9, e.Threshold);
        Assert.Equal(20.0, e.Cost);

    }

    [Fact]
    public void MinCost_TopScoreIsLegit_FlagsNothingWithInfiniteThreshold()
    {
        // score 0.9 legit, 0.5 fraud, 0.1 legit; cost_fn 1, cost_fp 5:
        // +inf: FN 1 -> 1; 0.9: FN 1 + FP 1 -> 6; 0.5: FP 1 -> 5; 0.1: FP 2 -> 10.
        var none = ScoreCurve.Create([0.9, 0.5, 0.1], [false, true, false]).MinCost(new ThresholdSettings(1, 5));
        Assert.Equal(double.PositiveInfinity, none.Threshold);
        Assert.Equal(new ConfusionMatrix(0, 0, 2, 1), none.Confusion);
        Assert.Equal(1.0, none.Cost);
        Assert.Equal(0.0, none.Precision);
        Assert.False(none.Flags(0.9));
    }

    [Theory]
    [InlineData(0.70, 0.2)]
    [InlineData(0.60, 0.8)]
    [InlineData(2.0 / 3.0, 0.8)]
    [InlineData(0.30, 0.9)]
    [InlineData(1.00, 0.2)]
    public void TargetRecall_HandExample_HighestThresholdReachingTarget(double target, double expected)
    {
        var e = ScoreCurve.Create(HandScores, HandLabels).TargetRecall(new ThresholdSettings(targetRecall: target));
        Assert.Equal(expected, e.Threshold);
        Assert.True(e.Recall >= target);
    }

    [Fact]
    public void TargetRecall_NoPositives_ReturnsLowestScore()
    {
        var e = ScoreCurve.Create([0.3, 0.1, 0.7], [false, false, false]).TargetRecall();
        Assert.Equal(0.1, e.Threshold);
        Assert.Equal(new ConfusionMatrix(0, 3, 0, 0), e.Confusion);
    }

    [Fact]
    public void BestF1_NoPositives_FlagsNothing()
    {
        var e = ScoreCurve.Create([0.3, 0.1], [false, false]).BestF1();
        Assert.Equal(double.PositiveInfinity, e.Threshold);
        Assert.Equal(0.0, e.F1);
    }

    [Fact]
    public void Policies_EmptyCurve_Throw()
    {
        var curve = ScoreCurve.Create(ReadOnlySpan<double>.Empty, ReadOnlySpan<bool>.Empty);
        Assert.Throws<InvalidOperationException>(() => curve.BestF1());
        Assert.Throws<InvalidOperationException>(() => curve.MinCost());
        Assert.Throws<InvalidOperationException>(() => curve.TargetRecall());
        Assert.Equal(new ConfusionMatrix(0, 0, 0, 0), curve.ConfusionAt(0.5));
    }

    [Fact]
    public void BestF1_RandomInputsWithTies_MatchesBruteForce()
    {
        foreach (var (seed, scores, labels) in RandomCases.Generate(Cases))
        {
            var actual = ScoreCurve.Create(scores, labels).BestF1();
            var (threshold, c) = BruteForce.BestF1(scores, labels);
            AssertSame(seed, threshold, c, actual);
            var bruteF1 = c.Tp == 0 ? 0.0 : 2.0 * c.Tp / ((2.0 * c.Tp) + c.Fp + c.Fn);
            Assert.Equal(bruteF1, actual.F1, 14);
        }
    }

    [Theory]
    [InlineData(10.0, 1.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(3.5, 0.25)]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, 0.0)]
    [InlineData(100.0, 1.0)]
    public void MinCost_RandomInputsWithTies_MatchesBruteForce(double costFn, double costFp)
    {
        var settings = new ThresholdSettings(costFn, costFp);
        foreach (var (seed, scores, labels) in RandomCases.Generate(Cases))
        {
            var actual = ScoreCurve.Create(scores, labels).MinCost(settings);
            var (threshold, c) = BruteForce.MinCost(scores, labels, costFn, costFp);
            AssertSame(seed, threshold, c, actual);
            Assert.Equal((costFn * c.Fn) + (costFp * c.Fp), actual.Cost);
        }
    }

    [Theory]
    [InlineData(0.70)]
    [InlineData(0.5)]
    [InlineData(0.01)]
    [InlineData(1.0)]
    [InlineData(0.999)]
    public void TargetRecall_RandomInputsWithTies_MatchesBruteForce(double target)
    {
        var settings = new ThresholdSettings(targetRecall: target);
        foreach (var (seed, scores, labels) in RandomCases.Generate(Cases))
        {
            var actual = ScoreCurve.Create(scores, labels).TargetRecall(settings);
            var (threshold, c) = BruteForce.TargetRecall(scores, labels, target);
            AssertSame(seed, threshold, c, actual);
        }
    }

    [Fact]
    public void ConfusionAt_RandomThresholds_MatchesScan()
    {
        foreach (var (seed, scores, labels) in RandomCases.Generate(200))
        {
            var curve = ScoreCurve.Create(scores, labels);
            var rng = new Random(seed);
            double[] probes =
            [
                double.NegativeInfinity, double.PositiveInfinity, -1, 2, scores[0], scores[^1],
                rng.NextDouble(), rng.Next(12) / 10.0, (rng.Next(12) / 10.0) + 1e-12, (rng.Next(12) / 10.0) - 1e-12,
            ];
            foreach (var t in probes)
            {
                var c = BruteForce.At(scores, labels, t);
                Assert.Equal(new ConfusionMatrix(c.Tp, c.Fp, c.Tn, c.Fn), curve.ConfusionAt(t));
            }
        }
    }

    [Fact]
    public void Create_FloatScores_ThresholdIsTheExactFloatValue()
    {
        float[] scores = [0.1f, 0.7f, 0.7f, 0.3f];
        var e = ScoreCurve.Create(scores, [false, true, true, false]).BestF1();

        Assert.Equal((double)0.7f, e.Threshold);
        Assert.True((double)0.7f >= e.Threshold);
        Assert.Equal(new ConfusionMatrix(2, 0, 2, 0), e.Confusion);
    }

    [Fact]
    public void Create_NegativeAndPositiveZero_AreOneTie()
    {
        var curve = ScoreCurve.Create([-0.0, 0.0, 1.0], [true, false, true]);
        Assert.Equal(2, curve.Thresholds.Length);
        Assert.Equal(new ConfusionMatrix(2, 1, 0, 0), curve.ConfusionAt(0.0));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Create_NonFiniteScore_Throws(double bad)
    {
        var ex = Assert.Throws<ArgumentException>(() => ScoreCurve.Create([0.5, bad], [true, false]));
        Assert.Contains("score 1", ex.Message);
    }

    [Fact]
    public void Create_LengthMismatch_Throws() =>
        Assert.Throws<ArgumentException>(() => ScoreCurve.Create([0.5, 0.2], [true]));

    [Fact]
    public void ConfusionAt_NaN_Throws() =>
        Assert.Throws<ArgumentException>(() => ScoreCurve.Create([0.5], [true]).ConfusionAt(double.NaN));

    [Fact]
    public void SelectThresholds_ThenEvaluateAtOnOtherSplit_KeepsThresholdsAndPolicies()
    {
        var settings = new ThresholdSettings(5, 2, 0.5);
        var chosen = ScoreCurve.Create(HandScores, HandLabels).SelectThresholds(settings);

        double[] testScores = [0.95, 0.85, 0.5, 0.3, 0.2, 0.1];
        bool[] testLabels = [true, false, true, false, true, false];
        var onTest = ScoreCurve.Create(testScores, testLabels).EvaluateAt(chosen);

        foreach (var policy in ThresholdPolicyNames.DataDriven)
        {
            Assert.Equal(chosen[policy].Threshold, onTest[policy].Threshold);
            Assert.Equal(policy, onTest[policy].Policy);
            Assert.Same(settings, onTest[policy].Settings);
            var c = BruteForce.At(testScores, testLabels, chosen[policy].Threshold);
            Assert.Equal(new ConfusionMatrix(c.Tp, c.Fp, c.Tn, c.Fn), onTest[policy].Confusion);
        }
    }

    [Fact]
    public void Select_EachPolicy_DispatchesToItsSearch()
    {
        var curve = ScoreCurve.Create(HandScores, HandLabels);
        Assert.Equal(curve.MinCost(), curve.Select(ThresholdPolicy.CostMin));
        Assert.Equal(curve.BestF1(), curve.Select(ThresholdPolicy.BestF1));
        Assert.Equal(curve.TargetRecall(), curve.Select(ThresholdPolicy.TargetRecall));

        var fixedOne = curve.Select(ThresholdPolicy.Fixed, fixedThreshold: 0.5);
        Assert.Equal(ThresholdPolicy.Fixed, fixedOne.Policy);
        Assert.Equal(new ConfusionMatrix(2, 3, 0, 1), fixedOne.Confusion);
        Assert.Throws<ArgumentException>(() => curve.Select(ThresholdPolicy.Fixed));
    }

    [Fact]
    public void ThresholdSearch_OneMillionScores_FewDistinctMatchesScan()
    {
        // Scale check of the linear sweeps: 1M events on 1,000 levels; verify the chosen matrices by a direct scan.
        const int n = 1_000_000;
        var rng = new Random(7);
        var scores = new double[n];
        var labels = new bool[n];
        for (var i = 0; i < n; i++)
        {
            labels[i] = rng.Next(1000) < 3;
            scores[i] = (rng.Next(1000) + (labels[i] ? 300 : 0)) / 1300.0;
        }

        var curve = ScoreCurve.Create(scores, labels);
        foreach (var e in curve.SelectThresholds().All)
        {
            var c = BruteForce.At(scores, labels, e.Threshold);
            Assert.Equal(new ConfusionMatrix(c.Tp, c.Fp, c.Tn, c.Fn), e.Confusion);
        }

        Assert.Equal(n, curve.Count);
    }

    private static void AssertSame(int seed, double threshold, BruteForce.Counts c, ThresholdEvaluation actual)
    {
        Assert.True(threshold == actual.Threshold, $"seed {seed}: expected threshold {threshold}, got {actual.Threshold}");
        Assert.Equal(new ConfusionMatrix(c.Tp, c.Fp, c.Tn, c.Fn), actual.Confusion);
    }
}
