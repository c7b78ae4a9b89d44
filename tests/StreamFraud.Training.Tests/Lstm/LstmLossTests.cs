using StreamFraud.Training.Lstm;

namespace StreamFraud.Training.Tests.Lstm;

public class LstmLossTests
{
    [Theory]
    [InlineData(-30.0)]
    [InlineData(-4.0)]
    [InlineData(-0.3)]
    [InlineData(0.0)]
    [InlineData(0.7)]
    [InlineData(5.0)]
    [InlineData(30.0)]
    public void Evaluate_Focal_MatchesDefinitionAndFiniteDifference(double logit)
    {
        foreach (var positive in new[] { true, false })
        {
            const double gamma = 3, alpha = 0.9;
            var loss = LstmLoss.Evaluate(LstmLossKind.Focal, gamma, alpha, logit, positive, out var d);

            // Definition on the probability (fine away from saturation).
            if (Math.Abs(logit) < 10)
            {
                var p = 1 / (1 + Math.Exp(-logit));
                var pt = positive ? p : 1 - p;
                var at = positive ? alpha : 1 - alpha;
                Assert.Equal(-at * Math.Pow(1 - pt, gamma) * Math.Log(pt), loss, 12);
            }

            Assert.True(double.IsFinite(loss) && double.IsFinite(d));
            AssertDerivative(LstmLossKind.Focal, logit, positive, d);
        }
    }

    [Theory]
    [InlineData(-6.0)]
    [InlineData(0.0)]
    [InlineData(2.5)]
    public void Evaluate_CrossEntropy_DerivativeIsProbabilityMinusLabel(double logit)
    {
        foreach (var positive in new[] { true, false })
        {
            var loss = LstmLoss.Evaluate(LstmLossKind.CrossEntropy, 0, 0.5, logit, positive, out var d);
            var p = 1 / (1 + Math.Exp(-logit));

            Assert.Equal(positive ? -Math.Log(p) : -Math.Log(1 - p), loss, 10);
            Assert.Equal(p - (positive ? 1 : 0), d, 12);
            AssertDerivative(LstmLossKind.CrossEntropy, logit, positive, d);
        }
    }

    private static void AssertDerivative(LstmLossKind kind, double logit, bool positive, double analytic)
    {
        const double h = 1e-5;
        var plus = LstmLoss.Evaluate(kind, 3, 0.9, logit + h, positive, out _);
        var minus = LstmLoss.Evaluate(kind, 3, 0.9, logit - h, positive, out _);
        var numeric = (plus - minus) / (2 * h);
        Assert.True(
            Math.Abs(numeric - analytic) <= 1e-6 * Math.Max(1, Math.Abs(numeric)) + 1e-12,
            $"logit {logit} positive {positive}: analytic {analytic}, numeric {numeric}");
    }
}
