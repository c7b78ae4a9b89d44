using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Clients;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Trainer.Rendering;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Commands;

/// <summary>The flags of <c>train</c>.</summary>
public sealed class TrainSettings : CommandSettings
{
    private const string DateExpectation = "an ISO date such as 2026-01-15 (midnight UTC) or a date-time such as 2026-01-15T06:00:00Z";

    /// <summary><c>--input</c>.</summary>
    [CommandOption("--input <FILE>")]
    [Description("Required. Canonical CSV of transactions (in event-time order; featurised with --spec) or a notebook .npz with X and y (its own spec precomputed:F, 7-row chunks).")]
    public string? Input { get; init; }

    /// <summary><c>--spec</c>.</summary>
    [CommandOption("--spec <v1|v2>")]
    [Description("Feature spec a CSV is featurised with: v2 (default) = v1's 56 card features + 19 merchant and card label-history features (known frauds at the merchant and on the card over 1/7/30 days, read from labels known before each transaction); v1 = the 56 card features. The bundle records it; the scorer must run the same spec. An .npz keeps its own spec.")]
    [OneOf("v1", "v2")]
    public string? Spec { get; init; }

    /// <summary><c>--labels</c>.</summary>
    [CommandOption("--labels <FILE>")]
    [Description("Spec v2: labels CSV (transaction_id, card_id, merchant_id, event_time, label_time, is_fraud, source, amount; e.g. from 'StreamFraud.Sim generate --labels-out') merged into the history by label time: a transaction's features see a label only if its label time is before the transaction's event time. Without it, labels are simulated from the CSV's is_fraud (--label-delay). The training target is always is_fraud.")]
    public string? Labels { get; init; }

    /// <summary><c>--label-delay</c>.</summary>
    [CommandOption("--label-delay <DELAY>")]
    [Description("Spec v2 without --labels: each fraud of the CSV is labelled this long after it happened — a duration (7d, 36h, 90m), exp:MEAN (exponential, e.g. exp:3d) or uniform:MIN..MAX (e.g. uniform:1d..14d), drawn per transaction from a hash of its id. Default 7d.")]
    public string? LabelDelay { get; init; }

    /// <summary><c>--registry</c>.</summary>
    [CommandOption("--registry <DIR>")]
    [Description("Required. Model registry directory; the bundle is published as DIR/<version> (created if missing).")]
    public string? Registry { get; init; }

    /// <summary><c>--promote</c>.</summary>
    [CommandOption("--promote")]
    [Description("Make the new bundle current (atomically replaces DIR/current.json) after it is published.")]
    public bool Promote { get; init; }

    /// <summary><c>--split</c>.</summary>
    [CommandOption("--split <time|random>")]
    [Description("How examples are split. Default: time for a CSV, random for an .npz. random is the notebook's stratified, seeded protocol (20% test, then 20% of the rest validation); on a CSV it leaks the future.")]
    [OneOf("time", "random")]
    public string? Split { get; init; }

    /// <summary><c>--train-from</c>.</summary>
    [CommandOption("--train-from <DATE>")]
    [Description("Start of training (ISO date = midnight UTC, or date-time). Earlier history is context only: it fills windows but is never an example. Default: the first event's day.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? TrainFrom { get; init; }

    /// <summary><c>--train-to</c>.</summary>
    [CommandOption("--train-to <DATE>")]
    [Description("End of training, exclusive. Default: --val-from, else --test-from.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? TrainTo { get; init; }

    /// <summary><c>--val-from</c>.</summary>
    [CommandOption("--val-from <DATE>")]
    [Description("Start of validation (give with --val-to). Without both, the last 20% of the training range is validation.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? ValidationFrom { get; init; }

    /// <summary><c>--val-to</c>.</summary>
    [CommandOption("--val-to <DATE>")]
    [Description("End of validation, exclusive.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? ValidationTo { get; init; }

    /// <summary><c>--test-from</c>.</summary>
    [CommandOption("--test-from <DATE>")]
    [Description("Start of test. Default: the end of validation. A gap between ranges is simply unused.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? TestFrom { get; init; }

    /// <summary><c>--test-to</c>.</summary>
    [CommandOption("--test-to <DATE>")]
    [Description("End of test, exclusive. Default: midnight after the last event. Without any date flag the data's days are cut 60/20/20.")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? TestTo { get; init; }

    /// <summary><c>--epochs</c>.</summary>
    [CommandOption("--epochs <N>")]
    [Description("Maximum LSTM epochs; early stopping on validation AP (patience 8) may stop sooner. Default 40.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 10_000)]
    public int Epochs { get; init; } = 40;

    /// <summary><c>--seed</c>.</summary>
    [CommandOption("--seed <N>")]
    [Description("Seed of initialisation, shuffling, dropout, XGBoost sampling, the random split and golden-window choice. Default 42.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    public int Seed { get; init; } = 42;

    /// <summary><c>--cost-fn</c>.</summary>
    [CommandOption("--cost-fn <X>")]
    [Description("Cost of a missed fraud for the cost_min threshold. Default 10.")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 1e12)]
    public double CostFn { get; init; } = ThresholdSettings.DefaultCostFalseNegative;

    /// <summary><c>--cost-fp</c>.</summary>
    [CommandOption("--cost-fp <Y>")]
    [Description("Cost of a false alarm for the cost_min threshold. Default 1.")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 1e12)]
    public double CostFp { get; init; } = ThresholdSettings.DefaultCostFalsePositive;

    /// <summary><c>--target-recall</c>.</summary>
    [CommandOption("--target-recall <R>")]
    [Description("Recall the target_recall threshold must reach on validation, above 0 and at most 1. Default 0.70.")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 1, ExclusiveMin = true)]
    public double TargetRecall { get; init; } = ThresholdSettings.DefaultTargetRecall;

    /// <summary><c>--oversample</c>.</summary>
    [CommandOption("--oversample <none|RATIO>")]
    [Description("Oversample LSTM positives to RATIO × negatives (e.g. 0.1, 1 = the notebook's 1:1). Default none (measured best; see the README).")]
    public string Oversample { get; init; } = "none";

    /// <summary><c>--loss</c>.</summary>
    [CommandOption("--loss <focal|bce>")]
    [Description("LSTM loss: binary focal (γ 3, α 0.9, the notebook's) or cross-entropy. Default focal.")]
    [OneOf("focal", "bce")]
    public string Loss { get; init; } = "focal";

    /// <summary><c>--hidden1</c>.</summary>
    [CommandOption("--hidden1 <N>")]
    [Description("Units of the first LSTM layer. Default 128.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 4096)]
    public int Hidden1 { get; init; } = 128;

    /// <summary><c>--hidden2</c>.</summary>
    [CommandOption("--hidden2 <N>")]
    [Description("Units of the second LSTM layer. Default 64.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 4096)]
    public int Hidden2 { get; init; } = 64;

    /// <summary><c>--xgb-rounds</c>.</summary>
    [CommandOption("--xgb-rounds <N>")]
    [Description("Maximum XGBoost rounds; early stopping on validation aucpr may stop sooner. Default 600.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 100_000)]
    public int XgbRounds { get; init; } = 600;

    /// <summary><c>--xgb-early-stopping</c>.</summary>
    [CommandOption("--xgb-early-stopping <N>")]
    [Description("XGBoost rounds without validation aucpr improvement before stopping. Default 50.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 100_000)]
    public int XgbEarlyStopping { get; init; } = 50;

    /// <summary><c>--xgb-monotone</c>.</summary>
    [CommandOption("--xgb-monotone <on|off>")]
    [Description("Monotone constraints on XGBoost's label-history features: the score may only rise with the merchant's and the card's confirmed-fraud counts, fraud ratios and has-fraud flags, and only fall with the days since their newest fraud. Default: on for a spec with such features (v2), off otherwise. Measured (README): it helps with labels that arrive in days (--labels) and costs average precision with labels as late as the simulated 7d default.")]
    [OneOf("on", "off")]
    public string? XgbMonotone { get; init; }

    /// <summary><c>--search-weights</c>.</summary>
    [CommandOption("--search-weights")]
    [Description("Choose the LSTM weight in 0, 0.05, …, 1 by validation average precision instead of 0.5/0.5.")]
    public bool SearchWeights { get; init; }

    /// <summary><c>--golden</c>.</summary>
    [CommandOption("--golden <N>")]
    [Description("Golden windows recorded in the manifest for the scorer's parity check (from test; padded ones included). Default 256.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 100_000)]
    public int Golden { get; init; } = TrainingOptions.DefaultGoldenWindows;

    /// <summary><c>--threads</c>.</summary>
    [CommandOption("--threads <N>")]
    [Description("Threads for the LSTM and XGBoost. Default: all cores.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 1024)]
    public int? Threads { get; init; }

    /// <summary><c>--no-plots</c>.</summary>
    [CommandOption("--no-plots")]
    [Description("Skip the PR and ROC PNGs.")]
    public bool NoPlots { get; init; }

    /// <summary><c>--announce</c>.</summary>
    [CommandOption("--announce")]
    [Description("After publishing, announce the bundle on the compacted model-updates topic (needs --bootstrap and --schema-registry, and on a secured cluster --kafka-config and --schema-registry-config).")]
    public bool Announce { get; init; }

    /// <summary><c>--bootstrap</c> (null: the environment's, else the default).</summary>
    [CommandOption("--bootstrap <HOST:PORT>")]
    [Description($"Kafka for --announce (default: STREAMFRAUD_Kafka__BootstrapServers, else {Core.Endpoints.KafkaBootstrap}).")]
    public string? Bootstrap { get; init; }

    /// <summary><c>--kafka-config</c>.</summary>
    [CommandOption("--kafka-config <KEY=VALUE>")]
    [Description("For --announce: " + CommandLineClients.KafkaConfigHelp)]
    public string[] KafkaConfig { get; init; } = [];

    /// <summary><c>--schema-registry</c> (null: the environment's, else the default).</summary>
    [CommandOption("--schema-registry <URL>")]
    [Description($"Schema Registry for --announce (default: STREAMFRAUD_SchemaRegistry__Url, else {Core.Endpoints.SchemaRegistryUrl}).")]
    public string? SchemaRegistry { get; init; }

    /// <summary><c>--schema-registry-config</c>.</summary>
    [CommandOption("--schema-registry-config <KEY=VALUE>")]
    [Description("For --announce: " + CommandLineClients.SchemaRegistryConfigHelp)]
    public string[] SchemaRegistryConfig { get; init; } = [];

    /// <summary>The announcer's Kafka and Schema Registry settings: the flags over the <c>STREAMFRAUD_*</c> environment.</summary>
    /// <exception cref="UsageException">A client flag or variable is wrong (each problem named).</exception>
    public ClientSettings Clients() => ClientFlags.Read(
        new ClientFlagValues { Bootstrap = Bootstrap, KafkaConfig = KafkaConfig, SchemaRegistry = SchemaRegistry, SchemaRegistryConfig = SchemaRegistryConfig },
        ClientKinds.Kafka | ClientKinds.SchemaRegistry);

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        try
        {
            _ = ToTrainingOptions();
            var announceOnly = new[] { ("--bootstrap", Bootstrap is not null), ("--kafka-config", KafkaConfig.Length > 0), ("--schema-registry", SchemaRegistry is not null), ("--schema-registry-config", SchemaRegistryConfig.Length > 0) }
                .Where(f => f.Item2).Select(f => f.Item1).ToList();
            if (!Announce && announceOnly.Count > 0)
            {
                throw new UsageException($"{string.Join(", ", announceOnly)} {(announceOnly.Count == 1 ? "applies" : "apply")} to --announce; add --announce or drop {(announceOnly.Count == 1 ? "it" : "them")}");
            }

            return ValidationResult.Success();
        }
        catch (UsageException e)
        {
            return ValidationResult.Error(e.Message);
        }
    }

    /// <summary>The pipeline options the flags describe.</summary>
    /// <exception cref="UsageException">A required flag is missing or the flags contradict each other.</exception>
    public TrainingOptions ToTrainingOptions()
    {
        var input = Input ?? throw new UsageException("--input is required (e.g. --input history.csv)");
        var registry = Registry ?? throw new UsageException("--registry is required (e.g. --registry models)");
        var split = Split?.ToLowerInvariant() switch
        {
            "time" => SplitMode.Time,
            "random" => SplitMode.Random,
            _ => (SplitMode?)null,
        };
        var bounds = new TimeSplitBounds
        {
            TrainFrom = TrainFrom,
            TrainTo = TrainTo,
            ValidationFrom = ValidationFrom,
            ValidationTo = ValidationTo,
            TestFrom = TestFrom,
            TestTo = TestTo,
        };
        double? oversample = null;
        if (!string.Equals(Oversample, "none", StringComparison.OrdinalIgnoreCase))
        {
            if (!double.TryParse(Oversample, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) ||
                !(ratio >= 0 && ratio <= 100))
            {
                throw new UsageException($"--oversample must be 'none' or a ratio from 0 to 100, e.g. 0.1 or 1 (got '{Oversample}')");
            }

            oversample = ratio > 0 ? ratio : null;
        }

        var npz = input.EndsWith(".npz", StringComparison.OrdinalIgnoreCase);
        var timeFlags = string.Join(", ", bounds.Given().Select(g => g.Split(' ')[0]));
        if (split == SplitMode.Random && bounds.Any)
        {
            throw new UsageException($"{timeFlags} {(bounds.Given().Count() == 1 ? "places" : "place")} a time split and does not apply to --split random; drop {(bounds.Given().Count() == 1 ? "it" : "them")} or use --split time");
        }

        if (npz && split == SplitMode.Time)
        {
            throw new UsageException($"--split time needs event times, and --input {input} is an .npz, which has none; drop --split (an .npz is split at random, the notebook's protocol)");
        }

        if (npz && bounds.Any)
        {
            throw new UsageException($"{timeFlags} place a time split, and --input {input} is an .npz, which has no event times (it is split at random, the notebook's protocol); drop {timeFlags}");
        }

        // Date order, checked now rather than after the whole input was read: the flags among themselves (and bounds that
        // default to another flag) here; against the data's span below.
        if (!npz && split != SplitMode.Random && SplitPlanner.FlagProblem(bounds) is { } order)
        {
            throw new UsageException(order);
        }

        if (XgbMonotone is { } mono && mono.Equals("on", StringComparison.OrdinalIgnoreCase) && (npz || string.Equals(Spec, "v1", StringComparison.OrdinalIgnoreCase)))
        {
            throw new UsageException($"--xgb-monotone on constrains the label-history features of spec v2; {(npz ? $"--input {input} is an .npz (spec precomputed:F)" : "--spec v1")} has none: drop --xgb-monotone");
        }

        FeatureSpec? spec = null;
        if (Spec is not null)
        {
            spec = CsvFeaturing.ParseSpec(Spec) ?? throw new UsageException($"--spec must be v1 or v2 (got '{Spec}')");
        }

        Core.Labels.LabelDelay? delay = null;
        if (LabelDelay is not null)
        {
            if (!Core.Labels.LabelDelay.TryParse(LabelDelay, out var parsed, out var delayError))
            {
                throw new UsageException($"--label-delay: {delayError}");
            }

            delay = parsed;
        }

        var featuring = new CsvFeaturing
        {
            Spec = spec ?? CsvFeaturing.DefaultSpec,
            SpecGiven = spec is not null,
            LabelsPath = Labels,
            LabelDelay = delay,
        };
        var problem = featuring.Problem() ?? (npz ? featuring.NpzProblem(input) : null);
        if (problem is not null)
        {
            throw new UsageException(problem);
        }

        if (!npz && split != SplitMode.Random && SpanProblem(input, bounds) is { } outside)
        {
            throw new UsageException(outside);
        }

        return new TrainingOptions
        {
            InputPath = input,
            Spec = spec,
            LabelsPath = Labels,
            LabelDelay = delay,
            RegistryPath = registry,
            Promote = Promote,
            Split = split,
            Bounds = bounds,
            Epochs = Epochs,
            Seed = Seed,
            Hidden1 = Hidden1,
            Hidden2 = Hidden2,
            Loss = string.Equals(Loss, "bce", StringComparison.OrdinalIgnoreCase) ? LstmLossKind.CrossEntropy : LstmLossKind.Focal,
            OversampleRatio = oversample,
            XgbRounds = XgbRounds,
            XgbEarlyStoppingRounds = XgbEarlyStopping,
            XgbMonotone = XgbMonotone?.ToLowerInvariant() switch
            {
                "on" => true,
                "off" => false,
                _ => null,
            },
            Thresholds = new ThresholdSettings(CostFn, CostFp, TargetRecall),
            SearchWeights = SearchWeights,
            GoldenWindows = Golden,
            Threads = Threads,
            Plots = !NoPlots,
        };
    }

    /// <summary>
    /// The split against the data's span, before the input is featurised: the first and last rows give the span of a
    /// CSV in event-time order; only when that span shows a problem is every row's event time read (a file out of order
    /// could span more), and the problem is reported only if the real span has it too. Null when the file cannot be
    /// peeked at (missing, malformed): the full read reports that.
    /// </summary>
    private static string? SpanProblem(string input, TimeSplitBounds bounds)
    {
        if (InputSpan.Peek(input) is not { } peek || SplitPlanner.SpanProblem(bounds, peek) is null)
        {
            return null;
        }

        return InputSpan.Scan(input) is { } span ? SplitPlanner.SpanProblem(bounds, span) : null;
    }

    /// <summary>The date flags' format: an ISO date (midnight UTC) or date-time.</summary>
    private sealed class InstantConverter : FlagConverter
    {
        public override string Expectation => DateExpectation;

        protected override bool TryParse(string text, out object? value)
        {
            var ok = SplitPlanner.TryParseInstant(text, out var instant);
            value = instant;
            return ok;
        }
    }
}

/// <summary><c>train</c>: builds, self-checks and publishes a bundle; prints its version and the test metrics.</summary>
/// <param name="console">Results and progress.</param>
public sealed class TrainCommand(IAnsiConsole console) : Command<TrainSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = settings.ToTrainingOptions();
        var announce = settings.Announce;
        var clients = announce ? settings.Clients() : null; // checked before hours of training, not after
        foreach (var warning in clients?.Warnings ?? [])
        {
            console.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        }
        TrainingOutcome outcome;
        if (console.Profile.Capabilities.Interactive)
        {
            TrainingOutcome? result = null;
            var observer = new ProgressObserver(console);
            console.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    observer.Attach(ctx);
                    result = TrainingPipeline.Run(options, observer, cancellationToken);
                });
            outcome = result!;
            observer.WriteEpochTable();
            observer.WriteWarnings();
        }
        else
        {
            var observer = new LineObserver(console);
            outcome = TrainingPipeline.Run(options, observer, cancellationToken);
        }

        Results.WriteOutcome(console, outcome);
        if (announce)
        {
            var update = Kafka.ModelAnnouncer.Describe(outcome.BundleDirectory, outcome.Current?.Previous);
            try
            {
                var at = Kafka.ModelAnnouncer.AnnounceAsync(clients!.Kafka.Client(), clients.SchemaRegistry.Config(), update, cancellationToken: cancellationToken).GetAwaiter().GetResult();
                console.MarkupLineInterpolated($"announced {update.Version} on {at.Topic} (partition {at.Partition.Value}, offset {at.Offset.Value})");
            }
            catch (Exception e) when (e is Confluent.Kafka.KafkaException or Confluent.SchemaRegistry.SchemaRegistryException or HttpRequestException)
            {
                throw new UsageException($"--announce: the bundle is published, but announcing it on {clients!.Kafka.BootstrapServers} failed ({e.Message}); check --bootstrap, --kafka-config, --schema-registry and --schema-registry-config. Scorers still find a promoted bundle through current.json");
            }
        }

        return 0;
    }
}
