using System.Globalization;
using System.Text;
using StreamFraud.Core.Evaluation;

namespace StreamFraud.Training.Pipeline;

/// <summary><c>report.md</c>: the figures of <see cref="TrainingReport"/> as tables a person reads.</summary>
public static class MarkdownReport
{
    /// <summary>File name inside a bundle.</summary>
    public const string FileName = "report.md";

    /// <summary>Renders the report.</summary>
    public static string Render(TrainingReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var md = new StringBuilder();
        var d = report.Data;
        md.AppendLine(Inv($"# Model bundle {report.Version}"));
        md.AppendLine();
        md.AppendLine(Inv($"Built {report.CreatedAt:yyyy-MM-dd HH:mm:ss} UTC. Feature spec {report.Settings.FeatureSpec.Name} v{report.Settings.FeatureSpec.Version} (dimension {report.Settings.FeatureSpec.Dimension}). Ensemble {report.Ensemble.Lstm:0.00} × LSTM + {report.Ensemble.Xgb:0.00} × XGBoost{(report.Ensemble.Searched ? " (searched on validation)" : "")}."));
        md.AppendLine();
        md.AppendLine("## Data");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        md.AppendLine(Inv($"| input | `{d.FileName}` ({d.Format.ToString().ToLowerInvariant()}, {d.Bytes:N0} bytes) |"));
        md.AppendLine(Inv($"| sha256 | `{d.Sha256}` |"));
        md.AppendLine(Inv($"| rows | {d.Rows:N0} ({d.Frauds:N0} frauds, {Ratio(d.Frauds, d.Rows)}) |"));
        if (d.From is { } from && d.To is { } to)
        {
            md.AppendLine(Inv($"| event time | {from:yyyy-MM-dd HH:mm:ss} .. {to:yyyy-MM-dd HH:mm:ss} UTC |"));
            md.AppendLine(Inv($"| cards | {d.Cards:N0} |"));
        }

        if (d.Labels is { } labels)
        {
            md.AppendLine(Inv($"| labels | {labels.Description}: {labels.Labels:N0} labels; {labels.Offered:N0} reached the features ({labels.Applied:N0} applied, {labels.Flipped:N0} flipped, {labels.Duplicates:N0} duplicates, {labels.Superseded:N0} superseded, {labels.Stale:N0} stale, {labels.Conflicting:N0} conflicting, {labels.Invalid:N0} invalid), {labels.NotReached:N0} came after the last transaction{(labels.UnknownTransactions is > 0 ? Inv($"; {labels.UnknownTransactions:N0} name transactions not in the input") : "")} |"));
        }

        md.AppendLine(Inv($"| split | {report.Split.Description} |"));
        md.AppendLine();
        md.AppendLine("| split | examples | frauds | fraud rate | padded windows |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (name, c) in report.Split.Counts)
        {
            md.AppendLine(Inv($"| {name} | {c.Examples:N0} | {c.Frauds:N0} | {Ratio(c.Frauds, c.Examples)} | {c.Padded:N0} |"));
        }

        foreach (var note in report.Split.Notes)
        {
            md.AppendLine();
            md.AppendLine(Inv($"Note: {note}."));
        }

        foreach (var split in new[] { ModelNames.Test, ModelNames.Validation })
        {
            md.AppendLine();
            md.AppendLine(Inv($"## {char.ToUpperInvariant(split[0])}{split[1..]} metrics"));
            md.AppendLine();
            md.AppendLine(split == ModelNames.Test
                ? "Thresholds were chosen on validation and applied unchanged."
                : "Thresholds are chosen here.");
            md.AppendLine();
            md.AppendLine("| model | ROC-AUC | average precision | card precision@100 | policy | threshold | precision | recall | F1 | cost | TP | FP | FN | TN |");
            md.AppendLine("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (model, m) in report.Metrics[split])
            {
                var first = true;
                foreach (var t in m.Thresholds.All)
                {
                    var head = first
                        ? Inv($"| {model} | {F(m.RocAuc)} | {F(m.AveragePrecision)} | {(m.CardPrecisionAt100 is { } cp ? F(cp) : "–")} ")
                        : "| | | | ";
                    md.AppendLine(head + Inv($"| {t.Policy.ToName()} | {F(t.Threshold, 6)} | {F(t.Precision)} | {F(t.Recall)} | {F(t.F1)} | {t.Cost:0.##} | {t.Confusion.TruePositives:N0} | {t.Confusion.FalsePositives:N0} | {t.Confusion.FalseNegatives:N0} | {t.Confusion.TrueNegatives:N0} |"));
                    first = false;
                }
            }
        }

        if (report.Scenarios is { } s)
        {
            md.AppendLine();
            md.AppendLine(Inv($"## Recall per fraud scenario ({s.Split})"));
            md.AppendLine();
            md.AppendLine(Inv($"Recall of each scenario's frauds: at the ensemble's cost_min threshold ({F(s.EnsembleCostMinThreshold, 6)}) applied to every model; at each model's own cost_min threshold (lstm {F(s.OwnCostMinThresholds[ModelNames.Lstm], 6)}, xgb {F(s.OwnCostMinThresholds[ModelNames.Xgb], 6)}); at equal alert volume (each model's {s.EqualAlerts:N0} highest scores, as many alerts as the ensemble raises); and the threshold-free ROC-AUC of the scenario's frauds against all legitimate events."));
            md.AppendLine();
            md.AppendLine("| scenario | frauds | @ensemble thr: lstm | xgb | ensemble | @own thr: lstm | xgb | ensemble | @equal alerts: lstm | xgb | ensemble | AUC lstm | xgb | ensemble |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (name, r) in s.ByScenario)
            {
                md.AppendLine(Inv($"| {name} | {r.Frauds:N0} | {Row(r.RecallAtEnsembleCostMin)} | {Row(r.RecallAtOwnCostMin)} | {Row(r.RecallAtEqualAlerts)} | {Row(r.RocAuc)} |"));
            }
        }

        if (report.Plots.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Curves");
            md.AppendLine();
            foreach (var plot in report.Plots)
            {
                md.AppendLine(Inv($"![{plot}]({plot})"));
            }
        }

        md.AppendLine();
        md.AppendLine("## Training");
        md.AppendLine();
        var l = report.History.Lstm;
        md.AppendLine(Inv($"LSTM {report.Settings.Hidden1}/{report.Settings.Hidden2} ({l.Parameters:N0} parameters), loss {report.Settings.Loss}, oversampling {report.Settings.Oversample}: best epoch {l.BestEpoch} of {l.Epochs.Count} ({l.StopReason})."));
        md.AppendLine();
        md.AppendLine("| epoch | loss | train AP | validation AP | learning rate | sequences/s | seconds |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in l.Epochs)
        {
            md.AppendLine(Inv($"| {e.Epoch}{(e.Epoch == l.BestEpoch ? " ★" : "")} | {e.Loss:0.00000} | {F(e.TrainAveragePrecision)} | {F(e.ValidationAveragePrecision)} | {e.LearningRate:G3} | {e.SequencesPerSecond:N0} | {e.Seconds:0.0} |"));
        }

        var x = report.History.Xgb;
        md.AppendLine();
        md.AppendLine(Inv($"XGBoost: {x.RoundsTrained} rounds{(x.StoppedEarly ? " (early stopping)" : "")}, best round {x.BestIteration} (validation aucpr {F(x.BestScore)}), scale_pos_weight {x.ScalePosWeight:0.##}, {(report.Settings.XgbMonotone ? $"monotone constraints on {report.Settings.XgbMonotoneConstraints.Count} label-history features ({string.Join(", ", report.Settings.XgbMonotoneConstraints.Select(c => $"{c.Key} {(c.Value > 0 ? "+1" : "-1")}"))})" : "no monotone constraints")}; the bundle uses {x.BestIteration + 1} trees."));
        if (report.LstmPaths.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## LSTM serving paths");
            md.AppendLine();
            md.AppendLine(Inv($"Each faster path against the reference, ONNX Runtime fp32, on {report.LstmPaths[0].ValidationWindows:N0} validation windows: admitted when validation AP (ensemble and LSTM alone) moves by at most {report.LstmPaths[0].MaxApDelta} and the golden windows' LSTM scores are reproduced within the path's tolerance. Scorers with Scoring:LstmPath=auto serve an admitted path on CPU."));
            md.AppendLine();
            md.AppendLine("| path | admitted | ensemble AP (reference → path) | LSTM AP (reference → path) | golden max deviation (reference) | tolerance | validation max deviation |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var c in report.LstmPaths)
            {
                md.AppendLine(Inv($"| {c.Path} | {(c.Admitted ? "yes" : "no: " + c.Reason)} | {F(c.ValidationApReference)} → {F(c.ValidationAp)} (Δ {c.ValidationApDelta:G3}) | {F(c.LstmValidationApReference)} → {F(c.LstmValidationAp)} (Δ {c.LstmValidationApDelta:G3}) | {c.GoldenMaxDeviation:G3} ({c.GoldenMaxDeviationReference:G3}) | {c.GoldenTolerance:G3} | {c.ValidationMaxDeviation:G3} |"));
            }
        }

        md.AppendLine();
        md.AppendLine("## Timings");
        md.AppendLine();
        md.AppendLine("| stage | seconds |");
        md.AppendLine("|---|---:|");
        foreach (var (stage, seconds) in report.TimingsSeconds)
        {
            md.AppendLine(Inv($"| {stage} | {seconds:0.0} |"));
        }

        if (report.Warnings.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Warnings");
            md.AppendLine();
            foreach (var w in report.Warnings)
            {
                md.AppendLine(Inv($"- {w}"));
            }
        }

        return md.ToString();
    }

    private static string Row(IReadOnlyDictionary<string, double> byModel) =>
        string.Join(" | ", SplitScores.Models.Select(m => F(byModel[m], 3)));

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string F(double value, int digits = 4) =>
        double.IsNaN(value) ? "n/a"
        : double.IsPositiveInfinity(value) ? "∞ (flag nothing)"
        : value.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture);

    private static string Ratio(long part, long whole) =>
        whole == 0 ? "–" : ((double)part / whole).ToString("0.000%", CultureInfo.InvariantCulture);
}
