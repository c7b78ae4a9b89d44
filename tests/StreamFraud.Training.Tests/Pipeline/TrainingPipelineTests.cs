using System.Security.Cryptography;
using System.Text.Json;
using StreamFraud.Core.Data;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Training.Tests.Pipeline;

[Collection(PipelineCollection.Name)]
public sealed class TrainingPipelineTests(PipelineFixture fixture)
{
    private static readonly string[] Models = ["lstm", "xgb", "ensemble"];

    [Fact]
    public void Run_CsvInput_BundleDirectoryHoldsEveryFile()
    {
        var files = Directory.EnumerateFiles(fixture.Explicit.BundleDirectory).Select(f => Path.GetFileName(f)).Order().ToArray();

        Assert.Equal<string[]>(
            ["lstm.onnx", "manifest.json", "pr_test.png", "report.json", "report.md", "roc_test.png", "xgb.json"],
            files);
        Assert.Equal(Path.Combine(Path.GetFullPath(fixture.RegistryPath), fixture.Explicit.Version), fixture.Explicit.BundleDirectory);
        Assert.Matches(@"^20260201-000000-[0-9a-f]{6}$", fixture.Explicit.Version);
        Assert.DoesNotContain(Directory.EnumerateDirectories(fixture.RegistryPath), d => Path.GetFileName(d).StartsWith('.'));
        var png = File.ReadAllBytes(Path.Combine(fixture.Explicit.BundleDirectory, "pr_test.png"));
        Assert.True(png.Length > 1000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', "pr_test.png is not a rendered PNG");
    }

    [Fact]
    public void Run_CsvInput_ManifestSha256sMatchEveryFile()
    {
        var dir = fixture.Explicit.BundleDirectory;
        var manifest = BundleManifest.Read(Path.Combine(dir, BundleManifest.FileName));

        var onDisk = Directory.EnumerateFiles(dir).Select(f => Path.GetFileName(f)).Where(f => f != BundleManifest.FileName).Order().ToArray();
        Assert.Equal(onDisk, manifest.Files.Keys.Order().ToArray());
        foreach (var (name, file) in manifest.Files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir, name));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), file.Sha256);
            Assert.Equal(bytes.Length, file.Bytes);
        }

        var spec = FeatureSpec.CardV2; // the default
        Assert.Equal(new FeatureSpecRef(spec.Name, spec.Version, spec.Dimension, spec.ContentHash), manifest.FeatureSpec);
        Assert.Equal("cost_min", manifest.DefaultPolicy);
        Assert.Equal(fixture.Explicit.Report.History.Xgb.BestIteration + 1, manifest.XgbIterations);
        Assert.Equal("history.csv", manifest.TrainingData!.Source);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(fixture.CsvPath))), manifest.TrainingData.Sha256);
        Assert.Equal(File.ReadLines(fixture.CsvPath).Count() - 1, manifest.TrainingData.Rows);
    }

    [Fact]
    public void Run_CsvInput_ModelBundleLoadAcceptsAndGoldenWindowsReproduce()
    {
        var dir = fixture.Explicit.BundleDirectory;
        using var bundle = ModelBundle.Load(dir, FeatureSpec.CardV2, new BundleLoadOptions { LstmPath = LstmPathChoice.OnnxRuntime }); // the reference path: the trainer's forward pass to 1e-5
        var golden = bundle.Manifest.GoldenWindows;

        Assert.Equal(TrainingOptions.DefaultGoldenWindows, golden.Count);
        var lengths = golden.Select(g => g.RealSteps).Distinct().Order().ToArray();
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], lengths);
        var windows = golden.SelectMany(g => g.Decode()).ToArray();
        var scores = new ScoreBuffers(golden.Count);
        bundle.Score(windows, golden.Count, scores);
        for (var i = 0; i < golden.Count; i++)
        {
            Assert.Equal(golden[i].Lstm, scores.Lstm[i], 1e-5);
            Assert.Equal(golden[i].Xgb, scores.Xgb[i], 1e-6);
            Assert.Equal(golden[i].Ensemble, scores.Ensemble[i], 1e-5);

            // Padding is zeros on the left, exactly as many steps as the window lacks.
            var w = golden[i].Decode();
            var d = FeatureSpec.CardV2.Dimension;
            var padded = FeatureSpec.WindowLength - golden[i].RealSteps;
            Assert.All(w.Take(padded * d), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Run_CsvInput_ReportMetricsEqualRecomputationFromTheBundlesModels()
    {
        var (test, _) = RebuildSplits();
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(fixture.Explicit.BundleDirectory, TrainingReport.FileName)));
        var root = report.RootElement;
        foreach (var model in Models)
        {
            var scores = test.Scores[model];
            var rocAuc = Reference.Number(root, $"metrics.test.{model}.roc_auc");
            var ap = Reference.Number(root, $"metrics.test.{model}.average_precision");
            var cp = Reference.Number(root, $"metrics.test.{model}.card_precision_at_100");

            // XGBoost runs in the same library either way: exact. The LSTM is recomputed through ONNX Runtime, which agrees
            // with the trainer's forward pass within 1e-5, so near-ties may swap and the ranking metrics move a little.
            var tolerance = model == "xgb" ? 1e-12 : 2e-3;
            Assert.Equal(Reference.RocAuc(scores, test.Labels), rocAuc, tolerance);
            Assert.Equal(Reference.AveragePrecision(scores, test.Labels), ap, tolerance);
            Assert.Equal(Reference.CardPrecisionAtK(scores, test.Labels, test.Cards, test.Times), cp, model == "xgb" ? 1e-12 : 0.02);
            foreach (var split in new[] { "validation", "test" })
            {
                foreach (var metric in new[] { "roc_auc", "average_precision", "card_precision_at_100" })
                {
                    Assert.InRange(Reference.Number(root, $"metrics.{split}.{model}.{metric}"), 0.0, 1.0);
                }

                foreach (var policy in new[] { "cost_min", "best_f1", "target_recall" })
                {
                    foreach (var field in new[] { "precision", "recall", "f1", "cost", "confusion.true_positives", "confusion.false_positives" })
                    {
                        _ = Reference.Number(root, $"metrics.{split}.{model}.thresholds.{policy}.{field}");
                    }
                }
            }
        }

        Assert.Equal(test.Labels.Length, (int)Reference.Number(root, "metrics.test.ensemble.count"));
        Assert.Equal("csv", root.GetProperty("data").GetProperty("format").GetString());
        Assert.Equal("time", root.GetProperty("split").GetProperty("mode").GetString());
    }

    [Fact]
    public void Run_CsvInput_ThresholdsAreChosenOnValidationAndCarriedToTest()
    {
        var (test, validation) = RebuildSplits();
        var settings = fixture.Explicit.Report.Settings;
        var chosen = Reference.MinCostThreshold(validation.Scores["xgb"], validation.Labels, settings.CostFn, settings.CostFp);
        var metrics = fixture.Explicit.Report.Metrics;

        Assert.Equal(chosen, fixture.Explicit.Report.Thresholds["xgb"].CostMin);
        Assert.Equal(chosen, metrics["validation"]["xgb"].Thresholds.CostMin.Threshold);
        Assert.Equal(chosen, metrics["test"]["xgb"].Thresholds.CostMin.Threshold);
        var tp = test.Scores["xgb"].Where((s, i) => s >= chosen && test.Labels[i]).Count();
        var fp = test.Scores["xgb"].Where((s, i) => s >= chosen && !test.Labels[i]).Count();
        Assert.Equal(tp, metrics["test"]["xgb"].Thresholds.CostMin.Confusion.TruePositives);
        Assert.Equal(fp, metrics["test"]["xgb"].Thresholds.CostMin.Confusion.FalsePositives);

        // The bundle serves the ensemble's validation thresholds.
        var manifest = fixture.Explicit.Manifest;
        Assert.Equal(metrics["validation"]["ensemble"].Thresholds.CostMin.Threshold, manifest.Thresholds.CostMin.Threshold);
        Assert.Equal(10, manifest.Thresholds.CostMin.CostFn);
        Assert.Equal(1, manifest.Thresholds.CostMin.CostFp);
        Assert.Equal(0.7, manifest.Thresholds.TargetRecall.Target);
        Assert.Equal(metrics["validation"]["ensemble"].Thresholds.BestF1.Threshold, manifest.Thresholds.BestF1);
    }

    [Fact]
    public void Run_CsvInput_ReportMarkdownShowsTheFullConfusionMatrix()
    {
        var (test, _) = RebuildSplits();
        var md = File.ReadAllText(Path.Combine(fixture.Explicit.BundleDirectory, MarkdownReport.FileName));
        var section = md[md.IndexOf("## Test metrics", StringComparison.Ordinal)..md.IndexOf("## Validation metrics", StringComparison.Ordinal)];
        var header = section.Split('\n').Single(l => l.StartsWith("| model |", StringComparison.Ordinal));
        Assert.EndsWith("| TP | FP | FN | TN |", header);
        var rows = section.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| model", StringComparison.Ordinal))
            .Select(l => l.Split('|').Select(c => c.Trim()).ToArray()).ToList();
        var model = "";
        var checkedRows = 0;
        foreach (var c in rows)
        {
            model = c[1].Length > 0 ? c[1] : model;
            var policy = c[5];
            var threshold = fixture.Explicit.Report.Metrics["test"][model].Thresholds.All.Single(t => t.Policy.ToName() == policy).Threshold;
            // Counted from the bundle's own scores of the rebuilt test split, not from the report's confusion matrix.
            var scores = test.Scores[model];
            long Count(bool fraud, bool flagged) => scores.Where((s, i) => test.Labels[i] == fraud && (s >= threshold) == flagged).LongCount();
            long Cell(int column) => long.Parse(c[column], System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture);
            // XGBoost runs in the same library either way: exact. The LSTM (and so the ensemble) is recomputed through ONNX
            // Runtime, within 1e-5 of the trainer's forward pass: only scores that close to the threshold may change side.
            var ties = model == "xgb" ? 0 : scores.LongCount(s => Math.Abs(s - threshold) <= 1e-5);
            Assert.InRange(Cell(11) - Count(true, true), -ties, ties);
            Assert.InRange(Cell(12) - Count(false, true), -ties, ties);
            Assert.InRange(Cell(13) - Count(true, false), -ties, ties);
            Assert.InRange(Cell(14) - Count(false, false), -ties, ties);
            Assert.Equal(test.Labels.Length, Cell(11) + Cell(12) + Cell(13) + Cell(14));
            checkedRows++;
        }

        Assert.Equal(9, checkedRows); // 3 models × 3 policies
    }

    [Fact]
    public void Run_ExplicitDates_SplitsRespectRangesAndContextIsNeverAnExample()
    {
        var set = Rebuild(fixture.CsvPath);
        int Count(DateTimeOffset from, DateTimeOffset to, bool fraudsOnly = false)
        {
            var n = 0;
            for (var i = 0; i < set.Count; i++)
            {
                var t = set.EventTimesMs[i];
                if (t >= from.ToUnixTimeMilliseconds() && t < to.ToUnixTimeMilliseconds() && (!fraudsOnly || set.Labels[i] == 1))
                {
                    n++;
                }
            }

            return n;
        }

        var split = fixture.Explicit.Report.Split;
        Assert.Equal("time", split.Mode);
        Assert.Equal(Count(PipelineFixture.TrainFrom, PipelineFixture.TrainTo), split.Counts["train"].Examples);
        Assert.Equal(Count(PipelineFixture.ValidationFrom, PipelineFixture.ValidationTo), split.Counts["validation"].Examples);
        Assert.Equal(Count(PipelineFixture.TestFrom, PipelineFixture.TestTo), split.Counts["test"].Examples);
        Assert.Equal(Count(PipelineFixture.TestFrom, PipelineFixture.TestTo, fraudsOnly: true), split.Counts["test"].Frauds);
        Assert.Equal(Count(DateTimeOffset.UnixEpoch, PipelineFixture.TrainFrom), split.ContextRows);
        Assert.True(split.ContextRows > 0);
        Assert.Equal(Count(PipelineFixture.ValidationTo, PipelineFixture.TestFrom), split.UnusedRows);
        Assert.Equal(PipelineFixture.TestFrom, split.Ranges!["test"].From);
        Assert.Equal(PipelineFixture.TrainFrom, split.Ranges["train"].From);

        // Windows of the first training days reach back into the context: fewer padded windows than a cold start.
        Assert.True(split.Counts["train"].Padded < Count(PipelineFixture.TrainFrom, PipelineFixture.TrainTo) / 4);
    }

    [Fact]
    public void Run_DefaultSplit_CutsDaysSixtyTwentyTwenty()
    {
        var split = fixture.Default.Report.Split;

        // 18 days: round(0.2 × 18) = 4 days each for validation and test, 10 for training.
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), split.Ranges!["train"].From);
        Assert.Equal(new DateTimeOffset(2026, 1, 11, 0, 0, 0, TimeSpan.Zero), split.Ranges["train"].To);
        Assert.Equal(new DateTimeOffset(2026, 1, 15, 0, 0, 0, TimeSpan.Zero), split.Ranges["validation"].To);
        Assert.Equal(new DateTimeOffset(2026, 1, 19, 0, 0, 0, TimeSpan.Zero), split.Ranges["test"].To);
        Assert.Equal(0, split.ContextRows);
        Assert.NotNull(fixture.Default.Current);
        Assert.Equal(fixture.Default.Version, fixture.Default.Current.Version);
    }

    [Fact]
    public void Run_CsvInput_ReportShowsRecallPerScenarioAndTrainingHistory()
    {
        var report = fixture.Explicit.Report;
        var scenarios = report.Scenarios!;

        Assert.Equal("test", scenarios.Split);
        Assert.Equal(report.Thresholds["ensemble"].CostMin, scenarios.EnsembleCostMinThreshold);
        var testFrauds = report.Split.Counts["test"].Frauds;
        Assert.Equal(testFrauds, scenarios.ByScenario.Values.Sum(s => s.Frauds));
        // Every scenario of the input is listed, also one the test split happens to lack (0 frauds, recall n/a).
        var inInput = CanonicalCsv.Read(fixture.CsvPath).Where(t => t.IsFraud == true).Select(t => t.FraudScenario!).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(inInput, scenarios.ByScenario.Keys);
        foreach (var (name, s) in scenarios.ByScenario)
        {
            Assert.Contains(name, StreamFraud.Sim.Generation.FraudScenarios.All);
            foreach (var model in Models)
            {
                Assert.Equal((double)s.CaughtAtOwnCostMin[model] / s.Frauds, s.RecallAtOwnCostMin[model], 12);
                if (s.Frauds == 0)
                {
                    Assert.True(double.IsNaN(s.RecallAtEnsembleCostMin[model]));
                }
                else
                {
                    Assert.InRange(s.RecallAtEnsembleCostMin[model], 0, 1);
                }
            }
        }

        // Caught at the ensemble's threshold, summed over scenarios, is the ensemble's test TP at cost_min.
        Assert.Equal(report.Metrics["test"]["ensemble"].Thresholds.CostMin.Confusion.TruePositives,
            scenarios.ByScenario.Values.Sum(s => s.CaughtAtEnsembleCostMin["ensemble"]));

        // At equal alert volume the ensemble is read at its own cost_min threshold; the members flag as many events.
        Assert.Equal(report.Metrics["test"]["ensemble"].Thresholds.CostMin.Confusion.Flagged, scenarios.EqualAlerts);
        Assert.Equal(scenarios.ByScenario.Values.Sum(s => s.CaughtAtEnsembleCostMin["ensemble"]),
            scenarios.ByScenario.Values.Sum(s => s.CaughtAtEqualAlerts["ensemble"]));

        Assert.Equal(2, report.History.Lstm.Epochs.Count);
        Assert.InRange(report.History.Xgb.Rounds.Count, 1, 20);
        Assert.Contains("featurise", report.TimingsSeconds.Keys);
        var md = File.ReadAllText(Path.Combine(fixture.Explicit.BundleDirectory, MarkdownReport.FileName));
        Assert.Contains("## Recall per fraud scenario (test)", md);
        Assert.Contains("| ensemble |", md);
    }

    [Fact]
    public void Run_CsvInputByDefault_SpecV2WithLabelsSimulatedSevenDaysAfterEachFraud()
    {
        var report = fixture.Explicit.Report;
        var labels = report.Data.Labels!;
        var expected = Rebuild(fixture.CsvPath).LabelStats!;

        Assert.Equal("card", report.Settings.FeatureSpec.Name);
        Assert.Equal(2, report.Settings.FeatureSpec.Version);
        Assert.Equal(75, report.Settings.FeatureSpec.Dimension);
        Assert.Equal("simulated", labels.Source);
        Assert.Equal("7d", labels.Delay);
        Assert.Equal(report.Data.Frauds, labels.Labels); // one label per applied fraud
        Assert.Equal((expected.Offered, expected.NotReached, expected.Applied), (labels.Offered, labels.NotReached, labels.Applied));
        Assert.True(labels.NotReached > 0 && labels.Applied > 0, $"frauds of the last 7 days are labelled after the data ends: {labels}");
        Assert.Equal(labels.Offered + labels.NotReached, labels.Labels);
        var md = File.ReadAllText(Path.Combine(fixture.Explicit.BundleDirectory, MarkdownReport.FileName));
        Assert.Contains("| labels | simulated from the CSV's is_fraud: every fraud labelled 7d after its event time (--label-delay 7d)", md);
        Assert.Contains("Feature spec card v2 (dimension 75)", md);
    }

    /// <summary>The default featurisation, computed directly: spec v2, labels simulated 7 days after each fraud.</summary>
    private static TrainingSet Rebuild(string csv) =>
        TrainingSet.Build(FeatureSpec.CardV2, CanonicalCsv.Read(csv), LabelFeed.FromDelay(LabelDelay.Default));

    /// <summary>Rebuilds validation and test independently (featurise the CSV, select by the fixture's dates) and scores them with the published bundle.</summary>
    [Fact]
    public void Run_CsvInput_LstmPathCheckRecordedInManifestAndReport_EqualsRecomputation()
    {
        var dir = fixture.Explicit.BundleDirectory;
        var manifest = BundleManifest.Read(Path.Combine(dir, BundleManifest.FileName));
        Assert.Equal(LstmPaths.Candidates, manifest.LstmPaths.Select(c => c.Path));
        Assert.Equal(manifest.LstmPaths, fixture.Explicit.Report.LstmPaths);
        Assert.All(manifest.LstmPaths, c => Assert.True(c.Admitted, c.Reason));
        Assert.Contains("## LSTM serving paths", File.ReadAllText(Path.Combine(dir, MarkdownReport.FileName)));

        // Recompute from the published bundle: validation scored by ONNX Runtime (the reference) and by the managed
        // path, ensemble at the manifest's weights, AP written from its definition.
        var set = Rebuild(fixture.CsvPath);
        var rows = Enumerable.Range(0, set.Count)
            .Where(i => set.Labels[i] >= 0 && set.EventTimesMs[i] >= PipelineFixture.ValidationFrom.ToUnixTimeMilliseconds() && set.EventTimesMs[i] < PipelineFixture.ValidationTo.ToUnixTimeMilliseconds())
            .ToArray();
        Assert.All(manifest.LstmPaths, c => Assert.Equal(rows.Length, c.ValidationWindows));
        var size = set.Spec.WindowSize;
        var windows = new float[rows.Length * size];
        for (var k = 0; k < rows.Length; k++)
        {
            set.CopyWindow(rows[k], windows.AsSpan(k * size, size));
        }

        var labels = rows.Select(i => set.Labels[i] == 1).ToArray();
        (double Lstm, double Ensemble) Ap(LstmPathChoice path)
        {
            using var bundle = ModelBundle.Load(dir, FeatureSpec.CardV2, new BundleLoadOptions { LstmPath = path });
            Assert.Equal(LstmPaths.Name(path), bundle.LstmPath);
            var buffers = new ScoreBuffers(rows.Length);
            bundle.Score(windows, rows.Length, buffers);
            return (Reference.AveragePrecision([.. buffers.Lstm.Select(s => (double)s)], labels), Reference.AveragePrecision(buffers.Ensemble, labels));
        }

        var reference = Ap(LstmPathChoice.OnnxRuntime);
        foreach (var (choice, path) in new[] { (LstmPathChoice.ManagedFp32, LstmPaths.ManagedFp32), (LstmPathChoice.ManagedInt16, LstmPaths.ManagedInt16) })
        {
            var check = manifest.LstmPaths.Single(c => c.Path == path);
            var managed = Ap(choice);
            Assert.Equal(reference.Lstm, check.LstmValidationApReference, 1e-9);
            Assert.Equal(managed.Lstm, check.LstmValidationAp, 1e-9);
            Assert.Equal(reference.Ensemble, check.ValidationApReference, 1e-6);
            Assert.Equal(managed.Ensemble, check.ValidationAp, 1e-6);
            Assert.Equal(check.ValidationAp - check.ValidationApReference, check.ValidationApDelta, 1e-12);
            Assert.InRange(Math.Abs(check.ValidationApDelta), 0, LstmPaths.MaxApDelta);
            Assert.InRange(check.GoldenMaxDeviation, 0, LstmPaths.GoldenTolerance(path));
            Assert.Equal(LstmPaths.GoldenTolerance(path), check.GoldenTolerance);
        }

        // A scorer on auto serves the fastest admitted path.
        using var served = ModelBundle.Load(dir, FeatureSpec.CardV2);
        Assert.Equal(LstmPaths.AutoCandidates[0], served.LstmPath);
    }

    private (Scored Test, Scored Validation) RebuildSplits()
    {
        var set = Rebuild(fixture.CsvPath);
        using var bundle = ModelBundle.Load(fixture.Explicit.BundleDirectory, FeatureSpec.CardV2, new BundleLoadOptions { LstmPath = LstmPathChoice.OnnxRuntime });
        Scored Score(DateTimeOffset from, DateTimeOffset to)
        {
            var rows = Enumerable.Range(0, set.Count)
                .Where(i => set.Labels[i] >= 0 && set.EventTimesMs[i] >= from.ToUnixTimeMilliseconds() && set.EventTimesMs[i] < to.ToUnixTimeMilliseconds())
                .ToArray();
            var size = set.Spec.WindowSize;
            var windows = new float[rows.Length * size];
            for (var k = 0; k < rows.Length; k++)
            {
                set.CopyWindow(rows[k], windows.AsSpan(k * size, size));
            }

            var buffers = new ScoreBuffers(rows.Length);
            bundle.Score(windows, rows.Length, buffers);
            return new Scored(
                new Dictionary<string, double[]>
                {
                    ["lstm"] = [.. buffers.Lstm.Select(s => (double)s)],
                    ["xgb"] = [.. buffers.Xgb.Select(s => (double)s)],
                    ["ensemble"] = buffers.Ensemble,
                },
                [.. rows.Select(i => set.Labels[i] == 1)],
                [.. rows.Select(i => set.CardIds[i])],
                [.. rows.Select(i => set.EventTimesMs[i])]);
        }

        return (Score(PipelineFixture.TestFrom, PipelineFixture.TestTo), Score(PipelineFixture.ValidationFrom, PipelineFixture.ValidationTo));
    }

    private sealed record Scored(Dictionary<string, double[]> Scores, bool[] Labels, string[] Cards, long[] Times);
}
