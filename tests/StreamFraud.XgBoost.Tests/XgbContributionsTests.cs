
namespace StreamFraud.XgBoost.Tests;

public sealed class XgbContributionsTests
{
    [Fact]
    public void TopK_RandomVectors_MatchesFullSortByAbsoluteValue()
    {
        var random = new Random(21);
        for (var trial = 0; trial < 500; trial++)
        {
            var n = random.Next(0, 30);
            var k = random.Next(0, 8);
            // Few distinct magnitudes, signs and zeros, so ties and exclusions happen often.
            var values = Enumerable.Range(0, n).Select(_ => (float)(random.Next(-4, 5) * 0.25)).ToArray();

            var expected = values
                .Select((v, i) => new FeatureContribution(i, v))
                .Where(c => c.Value != 0)
                .OrderByDescending(c => Math.Abs(c.Value))
                .ThenBy(c => c.Feature)
                .Take(k)
                .ToArray();

            Assert.Equal(expected, XgbContributions.TopK(values, k));
        }
    }

    [Fact]
    public void Row_BiasLast_SplitsFeaturesFromBias()
    {
        var c = new XgbContributions(2, 2, [0.5f, -1f, 0.25f, 2f, 0f, -0.5f]);

        Assert.Equal([2f, 0f], c.Row(1).ToArray());
        Assert.Equal(-0.5f, c.Bias(1));
        Assert.Equal(-0.25, c.Margin(0), 1e-9);
        Assert.Equal([new FeatureContribution(1, -1f)], c.Top(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.Bias(2));
    }
}
