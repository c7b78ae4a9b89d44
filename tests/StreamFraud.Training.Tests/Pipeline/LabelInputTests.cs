using System.Text.Json;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Sim.Generation;
using StreamFraud.Trainer;
using StreamFraud.Trainer.Commands;
using StreamFraud.Training.Pipeline;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>
/// The trainer's spec and label inputs: <c>--spec v1|v2</c>, <c>--labels FILE</c>, <c>--label-delay</c> — what the
/// CSV is featurised with (equal to <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/>
/// with the same feed), what the report says about the labels, and flags that do not fit refused before any input is read.
/// </summary>
public sealed class LabelInputTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sf-labels-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<Transaction> _history;
    private readonly string _csv;

    public LabelInputTests()
    {
        Directory.CreateDirectory(_root);
        _history = new TransactionSimulator(new SimulationOptions
        {
            Cards = 120,
            Days = 16,
            Seed = 11,
            FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.01),
        }).Generate().ToList();
        _csv = Path.Combine(_root, "history.csv");
        CanonicalCsv.Write(_csv, _history);
    }

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
    public void Load_LabelsFile_FeaturesEqualTheFileReplayedByLabelTime_AndTheCountsAreReported()
    {
        var labels = Labels(_history, seed: 3);
        var path = Path.Combine(_root, "labels.csv");
        LabelCsv.Write(path, labels.OrderBy(l => l.LabelTimeMs)); // as the generator writes them
        var expected = TrainingSet.Build(FeatureSpec.CardV2, _history, LabelFeed.FromLabels(LabelCsv.Read(path)));

        var loaded = InputLoader.Load(_csv, new CsvFeaturing { LabelsPath = path });

        var set = ((TransactionExamples)loaded.Examples).Set;
        Assert.Equal(FeatureSpec.CardV2, set.Spec);
        Assert.Equal(expected.TransactionIds.ToArray(), set.TransactionIds.ToArray());
        Assert.True(expected.Vectors.SequenceEqual(set.Vectors), "the trainer's vectors differ from TrainingSet.Build with the labels file");
        var d = loaded.Description.Labels!;
        var s = expected.LabelStats!;
        Assert.Equal(("file", "labels.csv", labels.Count), (d.Source, d.FileName, (int)d.Labels));
        Assert.Equal(BundleRegistry.Sha256(path), d.Sha256);
        Assert.Equal((s.Offered, s.NotReached, s.Applied, s.Flipped, s.Duplicates, s.Superseded, s.Stale, s.Conflicting, s.Invalid),
            (d.Offered, d.NotReached, d.Applied, d.Flipped, d.Duplicates, d.Superseded, d.Stale, d.Conflicting, d.Invalid));
        Assert.True(d.Flipped > 0 && d.Duplicates > 0, $"flips and duplicates should be exercised: {d}");
        Assert.Equal(1, d.UnknownTransactions);
        Assert.Contains(loaded.Warnings, w => w.Contains("1 of", StringComparison.Ordinal) && w.Contains("not have", StringComparison.Ordinal));

        // The labels change the label features (else the test proves nothing), and only those.
        var simulated = TrainingSet.Build(FeatureSpec.CardV2, _history, LabelFeed.FromDelay(LabelDelay.Default));
        Assert.False(simulated.Vectors.SequenceEqual(set.Vectors));
        var v1 = TrainingSet.Build(FeatureSpec.CardV1, _history);
        for (var i = 0; i < set.Count; i++)
        {
            Assert.True(set.Vector(i)[..FeatureSpec.CardV1.Dimension].SequenceEqual(v1.Vector(i)));
        }
    }

    [Fact]
    public void Load_LabelDelayDistribution_SimulatesWithThatDelay()
    {
        Assert.True(LabelDelay.TryParse("exp:3d", out var delay, out _));
        var expected = TrainingSet.Build(FeatureSpec.CardV2, _history, LabelFeed.FromDelay(delay));

        var loaded = InputLoader.Load(_csv, new CsvFeaturing { LabelDelay = delay });

        Assert.True(expected.Vectors.SequenceEqual(((TransactionExamples)loaded.Examples).Set.Vectors));
        var d = loaded.Description.Labels!;
        Assert.Equal(("simulated", "exp:3d"), (d.Source, d.Delay));
        Assert.Contains("exponentially distributed delay with mean 3d", d.Description, StringComparison.Ordinal);
        Assert.Equal(expected.LabelStats!.Applied, d.Applied);
        Assert.Equal(loaded.Description.Frauds, d.Labels);
    }

    [Fact]
    public void Load_SpecV1_FiftySixFeaturesAndNoLabels()
    {
        var loaded = InputLoader.Load(_csv, new CsvFeaturing { Spec = FeatureSpec.CardV1, SpecGiven = true });

        var set = ((TransactionExamples)loaded.Examples).Set;
        Assert.Equal(56, set.Dimension);
        Assert.Null(loaded.Description.Labels);
        Assert.Null(set.LabelStats);
        Assert.True(TrainingSet.Build(FeatureSpec.CardV1, _history).Vectors.SequenceEqual(set.Vectors));
    }

    [Fact]
    public void Load_BadLabelsFile_NamesFileLineAndColumns()
    {
        var path = Path.Combine(_root, "broken-labels.csv");
        File.WriteAllText(path, LabelCsv.Header + "\nt1,c1,m1,2026-01-02T00:00:00Z,2026-01-01T00:00:00Z,true,chargeback,\n");

        var e = Assert.Throws<TrainingException>(() => InputLoader.Load(_csv, new CsvFeaturing { LabelsPath = path }));

        Assert.Contains("broken-labels.csv", e.Message);
        Assert.Contains("line 2", e.Message);
        Assert.Contains(LabelCsv.Header, e.Message);
    }

    [Fact]
    public void Load_MissingLabelsFile_SaysWhatToPassOrDrop()
    {
        var e = Assert.Throws<TrainingException>(() => InputLoader.Load(_csv, new CsvFeaturing { LabelsPath = Path.Combine(_root, "nope.csv") }));

        Assert.Contains("--labels", e.Message);
        Assert.Contains("no such file", e.Message);
        Assert.Contains("--label-delay", e.Message);
    }

    [Fact]
    public async Task Train_FlagsThatDoNotFit_ExitWithUsageErrorsNamingThemBeforeAnyInputIsRead()
    {
        var missing = Path.Combine(_root, "not-there.csv"); // exit 2, not the missing file's 1: flags are checked first
        var registry = Path.Combine(_root, "registry");
        (string[] Args, string[] Expected)[] cases =
        [
            (["--spec", "v3"], ["--spec", "v1, v2"]),
            (["--spec", "v1", "--labels", "labels.csv"], ["--labels", "--spec v2", "reads no labels"]),
            (["--spec", "v1", "--label-delay", "3d"], ["--label-delay", "reads no labels"]),
            (["--labels", "labels.csv", "--label-delay", "3d"], ["--label-delay", "--labels", "give one of them"]),
            (["--label-delay", "soon"], ["--label-delay", "exp:3d", "uniform:1d..14d"]),
            (["--label-delay", "uniform:5d..1d"], ["--label-delay", "MIN ≤ MAX"]),
        ];
        foreach (var (args, expected) in cases)
        {
            var (code, _, error) = await Run(["train", "--input", missing, "--registry", registry, .. args]);
            Assert.True(code == TrainerApp.UsageExitCode, $"{string.Join(' ', args)}: exit {code}, {error}");
            foreach (var text in expected)
            {
                Assert.Contains(text, error);
            }
        }

        var (npzCode, _, npzError) = await Run("train", "--input", Path.Combine(_root, "x.npz"), "--registry", registry, "--spec", "v2", "--label-delay", "1d");
        Assert.Equal(TrainerApp.UsageExitCode, npzCode);
        Assert.Contains("--spec, --label-delay apply to a CSV input", npzError);
        Assert.False(Directory.Exists(registry));
    }

    [Fact]
    public void ParseOptions_SpecAndLabelFlags_MapOntoTrainingOptions()
    {
        var defaults = Parse<TrainSettings>("--input", "a.csv", "--registry", "r").ToTrainingOptions();
        Assert.Null(defaults.Spec);
        Assert.Equal(FeatureSpec.CardV2, defaults.ToCsvFeaturing().Spec);
        Assert.Equal("7d", defaults.ToCsvFeaturing().EffectiveDelay.Text);

        var v1 = Parse<TrainSettings>("--input", "a.csv", "--registry", "r", "--spec", "V1").ToTrainingOptions();
        Assert.Equal(FeatureSpec.CardV1, v1.Spec);

        var file = Parse<TrainSettings>("--input", "a.csv", "--registry", "r", "--labels", "l.csv").ToTrainingOptions();
        Assert.Equal(("l.csv", null), (file.LabelsPath, file.LabelDelay));

        var delayed = Parse<TrainSettings>("--input", "a.csv", "--registry", "r", "--spec", "v2", "--label-delay", "uniform:1d..14d").ToTrainingOptions();
        Assert.Equal("uniform:1d..14d", delayed.LabelDelay!.Text);
    }

    [Fact]
    public async Task Train_SpecV1AndLabelsFile_BundlesRecordTheirSpecAndTheReportItsLabels()
    {
        var registry = Path.Combine(_root, "cli-registry");
        var labelsPath = Path.Combine(_root, "labels.csv");
        LabelCsv.Write(labelsPath, Labels(_history, seed: 4));
        string[] tiny = ["--registry", registry, "--epochs", "1", "--hidden1", "8", "--hidden2", "4", "--xgb-rounds", "5", "--golden", "16", "--no-plots"];

        var (code, output, error) = await Run(["train", "--input", _csv, "--spec", "v1", .. tiny]);
        Assert.True(code == 0, error);
        Assert.Contains("features: spec card v1 (56 per transaction)", output);
        Assert.DoesNotContain("labels:", output);
        var v1 = Assert.Single(new BundleRegistry(registry).Versions());
        var manifest = BundleManifest.Read(Path.Combine(registry, v1, BundleManifest.FileName));
        Assert.Equal((1, 56), (manifest.FeatureSpec.Version, manifest.FeatureSpec.Dimension));
        using (var bundle = ModelBundle.Load(Path.Combine(registry, v1), FeatureSpec.CardV1))
        {
            Assert.Equal("card", bundle.Manifest.FeatureSpec.Name);
        }

        (code, output, error) = await Run(["train", "--input", _csv, "--labels", labelsPath, "--seed", "5", .. tiny]);
        Assert.True(code == 0, error);
        Assert.Contains("features: spec card v2 (75 per transaction)", output);
        Assert.Contains("labels: labels file labels.csv, replayed by label time", output);
        var v2 = Assert.Single(new BundleRegistry(registry).Versions(), v => v != v1);
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(registry, v2, TrainingReport.FileName)));
        var labels = report.RootElement.GetProperty("data").GetProperty("labels");
        Assert.Equal("file", labels.GetProperty("source").GetString());
        Assert.Equal(BundleRegistry.Sha256(labelsPath), labels.GetProperty("sha256").GetString());
        Assert.Equal(2, report.RootElement.GetProperty("settings").GetProperty("feature_spec").GetProperty("version").GetInt32());
        using var v2Bundle = ModelBundle.Load(Path.Combine(registry, v2), FeatureSpec.CardV2);
        Assert.Equal(75, v2Bundle.Manifest.FeatureSpec.Dimension);
    }

    /// <summary>
    /// Labels of <paramref name="history"/> as a label feed would deliver them: each fraud labelled 1–9 days later
    /// (some twice, by two sources), a few legitimate transactions claimed as fraud and rejected later, and one label of a
    /// transaction the history does not have.
    /// </summary>
    private static List<TransactionLabel> Labels(List<Transaction> history, int seed)
    {
        var rng = new Random(seed);
        const long Day = 86_400_000;
        var labels = new List<TransactionLabel>();
        foreach (var t in history.Where(t => t.IsFraud == true))
        {
            var at = t.EventTimeMs + Day + rng.NextInt64(8 * Day);
            labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at, true, LabelOrigin.Chargeback, t.Amount));
            if (rng.Next(5) == 0)
            {
                labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at + Day, true, LabelOrigin.Analyst));
            }
        }

        foreach (var t in history.Where(t => t.IsFraud != true).OrderBy(_ => rng.Next()).Take(20))
        {
            var at = t.EventTimeMs + rng.NextInt64(3 * Day);
            labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at, true, LabelOrigin.CustomerClaim));
            labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at + (2 * Day), false, LabelOrigin.Analyst));
        }

        var last = history[^1];
        labels.Add(new TransactionLabel("not-in-history", last.CardId, last.MerchantId, last.EventTimeMs - Day, last.EventTimeMs - 1000, true));
        return labels;
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await TrainerApp.RunAsync(args, Console(output), Console(error));
        return (code, output.ToString(), error.ToString());
    }
}
