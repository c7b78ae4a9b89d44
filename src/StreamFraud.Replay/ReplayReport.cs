using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamFraud.Contracts;
using StreamFraud.Core;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Labels;
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

    /// <summary>
    /// Quality judged by the fraud labels (<see cref="ReplayReport.Labels"/>) rather than <c>is_fraud</c>: once with the
    /// labels known when the range ended, once with every label read (file or topic). Absent without labels.
    /// </summary>
    public IReadOnlyList<LabelQuality> ByLabels { get; init; } = [];
}

/// <summary>A version's quality on the range with the labels known at one moment as the truth.</summary>
public sealed record LabelQuality
{
    /// <summary><c>range_end</c> (labels with label time before <c>--to</c>) or <c>all</c> (every label read).</summary>
    public required string Basis { get; init; }

    /// <summary>In-range events confirmed fraud by those labels (the positives; every other event counts as legitimate).</summary>
    public long Positives { get; init; }

    /// <summary>ROC-AUC (null without positives).</summary>
    public double? RocAuc { get; init; }

    /// <summary>Average precision (null without positives).</summary>
    public double? AveragePrecision { get; init; }

    /// <summary>Confusion, precision, recall, F1 and cost (the bundle's costs: missed fraud 10, false alarm 1 by default) per policy.</summary>
    public required IReadOnlyDictionary<string, ThresholdEvaluation> Policies { get; init; }
}

/// <summary>The labels of a replay: where they came from, what feeding them to the windows did, and how late they were.</summary>
public sealed record ReplayLabelsReport
{
    /// <summary><c>file</c>, <c>topic</c> or <c>simulated</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>One sentence.</summary>
    public required string Description { get; init; }

    /// <summary>Whether the windows read them (a spec with label features), or they only judge decisions.</summary>
    public bool FedToFeatures { get; init; }

    /// <summary>Labels read (file or topic) or simulated.</summary>
    public long Labels { get; init; }

    /// <summary>Label messages that did not decode (topic).</summary>
    public long Undecodable { get; init; }

    /// <summary>What the labels fed to the windows did, by outcome (<c>applied</c>, <c>flipped</c>, ...).</summary>
    public IReadOnlyDictionary<string, long> Outcomes { get; init; } = new Dictionary<string, long>();

    /// <summary>Labels after the last replayed event: they changed no window.</summary>
    public long NotReached { get; init; }

    /// <summary>Batches scored early so that a label falls between them.</summary>
    public long Cuts { get; init; }

    /// <summary>In-range frauds by the latest labels (or by <c>is_fraud</c> for simulated labels).</summary>
    public long Frauds { get; init; }

    /// <summary>Of <see cref="Frauds"/>, those labelled only after the range ended: counted as legitimate in the <c>range_end</c> figures.</summary>
    public long LabelledAfterRange { get; init; }

    /// <summary>Label delay (label time − event time) of <see cref="Frauds"/>: median, hours.</summary>
    public double? DelayP50Hours { get; init; }

    /// <summary>Label delay, 90th percentile, hours.</summary>
    public double? DelayP90Hours { get; init; }

    /// <summary>In-range frauds by <c>is_fraud</c> that no label read confirms (only when every event carries <c>is_fraud</c>).</summary>
    public long? UnlabelledFrauds { get; init; }

    /// <summary>How label delay biases quality measured from labels.</summary>
    public required string Bias { get; init; }
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

    /// <summary>The labels: source, what they did to the windows, their delay and its bias (absent without labels).</summary>
    public ReplayLabelsReport? Labels { get; init; }

    /// <summary>Builds the report.</summary>
    public static ReplayReport Build(
        BacktestResult result, string source, DateTimeOffset? from, DateTimeOffset? to, TimeSpan warmup, IReadOnlyList<FraudAlert>? liveAlerts,
        ReplayLabels? labels = null, bool labelsFedToFeatures = false)
    {
        ArgumentNullException.ThrowIfNull(result);
        var truth = labels is null ? null : LabelTruth.Of(result, labels, to);
        var versions = result.Versions.Select(v => Version(result, v, truth)).ToList();
        var comparisons = result.Versions.Skip(1).Select(v => Compare(result.Versions[0], v)).ToList();
        return new ReplayReport
        {
            Source = source, From = from, To = to, Warmup = warmup, WarmupEvents = result.WarmupEvents, Rejected = result.Undecodable + result.Invalid,
            Seconds = result.Elapsed.TotalSeconds, Versions = versions, Comparisons = comparisons,
            Live = liveAlerts is null ? null : CompareLive(result, liveAlerts),
            Labels = labels is null ? null : truth!.Describe(result, labels, labelsFedToFeatures),
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

        if (Labels is { } labels)
        {
            md.AppendLine();
            md.AppendLine("## Quality from labels");
            md.AppendLine();
            md.AppendLine(inv, $"Labels: {labels.Description}; {(labels.FedToFeatures ? "merged into the windows by label time" : "used only to judge decisions (the spec reads no labels)")}. {labels.Frauds:N0} in-range frauds confirmed, {labels.LabelledAfterRange:N0} of them only after the range ended; label delay p50 {Hours(labels.DelayP50Hours)}, p90 {Hours(labels.DelayP90Hours)}.");
            if (labels.FedToFeatures)
            {
                md.AppendLine();
                md.AppendLine(inv, $"Fed to the windows: {string.Join(", ", labels.Outcomes.Select(o => $"{o.Value:N0} {o.Key}"))}; {labels.NotReached:N0} after the last event; {labels.Cuts:N0} batches scored early at a label.");
            }

            md.AppendLine();
            md.AppendLine(labels.Bias);
            md.AppendLine();
            md.AppendLine("| version | truth | frauds | AP | policy | threshold | TP | FP | FN | precision | recall | cost |");
            md.AppendLine("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var v in Versions)
            {
                foreach (var q in v.ByLabels)
                {
                    var first = true;
                    foreach (var (name, e) in q.Policies)
                    {
                        var head = first ? $"| {v.Version} | {q.Basis} | {q.Positives:N0} | {q.AveragePrecision?.ToString("F4", inv) ?? "-"} " : "| | | | ";
                        md.AppendLine(inv, $"{head}| {name} | {e.Threshold:F4} | {e.Confusion.TruePositives} | {e.Confusion.FalsePositives} | {e.Confusion.FalseNegatives} | {e.Precision:F4} | {e.Recall:F4} | {e.Cost:F0} |");
                        first = false;
                    }
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

    private static string Hours(double? hours) => hours is { } h ? h.ToString("0.#", CultureInfo.InvariantCulture) + " h" : "-";

    private static ThresholdSettings Settings(VersionRun run)
    {
        var t = run.Bundle.Manifest.Thresholds;
        return new ThresholdSettings(t.CostMin.CostFn, t.CostMin.CostFp, t.TargetRecall.Target);
    }

    private static Dictionary<string, ThresholdEvaluation> Policies(ScoreCurve curve, VersionRun run)
    {
        var t = run.Bundle.Manifest.Thresholds;
        var settings = Settings(run);
        return new Dictionary<string, ThresholdEvaluation>
        {
            [ThresholdPolicyNames.CostMin] = curve.Evaluate(t.CostMin.Threshold, settings, ThresholdPolicy.CostMin),
            [ThresholdPolicyNames.BestF1] = curve.Evaluate(t.BestF1, settings, ThresholdPolicy.BestF1),
            [ThresholdPolicyNames.TargetRecall] = curve.Evaluate(t.TargetRecall.Threshold, settings, ThresholdPolicy.TargetRecall),
        };
    }

    private static VersionReport Version(BacktestResult result, VersionRun run, LabelTruth? truth)
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
            ByLabels = truth?.Bases.Select(b =>
            {
                var curve = ScoreCurve.Create(scores, b.Positives);
                var positives = b.Positives.LongCount(p => p);
                return new LabelQuality
                {
                    Basis = b.Name, Positives = positives,
                    RocAuc = positives == 0 ? null : curve.RocAuc(), AveragePrecision = positives == 0 ? null : curve.AveragePrecision(),
                    Policies = Policies(curve, run),
                };
            }).ToList() ?? [],
        };
        if (labelled == 0 || labelled != result.Events.Count)
        {
            return report; // is_fraud metrics need every event labelled
        }

        var labels = result.Events.Select(e => e.IsFraud == true).ToArray();
        var curve = ScoreCurve.Create(scores, labels);
        var policies = Policies(curve, run);
        var serving = run.Bundle.Manifest.Thresholds.CostMin.Threshold;
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

/// <summary>
/// The truth the labels give about the in-range events: per event, whether it is confirmed fraud by the labels known when
/// the range ended and by every label read (the newest label of a transaction wins, fraud winning a tie; a label before
/// its transaction counts for nothing), and when its confirming label arrived.
/// </summary>
internal sealed class LabelTruth
{
    private const double HourMs = 3_600_000;

    private LabelTruth(List<(string Name, bool[] Positives)> bases, long[] labelTimes, DateTimeOffset? to)
    {
        Bases = bases;
        LabelTimes = labelTimes;
        To = to;
    }

    /// <summary>Named truths, each one flag per in-range event.</summary>
    public List<(string Name, bool[] Positives)> Bases { get; }

    /// <summary>Per in-range event, when its fraud verdict (by every label read) became known (long.MaxValue: not fraud).</summary>
    public long[] LabelTimes { get; }

    /// <summary>The range end.</summary>
    public DateTimeOffset? To { get; }

    public static LabelTruth Of(BacktestResult result, ReplayLabels labels, DateTimeOffset? to)
    {
        var events = result.Events;
        IEnumerable<TransactionLabel> read = labels.Read
            ?? events.Where(e => e.IsFraud == true).Select(e => new TransactionLabel(
                e.TransactionId, e.CardId, e.MerchantId, e.EventTimeMs, e.EventTimeMs + Math.Max(1L, labels.Delay!.DelayMs(e.TransactionId)), true));
        var all = Verdicts(read, long.MaxValue);
        var end = to?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        var atEnd = Verdicts(read, end);
        bool[] Flags(Dictionary<string, long> verdicts) => [.. events.Select(e => verdicts.ContainsKey(e.TransactionId))];
        var bases = new List<(string, bool[])>();
        if (to is not null)
        {
            bases.Add(("range_end", Flags(atEnd)));
        }

        if (labels.Read is not null || to is null)
        {
            bases.Add(("all", Flags(all)));
        }

        var times = events.Select(e => all.TryGetValue(e.TransactionId, out var t) ? t : long.MaxValue).ToArray();
        return new LabelTruth(bases, times, to);
    }

    public ReplayLabelsReport Describe(BacktestResult result, ReplayLabels labels, bool fedToFeatures)
    {
        var events = result.Events;
        var delays = new List<double>();
        long after = 0;
        var end = To?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        for (var i = 0; i < events.Count; i++)
        {
            if (LabelTimes[i] != long.MaxValue)
            {
                delays.Add((LabelTimes[i] - events[i].EventTimeMs) / HourMs);
                after += LabelTimes[i] >= end ? 1 : 0;
            }
        }

        delays.Sort();
        double? Q(double q) => delays.Count == 0 ? null : delays[Math.Min(delays.Count - 1, (int)(q * delays.Count))];
        long? unlabelled = events.Count > 0 && events.All(e => e.IsFraud is not null)
            ? events.Where((e, i) => e.IsFraud == true && LabelTimes[i] == long.MaxValue).LongCount()
            : null;
        var inv = CultureInfo.InvariantCulture;
        var bias = string.Create(inv,
            $"Label delay biases quality measured from labels: an event counts as fraud only once a fraud label for it is known, so a fraud not labelled yet counts as legitimate. Recall is measured over labelled frauds only, precision is biased low (an alert on a fraud not labelled yet counts as a false alarm) and cost mixes both (a caught unlabelled fraud costs a false alarm, a missed one costs nothing). The end of the range is hit hardest: here {after:N0} of {delays.Count:N0} confirmed frauds were labelled only after the range ended, so the 'range_end' figures — what a backtest run at --to would have reported — undercount them; 'all' uses every label read. Re-run a backtest once the labels of its range have settled (p90 delay {(Q(0.9) is { } p90 ? p90.ToString("0.#", inv) + " h" : "-")}).");
        if (unlabelled is > 0)
        {
            bias += string.Create(inv, $" {unlabelled:N0} in-range frauds by is_fraud have no fraud label at all.");
        }

        return new ReplayLabelsReport
        {
            Kind = labels.Kind,
            Description = labels.Description,
            FedToFeatures = fedToFeatures,
            Labels = labels.Read?.Count ?? result.LabelsSimulated,
            Undecodable = labels.Undecodable,
            Outcomes = result.LabelOutcomes.OrderBy(o => o.Key).ToDictionary(o => Name(o.Key), o => o.Value),
            NotReached = result.LabelsNotReached,
            Cuts = result.LabelCuts,
            Frauds = delays.Count,
            LabelledAfterRange = after,
            DelayP50Hours = Q(0.5),
            DelayP90Hours = Q(0.9),
            UnlabelledFrauds = unlabelled,
            Bias = bias,
        };
    }

    /// <summary>Transactions confirmed fraud by the labels with label time before <paramref name="before"/>, with that label's time.</summary>
    private static Dictionary<string, long> Verdicts(IEnumerable<TransactionLabel> labels, long before)
    {
        var newest = new Dictionary<string, (long Time, bool Fraud, long FraudTime)>(StringComparer.Ordinal);
        foreach (var l in labels)
        {
            if (l.LabelTimeMs >= before || l.LabelTimeMs < l.EventTimeMs)
            {
                continue;
            }

            // FraudTime: when the verdict in force became fraud (a later fraud label agreeing with it keeps that time).
            if (!newest.TryGetValue(l.TransactionId, out var v))
            {
                newest[l.TransactionId] = (l.LabelTimeMs, l.IsFraud, l.LabelTimeMs);
            }
            else if (l.LabelTimeMs > v.Time)
            {
                newest[l.TransactionId] = (l.LabelTimeMs, l.IsFraud, l.IsFraud && v.Fraud ? v.FraudTime : l.LabelTimeMs);
            }
            else if (l.LabelTimeMs == v.Time && l.IsFraud && !v.Fraud)
            {
                newest[l.TransactionId] = (l.LabelTimeMs, true, l.LabelTimeMs);
            }
        }

        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (id, v) in newest)
        {
            if (v.Fraud)
            {
                result[id] = v.FraudTime;
            }
        }

        return result;
    }

    private static string Name(LabelOutcome outcome) => outcome.ToString().ToLowerInvariant();
}
