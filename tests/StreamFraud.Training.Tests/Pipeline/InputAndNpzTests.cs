using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Training.Pipeline;
using StreamFraud.Training.Tests.Data;

namespace StreamFraud.Training.Tests.Pipeline;

public sealed class InputAndNpzTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sf-input-" + Guid.NewGuid().ToString("N")[..8]);

    public InputAndNpzTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void Run_SyntheticNpzWithRandomSplit_PublishesABundleTheScorerAccepts()
    {
        // The notebook's shape, scaled down: consecutive rows × F features, ~8% fraud rows; fraud shifts feature 0.
        const int f = 12;
        const int rows = 7 * 420 + 3; // three trailing rows that fill no chunk
        var rng = new Random(11);
        var x = new float[rows * f];
        var y = new long[rows];
        for (var r = 0; r < rows; r++)
        {
            y[r] = rng.NextDouble() < 0.08 ? 1 : 0;
            for (var c = 0; c < f; c++)
            {
                x[(r * f) + c] = (float)((rng.NextDouble() * 2) - 1) + (c == 0 && y[r] == 1 ? 1.5f : 0f);
            }
        }

        var path = Path.Combine(_root, "notebook.npz");
        File.WriteAllBytes(path, NpyWriter.Npz(
            ("X.npy", NpyWriter.Npy("<f4", $"({rows}, {f})", NpyWriter.F4(x))),
            ("y.npy", NpyWriter.Npy("<i8", $"({rows},)", NpyWriter.I8(y)))));
        var registry = Path.Combine(_root, "registry");

        // No --split: an .npz has no event times, so the random split is chosen (and said so).
        var outcome = TrainingPipeline.Run(PipelineFixture.Tiny(path, registry, seed: 3, DateTimeOffset.UnixEpoch.AddDays(20_000)) with
        {
            GoldenWindows = 64,
        });

        var report = outcome.Report;
        Assert.Equal("random", report.Split.Mode);
        Assert.Equal(420, report.Split.Counts.Values.Sum(c => c.Examples));
        Assert.Equal(84, report.Split.Counts["test"].Examples); // ⌈0.2 · 420⌉
        Assert.Equal(3, report.Data.DroppedRows);
        Assert.Equal(y.Count(v => v == 1), report.Data.Frauds);
        Assert.Null(report.Metrics["test"]["ensemble"].CardPrecisionAt100);
        Assert.Null(report.Scenarios);
        Assert.True(report.Metrics["test"]["xgb"].RocAuc > 0.8, $"XGBoost should learn the shifted feature (AUC {report.Metrics["test"]["xgb"].RocAuc})");

        var spec = PrecomputedFeatureSpec.Create(f);
        using var bundle = ModelBundle.Load(outcome.BundleDirectory, spec);
        Assert.Equal("precomputed:12", bundle.Manifest.FeatureSpec.Name);
        Assert.Equal(64, bundle.Manifest.GoldenWindows.Count);

        // Chunks are always full, so the padded golden windows are test windows with their oldest steps zeroed.
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], bundle.Manifest.GoldenWindows.Select(g => g.RealSteps).Distinct().Order().ToArray());
        Assert.Contains(report.Warnings, w => w.Contains("random split", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_CsvOutOfEventTimeOrder_SortsAndWarnsAndFeaturisesAsSorted()
    {
        var rng = new Random(5);
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var sorted = Enumerable.Range(0, 300)
            .Select(i => new Transaction($"t{i:D4}", $"c{i % 7}", $"m{i % 13}", 10 + (i % 17), "EUR", t0 + (i * 60_000L), "5411", "FR", "pos",
                IsFraud: i % 29 == 0, FraudScenario: i % 29 == 0 ? "card_testing" : null))
            .ToList();
        var shuffled = sorted.OrderBy(_ => rng.Next()).ToList();
        var path = Path.Combine(_root, "shuffled.csv");
        CanonicalCsv.Write(path, shuffled);

        var loaded = InputLoader.Load(path);

        Assert.True(loaded.Description.Sorted);
        Assert.Contains(loaded.Warnings, w => w.Contains("not in event-time order", StringComparison.Ordinal));
        var expected = TrainingSet.Build(FeatureSpec.CardV2, sorted, LabelFeed.FromDelay(LabelDelay.Default)); // the default spec and labels
        var actual = ((TransactionExamples)loaded.Examples).Set;
        Assert.Equal(expected.TransactionIds.ToArray(), actual.TransactionIds.ToArray());
        Assert.Equal(expected.Vectors.ToArray(), actual.Vectors.ToArray());
        Assert.Equal(expected.WindowRows.ToArray(), actual.WindowRows.ToArray());
        Assert.Equal(300, loaded.Description.Rows);
        Assert.Equal(sorted.Count(t => t.IsFraud == true), loaded.Description.Frauds);
    }

    [Fact]
    public void Load_CsvWithoutLabels_RefusesWithWhatIsMissing()
    {
        var path = Path.Combine(_root, "unlabelled.csv");
        File.WriteAllText(path, "transaction_id,card_id,merchant_id,amount,currency,event_time\nt1,c1,m1,10,EUR,2026-01-01T00:00:00.000Z\n");

        var e = Assert.Throws<TrainingException>(() => InputLoader.Load(path));

        Assert.Contains("no is_fraud column", e.Message);
    }

    [Fact]
    public void Load_MalformedCsv_NamesFileAndLine()
    {
        var path = Path.Combine(_root, "broken.csv");
        File.WriteAllText(path, CanonicalCsv.Header + "\nt1,c1,m1,ten,EUR,2026-01-01T00:00:00.000Z,5411,FR,pos,false,\n");

        var e = Assert.Throws<TrainingException>(() => InputLoader.Load(path));

        Assert.Contains("broken.csv", e.Message);
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Load_NotAnNpz_SaysHowToSaveOne()
    {
        var path = Path.Combine(_root, "fake.npz");
        File.WriteAllText(path, "not a zip");

        var e = Assert.Throws<TrainingException>(() => InputLoader.Load(path));

        Assert.Contains("np.savez", e.Message);
    }
}
