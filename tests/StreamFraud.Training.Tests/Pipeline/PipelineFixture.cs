using StreamFraud.Core.Data;
using StreamFraud.Sim.Generation;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>
/// Generates one small labelled history with the simulator (250 cards, 18 days from 2026-01-01, every scenario at 1%
/// of rows, about 8k transactions) and trains twice into one temporary registry with tiny models:
/// <see cref="Explicit"/> with explicit dates (two days of context, a one-day gap before test) and
/// <see cref="Default"/> with the default 60/20/20 split and <c>--promote</c>. Shared by the pipeline tests.
/// </summary>
public sealed class PipelineFixture : IDisposable
{
    public static readonly DateTimeOffset TrainFrom = new(2026, 1, 3, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset TrainTo = new(2026, 1, 11, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset ValidationFrom = new(2026, 1, 11, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset ValidationTo = new(2026, 1, 14, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset TestFrom = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset TestTo = new(2026, 1, 19, 0, 0, 0, TimeSpan.Zero);

    public PipelineFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "sf-pipeline-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        CsvPath = Path.Combine(Root, "history.csv");
        RegistryPath = Path.Combine(Root, "registry");
        var sim = new TransactionSimulator(new SimulationOptions
        {
            Cards = 250,
            Days = 18,
            Seed = 7,
            FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.01),
        });
        CanonicalCsv.Write(CsvPath, sim.Generate());

        Explicit = TrainingPipeline.Run(Tiny(CsvPath, RegistryPath, seed: 1, new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero)) with
        {
            Bounds = new TimeSplitBounds
            {
                TrainFrom = TrainFrom,
                TrainTo = TrainTo,
                ValidationFrom = ValidationFrom,
                ValidationTo = ValidationTo,
                TestFrom = TestFrom,
                TestTo = TestTo,
            },
        });
        Default = TrainingPipeline.Run(Tiny(CsvPath, RegistryPath, seed: 2, new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero)) with
        {
            Promote = true,
        });
    }

    public string Root { get; }

    public string CsvPath { get; }

    public string RegistryPath { get; }

    /// <summary>Explicit dates; not promoted; older version.</summary>
    public TrainingOutcome Explicit { get; }

    /// <summary>Default split; promoted; newer version.</summary>
    public TrainingOutcome Default { get; }

    /// <summary>Options for a fast run: LSTM 8/4 for 2 epochs, 20 XGBoost rounds, a pinned clock.</summary>
    public static TrainingOptions Tiny(string input, string registry, int seed, DateTimeOffset now) => new()
    {
        InputPath = input,
        RegistryPath = registry,
        Seed = seed,
        Epochs = 2,
        Hidden1 = 8,
        Hidden2 = 4,
        XgbRounds = 20,
        Clock = new FixedClock(now),
    };

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A clock stopped at one instant.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}
