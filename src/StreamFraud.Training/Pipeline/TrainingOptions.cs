using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Training.Lstm;

namespace StreamFraud.Training.Pipeline;

/// <summary>How examples are divided into train, validation and test.</summary>
public enum SplitMode
{
    /// <summary>
    /// By event time (the default for a CSV): each split is a half-open time range; history before the training range
    /// is context only. Needs event times, so it does not apply to an <c>.npz</c>.
    /// </summary>
    Time,

    /// <summary>
    /// The notebook's stratified, seeded random split (<see cref="Data.RandomSplit"/>): the default for an
    /// <c>.npz</c>. On a CSV it mixes periods and leaks the future; the trainer warns.
    /// </summary>
    Random,
}

/// <summary>
/// The time-split flags (<c>--train-from</c> … <c>--test-to</c>). Every bound is a UTC instant; ends are exclusive.
/// Unset bounds are filled in by <see cref="SplitPlanner"/> (documented there).
/// </summary>
public sealed record TimeSplitBounds
{
    /// <summary><c>--train-from</c>: first instant of training; earlier history is context only.</summary>
    public DateTimeOffset? TrainFrom { get; init; }

    /// <summary><c>--train-to</c>: end of training (exclusive).</summary>
    public DateTimeOffset? TrainTo { get; init; }

    /// <summary><c>--val-from</c>: first instant of validation.</summary>
    public DateTimeOffset? ValidationFrom { get; init; }

    /// <summary><c>--val-to</c>: end of validation (exclusive).</summary>
    public DateTimeOffset? ValidationTo { get; init; }

    /// <summary><c>--test-from</c>: first instant of test.</summary>
    public DateTimeOffset? TestFrom { get; init; }

    /// <summary><c>--test-to</c>: end of test (exclusive).</summary>
    public DateTimeOffset? TestTo { get; init; }

    /// <summary>The bounds that are set, as typed: <c>--train-from 2026-01-08</c>.</summary>
    public IEnumerable<string> Given()
    {
        foreach (var (flag, value) in new[]
                 {
                     ("--train-from", TrainFrom), ("--train-to", TrainTo), ("--val-from", ValidationFrom), ("--val-to", ValidationTo),
                     ("--test-from", TestFrom), ("--test-to", TestTo),
                 })
        {
            if (value is { } v)
            {
                yield return $"{flag} {SplitPlanner.Format(v.ToUnixTimeMilliseconds())}";
            }
        }
    }

    /// <summary>Whether any bound is set.</summary>
    public bool Any => TrainFrom is not null || TrainTo is not null || ValidationFrom is not null || ValidationTo is not null ||
                       TestFrom is not null || TestTo is not null;
}

/// <summary>
/// Everything one <c>train</c> run needs: input, registry, split, model and threshold settings. Defaults are the
/// notebook's models with StreamFraud's corrections (time split, exact thresholds, no oversampling).
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>
    /// Default positive:negative oversampling ratio of the LSTM: none. Measured on 275k generated transactions
    /// (5,000 cards × 30 days, default time split, 6 epochs each): best validation AP 0.577 with none (still rising at
    /// epoch 6), 0.575 at 0.1 (best at epoch 2, down to 0.549 by epoch 6) and 0.567 at 1:1 (best at epoch 1, down to
    /// 0.478 by epoch 6 while the training batches reached AP 0.9998); test AP of the LSTM 0.623 / 0.600 / 0.584.
    /// Repeating the few frauds makes the network memorise them, as the notebook's 1:1 did.
    /// </summary>
    public static readonly double? DefaultOversampleRatio;

    /// <summary>Default number of golden windows written to the manifest.</summary>
    public const int DefaultGoldenWindows = 256;

    /// <summary>Canonical CSV (<c>.csv</c>, featurised with <see cref="Spec"/>) or notebook <c>.npz</c> (<c>precomputed:F</c>).</summary>
    public required string InputPath { get; init; }

    /// <summary>
    /// Spec a CSV is featurised with (<c>--spec</c>): <c>card</c> v1 or v2; null = <see cref="CsvFeaturing.DefaultSpec"/>
    /// (v2). An <c>.npz</c> keeps its own spec (<c>precomputed:F</c>) and refuses an explicit one.
    /// </summary>
    public FeatureSpec? Spec { get; init; }

    /// <summary>
    /// Labels CSV (<c>--labels</c>) replayed by label time into a spec that reads labels; null = labels simulated from
    /// the CSV's <c>is_fraud</c> after <see cref="LabelDelay"/>.
    /// </summary>
    public string? LabelsPath { get; init; }

    /// <summary>Delay of simulated labels (<c>--label-delay</c>); null = <see cref="Core.Labels.LabelDelay.Default"/> (7 days).</summary>
    public LabelDelay? LabelDelay { get; init; }

    /// <summary>Registry directory; the bundle is published as <c>&lt;registry&gt;/&lt;version&gt;</c>.</summary>
    public required string RegistryPath { get; init; }

    /// <summary>Make the new bundle current after publishing (<c>--promote</c>).</summary>
    public bool Promote { get; init; }

    /// <summary>Split mode; null = time for a CSV, random for an <c>.npz</c>.</summary>
    public SplitMode? Split { get; init; }

    /// <summary>Time-split bounds (time mode only).</summary>
    public TimeSplitBounds Bounds { get; init; } = new();

    /// <summary>Seed of everything random: LSTM initialisation, shuffles and dropout, XGBoost sampling, random split, golden-window choice.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Maximum LSTM epochs (early stopping may end sooner).</summary>
    public int Epochs { get; init; } = 40;

    /// <summary>Units of the first LSTM layer.</summary>
    public int Hidden1 { get; init; } = 128;

    /// <summary>Units of the second LSTM layer.</summary>
    public int Hidden2 { get; init; } = 64;

    /// <summary>LSTM loss.</summary>
    public LstmLossKind Loss { get; init; } = LstmLossKind.Focal;

    /// <summary>Positive:negative ratio the LSTM's positives are oversampled to; null = none (<see cref="DefaultOversampleRatio"/>).</summary>
    public double? OversampleRatio { get; init; } = DefaultOversampleRatio;

    /// <summary>Maximum XGBoost rounds (early stopping on validation aucpr may end sooner).</summary>
    public int XgbRounds { get; init; } = 600;

    /// <summary>XGBoost early-stopping patience in rounds.</summary>
    public int XgbEarlyStoppingRounds { get; init; } = 50;

    /// <summary>
    /// XGBoost monotone constraints on the label-history features (<c>--xgb-monotone on|off</c>, <see cref="Pipeline.XgbMonotone"/>):
    /// null = on when the spec has such features (card v2), off otherwise; true = on (a spec without them is trained
    /// unconstrained, with a warning); false = off.
    /// </summary>
    public bool? XgbMonotone { get; init; }

    /// <summary>Costs and recall target of the threshold policies.</summary>
    public ThresholdSettings Thresholds { get; init; } = ThresholdSettings.Default;

    /// <summary>Search the LSTM weight in 0, 0.05, …, 1 for the best validation average precision instead of 0.5/0.5.</summary>
    public bool SearchWeights { get; init; }

    /// <summary>Golden windows to record (taken from the test set, padded ones included).</summary>
    public int GoldenWindows { get; init; } = DefaultGoldenWindows;

    /// <summary>Worker threads for the LSTM and XGBoost; null = all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Write the PR and ROC PNGs (ScottPlot).</summary>
    public bool Plots { get; init; } = true;

    /// <summary>Clock for the bundle's creation time and version (tests pin it).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How a CSV input is featurised: the spec and where its labels come from.</summary>
    public CsvFeaturing ToCsvFeaturing() => new()
    {
        Spec = Spec ?? CsvFeaturing.DefaultSpec,
        SpecGiven = Spec is not null,
        LabelsPath = LabelsPath,
        LabelDelay = LabelDelay,
    };

    /// <summary>LSTM settings derived from these options (the notebook's for everything not set here).</summary>
    public LstmOptions ToLstmOptions() => new()
    {
        Hidden1 = Hidden1,
        Hidden2 = Hidden2,
        MaxEpochs = Epochs,
        Seed = Seed,
        Loss = Loss,
        OversampleRatio = OversampleRatio,
        MaxDegreeOfParallelism = Threads,
    };

    /// <summary>Checks ranges; throws <see cref="TrainingException"/> naming the option.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(InputPath), "--input is required: a canonical CSV or a notebook .npz");
        Require(!string.IsNullOrWhiteSpace(RegistryPath), "--registry is required: the directory bundles are published to");
        Require(Epochs >= 1, $"--epochs must be at least 1 (got {Epochs})");
        Require(Hidden1 >= 1 && Hidden2 >= 1, $"--hidden1 and --hidden2 must be at least 1 (got {Hidden1}, {Hidden2})");
        Require(XgbRounds >= 1, $"--xgb-rounds must be at least 1 (got {XgbRounds})");
        Require(XgbEarlyStoppingRounds >= 1, $"XGBoost early stopping needs at least 1 round of patience (got {XgbEarlyStoppingRounds})");
        Require(OversampleRatio is null || (OversampleRatio >= 0 && double.IsFinite(OversampleRatio.Value)),
            $"--oversample must be 'none' or a ratio ≥ 0 (got {OversampleRatio})");
        Require(GoldenWindows >= 1, $"at least one golden window is needed (got {GoldenWindows})");
        Require(Threads is null or >= 1, $"--threads must be at least 1 (got {Threads})");
        Require(Split != SplitMode.Random || !Bounds.Any,
            $"{string.Join(", ", Bounds.Given().Select(g => g.Split(' ')[0]))} (a time split) do not apply to --split random; drop them or use --split time");
        if (ToCsvFeaturing().Problem() is { } problem)
        {
            throw new TrainingException(problem);
        }
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new TrainingException(message);
        }
    }
}
