using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

public class DeterministicMathTests
{
    [Fact]
    public void Exp_RangeOfArguments_AgreesWithMathWithin1e15Relative()
    {
        var rng = new Random(1);
        for (var i = 0; i < 20_000; i++)
        {
            var x = (rng.NextDouble() * 1400) - 700;
            var expected = Math.Exp(x);
            var actual = DeterministicMath.Exp(x);
            Assert.True(Math.Abs(actual - expected) <= 1e-15 * expected, $"exp({x:R}) = {actual:R}, Math gives {expected:R}");
        }
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, Math.E)]
    [InlineData(-3.0, 0.049787068367863944)]
    [InlineData(-1000.0, 0.0)]
    [InlineData(800.0, double.PositiveInfinity)]
    public void Exp_KnownValues_Match(double x, double expected)
    {
        var actual = DeterministicMath.Exp(x);
        Assert.True(actual == expected || Math.Abs(actual - expected) <= 1e-15 * expected, $"exp({x}) = {actual:R}");
    }

    [Fact]
    public void Exp_SubnormalResult_AgreesWithMathWithinOneSubnormalStep()
    {
        foreach (var x in new[] { -710.0, -720.5, -740.0, -745.0 })
        {
            Assert.True(Math.Abs(DeterministicMath.Exp(x) - Math.Exp(x)) <= 2 * double.Epsilon * Math.Max(1, Math.Exp(x) / 1e-310), $"exp({x})");
        }
    }

    [Fact]
    public void Log_RangeOfArguments_AgreesWithMathWithin1e15()
    {
        var rng = new Random(2);
        for (var i = 0; i < 20_000; i++)
        {
            var x = Math.Pow(10, (rng.NextDouble() * 60) - 30);
            var expected = Math.Log(x);
            var actual = DeterministicMath.Log(x);
            Assert.True(Math.Abs(actual - expected) <= 1e-15 * Math.Max(1.0, Math.Abs(expected)), $"log({x:R}) = {actual:R}, Math gives {expected:R}");
        }
    }

    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(2.0, 0.6931471805599453)]
    [InlineData(101.0, 4.61512051684126)]
    [InlineData(4.9406564584124654E-324, -744.4400719213812)]
    public void Log_KnownValues_Match(double x, double expected) =>
        Assert.Equal(expected, DeterministicMath.Log(x), 14);

    [Fact]
    public void Log_NonPositiveAndInfinity_FollowIeee()
    {
        Assert.Equal(double.NegativeInfinity, DeterministicMath.Log(0.0));
        Assert.True(double.IsNaN(DeterministicMath.Log(-1.0)));
        Assert.True(double.IsNaN(DeterministicMath.Log(double.NaN)));
        Assert.Equal(double.PositiveInfinity, DeterministicMath.Log(double.PositiveInfinity));
    }

    [Fact]
    public void SinCosTurns_FullTurn_AgreesWithMathWithin1e15()
    {
        for (var i = 0; i < 86_400; i++)
        {
            var turns = i / 86_400.0;
            var (sin, cos) = DeterministicMath.SinCosTurns(turns);
            Assert.True(Math.Abs(sin - Math.Sin(2 * Math.PI * turns)) <= 1e-15, $"sin at {turns}");
            Assert.True(Math.Abs(cos - Math.Cos(2 * Math.PI * turns)) <= 1e-15, $"cos at {turns}");
        }
    }

    [Theory]
    [InlineData(0.0, 0.0, 1.0)]
    [InlineData(0.25, 1.0, 0.0)]
    [InlineData(0.5, 0.0, -1.0)]
    [InlineData(0.75, -1.0, 0.0)]
    public void SinCosTurns_QuarterTurns_AreExactAndPositiveZero(double turns, double sin, double cos)
    {
        var (s, c) = DeterministicMath.SinCosTurns(turns);
        Assert.Equal(BitConverter.DoubleToInt64Bits(sin), BitConverter.DoubleToInt64Bits(s));
        Assert.Equal(BitConverter.DoubleToInt64Bits(cos), BitConverter.DoubleToInt64Bits(c));
    }
}
