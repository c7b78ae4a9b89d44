using System.Globalization;
using ScottPlot;
using StreamFraud.Core.Evaluation;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// Precision–recall and ROC curves of the three models on one split, as PNG files (ScottPlot, rendered by SkiaSharp;
/// <c>SkiaSharp.NativeAssets.Linux.NoDependencies</c> comes with ScottPlot, so no system library is needed).
/// </summary>
public static class CurvePlots
{
    /// <summary>File name of the precision–recall plot of a split.</summary>
    public static string PrFile(string split) => $"pr_{split}.png";

    /// <summary>File name of the ROC plot of a split.</summary>
    public static string RocFile(string split) => $"roc_{split}.png";

    private const int Width = 900;
    private const int Height = 650;
    private const int MaxPoints = 2000;

    /// <summary>Writes <see cref="PrFile"/> and <see cref="RocFile"/> for <paramref name="scores"/> into <paramref name="directory"/>.</summary>
    /// <returns>The file names written.</returns>
    public static IReadOnlyList<string> Write(string directory, SplitScores scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var curves = SplitScores.Models.ToDictionary(m => m, m => ScoreCurve.Create(scores.ScoresOf(m), scores.Labels));

        var pr = new Plot();
        var roc = new Plot();
        foreach (var model in SplitScores.Models)
        {
            var curve = curves[model];
            var (recall, precision, fpr) = Points(curve);
            var p = pr.Add.ScatterLine(recall, precision);
            p.LegendText = string.Create(CultureInfo.InvariantCulture, $"{model} (AP {curve.AveragePrecision():0.000})");
            p.LineWidth = 2;
            var r = roc.Add.ScatterLine(fpr, recall);
            r.LegendText = string.Create(CultureInfo.InvariantCulture, $"{model} (AUC {curve.RocAuc():0.000})");
            r.LineWidth = 2;
        }

        var any = curves[ModelNames.Ensemble];
        var prevalence = any.Count == 0 ? 0 : (double)any.Positives / any.Count;
        var baseline = pr.Add.HorizontalLine(prevalence);
        baseline.LinePattern = LinePattern.Dashed;
        baseline.LegendText = string.Create(CultureInfo.InvariantCulture, $"fraud rate {prevalence:0.0000}");
        pr.Title($"Precision–recall, {scores.Split} ({any.Positives:N0} frauds in {any.Count:N0})");
        pr.XLabel("recall");
        pr.YLabel("precision");
        pr.Axes.SetLimits(0, 1, 0, 1.02);
        pr.ShowLegend(Alignment.UpperRight);

        var chance = roc.Add.Line(0, 0, 1, 1);
        chance.LinePattern = LinePattern.Dashed;
        chance.LegendText = "chance";
        roc.Title($"ROC, {scores.Split}");
        roc.XLabel("false positive rate");
        roc.YLabel("true positive rate (recall)");
        roc.Axes.SetLimits(0, 1, 0, 1.02);
        roc.ShowLegend(Alignment.LowerRight);

        var prFile = PrFile(scores.Split);
        var rocFile = RocFile(scores.Split);
        pr.SavePng(Path.Combine(directory, prFile), Width, Height);
        roc.SavePng(Path.Combine(directory, rocFile), Width, Height);
        return [prFile, rocFile];
    }

    /// <summary>
    /// Recall, precision and false-positive rate at every distinct threshold (highest first), prefixed by the
    /// "flag nothing" point, thinned evenly to at most 2,000 points (the last always kept).
    /// </summary>
    private static (double[] Recall, double[] Precision, double[] Fpr) Points(ScoreCurve curve)
    {
        var n = curve.Thresholds.Length;
        var stride = Math.Max(1, (n + MaxPoints - 1) / MaxPoints);
        var recall = new List<double> { 0 };
        var precision = new List<double> { 1 };
        var fpr = new List<double> { 0 };
        var tp = curve.CumulativeTruePositives;
        var fp = curve.CumulativeFalsePositives;
        for (var g = 0; g < n; g++)
        {
            if (g % stride != 0 && g != n - 1)
            {
                continue;
            }

            recall.Add(curve.Positives == 0 ? 0 : (double)tp[g] / curve.Positives);
            precision.Add(tp[g] + fp[g] == 0 ? 1 : (double)tp[g] / (tp[g] + fp[g]));
            fpr.Add(curve.Negatives == 0 ? 0 : (double)fp[g] / curve.Negatives);
        }

        return ([.. recall], [.. precision], [.. fpr]);
    }
}
