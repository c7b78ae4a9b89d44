using StreamFraud.Core.Features;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Training.Tests.Pipeline;

public sealed class SplitPlannerTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Plan_NoDates_CutsWholeDaysSixtyTwentyTwenty()
    {
        var examples = MakeHourly(days: 10);

        var plan = SplitPlanner.Plan(examples, SplitMode.Time, new TimeSplitBounds(), seed: 1);

        Assert.Equal(new TimeRange(Ms(0), Ms(6)), plan.TrainRange);
        Assert.Equal(new TimeRange(Ms(6), Ms(8)), plan.ValidationRange);
        Assert.Equal(new TimeRange(Ms(8), Ms(10)), plan.TestRange);
        Assert.Equal(6 * 24, plan.Train.Length);
        Assert.Equal(2 * 24, plan.Test.Length);
        Assert.All(plan.Test, i => Assert.True(examples.EventTimeMs(i) >= Ms(8)));
    }

    [Fact]
    public void Plan_NoValidationDates_LastFifthOfTrainingIsValidation()
    {
        var examples = MakeHourly(days: 20);
        var bounds = new TimeSplitBounds { TrainFrom = Day(2), TrainTo = Day(12), TestFrom = Day(13), TestTo = Day(20) };

        var plan = SplitPlanner.Plan(examples, SplitMode.Time, bounds, seed: 1);

        Assert.Equal(new TimeRange(Ms(2), Ms(10)), plan.TrainRange);
        Assert.Equal(new TimeRange(Ms(10), Ms(12)), plan.ValidationRange);
        Assert.Equal(new TimeRange(Ms(13), Ms(20)), plan.TestRange);
        Assert.Equal(2 * 24, plan.ContextRows);
        Assert.Equal(24, plan.UnusedRows);
        Assert.DoesNotContain(plan.Train, i => examples.EventTimeMs(i) < Ms(2));
        Assert.Single(plan.Notes);
    }

    [Fact]
    public void Plan_OnlyTrainToAndTestFrom_FillsTheRestFromTheData()
    {
        var examples = MakeHourly(days: 10);
        var bounds = new TimeSplitBounds { TrainTo = Day(5), TestFrom = Day(7) };

        var plan = SplitPlanner.Plan(examples, SplitMode.Time, bounds, seed: 1);

        Assert.Equal(new TimeRange(Ms(0), Ms(4)), plan.TrainRange);
        Assert.Equal(new TimeRange(Ms(4), Ms(5)), plan.ValidationRange);
        Assert.Equal(new TimeRange(Ms(7), Ms(10)), plan.TestRange);
    }

    [Theory]
    [InlineData(5, 3, null, null, "must be after --train-from")]
    [InlineData(0, 5, 4, null, "give both --val-from and --val-to")]
    [InlineData(0, 5, 4, 6, "--val-from must be at or after --train-to")]
    public void Plan_BadBounds_RefusesWithTheRule(int trainFrom, int trainTo, int? valFrom, int? valTo, string expected)
    {
        var bounds = new TimeSplitBounds
        {
            TrainFrom = Day(trainFrom),
            TrainTo = Day(trainTo),
            ValidationFrom = valFrom is { } vf ? Day(vf) : null,
            ValidationTo = valTo is { } vt ? Day(vt) : null,
        };

        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(MakeHourly(10), SplitMode.Time, bounds, 1));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Plan_TestBeforeValidationEnds_Refuses()
    {
        var bounds = new TimeSplitBounds { TrainTo = Day(4), ValidationFrom = Day(4), ValidationTo = Day(6), TestFrom = Day(5) };

        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(MakeHourly(10), SplitMode.Time, bounds, 1));

        Assert.Contains("--test-from must be at or after the end of validation", e.Message);
    }

    [Fact]
    public void Plan_RangeOutsideTheData_RefusesWithTheDataSpan()
    {
        var bounds = new TimeSplitBounds { TrainTo = Day(5), TestFrom = Day(30), TestTo = Day(31) };

        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(MakeHourly(10), SplitMode.Time, bounds, 1));

        Assert.Contains("test range 2026-03-31 .. 2026-04-01 holds no labelled transactions", e.Message);
        Assert.Contains("the data spans 2026-03-01", e.Message);
    }

    [Fact]
    public void Plan_ValidationWithoutFrauds_Refuses()
    {
        // Frauds only in the first five days.
        var examples = MakeHourly(days: 10, fraud: t => t < Ms(5) && (t / 3_600_000) % 10 == 0);

        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(examples, SplitMode.Time, new TimeSplitBounds(), 1));

        Assert.Contains("the validation split (2026-03-07 .. 2026-03-09) has no frauds", e.Message);
        Assert.Contains("frauds lie between 2026-03-01T", e.Message);
    }

    [Fact]
    public void Plan_TooFewDaysForTheDefault_AsksForDatesOrRandom()
    {
        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(MakeHourly(days: 2), SplitMode.Time, new TimeSplitBounds(), 1));

        Assert.Contains("needs at least 3 days", e.Message);
        Assert.Contains("--split random", e.Message);
    }

    [Fact]
    public void Plan_Random_IsStratifiedSeededAndDisjoint()
    {
        var examples = MakeHourly(days: 20);

        var a = SplitPlanner.Plan(examples, SplitMode.Random, new TimeSplitBounds(), seed: 5);
        var b = SplitPlanner.Plan(examples, SplitMode.Random, new TimeSplitBounds(), seed: 5);

        Assert.Equal(a.Test, b.Test);
        Assert.Empty(a.Train.Intersect(a.Test));
        Assert.Empty(a.Validation.Intersect(a.Test));
        Assert.Equal(examples.Count, a.Train.Length + a.Validation.Length + a.Test.Length);
        Assert.Equal(96, a.Test.Length); // ⌈0.2 · 480⌉
        Assert.Equal(10, a.Test.Count(i => examples.Label(i) == 1)); // 48 frauds · 96/480, rounded
    }

    [Fact]
    public void Plan_TimeSplitWithoutEventTimes_TellsToUseRandom()
    {
        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(new Hourly(10, t => false, times: false), SplitMode.Time, new TimeSplitBounds(), 1));

        Assert.Contains("use --split random", e.Message);
    }

    [Theory]
    [InlineData("2026-01-15", "2026-01-15T00:00:00+00:00")]
    [InlineData("2026-01-15T06:30:00Z", "2026-01-15T06:30:00+00:00")]
    [InlineData("2026-01-15T06:30:00+02:00", "2026-01-15T04:30:00+00:00")]
    [InlineData("2026-01-15T06:30:00", "2026-01-15T06:30:00+00:00")]
    public void TryParseInstant_IsoForms_AreUtc(string text, string expected)
    {
        Assert.True(SplitPlanner.TryParseInstant(text, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
        Assert.Equal(TimeSpan.Zero, value.Offset);
    }

    [Theory]
    [InlineData("2026-13-01")]
    [InlineData("01/02/2026")]
    [InlineData("yesterday")]
    [InlineData("2026-02-30")]
    public void TryParseInstant_NotIso_IsRefused(string text) => Assert.False(SplitPlanner.TryParseInstant(text, out _));

    [Theory]
    [InlineData(2, 0.5)]
    [InlineData(1, 0.9)]
    [InlineData(4, 0.1)]
    [InlineData(10, 0.1)]
    [InlineData(0, double.PositiveInfinity)]
    public void TopKThreshold_Ties_FlagAtLeastK(long k, double expected) =>
        Assert.Equal(expected, Evaluator.TopKThreshold([0.5, 0.1, 0.9, 0.5], k));

    private static long Ms(int day) => Start.AddDays(day).ToUnixTimeMilliseconds();

    private static DateTimeOffset Day(int day) => Start.AddDays(day);

    /// <summary>One example per hour from <see cref="Start"/>; by default every tenth hour is fraud.</summary>
    private static Hourly MakeHourly(int days, Func<long, bool>? fraud = null) => new(days, fraud ?? (t => (t / 3_600_000) % 10 == 0));

    private sealed class Hourly(int days, Func<long, bool> fraud, bool times = true) : ExampleSource
    {
        public override FeatureSpec Spec => PrecomputedFeatureSpec.Create(2);

        public override int Count => days * 24;

        public override bool HasEventTimes => times;

        public override bool HasScenarios => false;

        public override sbyte Label(int example) => fraud(EventTimeMs(example)) ? (sbyte)1 : (sbyte)0;

        public override int RealSteps(int example) => 7;

        public override void CopyWindow(int example, Span<float> destination) => destination.Clear();

        public override ReadOnlySpan<float> Newest(int example) => new float[2];

        public override long EventTimeMs(int example) => Start.ToUnixTimeMilliseconds() + (example * 3_600_000L);

        public override string CardId(int example) => "c";

        public override string? Scenario(int example) => null;
    }
}
