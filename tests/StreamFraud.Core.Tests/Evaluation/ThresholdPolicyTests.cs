using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class ThresholdPolicyTests
{
    [Theory]
    [InlineData(ThresholdPolicy.CostMin, "cost_min")]
    [InlineData(ThresholdPolicy.BestF1, "best_f1")]
    [InlineData(ThresholdPolicy.TargetRecall, "target_recall")]
    [InlineData(ThresholdPolicy.Fixed, "fixed")]
    public void ToName_EachPolicy_ManifestSpellingAndBack(ThresholdPolicy policy, string name)
    {
        Assert.Equal(name, policy.ToName());
        Assert.Equal(policy, ThresholdPolicyNames.Parse(name));
    }

    [Theory]
    [InlineData("COST_MIN", ThresholdPolicy.CostMin)]
    [InlineData("cost-min", ThresholdPolicy.CostMin)]
    [InlineData(" best-f1 ", ThresholdPolicy.BestF1)]
    [InlineData("Target_Recall", ThresholdPolicy.TargetRecall)]
    public void TryParse_CaseAndHyphenVariants_Accepted(string name, ThresholdPolicy expected)
    {
        Assert.True(ThresholdPolicyNames.TryParse(name, out var policy));
        Assert.Equal(expected, policy);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("costmin")]
    [InlineData("f1")]
    public void TryParse_UnknownName_False(string? name) =>
        Assert.False(ThresholdPolicyNames.TryParse(name, out _));

    [Fact]
    public void Parse_UnknownName_MessageListsValidNames()
    {
        var ex = Assert.Throws<FormatException>(() => ThresholdPolicyNames.Parse("max_recall"));
        Assert.Contains("'max_recall'", ex.Message);
        Assert.Contains("cost_min, best_f1, target_recall, fixed", ex.Message);
    }

    [Fact]
    public void Defaults_MatchNotebook()
    {
        Assert.Equal(ThresholdPolicy.CostMin, ThresholdPolicyNames.Default);
        var s = ThresholdSettings.Default;
        Assert.Equal(10.0, s.CostFalseNegative);
        Assert.Equal(1.0, s.CostFalsePositive);
        Assert.Equal(0.70, s.TargetRecall);
        Assert.Equal(s, new ThresholdSettings());
    }

    [Theory]
    [InlineData(-1, 1, 0.7)]
    [InlineData(double.NaN, 1, 0.7)]
    [InlineData(10, double.PositiveInfinity, 0.7)]
    [InlineData(10, 1, 0)]
    [InlineData(10, 1, 1.01)]
    [InlineData(10, 1, double.NaN)]
    public void ThresholdSettings_OutOfRange_Throws(double fn, double fp, double target) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThresholdSettings(fn, fp, target));

    [Fact]
    public void ThresholdSet_Fixed_IsNotDataDriven()
    {
        var set = ScoreCurve.Create([0.2, 0.8], [false, true]).SelectThresholds();
        Assert.Throws<ArgumentOutOfRangeException>(() => set[ThresholdPolicy.Fixed]);
        Assert.Equal([ThresholdPolicy.CostMin, ThresholdPolicy.BestF1, ThresholdPolicy.TargetRecall], set.All.Select(e => e.Policy));
    }
}
