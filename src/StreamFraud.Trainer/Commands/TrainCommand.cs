using System.Globalization;
using Spectre.Console;
using StreamFraud.Core.Evaluation;
using StreamFraud.Trainer.Cli;
using StreamFraud.Trainer.Rendering;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Commands;

/// <summary><c>train</c>: builds, self-checks and publishes a bundle; prints its version and the test metrics.</summary>
public sealed class TrainCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "train";

    /// <inheritdoc/>
    public string Summary => "Train the LSTM and XGBoost on labelled history and publish a bundle to the registry.";

    /// <inheritdoc/>
    public IReadOnlySet<string> Switches { get; } = new HashSet<string>(StringComparer.Ordinal) { "promote", "search-weights", "no-plots", "announce" };

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } =
    [
        new("input", "FILE", "Required. Canonical CSV of transactions (featurised with spec card v1, in event-time order) or a notebook .npz with X and y (spec precomputed:F, 7-row chunks)."),
        new("registry", "DIR", "Required. Model registry directory; the bundle is published as DIR/<version> (created if missing)."),
        new("promote", "", "Make the new bundle current (atomically replaces DIR/current.json) after it is published."),
        new("split", "time|random", "How examples are split. Default: time for a CSV, random for an .npz. random is the notebook's stratified, seeded protocol (20% test, then 20% of the rest validation); on a CSV it leaks the future."),
        new("train-from", "DATE", "Start of training (ISO date = midnight UTC, or date-time). Earlier history is context only: it fills windows but is never an example. Default: the first event's day."),
        new("train-to", "DATE", "End of training, exclusive. Default: --val-from, else --test-from."),
        new("val-from", "DATE", "Start of validation (give with --val-to). Without both, the last 20% of the training range is validation."),
        new("val-to", "DATE", "End of validation, exclusive."),
        new("test-from", "DATE", "Start of test. Default: the end of validation. A gap between ranges is simply unused."),
        new("test-to", "DATE", "End of test, exclusive. Default: midnight after the last event. Without any date flag the data's days are cut 60/20/20."),
        new("epochs", "N", "Maximum LSTM epochs; early stopping on validation AP (patience 8) may stop sooner. Default 40."),
        new("seed", "N", "Seed of initialisation, shuffling, dropout, XGBoost sampling, the random split and golden-window choice. Default 42."),
        new("cost-fn", "X", "Cost of a missed fraud for the cost_min threshold. Default 10."),
        new("cost-fp", "Y", "Cost of a false alarm for the cost_min threshold. Default 1."),
        new("target-recall", "R", "Recall the target_recall threshold must reach on validation, in (0, 1]. Default 0.70."),
        new("oversample", "none|RATIO", "Oversample LSTM positives to RATIO × negatives (e.g. 0.1, 1 = the notebook's 1:1). Default none (measured best; see the README)."),
        new("loss", "focal|bce", "LSTM loss: binary focal (γ 3, α 0.9, the notebook's) or cross-entropy. Default focal."),
        new("hidden1", "N", "Units of the first LSTM layer. Default 128."),
        new("hidden2", "N", "Units of the second LSTM layer. Default 64."),
        new("xgb-rounds", "N", "Maximum XGBoost rounds; early stopping on validation aucpr may stop sooner. Default 600."),
        new("xgb-early-stopping", "N", "XGBoost rounds without validation aucpr improvement before stopping. Default 50."),
        new("search-weights", "", "Choose the LSTM weight in 0, 0.05, …, 1 by validation average precision instead of 0.5/0.5."),
        new("golden", "N", "Golden windows recorded in the manifest for the scorer's parity check (from test; padded ones included). Default 256."),
        new("threads", "N", "Threads for the LSTM and XGBoost. Default: all cores."),
        new("no-plots", "", "Skip the PR and ROC PNGs."),
        new("announce", "", "After publishing, announce the bundle on the compacted model-updates topic (needs --bootstrap and --schema-registry)."),
        new("bootstrap", "HOST:PORT", "Kafka for --announce (default localhost:9092)."),
        new("schema-registry", "URL", "Schema Registry for --announce (default http://localhost:8081)."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } =
    [
        "StreamFraud.Trainer train --input history.csv --registry models",
        "StreamFraud.Trainer train --input history.csv --registry models --train-from 2026-01-08 --train-to 2026-02-01 --val-from 2026-02-01 --val-to 2026-02-08 --test-from 2026-02-10 --test-to 2026-02-17 --promote",
        "StreamFraud.Trainer train --input notebook.npz --registry models --split random --epochs 10",
    ];

    /// <summary>Turns the flags into pipeline options.</summary>
    /// <exception cref="UsageException">A flag is missing or malformed.</exception>
    public static TrainingOptions ParseOptions(CommandArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var input = args.Required("input", "history.csv");
        var registry = args.Required("registry", "models");
        var split = args.Choice("split", "", "time", "random") switch
        {
            "time" => SplitMode.Time,
            "random" => SplitMode.Random,
            _ => (SplitMode?)null,
        };
        var bounds = new TimeSplitBounds
        {
            TrainFrom = args.Instant("train-from"),
            TrainTo = args.Instant("train-to"),
            ValidationFrom = args.Instant("val-from"),
            ValidationTo = args.Instant("val-to"),
            TestFrom = args.Instant("test-from"),
            TestTo = args.Instant("test-to"),
        };
        var oversampleText = args.String("oversample", "none")!;
        double? oversample = null;
        if (!string.Equals(oversampleText, "none", StringComparison.OrdinalIgnoreCase))
        {
            if (!double.TryParse(oversampleText, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) ||
                !(ratio >= 0 && ratio <= 100))
            {
                throw new UsageException($"--oversample must be 'none' or a ratio from 0 to 100, e.g. 0.1 or 1 (got '{oversampleText}')");
            }

            oversample = ratio > 0 ? ratio : null;
        }

        var loss = args.Choice("loss", "focal", "focal", "bce") == "bce" ? LstmLossKind.CrossEntropy : LstmLossKind.Focal;
        var costFn = args.Double("cost-fn", ThresholdSettings.DefaultCostFalseNegative, 0, 1e12);
        var costFp = args.Double("cost-fp", ThresholdSettings.DefaultCostFalsePositive, 0, 1e12);
        var recall = args.Double("target-recall", ThresholdSettings.DefaultTargetRecall, 0, 1, exclusiveMin: true);
        var threads = args.Has("threads") ? args.Int("threads", 0, 1, 1024) : (int?)null;
        var options = new TrainingOptions
        {
            InputPath = input,
            RegistryPath = registry,
            Promote = args.Switch("promote"),
            Split = split,
            Bounds = bounds,
            Epochs = args.Int("epochs", 40, 1, 10_000),
            Seed = args.Int("seed", 42, int.MinValue, int.MaxValue),
            Hidden1 = args.Int("hidden1", 128, 1, 4096),
            Hidden2 = args.Int("hidden2", 64, 1, 4096),
            Loss = loss,
            OversampleRatio = oversample,
            XgbRounds = args.Int("xgb-rounds", 600, 1, 100_000),
            XgbEarlyStoppingRounds = args.Int("xgb-early-stopping", 50, 1, 100_000),
            Thresholds = new ThresholdSettings(costFn, costFp, recall),
            SearchWeights = args.Switch("search-weights"),
            GoldenWindows = args.Int("golden", TrainingOptions.DefaultGoldenWindows, 1, 100_000),
            Threads = threads,
            Plots = !args.Switch("no-plots"),
        };
        if (split == SplitMode.Random && bounds.Any)
        {
            throw new UsageException("the time-split flags (--train-from … --test-to) do not apply to --split random; drop them or use --split time");
        }

        return options;
    }

    /// <inheritdoc/>
    public Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var options = ParseOptions(args);
        var announce = args.Switch("announce");
        var bootstrap = args.String("bootstrap", Core.Endpoints.KafkaBootstrap)!;
        var schemaRegistry = args.String("schema-registry", Core.Endpoints.SchemaRegistryUrl)!;
        args.RejectUnknown("train");
        var console = context.Output;
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
                    result = TrainingPipeline.Run(options, observer, context.CancellationToken);
                });
            outcome = result!;
            observer.WriteEpochTable();
            observer.WriteWarnings();
        }
        else
        {
            var observer = new LineObserver(console);
            outcome = TrainingPipeline.Run(options, observer, context.CancellationToken);
        }

        Results.WriteOutcome(console, outcome);
        if (announce)
        {
            var update = Kafka.ModelAnnouncer.Describe(outcome.BundleDirectory, outcome.Current?.Previous);
            try
            {
                var at = Kafka.ModelAnnouncer.AnnounceAsync(bootstrap, schemaRegistry, update, cancellationToken: context.CancellationToken).GetAwaiter().GetResult();
                console.MarkupLineInterpolated($"announced {update.Version} on {at.Topic} (partition {at.Partition.Value}, offset {at.Offset.Value})");
            }
            catch (Exception e) when (e is Confluent.Kafka.KafkaException or Confluent.SchemaRegistry.SchemaRegistryException or HttpRequestException)
            {
                throw new UsageException($"--announce: the bundle is published, but announcing it on {bootstrap} failed ({e.Message}); check --bootstrap and --schema-registry. Scorers still find a promoted bundle through current.json");
            }
        }

        return Task.FromResult(0);
    }
}
