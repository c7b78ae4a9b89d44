using StreamFraud.Core.Evaluation;

namespace StreamFraud.Replay;

/// <summary>PR and ROC curves of every version on the replayed range (labelled data only).</summary>
public static class ReplayPlots
{
    /// <summary>Writes <c>pr.png</c> and <c>roc.png</c>; nothing when the range is not fully labelled.</summary>
    public static void Write(string directory, BacktestResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Events.Count == 0 || result.Events.Any(e => e.IsFraud is null))
        {
            return;
        }

        var labels = result.Events.Select(e => e.IsFraud == true).ToArray();
        if (!labels.Contains(true) || !labels.Contains(false))
        {
            return;
        }

        var pr = new ScottPlot.Plot();
        var roc = new ScottPlot.Plot();
        foreach (var v in result.Versions)
        {
            var curve = ScoreCurve.Create(v.Scores.ToArray(), labels);
            var tp = curve.CumulativeTruePositives;
            var fp = curve.CumulativeFalsePositives;
            var recall = new double[tp.Length];
            var precision = new double[tp.Length];
            var fpr = new double[tp.Length];
            for (var i = 0; i < tp.Length; i++)
            {
                recall[i] = tp[i] / (double)curve.Positives;
                precision[i] = tp[i] / (double)Math.Max(1, tp[i] + fp[i]);
                fpr[i] = fp[i] / (double)curve.Negatives;
            }

            pr.Add.ScatterLine(recall, precision).LegendText = v.Bundle.Version;
            roc.Add.ScatterLine(fpr, recall).LegendText = v.Bundle.Version;
        }

        pr.Title("Precision-recall (replayed range)");
        pr.XLabel("recall");
        pr.YLabel("precision");
        pr.ShowLegend();
        roc.Title("ROC (replayed range)");
        roc.XLabel("false positive rate");
        roc.YLabel("true positive rate");
        roc.ShowLegend();
        pr.SavePng(Path.Combine(directory, "pr.png"), 800, 600);
        roc.SavePng(Path.Combine(directory, "roc.png"), 800, 600);
    }
}
