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
    [InlineData(0, 5, 4, null, "--val-from 2026-03-05 is given without --val-to: give both, or neither")]
    [InlineData(0, 5, 4, 6, "--val-from 2026-03-05 must be at or after --train-to 2026-03-06")]
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

        Assert.Contains("--test-from 2026-03-06 must be at or after --val-to 2026-03-07", e.Message);
    }

    [Fact]
    public void Plan_RangeOutsideTheData_RefusesWithTheDataSpan()
    {
        var bounds = new TimeSplitBounds { TrainTo = Day(5), TestFrom = Day(30), TestTo = Day(31) };

        var e = Assert.Throws<TrainingException>(() => SplitPlanner.Plan(MakeHourly(10), SplitMode.Time, bounds, 1));

        Assert.Contains("the test range 2026-03-31 .. 2026-04-01 lies after the data", e.Message);
        Assert.Contains("the data spans 2026-03-01 .. 2026-03-10T23:00:00.000Z (10 days; the earliest and latest event_time of its 240 rows)", e.Message);
    }

    [Theory]
    [InlineData(new[] { "train-from:6", "train-to:3" }, "--train-to 2026-03-04 must be after --train-from 2026-03-07")]
    [InlineData(new[] { "train-from:6", "val-from:4", "val-to:8" }, "--val-from 2026-03-05 (the default of --train-to) must be after --train-from 2026-03-07")]
    [InlineData(new[] { "train-to:4", "test-from:3" }, "--test-from 2026-03-04 must be at or after --train-to 2026-03-05, where validation ends")]
    [InlineData(new[] { "train-to:4", "val-from:4", "val-to:6", "test-to:5" }, "--test-to 2026-03-06 must be after --val-to 2026-03-07 (the default of --test-from)")]
    [InlineData(new[] { "val-to:6" }, "--val-to 2026-03-07 is given without --val-from")]
    [InlineData(new[] { "train-from:2", "test-to:9" }, "the training range has no end: give --train-to (or --val-from or --test-from, which it defaults to); given: --train-from 2026-03-03, --test-to 2026-03-10")]
    public void FlagProblem_WithoutData_NamesOnlyTheFlagsGivenAndTheDefaultsTheyFeed(string[] flags, string expected)
    {
        var bounds = Bounds(flags);

        var problem = SplitPlanner.FlagProblem(bounds);

        Assert.Equal(expected, problem?[..Math.Min(problem.Length, expected.Length)]);
        var given = flags.Select(f => "--" + f.Split(':')[0]).ToHashSet();
        foreach (var flag in new[] { "--train-from", "--train-to", "--val-from", "--val-to", "--test-from", "--test-to" }.Where(f => !given.Contains(f)))
        {
            // A flag the user did not pass appears only as "the default of --flag".
            Assert.DoesNotContain(flag + " 20", problem);
        }

        // The same flags with data: the same refusal, whatever the data.
        Assert.Equal(problem, SplitPlanner.SpanProblem(bounds, new DataSpan(Ms(0), Ms(10) - 1, 240)));
    }

    [Fact]
    public void FlagProblem_ConsistentFlags_None_EvenWhenOnlyTheDataCanTell()
    {
        // Test would start after the data ends: only the data can tell, so flags alone are fine...
        var bounds = new TimeSplitBounds { TrainTo = Day(5), TestFrom = Day(30) };
        Assert.Null(SplitPlanner.FlagProblem(bounds));

        // ...and the data's span names the default it derived and the rows it came from.
        var problem = SplitPlanner.SpanProblem(bounds, new DataSpan(Ms(0) + 60_000, Ms(10) - 60_000, 240));
        Assert.Equal(
            "2026-03-11, the default of --test-to (midnight after the last event; the latest event_time of 240 rows is 2026-03-10T23:59:00.000Z) " +
            "must be after --test-from 2026-03-31: the test range would be empty (ends are exclusive)",
            problem);
        Assert.Null(SplitPlanner.SpanProblem(bounds with { TestFrom = Day(8) }, new DataSpan(Ms(0), Ms(10) - 1, 240)));
    }

    [Fact]
    public void InputSpan_PeekReadsFirstAndLastRows_ScanEveryRow()
    {
        var path = Path.Combine(Path.GetTempPath(), $"span-{Guid.NewGuid():N}.csv");
        try
        {
            Core.Transaction Tx(int day) => new($"t{day}", "c", "m", 1, "EUR", Ms(day));
            // Out of event-time order: the middle row is the latest, so the peek (first and last rows) sees less than the scan.
            Core.Data.CanonicalCsv.Write(path, [Tx(2), Tx(1), Tx(9), Tx(3)]);

            Assert.Equal(new DataSpan(Ms(2), Ms(3), 2), InputSpan.Peek(path));
            Assert.Equal(new DataSpan(Ms(1), Ms(9), 4), InputSpan.Scan(path));
            Assert.Null(InputSpan.Peek(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static TimeSplitBounds Bounds(string[] flags)
    {
        DateTimeOffset? Get(string name) => flags.Where(f => f.StartsWith(name + ":", StringComparison.Ordinal)).Select(f => (DateTimeOffset?)Day(int.Parse(f[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture))).FirstOrDefault();
        return new TimeSplitBounds
        {
            TrainFrom = Get("train-from"), TrainTo = Get("train-to"), ValidationFrom = Get("val-from"), ValidationTo = Get("val-to"),
            TestFrom = Get("test-from"), TestTo = Get("test-to"),
        };
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
