using System.Globalization;
using StreamFraud.Training.Data;

namespace StreamFraud.Training.Pipeline;

/// <summary>A half-open UTC time range [<see cref="FromMs"/>, <see cref="ToMs"/>) in Unix milliseconds.</summary>
/// <param name="FromMs">First instant inside.</param>
/// <param name="ToMs">First instant after.</param>
public readonly record struct TimeRange(long FromMs, long ToMs)
{
    /// <summary>Start as a UTC time.</summary>
    public DateTimeOffset From => DateTimeOffset.FromUnixTimeMilliseconds(FromMs);

    /// <summary>End (exclusive) as a UTC time.</summary>
    public DateTimeOffset To => DateTimeOffset.FromUnixTimeMilliseconds(ToMs);

    /// <summary>Whether <paramref name="timeMs"/> lies inside.</summary>
    public bool Contains(long timeMs) => timeMs >= FromMs && timeMs < ToMs;

    /// <inheritdoc/>
    public override string ToString() => $"{SplitPlanner.Format(FromMs)} .. {SplitPlanner.Format(ToMs)}";
}

/// <summary>Counts of one split.</summary>
/// <param name="Examples">Examples (labelled windows).</param>
/// <param name="Frauds">Fraud examples.</param>
/// <param name="Padded">Examples whose window has fewer than 7 real steps.</param>
public sealed record SplitCounts(int Examples, int Frauds, int Padded);

/// <summary>The event times an input spans, for the split's defaults and its messages.</summary>
/// <param name="FirstMs">The earliest event time.</param>
/// <param name="LastMs">The latest event time.</param>
/// <param name="Rows">Rows it was taken from.</param>
public sealed record DataSpan(long FirstMs, long LastMs, long Rows)
{
    private const long MsPerDay = 86_400_000L;

    /// <summary>Midnight (UTC) of the first event's day.</summary>
    public long DayStart => FloorDay(FirstMs);

    /// <summary>Midnight (UTC) after the last event's day.</summary>
    public long DayEnd => FloorDay(LastMs) + MsPerDay;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"the data spans {SplitPlanner.Format(FirstMs)} .. {SplitPlanner.Format(LastMs)} ({(DayEnd - DayStart) / MsPerDay} days; the earliest and latest event_time of its {Rows:N0} rows)");

    private static long FloorDay(long ms) => Math.DivRem(ms, MsPerDay, out var rem) * MsPerDay - (rem < 0 ? MsPerDay : 0);
}

/// <summary>The examples of train, validation and test, and how they were chosen.</summary>
public sealed class SplitPlan
{
    internal SplitPlan(SplitMode mode, int[] train, int[] validation, int[] test, string description)
    {
        Mode = mode;
        Train = train;
        Validation = validation;
        Test = test;
        Description = description;
    }

    /// <summary>How the split was made.</summary>
    public SplitMode Mode { get; }

    /// <summary>Training examples, ascending.</summary>
    public int[] Train { get; }

    /// <summary>Validation examples, ascending.</summary>
    public int[] Validation { get; }

    /// <summary>Test examples, ascending.</summary>
    public int[] Test { get; }

    /// <summary>One line: the ranges (time) or the protocol and seed (random).</summary>
    public string Description { get; }

    /// <summary>Training range (time mode).</summary>
    public TimeRange? TrainRange { get; internal init; }

    /// <summary>Validation range (time mode).</summary>
    public TimeRange? ValidationRange { get; internal init; }

    /// <summary>Test range (time mode).</summary>
    public TimeRange? TestRange { get; internal init; }

    /// <summary>Applied rows before the training range: featurised (they fill windows) but never examples.</summary>
    public int ContextRows { get; internal init; }

    /// <summary>Labelled rows in no range (a gap between ranges, or after test).</summary>
    public int UnusedRows { get; internal init; }

    /// <summary>Seed of a random split.</summary>
    public int? Seed { get; internal init; }

    /// <summary>How unset bounds were filled in, for the report.</summary>
    public IReadOnlyList<string> Notes { get; internal init; } = [];
}

/// <summary>
/// Turns the split options into example sets.
/// </summary>
/// <remarks>
/// <para>Time split (a CSV's default). Ranges are half-open, in UTC; a date means its midnight. Unset bounds:</para>
/// <list type="bullet">
/// <item>No bound at all: the data's UTC days (first event's day to last event's day) are cut 60/20/20: validation and
/// test get <c>max(1, round(0.2 · days))</c> whole days each, at the end; training the rest (needs 3 days or more).</item>
/// <item><c>--train-from</c> unset: the first event's day. <c>--train-to</c> unset: <c>--val-from</c>, else
/// <c>--test-from</c>.</item>
/// <item><c>--val-from</c>/<c>--val-to</c> unset (give both or neither): the last 20% of the training range becomes
/// validation (<c>max(1, round(0.2 · days))</c> whole days when the range is whole days, else 20% of its length).</item>
/// <item><c>--test-from</c> unset: the end of validation. <c>--test-to</c> unset: midnight after the last event.</item>
/// </list>
/// <para>Rows before the training range are context: featurised, so windows that reach back into them are exactly the
/// scorer's, but never examples. Rows in a gap between ranges or after test are unused (still featurised).</para>
/// <para>Random split (an <c>.npz</c>'s default): <see cref="RandomSplit"/>, the notebook's protocol — 20% test, 20% of
/// the rest validation, stratified and seeded; an <c>.npz</c>'s examples are its 7-row chunks, a CSV's its labelled
/// transactions (each with its card's window).</para>
/// </remarks>
public static class SplitPlanner
{
    private const long MsPerDay = 86_400_000L;
    private const double HoldoutShare = 0.2;

    /// <summary>Makes the split for <paramref name="examples"/>.</summary>
    /// <exception cref="TrainingException">Bounds out of order, a range without examples, or a split without both classes.</exception>
    public static SplitPlan Plan(ExampleSource examples, SplitMode mode, TimeSplitBounds bounds, int seed)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(bounds);
        var plan = mode == SplitMode.Time ? PlanTime(examples, bounds) : PlanRandom(examples, seed);
        RequireBothClasses(examples, plan.Train, "training", plan.TrainRange);
        RequireBothClasses(examples, plan.Validation, "validation", plan.ValidationRange);
        RequireBothClasses(examples, plan.Test, "test", plan.TestRange);
        return plan;
    }

    /// <summary>Counts of a set of examples.</summary>
    public static SplitCounts Count(ExampleSource examples, IReadOnlyList<int> set)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(set);
        int frauds = 0, padded = 0;
        foreach (var i in set)
        {
            frauds += examples.Label(i) > 0 ? 1 : 0;
            padded += examples.RealSteps(i) < Core.Features.FeatureSpec.WindowLength ? 1 : 0;
        }

        return new SplitCounts(set.Count, frauds, padded);
    }

    /// <summary>Parses an ISO-8601 date (<c>2026-01-15</c>, meaning 00:00 UTC) or date-time (<c>2026-01-15T06:00:00Z</c>,
    /// an offset or none meaning UTC).</summary>
    public static bool TryParseInstant(string? text, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            value = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            return true;
        }

        // Only ISO shapes: a leading yyyy-MM-ddT, so culture-dependent forms like 01/02/2026 are refused.
        if (text.Length < 11 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't'))
        {
            return false;
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }

        value = parsed.ToUniversalTime();
        return true;
    }

    /// <summary>An instant as <c>yyyy-MM-dd</c> when it is a UTC midnight, else <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public static string Format(long unixMs)
    {
        var t = DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime;
        return unixMs % MsPerDay == 0
            ? t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
            : t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// What is wrong with the split flags by themselves, before any data is read, or null: a validation range given
    /// half, a training range without an end, a range whose end is not after its start, ranges out of order. Bounds
    /// that default to another flag are checked too, and the message says so; bounds that default to the data (the
    /// first event's day, midnight after the last event) are checked once the data is known (<see cref="SpanProblem"/>).
    /// </summary>
    public static string? FlagProblem(TimeSplitBounds bounds)
    {
        ArgumentNullException.ThrowIfNull(bounds);
        try
        {
            _ = Resolve(bounds, null);
            return null;
        }
        catch (TrainingException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// What is wrong with the split flags for data spanning <paramref name="span"/>, or null: besides
    /// <see cref="FlagProblem"/>, the defaults taken from the data and ranges lying before or after it.
    /// </summary>
    public static string? SpanProblem(TimeSplitBounds bounds, DataSpan span)
    {
        ArgumentNullException.ThrowIfNull(bounds);
        ArgumentNullException.ThrowIfNull(span);
        try
        {
            _ = Resolve(bounds, span);
            return null;
        }
        catch (TrainingException e)
        {
            return e.Message;
        }
    }

    private static SplitPlan PlanTime(ExampleSource examples, TimeSplitBounds b)
    {
        if (!examples.HasEventTimes)
        {
            throw new TrainingException(
                "this input has no event times (an .npz), so it cannot be split by time; use --split random (the notebook's protocol)");
        }

        long first = long.MaxValue, last = long.MinValue;
        for (var i = 0; i < examples.Count; i++)
        {
            var t = examples.EventTimeMs(i);
            first = Math.Min(first, t);
            last = Math.Max(last, t);
        }

        if (examples.Count == 0)
        {
            throw new TrainingException("the input has no usable transactions");
        }

        var data = new DataSpan(first, last, examples.Count);
        var span = data.ToString();
        var (train, validation, test, notes) = Resolve(b, data);
        var trainSet = new List<int>();
        var validationSet = new List<int>();
        var testSet = new List<int>();
        int context = 0, unused = 0;
        for (var i = 0; i < examples.Count; i++)
        {
            var t = examples.EventTimeMs(i);
            if (t < train.FromMs)
            {
                context++;
                continue;
            }

            if (examples.Label(i) < 0)
            {
                continue;
            }

            if (train.Contains(t))
            {
                trainSet.Add(i);
            }
            else if (validation.Contains(t))
            {
                validationSet.Add(i);
            }
            else if (test.Contains(t))
            {
                testSet.Add(i);
            }
            else
            {
                unused++;
            }
        }

        foreach (var (name, set, range) in new[] { ("training", trainSet, train), ("validation", validationSet, validation), ("test", testSet, test) })
        {
            if (set.Count == 0)
            {
                throw new TrainingException($"the {name} range {range} holds no labelled transactions; {span}. Move or widen it");
            }
        }

        var description = $"time: train {train}, validation {validation}, test {test} (UTC, ends exclusive)" +
                          (context > 0 ? $"; {context} earlier rows are context only" : "");
        return new SplitPlan(SplitMode.Time, [.. trainSet], [.. validationSet], [.. testSet], description)
        {
            TrainRange = train,
            ValidationRange = validation,
            TestRange = test,
            ContextRows = context,
            UnusedRows = unused,
            Notes = notes,
        };
    }

    /// <summary>
    /// The three ranges the bounds describe, unset bounds filled in (class remarks), or a <see cref="TrainingException"/>
    /// naming the flags given — and, for a bound the user did not give, where its value came from. With
    /// <paramref name="data"/> null only what the flags decide is checked (the returned ranges are then meaningless).
    /// </summary>
    private static (TimeRange Train, TimeRange Validation, TimeRange Test, List<string> Notes) Resolve(TimeSplitBounds b, DataSpan? data)
    {
        var notes = new List<string>();
        if (!b.Any)
        {
            if (data is null)
            {
                return default;
            }

            var days = (data.DayEnd - data.DayStart) / MsPerDay;
            if (days < 3)
            {
                throw new TrainingException(
                    $"{data}; the default time split (60/20/20 of the days) needs at least 3 days. " +
                    "Pass --train-from/--train-to/--test-from/--test-to with finer times, or use --split random");
            }

            var holdout = Math.Max(1, (long)Math.Round(HoldoutShare * days, MidpointRounding.AwayFromZero));
            var testStartMs = data.DayEnd - (holdout * MsPerDay);
            var validationStartMs = testStartMs - (holdout * MsPerDay);
            notes.Add($"no split dates given: {days} days cut into {days - (2 * holdout)} training, {holdout} validation and {holdout} test days");
            return (new TimeRange(data.DayStart, validationStartMs), new TimeRange(validationStartMs, testStartMs), new TimeRange(testStartMs, data.DayEnd), notes);
        }

        if ((b.ValidationFrom is null) != (b.ValidationTo is null))
        {
            throw new TrainingException(b.ValidationFrom is { } vf
                ? $"--val-from {Format(vf.ToUnixTimeMilliseconds())} is given without --val-to: give both, or neither (then the last 20% of the training range is validation)"
                : $"--val-to {Format(b.ValidationTo!.Value.ToUnixTimeMilliseconds())} is given without --val-from: give both, or neither (then the last 20% of the training range is validation)");
        }

        var trainFrom = b.TrainFrom is { } tf ? Bound.Given("--train-from", tf)
            : Bound.FromData(data?.DayStart, "--train-from", string.Create(CultureInfo.InvariantCulture, $"the first event's day; the earliest event_time of {data?.Rows:N0} rows is {Iso(data?.FirstMs)}"));
        var trainTo = b.TrainTo is { } tt ? Bound.Given("--train-to", tt)
            : b.ValidationFrom is { } vFrom ? Bound.FromFlag("--val-from", vFrom, "--train-to")
            : b.TestFrom is { } sFrom ? Bound.FromFlag("--test-from", sFrom, "--train-to")
            : throw new TrainingException(
                $"the training range has no end: give --train-to (or --val-from or --test-from, which it defaults to); given: {string.Join(", ", b.Given())}");
        Order(trainFrom, trainTo, "training");

        TimeRange? train = null, validation = null;
        Bound validationEnd;
        if (b.ValidationFrom is null)
        {
            // Validation is carved from the end of the training range: it ends where training was asked to end.
            validationEnd = trainTo with { Text = $"{trainTo.Text}, where validation ends (it is the last 20% of the training range without --val-from/--val-to)" };
            if (trainFrom.Ms is { } from && trainTo.Ms is { } to)
            {
                var cut = CarveValidation(from, to);
                if (cut <= from)
                {
                    throw new TrainingException(
                        $"the training range {new TimeRange(from, to)} ({trainFrom.Text} .. {trainTo.Text}) is too short to hold back 20% for validation; " +
                        "widen it or pass --val-from/--val-to");
                }

                train = new TimeRange(from, cut);
                validation = new TimeRange(cut, to);
                notes.Add($"no validation dates given: the last part of the training range, {validation}, is validation");
            }
        }
        else
        {
            var validationFrom = Bound.Given("--val-from", b.ValidationFrom.Value);
            validationEnd = Bound.Given("--val-to", b.ValidationTo!.Value);
            Order(validationFrom, validationEnd, "validation");
            if (validationFrom.Ms < trainTo.Ms)
            {
                throw new TrainingException($"{validationFrom.Text} must be at or after {trainTo.Text}: validation starts where training ends or later");
            }

            train = trainFrom.Ms is { } from ? new TimeRange(from, trainTo.Ms!.Value) : null;
            validation = new TimeRange(validationFrom.Ms!.Value, validationEnd.Ms!.Value);
        }

        var testFrom = b.TestFrom is { } testStart ? Bound.Given("--test-from", testStart)
            : b.ValidationTo is { } vTo ? Bound.FromFlag("--val-to", vTo, "--test-from")
            : trainTo with { Text = $"{trainTo.Text} (where validation ends: the default of --test-from)" };
        if (b.TestFrom is not null && testFrom.Ms < validationEnd.Ms)
        {
            throw new TrainingException($"{testFrom.Text} must be at or after {validationEnd.Text}: test starts where validation ends or later");
        }

        var testTo = b.TestTo is { } testEnd ? Bound.Given("--test-to", testEnd)
            : Bound.FromData(data?.DayEnd, "--test-to", string.Create(CultureInfo.InvariantCulture, $"midnight after the last event; the latest event_time of {data?.Rows:N0} rows is {Iso(data?.LastMs)}"));
        Order(testFrom, testTo, "test");
        if (data is null)
        {
            return default;
        }

        var test = new TimeRange(testFrom.Ms!.Value, testTo.Ms!.Value);
        foreach (var (name, range) in new[] { ("training", train!.Value), ("validation", validation!.Value), ("test", test) })
        {
            if (range.ToMs <= data.FirstMs || range.FromMs > data.LastMs)
            {
                throw new TrainingException(
                    $"the {name} range {range} lies {(range.ToMs <= data.FirstMs ? "before" : "after")} the data: {data}. Move it into the data's span");
            }
        }

        return (train.Value, validation.Value, test, notes);
    }

    private static void Order(Bound from, Bound to, string name)
    {
        if (from.Ms is { } f && to.Ms is { } t && t <= f)
        {
            throw new TrainingException($"{to.Text} must be after {from.Text}: the {name} range would be empty (ends are exclusive)");
        }
    }

    private static string Iso(long? ms) => ms is { } v
        ? DateTimeOffset.FromUnixTimeMilliseconds(v).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
        : "?";

    /// <summary>A split bound and how to name it in a message: the flag as given, another flag it defaults to, or the
    /// data it was derived from. <see cref="Ms"/> is null for a data default before the data is known.</summary>
    private readonly record struct Bound(long? Ms, string Text)
    {
        public static Bound Given(string flag, DateTimeOffset value) => new(value.ToUnixTimeMilliseconds(), $"{flag} {Format(value.ToUnixTimeMilliseconds())}");

        public static Bound FromFlag(string flag, DateTimeOffset value, string defaultOf) =>
            new(value.ToUnixTimeMilliseconds(), $"{flag} {Format(value.ToUnixTimeMilliseconds())} (the default of {defaultOf})");

        public static Bound FromData(long? ms, string defaultOf, string what) =>
            ms is { } v ? new(v, $"{Format(v)}, the default of {defaultOf} ({what})") : new(null, defaultOf);
    }

    private static SplitPlan PlanRandom(ExampleSource examples, int seed)
    {
        // The pool: every labelled example (all chunks of an .npz).
        var pool = new List<int>(examples.Count);
        for (var i = 0; i < examples.Count; i++)
        {
            if (examples.Label(i) >= 0)
            {
                pool.Add(i);
            }
        }

        var labels = new bool[pool.Count];
        for (var k = 0; k < pool.Count; k++)
        {
            labels[k] = examples.Label(pool[k]) > 0;
        }

        ChunkSplit split;
        try
        {
            split = RandomSplit.Split(labels, seed, chunkLength: 1);
        }
        catch (ArgumentException e)
        {
            throw new TrainingException($"too few examples for a random split: {e.Message}", e);
        }

        int[] Map(IReadOnlyList<int> set) => [.. set.Select(k => pool[k])];
        var unit = examples is ChunkExamples ? "7-row chunks labelled by their last row" : "labelled transactions";
        var description = $"random: stratified, seed {seed}; {RandomSplit.DefaultTestFraction:P0} of the {unit} test, " +
                          $"{RandomSplit.DefaultValidationFraction:P0} of the rest validation (notebook protocol; mixes periods)";
        return new SplitPlan(SplitMode.Random, Map(split.Train), Map(split.Validation), Map(split.Test), description)
        {
            Seed = seed,
        };
    }

    private static void RequireBothClasses(ExampleSource examples, int[] set, string name, TimeRange? range)
    {
        var frauds = 0;
        foreach (var i in set)
        {
            frauds += examples.Label(i) > 0 ? 1 : 0;
        }

        if (frauds > 0 && frauds < set.Length)
        {
            return;
        }

        var where = range is { } r ? $" ({r})" : "";
        var what = frauds == 0 ? "no frauds" : "no legitimate transactions";
        var hint = range is null
            ? "the input has too few frauds for a random split; use more data"
            : $"move or widen the range so it holds both classes ({FraudSpan(examples)})";
        throw new TrainingException($"the {name} split{where} has {what} among its {set.Length} examples: {hint}");
    }

    private static string FraudSpan(ExampleSource examples)
    {
        long first = long.MaxValue, last = long.MinValue;
        var count = 0;
        for (var i = 0; i < examples.Count; i++)
        {
            if (examples.Label(i) > 0)
            {
                var t = examples.EventTimeMs(i);
                first = Math.Min(first, t);
                last = Math.Max(last, t);
                count++;
            }
        }

        return count == 0 ? "the input has no frauds at all" : $"the input's {count} frauds lie between {Format(first)} and {Format(last + 1)}";
    }

    private static long CarveValidation(long from, long to)
    {
        var length = to - from;
        if (from % MsPerDay == 0 && length % MsPerDay == 0 && length >= 2 * MsPerDay)
        {
            var days = length / MsPerDay;
            var holdout = Math.Max(1, (long)Math.Round(HoldoutShare * days, MidpointRounding.AwayFromZero));
            return to - (holdout * MsPerDay);
        }

        return to - (long)Math.Round(HoldoutShare * length);
    }

    private static void CheckOrder(long from, long to, string fromFlag, string toFlag)
    {
        if (to <= from)
        {
            throw new TrainingException($"{toFlag} ({Format(to)}) must be after {fromFlag} ({Format(from)}); ends are exclusive");
        }
    }

    private static long? Ms(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();

    private static long FloorDay(long ms) => Math.DivRem(ms, MsPerDay, out var rem) * MsPerDay - (rem < 0 ? MsPerDay : 0);
}
