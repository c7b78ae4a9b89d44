using System.Text.Json;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Trainer.Commands;
using StreamFraud.Training.Pipeline;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>
/// XGBoost monotone constraints on the label-history features (<c>--xgb-monotone</c>): which columns, the flag, the
/// report, and the published v2 model's scores along those columns.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class XgbMonotoneTests(PipelineFixture fixture)
{
    [Fact]
    public void For_CardV2_ConstrainsTheThirteenLabelHistoryFeaturesByName()
    {
        var spec = FeatureSpec.CardV2;
        var directions = XgbMonotone.For(spec)!;

        Assert.Equal(spec.Dimension, directions.Length);
        Assert.Equal(13, directions.Count(d => d != 0));
        Assert.Equal(1, directions[spec.IndexOf("merchant_risk_30d")]);
        Assert.Equal(1, directions[spec.IndexOf("card_has_fraud")]);
        Assert.Equal(-1, directions[spec.IndexOf("merchant_days_since_fraud_log")]);
        Assert.Equal(-1, directions[spec.IndexOf("card_days_since_fraud_log")]);
        Assert.Equal(0, directions[spec.IndexOf("merchant_txn_7d_log")]); // volume, not label history: free
        Assert.Equal(0, directions[spec.IndexOf("card_txn_30d_log")]);
        Assert.All(Enumerable.Range(0, FeatureSpec.CardV1.Dimension), i => Assert.Equal(0, directions[i])); // the v1 block is free
        Assert.All(XgbMonotone.LabelHistoryDirections.Keys, name => Assert.True(spec.IndexOf(name) >= 0, name));
        Assert.Null(XgbMonotone.For(FeatureSpec.CardV1));
        Assert.Null(XgbMonotone.For(PrecomputedFeatureSpec.Create(12)));
    }

    [Fact]
    public void ParseOptions_XgbMonotone_DefaultIsNullOnAndOffAreExplicit()
    {
        TrainingOptions Options(params string[] extra) => Parse<TrainSettings>(["--input", "a.csv", "--registry", "r", .. extra]).ToTrainingOptions();

        Assert.Null(Options().XgbMonotone);
        Assert.True(Options("--xgb-monotone", "on").XgbMonotone);
        Assert.False(Options("--xgb-monotone", "OFF").XgbMonotone);
    }

    [Fact]
    public void Run_SpecV2ByDefault_ReportRecordsTheConstraints()
    {
        var report = fixture.Explicit.Report;

        Assert.True(report.Settings.XgbMonotone);
        Assert.Equal(XgbMonotone.LabelHistoryDirections.OrderBy(p => p.Key), report.Settings.XgbMonotoneConstraints.OrderBy(p => p.Key));
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(fixture.Explicit.BundleDirectory, TrainingReport.FileName)));
        var settings = json.RootElement.GetProperty("settings");
        Assert.True(settings.GetProperty("xgb_monotone").GetBoolean());
        Assert.Equal(-1, settings.GetProperty("xgb_monotone_constraints").GetProperty("card_days_since_fraud_log").GetInt32());
        var md = File.ReadAllText(Path.Combine(fixture.Explicit.BundleDirectory, MarkdownReport.FileName));
        Assert.Contains("monotone constraints on 13 label-history features (merchant_fraud_1d_log +1,", md);
    }

    /// <summary>
    /// A sanity check of the published model, not the proof: the fixture's tiny model (20 rounds on 8k rows) happens to
    /// be monotone in these features without the constraint too. <c>XgbMonotoneConstraintsTests</c> in the XGBoost
    /// tests is the one that fails without the constraint.
    /// </summary>
    [Fact]
    public void Run_SpecV2ByDefault_PublishedXgbScoreMonotoneAlongEachConstrainedFeature()
    {
        var spec = FeatureSpec.CardV2;
        var set = TrainingSet.Build(spec, CanonicalCsv.Read(fixture.CsvPath), LabelFeed.FromDelay(LabelDelay.Default));
        using var bundle = ModelBundle.Load(fixture.Explicit.BundleDirectory, spec);
        var d = spec.Dimension;
        const int Steps = 41;

        // Every 50th labelled event of the history, each constrained feature walked over its documented range.
        var bases = Enumerable.Range(0, set.Count).Where(i => set.Labels[i] >= 0).Where((_, k) => k % 50 == 0).ToArray();
        var usedByTrees = 0;
        foreach (var (name, direction) in XgbMonotone.LabelHistoryDirections)
        {
            var feature = spec.Features[spec.IndexOf(name)];
            var rows = new float[bases.Length * Steps * d];
            for (var b = 0; b < bases.Length; b++)
            {
                for (var s = 0; s < Steps; s++)
                {
                    var row = rows.AsSpan(((b * Steps) + s) * d, d);
                    set.Vector(bases[b]).CopyTo(row);
                    row[feature.Index] = (float)(feature.Min + ((feature.Max - feature.Min) * s / (Steps - 1)));
                }
            }

            var scores = bundle.Xgb.PredictDense(rows, bases.Length * Steps, iterationEnd: bundle.Manifest.XgbIterations);
            var moved = false;
            for (var b = 0; b < bases.Length; b++)
            {
                for (var s = 1; s < Steps; s++)
                {
                    var step = scores[(b * Steps) + s] - scores[(b * Steps) + s - 1];
                    Assert.False(direction > 0 ? step < 0 : step > 0, $"{name}: the score moves against {direction:+0;-0} at step {s} of event {bases[b]}");
                    moved |= step != 0;
                }
            }

            usedByTrees += moved ? 1 : 0;
        }

        Assert.True(usedByTrees > 0, "no constrained feature moves the score: the check above proved nothing");
    }
}
