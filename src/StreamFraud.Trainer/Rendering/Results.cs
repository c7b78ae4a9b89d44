using System.Globalization;
using Spectre.Console;
using StreamFraud.Core.Evaluation;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Rendering;

/// <summary>The end of a <c>train</c> run: version, where it went, and the test metrics.</summary>
public static class Results
{
    /// <summary>Writes the outcome.</summary>
    public static void WriteOutcome(IAnsiConsole console, TrainingOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(outcome);
        var report = outcome.Report;
        console.WriteLine();
        console.MarkupLine($"[bold green]published[/] [bold]{Markup.Escape(outcome.Version)}[/] → {Markup.Escape(outcome.BundleDirectory)}");
        if (outcome.Current is { } current)
        {
            console.MarkupLine($"[bold]current[/] is now {Markup.Escape(current.Version)} (previous: {Markup.Escape(current.Previous ?? "none")})");
        }
        else
        {
            console.MarkupLine("[grey]not promoted; 'models promote VERSION --registry DIR' makes it current[/]");
        }

        var spec = report.Settings.FeatureSpec;
        console.WriteLine(Inv($"features: spec {spec.Name} v{spec.Version} ({spec.Dimension} per transaction)"));
        if (report.Data.Labels is { } labels)
        {
            console.WriteLine(Inv($"labels: {labels.Description}; {labels.Applied:N0} applied, {labels.Flipped:N0} flipped, {labels.NotReached:N0} after the last transaction"));
        }

        console.WriteLine($"split: {report.Split.Description}");
        var test = report.Metrics[ModelNames.Test];
        var table = new Table().Title(Inv($"Test metrics (thresholds chosen on validation; ensemble {report.Ensemble.Lstm:0.00}/{report.Ensemble.Xgb:0.00})"))
            .AddColumns("model", "ROC-AUC", "avg precision", "card P@100", "cost_min thr", "precision", "recall", "F1", "cost", "TP", "FP", "FN", "TN");
        foreach (var (model, m) in test)
        {
            var c = m.Thresholds.CostMin;
            table.AddRow(
                model, F(m.RocAuc), F(m.AveragePrecision), m.CardPrecisionAt100 is { } cp ? F(cp) : "–",
                double.IsPositiveInfinity(c.Threshold) ? "∞" : F(c.Threshold, 6), F(c.Precision), F(c.Recall), F(c.F1),
                c.Cost.ToString("0.##", CultureInfo.InvariantCulture),
                N(c.Confusion.TruePositives), N(c.Confusion.FalsePositives), N(c.Confusion.FalseNegatives), N(c.Confusion.TrueNegatives));
        }

        foreach (var column in table.Columns.Skip(1))
        {
            column.RightAligned();
        }

        console.Write(table);
        if (report.Scenarios is { } s)
        {
            var st = new Table().Title(Inv($"Test recall per fraud scenario: each model at its own cost_min threshold, and at equal alert volume ({s.EqualAlerts:N0} alerts, the ensemble's)"))
                .AddColumns("scenario", "frauds", "own: lstm", "xgb", "ensemble", "equal: lstm", "xgb", "ensemble");
            foreach (var (name, r) in s.ByScenario)
            {
                st.AddRow(name, N(r.Frauds),
                    F(r.RecallAtOwnCostMin[ModelNames.Lstm], 3), F(r.RecallAtOwnCostMin[ModelNames.Xgb], 3), F(r.RecallAtOwnCostMin[ModelNames.Ensemble], 3),
                    F(r.RecallAtEqualAlerts[ModelNames.Lstm], 3), F(r.RecallAtEqualAlerts[ModelNames.Xgb], 3), F(r.RecallAtEqualAlerts[ModelNames.Ensemble], 3));
            }

            foreach (var column in st.Columns.Skip(1))
            {
                column.RightAligned();
            }

            console.Write(st);
        }

        console.WriteLine(Inv($"report: {Path.Combine(outcome.BundleDirectory, MarkdownReport.FileName)} (and report.json)"));
        console.WriteLine(report.Plots.Count > 0
            ? $"plots: {string.Join(", ", report.Plots.Select(p => Path.Combine(outcome.BundleDirectory, p)))}"
            : "plots: none (--no-plots, or see the warnings)");
    }

    private static string F(double value, int digits = 4) =>
        double.IsNaN(value) ? "n/a" : value.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
