using Spectre.Console;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;
using StreamFraud.Replay;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;
using StreamFraud.Sim.Generation;
using StreamFraud.XgBoost;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// A card v2 replay merges labels into the stream by label time exactly as the trainer does: every event's window equals
/// the offline featurisation (<see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/>)
/// with the same labels — a labels file or simulated delays — whatever the batch size, and its score is the bundle's
/// score of that window; quality judged by labels equals a direct computation. CSV input only: no broker needed.
/// </summary>
public sealed class Replay_Labels : IDisposable
{
    private const long Day = 86_400_000;
    private readonly string _root = Directory.CreateTempSubdirectory("sf-replay-labels-").FullName;
    private readonly List<Transaction> _events;
    private readonly string _csv;

    public Replay_Labels()
    {
        _events = new TransactionSimulator(new SimulationOptions
        {
            Cards = 90,
            Days = 40,
            Seed = 21,
            FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.012),
        }).Generate().ToList();
        _csv = Path.Combine(_root, "events.csv");
        CanonicalCsv.Write(_csv, _events);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Backtest_LabelsFile_EveryWindowAndScoreEqualsTheTrainersFeaturisation_AtAnyBatchSize()
    {
        var labels = FileLabels(_events, seed: 5);
        var labelsPath = Path.Combine(_root, "labels.csv");
        LabelCsv.Write(labelsPath, labels);
        var tiny = V2Bundle("file", threshold: 0.0); // every applied event alerts: each carries its window hash and score
        var expected = Expected(tiny, TrainingSet.Build(FeatureSpec.CardV2, _events, LabelFeed.FromLabels(LabelCsv.Read(labelsPath))));

        foreach (var batch in new[] { 512, 37 })
        {
            var result = await Replay(tiny, ReplayLabels.FromFile(labelsPath).NewFeed(), batch);

            AssertEqualsExpected(result, expected, $"labels file, batch {batch}");
            Assert.True(result.LabelCuts > 10, $"labels should fall inside batches: {result.LabelCuts} cuts");
            Assert.True(result.LabelOutcomes[LabelOutcome.Applied] > 100 && result.LabelOutcomes[LabelOutcome.Flipped] > 0);
        }

        // Without the labels the label features differ: the comparison above is not vacuous.
        var unlabelled = await Replay(tiny, LabelFeed.FromLabels([]), 512);
        var differing = unlabelled.Versions[0].Alerts.Values.Count(a => a.WindowHash != expected[a.TransactionId].Hash);
        Assert.True(differing > 500, $"only {differing} windows depend on the labels");
    }

    [Theory]
    [InlineData("uniform:10m..2d")]
    [InlineData("7d")]
    public async Task Backtest_SimulatedDelay_EqualsTheTrainerWithTheSameDelay(string delayText)
    {
        Assert.True(LabelDelay.TryParse(delayText, out var delay, out _));
        var tiny = V2Bundle("sim", threshold: 0.0);
        var expected = Expected(tiny, TrainingSet.Build(FeatureSpec.CardV2, _events, LabelFeed.FromDelay(delay)));

        var result = await Replay(tiny, ReplayLabels.Simulated(delay).NewFeed(), 256);

        AssertEqualsExpected(result, expected, $"simulated {delayText}");
        Assert.Equal(_events.Count(e => e.IsFraud == true), result.LabelsSimulated);
    }

    [Fact]
    public async Task ReplayCommand_CsvWithoutIsFraud_QualityFromLabelsEqualsDirectComputation_AndStatesTheDelayBias()
    {
        var labels = FileLabels(_events, seed: 8);
        var labelsPath = Path.Combine(_root, "labels-q.csv");
        LabelCsv.Write(labelsPath, labels);
        var unlabelledCsv = Path.Combine(_root, "no-is-fraud.csv");
        CanonicalCsv.Write(unlabelledCsv, _events.Select(e => e with { IsFraud = null, FraudScenario = null }));
        var registryDir = Path.Combine(_root, "registry");
        var registry = new BundleRegistry(registryDir);
        var staging = registry.CreateStagingDirectory();
        TinyBundle.Create(staging, "q", _events.Take(3000).ToList(), costMinThreshold: 0.3, spec: FeatureSpec.CardV2, labelFeed: LabelFeed.FromLabels(labels));
        registry.Publish(staging, "q");
        var tiny = TinyBundle.Open(registry.PathOf("q"));
        var from = DateTimeOffset.FromUnixTimeMilliseconds(_events[0].EventTimeMs).UtcDateTime.Date.AddDays(30);
        var to = from.AddDays(6);

        var report = await ReplayCommand.RunAsync(new ReplayArgs
        {
            Registry = registryDir, Versions = ["q"], Input = unlabelledCsv, Labels = labelsPath, From = from, To = to,
            Out = Path.Combine(_root, "report"),
        }, AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }));

        // Direct computation: the offline windows with the same labels, the bundle's models, the labels' final verdicts.
        var set = TrainingSet.Build(FeatureSpec.CardV2, _events, LabelFeed.FromLabels(labels));
        var scores = Expected(tiny, set);
        var (f, t) = (new DateTimeOffset(from).ToUnixTimeMilliseconds(), new DateTimeOffset(to).ToUnixTimeMilliseconds());
        var inRange = _events.Where(e => e.EventTimeMs >= f && e.EventTimeMs < t).ToList();
        bool Fraud(Transaction e, long knownBefore)
        {
            var known = labels.Where(l => l.TransactionId == e.TransactionId && l.LabelTimeMs < knownBefore).ToList();
            return known.Count > 0 && known.Where(l => l.LabelTimeMs == known.Max(k => k.LabelTimeMs)).Any(l => l.IsFraud);
        }

        var v = report.Versions.Single();
        Assert.Equal(0, v.Labelled); // no is_fraud: the only truth is the labels
        Assert.Null(v.AveragePrecision);
        Assert.Equal(new[] { "range_end", "all" }, v.ByLabels.Select(q => q.Basis));
        foreach (var (q, knownBefore) in v.ByLabels.Zip(new[] { t, long.MaxValue }))
        {
            var positives = inRange.Select(e => Fraud(e, knownBefore)).ToArray();
            var flagged = inRange.Select(e => scores[e.TransactionId].Score >= 0.3).ToArray();
            var tp = positives.Where((p, i) => p && flagged[i]).Count();
            var fp = positives.Where((p, i) => !p && flagged[i]).Count();
            var fn = positives.Where((p, i) => p && !flagged[i]).Count();
            var cost = q.Policies[ThresholdPolicyNames.CostMin];
            Assert.Equal(positives.Count(p => p), q.Positives);
            Assert.Equal((tp, fp, fn), ((int)cost.Confusion.TruePositives, (int)cost.Confusion.FalsePositives, (int)cost.Confusion.FalseNegatives));
            Assert.Equal((10.0 * fn) + fp, cost.Cost);
            Assert.Equal(ScoreCurve.Create(inRange.Select(e => scores[e.TransactionId].Score).ToArray(), positives).AveragePrecision(), q.AveragePrecision!.Value, 5);
        }

        var late = inRange.Count(e => Fraud(e, long.MaxValue) && !Fraud(e, t));
        Assert.True(late > 0, "some frauds of the range are labelled only after it: the delay bias is exercised");
        var l = report.Labels!;
        Assert.True(l.FedToFeatures);
        Assert.Equal(v.ByLabels[1].Positives, l.Frauds);
        Assert.Equal(late, l.LabelledAfterRange);
        Assert.Contains("precision is biased low", l.Bias);
        Assert.Contains($"{l.LabelledAfterRange:N0} of {l.Frauds:N0} confirmed frauds were labelled only after the range ended", l.Bias);
        Assert.Contains("## Quality from labels", File.ReadAllText(Path.Combine(_root, "report", "report.md")));
        Assert.Equal(TimeSpan.FromDays(31), report.Warmup); // the v2 default: the label features read 30 whole days back
    }

    /// <summary>A tiny v2 bundle trained on the first 3,000 events (labels simulated 2 days after each fraud).</summary>
    private TinyBundle V2Bundle(string version, double threshold)
    {
        Assert.True(LabelDelay.TryParse("2d", out var delay, out _));
        return TinyBundle.Create(Path.Combine(_root, version), version, _events.Take(3000).ToList(), costMinThreshold: threshold,
            spec: FeatureSpec.CardV2, labelFeed: LabelFeed.FromDelay(delay));
    }

    /// <summary>Per transaction id, the offline window's hash and the bundle's score of it (C# LSTM, libxgboost, 50/50).</summary>
    private static Dictionary<string, (string Hash, double Score)> Expected(TinyBundle tiny, TrainingSet set)
    {
        var spec = set.Spec;
        var windows = new float[set.Count * spec.WindowSize];
        set.CopyWindows(0, set.Count, windows);
        var lstm = tiny.Lstm.Predict(windows);
        using var xgb = Booster.Load(tiny.XgbModel);
        var xgbScores = xgb.PredictDense(set.Vectors, set.Count, iterationEnd: 0);
        var result = new Dictionary<string, (string, double)>(StringComparer.Ordinal);
        for (var i = 0; i < set.Count; i++)
        {
            result[set.TransactionIds[i]] = (FraudPipeline.WindowHash(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)), (0.5 * lstm[i]) + (0.5 * xgbScores[i]));
        }

        return result;
    }

    private async Task<BacktestResult> Replay(TinyBundle tiny, LabelFeed feed, int batch)
    {
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV2, new BundleLoadOptions { WarmupBatch = 8 });
        return await Backtest.RunAsync(new CsvReplaySource(_csv, null, null, TimeSpan.Zero), [bundle], new InMemoryWindowStore(FeatureSpec.CardV2),
            FeatureSpec.CardV2, feed, batch);
    }

    private void AssertEqualsExpected(BacktestResult result, Dictionary<string, (string Hash, double Score)> expected, string what)
    {
        var alerts = result.Versions[0].Alerts.Values.ToDictionary(a => a.TransactionId, StringComparer.Ordinal);
        Assert.Equal(_events.Count, alerts.Count);
        var maxDiff = 0.0;
        foreach (var e in _events)
        {
            var a = alerts[e.TransactionId];
            var x = expected[e.TransactionId];
            Assert.True(x.Hash == a.WindowHash, $"{what}: {e.TransactionId} at {Iso8601.Format(e.EventTimeMs)} has another window than the trainer's");
            maxDiff = Math.Max(maxDiff, Math.Abs(x.Score - a.Score));
        }

        Assert.True(maxDiff <= 1e-6, $"{what}: scores differ from the offline computation by up to {maxDiff}");
    }

    /// <summary>
    /// Labels as a label feed delivers them: most frauds labelled 1 hour to 5 days later, a quarter at exactly a later
    /// event's time (ties), some twice; a few legitimate transactions claimed as fraud and rejected later.
    /// </summary>
    private static List<TransactionLabel> FileLabels(List<Transaction> events, int seed)
    {
        var rng = new Random(seed);
        var labels = new List<TransactionLabel>();
        for (var i = 0; i < events.Count; i++)
        {
            var t = events[i];
            if (t.IsFraud == true)
            {
                var at = rng.Next(4) == 0
                    ? events[Math.Min(events.Count - 1, i + 1 + rng.Next(400))].EventTimeMs // exactly another event's time
                    : t.EventTimeMs + 3_600_000 + rng.NextInt64(5 * Day);
                labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at, true, LabelOrigin.Chargeback, t.Amount));
                if (rng.Next(6) == 0)
                {
                    labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at + Day, true, LabelOrigin.Analyst));
                }
            }
            else if (rng.Next(150) == 0)
            {
                var at = t.EventTimeMs + rng.NextInt64(2 * Day);
                labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at, true, LabelOrigin.CustomerClaim));
                labels.Add(new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, at + rng.NextInt64(1, 3 * Day), false, LabelOrigin.Analyst));
            }
        }

        return [.. labels.OrderBy(l => l.LabelTimeMs)];
    }
}
