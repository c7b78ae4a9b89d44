using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamFraud.Contracts;
using StreamFraud.Core.Evaluation;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Replay;

/// <summary>An alert seen on one side of a comparison.</summary>
public sealed record AlertExample(string AlertId, string TransactionId, string CardId, double? Score, double? OtherScore);

/// <summary>Metrics of one version on the replayed range.</summary>
public sealed record VersionReport
{
    /// <summary>Bundle version.</summary>
    public required string Version { get; init; }

    /// <summary>In-range events scored.</summary>
    public long Events { get; init; }

    /// <summary>Alerts at the serving threshold (the bundle's cost_min).</summary>
    public long Alerts { get; init; }

    /// <summary>Alerts / events.</summary>
    public double AlertRate { get; init; }

    /// <summary>Score quantiles (p50, p90, p99, max).</summary>
    public required IReadOnlyDictionary<string, double> ScoreQuantiles { get; init; }

    /// <summary>Events per score decile [0, 0.1), ..., [0.9, 1].</summary>
    public required IReadOnlyList<long> ScoreHistogram { get; init; }

    /// <summary>Labelled events in range (0: no label metrics).</summary>
    public long Labelled { get; init; }

    /// <summary>ROC-AUC (labels only).</summary>
    public double? RocAuc { get; init; }

    /// <summary>Average precision (labels only).</summary>
    public double? AveragePrecision { get; init; }

    /// <summary>Card precision@100 per day, mean over days (labels only).</summary>
    public double? CardPrecisionAt100 { get; init; }

    /// <summary>Precision/recall/F1/cost at each of the bundle's threshold policies (labels only).</summary>
    public IReadOnlyDictionary<string, ThresholdEvaluation>? Policies { get; init; }

    /// <summary>Recall per fraud scenario at the serving threshold (labels only).</summary>
    public IReadOnlyDictionary<string, double>? RecallByScenario { get; init; }
}

/// <summary>Alerts gained and lost between two versions.</summary>
public sealed record VersionComparison(string Baseline, string Candidate, long Both, long Gained, long Lost, IReadOnlyList<AlertExample> GainedExamples, IReadOnlyList<AlertExample> LostExamples);

/// <summary>The live scorer's alerts for the range against the replay of the bundle it used.</summary>
public sealed record LiveComparison(string Version, long Identical, long Missing, long Extra, long Different, double MaxScoreDifference, IReadOnlyList<AlertExample> Examples);

/// <summary><c>report.json</c> of a replay.</summary>
public sealed record ReplayReport
{
    /// <summary>What was replayed.</summary>
    public required string Source { get; init; }

    /// <summary>Range start (UTC), if any.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Range end (exclusive), if any.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Warm-up before the range.</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>Warm-up events (state only).</summary>
    public long WarmupEvents { get; init; }

    /// <summary>Messages that did not decode, and events invalid for the spec.</summary>
    public long Rejected { get; init; }

    /// <summary>Seconds the replay took.</summary>
    public double Seconds { get; init; }

    /// <summary>Per version.</summary>
    public required IReadOnlyList<VersionReport> Versions { get; init; }

    /// <summary>First version against each other.</summary>
    public required IReadOnlyList<VersionComparison> Comparisons { get; init; }

    /// <summary>Against the live alerts topic, when asked.</summary>
    public LiveComparison? Live { get; init; }

    /// <summary>Builds the report.</summary>
    public static ReplayReport Build(BacktestResult result, string source, DateTimeOffset? from, DateTimeOffset? to, TimeSpan warmup, IReadOnlyList<FraudAlert>? liveAlerts)
    {
        ArgumentNullException.ThrowIfNull(result);
        var versions = result.Versions.Select(v => Version(result, v)).ToList();
        var comparisons = result.Versions.Skip(1).Select(v => Compare(result.Versions[0], v)).ToList();
        return new ReplayReport
        {
            Source = source, From = from, To = to, Warmup = warmup, WarmupEvents = result.WarmupEvents, Rejected = result.Undecodable + result.Invalid,
            Seconds = result.Elapsed.TotalSeconds, Versions = versions, Comparisons = comparisons,
            Live = liveAlerts is null ? null : CompareLive(result, liveAlerts),
        };
    }

    /// <summary>Writes report.json, report.md and the PR/ROC plots into <paramref name="directory"/>.</summary>
    public void Write(string directory, BacktestResult result)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "report.json"), JsonSerializer.SerializeToUtf8Bytes(this, BundleManifest.JsonOptions));
        File.WriteAllText(Path.Combine(directory, "report.md"), Markdown());
        ReplayPlots.Write(directory, result);
    }

    /// <summary>The human-readable report.</summary>
    public string Markdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(inv, $"# Replay of {Source}");
        md.AppendLine();
        md.AppendLine(inv, $"Range {From:O} .. {To:O} (warm-up {Warmup}), {WarmupEvents:N0} warm-up events, {Rejected:N0} rejected, {Seconds:F1} s.");
        md.AppendLine();
        md.AppendLine("| version | events | alerts | alert rate | ROC-AUC | AP | card P@100 | p50 | p99 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var v in Versions)
        {
            md.AppendLine(inv, $"| {v.Version} | {v.Events:N0} | {v.Alerts:N0} | {v.AlertRate:P3} | {v.RocAuc?.ToString("F4", inv) ?? "-"} | {v.AveragePrecision?.ToString("F4", inv) ?? "-"} | {v.CardPrecisionAt100?.ToString("F3", inv) ?? "-"} | {v.ScoreQuantiles["p50"]:F4} | {v.ScoreQuantiles["p99"]:F4} |");
        }

        foreach (var v in Versions.Where(v => v.Policies is not null))
        {
            md.AppendLine();
            md.AppendLine(inv, $"## {v.Version}: threshold policies");
            md.AppendLine();
            md.AppendLine("| policy | threshold | TP | FP | FN | precision | recall | F1 | cost |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (name, e) in v.Policies!)
            {
                md.AppendLine(inv, $"| {name} | {e.Threshold:F4} | {e.Confusion.TruePositives} | {e.Confusion.FalsePositives} | {e.Confusion.FalseNegatives} | {e.Precision:F4} | {e.Recall:F4} | {e.F1:F4} | {e.Cost:F0} |");
            }

            if (v.RecallByScenario is { Count: > 0 } recall)
            {
                md.AppendLine();
                md.AppendLine("| scenario | recall at the serving threshold |");
                md.AppendLine("|---|---:|");
                foreach (var (scenario, r) in recall)
                {
                    md.AppendLine(inv, $"| {scenario} | {r:F3} |");
                }
            }
        }

        foreach (var c in Comparisons)
        {
            md.AppendLine();
            md.AppendLine(inv, $"## {c.Candidate} vs {c.Baseline}: {c.Both:N0} alerts in both, {c.Gained:N0} gained, {c.Lost:N0} lost");
            foreach (var e in c.GainedExamples.Take(5))
            {
                md.AppendLine(inv, $"- gained {e.TransactionId} (card {e.CardId}): {e.Score:F4} vs {e.OtherScore:F4}");
            }

            foreach (var e in c.LostExamples.Take(5))
            {
                md.AppendLine(inv, $"- lost {e.TransactionId} (card {e.CardId}): {e.Score:F4} vs {e.OtherScore:F4}");
            }
        }

        if (Live is { } live)
        {
            md.AppendLine();
            md.AppendLine(inv, $"## Live alerts vs replay of {live.Version}");
            md.AppendLine();
            md.AppendLine(inv, $"{live.Identical:N0} identical, {live.Missing:N0} missing from live, {live.Extra:N0} only in live, {live.Different:N0} different (max score difference {live.MaxScoreDifference:G3}).");
        }

        return md.ToString();
    }

    private static VersionReport Version(BacktestResult result, VersionRun run)
    {
        var scores = run.Scores.ToArray();
        var sorted = scores.Order().ToArray();
        double Q(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        var histogram = new long[10];
        foreach (var s in scores)
        {
            histogram[Math.Clamp((int)(s * 10), 0, 9)]++;
        }

        var labelled = result.Events.Count(e => e.IsFraud is not null);
        var report = new VersionReport
        {
            Version = run.Bundle.Version, Events = scores.Length, Alerts = run.Alerts.Count,
            AlertRate = scores.Length == 0 ? 0 : run.Alerts.Count / (double)scores.Length,
            ScoreQuantiles = new Dictionary<string, double> { ["p50"] = Q(0.5), ["p90"] = Q(0.9), ["p99"] = Q(0.99), ["max"] = sorted.Length == 0 ? double.NaN : sorted[^1] },
            ScoreHistogram = histogram, Labelled = labelled,
        };
        if (labelled == 0 || labelled != result.Events.Count)
        {
            return report; // label metrics need every event labelled
        }

        var labels = result.Events.Select(e => e.IsFraud == true).ToArray();
        var curve = ScoreCurve.Create(scores, labels);
        var t = run.Bundle.Manifest.Thresholds;
        var settings = new ThresholdSettings(t.CostMin.CostFn, t.CostMin.CostFp, t.TargetRecall.Target);
        var policies = new Dictionary<string, ThresholdEvaluation>
        {
            [ThresholdPolicyNames.CostMin] = curve.Evaluate(t.CostMin.Threshold, settings, ThresholdPolicy.CostMin),
            [ThresholdPolicyNames.BestF1] = curve.Evaluate(t.BestF1, settings, ThresholdPolicy.BestF1),
            [ThresholdPolicyNames.TargetRecall] = curve.Evaluate(t.TargetRecall.Threshold, settings, ThresholdPolicy.TargetRecall),
        };
        var serving = t.CostMin.Threshold;
        var byScenario = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var g in Enumerable.Range(0, scores.Length).Where(i => labels[i] && result.Events[i].FraudScenario is not null).GroupBy(i => result.Events[i].FraudScenario!))
        {
            byScenario[g.Key] = g.Count(i => scores[i] >= serving) / (double)g.Count();
        }

        var cards = result.Events.Select(e => e.CardId).ToArray();
        var times = result.Events.Select(e => e.EventTimeMs).ToArray();
        return report with
        {
            RocAuc = curve.RocAuc(), AveragePrecision = curve.AveragePrecision(),
            CardPrecisionAt100 = CardPrecision.AtK(scores, labels, cards, times).Mean,
            Policies = policies, RecallByScenario = byScenario,
        };
    }

    private static VersionComparison Compare(VersionRun baseline, VersionRun candidate)
    {
        var gained = candidate.Alerts.Keys.Where(k => !baseline.Alerts.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var lost = baseline.Alerts.Keys.Where(k => !candidate.Alerts.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var both = candidate.Alerts.Count - gained.Count;
        return new VersionComparison(
            baseline.Bundle.Version, candidate.Bundle.Version, both, gained.Count, lost.Count,
            gained.Take(20).Select(k => Example(candidate.Alerts[k], null)).ToList(),
            lost.Take(20).Select(k => Example(baseline.Alerts[k], null)).ToList());
    }

    private static LiveComparison CompareLive(BacktestResult result, IReadOnlyList<FraudAlert> live)
    {
        var version = live.GroupBy(a => a.ModelVersion).OrderByDescending(g => g.Count()).FirstOrDefault()?.Key ?? result.Versions[0].Bundle.Version;
        var run = result.Versions.FirstOrDefault(v => v.Bundle.Version == version) ?? result.Versions[0];
        var liveById = live.GroupBy(a => a.AlertId).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        long identical = 0, different = 0;
        var maxDiff = 0.0;
        var examples = new List<AlertExample>();
        foreach (var (id, replayed) in run.Alerts)
        {
            if (!liveById.TryGetValue(id, out var l))
            {
                continue;
            }

            var diff = Math.Abs(l.Score - replayed.Score);
            maxDiff = Math.Max(maxDiff, diff);
            if (diff <= 1e-6 && l.WindowHash == replayed.WindowHash)
            {
                identical++;
            }
            else
            {
                different++;
                if (examples.Count < 20)
                {
                    examples.Add(new AlertExample(id, l.TransactionId, l.CardId, replayed.Score, l.Score));
                }
            }
        }

        var missing = run.Alerts.Keys.Count(k => !liveById.ContainsKey(k));
        var extra = liveById.Keys.Count(k => !run.Alerts.ContainsKey(k));
        return new LiveComparison(run.Bundle.Version, identical, missing, extra, different, maxDiff, examples);
    }

    private static AlertExample Example(Scoring.Alert a, double? other) => new(a.AlertId, a.TransactionId, a.CardId, a.Score, other);
}
