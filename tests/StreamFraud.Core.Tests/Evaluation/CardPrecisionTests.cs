using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class CardPrecisionTests
{
    private static readonly long Day1 = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private const long Hour = 3_600_000;
    private const long Day = 24 * Hour;

    // Day 1 (2024-03-01 UTC): card A 0.9 legit + 0.2 fraud -> A: 0.9, fraud; B 0.5 legit (at 23:59:59.999);
    //                         "c" 0.7 legit, "d" 0.7 fraud (tie: "c" < "d" ordinally, so "c" ranks first).
    //   ranking A(0.9 F), c(0.7), d(0.7 F), B(0.5)
    // Day 2: A 0.1 fraud at 00:00:00.000, E 0.3 legit -> E(0.3), A(0.1 F)
    // Day 3: F 0.4 fraud, G 0.6 legit -> G(0.6), F(0.4 F)
    private static readonly (string Card, long Time, double Score, bool Fraud)[] Events =
    [
        ("A", Day1 + (1 * Hour), 0.9, false),
        ("A", Day1 + (2 * Hour), 0.2, true),
        ("B", Day1 + Day - 1, 0.5, false),
        ("c", Day1 + (3 * Hour), 0.7, false),
        ("d", Day1 + (4 * Hour), 0.7, true),
        ("A", Day1 + Day, 0.1, true),
        ("E", Day1 + Day + (5 * Hour), 0.3, false),
        ("F", Day1 + (2 * Day) + Hour, 0.4, true),
        ("G", Day1 + (2 * Day) + Hour, 0.6, false),
    ];

    [Theory]
    // k = 1: day1 A -> 1; day2 E -> 0; day3 G -> 0.                         mean 1/3
    [InlineData(1, new[] { 1.0, 0.0, 0.0 }, 1.0 / 3.0)]
    // k = 2: day1 A, c -> 1/2; day2 E, A -> 1/2; day3 G, F -> 1/2.          mean 1/2
    [InlineData(2, new[] { 0.5, 0.5, 0.5 }, 0.5)]
    // k = 3: day1 A, c, d -> 2/3; days 2 and 3 have 2 cards -> 1/2 each.   mean (2/3 + 1/2 + 1/2) / 3
    [InlineData(3, new[] { 2.0 / 3.0, 0.5, 0.5 }, ((2.0 / 3.0) + 1.0) / 3.0)]
    // k = 100: day1 2 of 4; days 2 and 3: 1 of 2.                           mean 1/2
    [InlineData(100, new[] { 0.5, 0.5, 0.5 }, 0.5)]
    public void AtK_HandBuiltThreeDays_MatchesHandValues(int k, double[] perDay, double mean)
    {
        var result = Compute(Events, k);

        Assert.Equal(k, result.K);
        Assert.Equal(mean, result.Mean, 15);
        Assert.Equal(perDay, result.Days.Select(d => d.Precision).ToArray());
        Assert.Equal(
            [new DateOnly(2024, 3, 1), new DateOnly(2024, 3, 2), new DateOnly(2024, 3, 3)],
            result.Days.Select(d => d.Day).ToArray());
        Assert.Equal([4, 2, 2], result.Days.Select(d => d.Cards).ToArray());
        Assert.Equal([Math.Min(k, 4), Math.Min(k, 2), Math.Min(k, 2)], result.Days.Select(d => d.Reviewed).ToArray());
    }

    [Fact]
    public void AtK_Empty_MeanIsNaN()
    {
        var result = CardPrecision.AtK(ReadOnlySpan<double>.Empty, [], [], []);
        Assert.True(double.IsNaN(result.Mean));
        Assert.Empty(result.Days);
    }

    [Fact]
    public void AtK_BadInput_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CardPrecision.AtK([0.1], [true], ["a"], [0], k: 0));
        Assert.Throws<ArgumentException>(() => CardPrecision.AtK([0.1, 0.2], [true], ["a"], [0]));
        Assert.Throws<ArgumentException>(() => CardPrecision.AtK([double.NaN], [true], ["a"], [0]));
    }

    [Fact]
    public void UtcDay_BeforeEpoch_FloorsTowardsMinusInfinity()
    {
        Assert.Equal(0, CardPrecision.UtcDay(0));
        Assert.Equal(0, CardPrecision.UtcDay(Day - 1));
        Assert.Equal(1, CardPrecision.UtcDay(Day));
        Assert.Equal(-1, CardPrecision.UtcDay(-1));
        Assert.Equal(-1, CardPrecision.UtcDay(-Day));
        Assert.Equal(-2, CardPrecision.UtcDay(-Day - 1));
    }

    [Fact]
    public void AtK_RandomEvents_MatchesGroupByReference()
    {
        for (var seed = 1; seed <= 100; seed++)
        {
            var rng = new Random(seed);
            var n = rng.Next(1, 300);
            var events = new (string Card, long Time, double Score, bool Fraud)[n];
            for (var i = 0; i < n; i++)
            {
                events[i] = ($"card{rng.Next(40)}", Day1 + (long)(rng.NextDouble() * 5 * Day), rng.Next(8) / 8.0, rng.Next(5) == 0);
            }

            var k = rng.Next(1, 15);
            var actual = Compute(events, k);

            var expectedDays = events
                .GroupBy(e => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(e.Time).UtcDateTime))
                .OrderBy(g => g.Key)
                .Select(day =>
                {
                    var cards = day.GroupBy(e => e.Card)
                        .Select(c => (Card: c.Key, Score: c.Max(e => e.Score), Fraud: c.Any(e => e.Fraud)))
                        .OrderByDescending(c => c.Score).ThenBy(c => c.Card, StringComparer.Ordinal)
                        .ToList();
                    var top = cards.Take(k).ToList();
                    return (Day: day.Key, Precision: (double)top.Count(c => c.Fraud) / top.Count);
                })
                .ToList();

            Assert.Equal(expectedDays.Select(d => d.Day), actual.Days.Select(d => d.Day));
            Assert.Equal(expectedDays.Select(d => d.Precision), actual.Days.Select(d => d.Precision));
            Assert.Equal(expectedDays.Average(d => d.Precision), actual.Mean, 14);
        }
    }

    [Fact]
    public void AtK_FloatScores_SameAsDouble()
    {
        float[] scores = [0.5f, 0.25f];
        var f = CardPrecision.AtK(scores, [true, false], ["x", "y"], [Day1, Day1], k: 1);
        Assert.Equal(1.0, f.Mean);
    }

    private static CardPrecisionResult Compute((string Card, long Time, double Score, bool Fraud)[] events, int k) =>
        CardPrecision.AtK(
            events.Select(e => e.Score).ToArray(),
            events.Select(e => e.Fraud).ToArray(),
            events.Select(e => e.Card).ToArray(),
            events.Select(e => e.Time).ToArray(),
            k);
}
