using StreamFraud.Core.Labels;
using StreamFraud.Core.Quality;

namespace StreamFraud.Core.Tests.Quality;

public class LiveQualityTests
{
    private const long T0 = 1_767_225_600_000;
    private const long Day = 86_400_000;

    private static readonly DecisionRecord Alert = new("tx-1", "card-1", "v1", Alerted: true, 0.9, 0.4, T0 + 1000);

    private static TransactionLabel Label(bool fraud, long after = Day, string card = "card-1") => new("tx-1", card, "m-1", T0, T0 + after, fraud);

    [Fact]
    public void Join_FirstVerdictOnAnAlert_CountsForTheAlertsVersion()
    {
        var fraud = LiveQuality.Join(Label(true), new LabelDecision(LabelOutcome.Applied, null, 1, null), Alert, "v9", T0);
        Assert.Equal(new QualityJoin(null, new QualityChange("v1", QualityResult.TruePositive, 1), null), fraud);

        var legit = LiveQuality.Join(Label(false), new LabelDecision(LabelOutcome.Applied, null, 0, null), Alert, "v9", T0);
        Assert.Equal(new QualityChange("v1", QualityResult.FalsePositive, 1), legit.Counted);
    }

    [Fact]
    public void Join_NoAlert_CountsForTheServingVersion_AndRecordsTheAttribution()
    {
        var join = LiveQuality.Join(Label(true), new LabelDecision(LabelOutcome.Applied, null, 1, null), null, "v9", T0 + (2 * Day));
        Assert.Equal(new QualityChange("v9", QualityResult.FalseNegative, 1), join.Counted);
        Assert.Null(join.Retracted);
        Assert.Equal(new DecisionRecord("tx-1", "card-1", "v9", false, double.NaN, double.NaN, T0 + (2 * Day)), join.Attribution);

        // A record of another card with the same transaction id is not this transaction's alert (and is left alone).
        var other = LiveQuality.Join(Label(true, card: "card-2"), new LabelDecision(LabelOutcome.Applied, null, 1, null), Alert, "v9", T0);
        Assert.Equal(new QualityChange("v9", QualityResult.FalseNegative, 1), other.Counted);
        Assert.Null(other.Attribution);
    }

    [Fact]
    public void Join_Flip_RetractsThePreviousResultOfTheSameVersion()
    {
        var join = LiveQuality.Join(Label(false, 2 * Day), new LabelDecision(LabelOutcome.Flipped, null, -1, null), Alert, "v9", T0);
        Assert.Equal(new QualityChange("v1", QualityResult.TruePositive, -1), join.Retracted);
        Assert.Equal(new QualityChange("v1", QualityResult.FalsePositive, 1), join.Counted);

        var attributed = Alert with { ModelVersion = "v7", Alerted = false };
        var quiet = LiveQuality.Join(Label(true, 2 * Day), new LabelDecision(LabelOutcome.Flipped, null, 1, null), attributed, "v9", T0);
        Assert.Equal(new QualityChange("v7", QualityResult.TrueNegative, -1), quiet.Retracted);
        Assert.Equal(new QualityChange("v7", QualityResult.FalseNegative, 1), quiet.Counted);
    }

    [Theory]
    [InlineData(LabelOutcome.Duplicate)]
    [InlineData(LabelOutcome.Superseded)]
    [InlineData(LabelOutcome.Stale)]
    [InlineData(LabelOutcome.Conflicting)]
    [InlineData(LabelOutcome.Invalid)]
    public void Join_OutcomesThatChangeNoVerdict_CountNothing(LabelOutcome outcome) =>
        Assert.Equal(default, LiveQuality.Join(Label(true), new LabelDecision(outcome, null, 0, null), Alert, "v9", T0));

    /// <summary>
    /// Random label streams (redeliveries, flips, ties, out-of-order label times) through the label rules and the join:
    /// the net counts equal the final verdicts computed independently (newest label wins, fraud wins a tie), each
    /// transaction classified once against its alert.
    /// </summary>
    [Fact]
    public void NetCounts_RandomLabelStreams_EqualFinalVerdictsComputedIndependently()
    {
        var rng = new Random(12);
        for (var round = 0; round < 200; round++)
        {
            var transactions = rng.Next(1, 12);
            var alerts = new Dictionary<string, DecisionRecord>();
            for (var t = 0; t < transactions; t++)
            {
                if (rng.Next(2) == 0)
                {
                    alerts[$"tx-{t}"] = new DecisionRecord($"tx-{t}", $"card-{t % 3}", rng.Next(2) == 0 ? "v1" : "v2", true, 0.8, 0.4, T0);
                }
            }

            var labels = new List<TransactionLabel>();
            for (var n = rng.Next(0, 40); n > 0; n--)
            {
                var t = rng.Next(transactions);
                var label = new TransactionLabel($"tx-{t}", $"card-{t % 3}", "m-1", T0 + t, T0 + t + (rng.Next(1, 6) * Day), rng.Next(2) == 0);
                labels.Add(label);
                if (rng.Next(4) == 0)
                {
                    labels.Add(label); // a redelivery
                }
            }

            var book = new RiskBook();
            var log = new Dictionary<string, DecisionRecord>(alerts);
            var tally = new QualityTally();
            foreach (var label in labels)
            {
                var join = LiveQuality.Join(label, book.ApplyLabel(label), log.GetValueOrDefault(label.TransactionId), "v9", T0);
                if (join.Attribution is { } a)
                {
                    log.TryAdd(a.TransactionId, a);
                }

                foreach (var change in new[] { join.Retracted, join.Counted })
                {
                    if (change is { } c)
                    {
                        tally.Add(c);
                    }
                }
            }

            var expected = new Dictionary<string, long[]>();
            foreach (var g in labels.GroupBy(l => l.TransactionId))
            {
                var newest = g.Max(l => l.LabelTimeMs);
                var fraud = g.Any(l => l.LabelTimeMs == newest && l.IsFraud);
                var alert = alerts.GetValueOrDefault(g.Key);
                var version = alert?.ModelVersion ?? "v9";
                var counts = expected.TryGetValue(version, out var c) ? c : expected[version] = new long[4];
                counts[(int)LiveQuality.Classify(alert is not null, fraud)]++;
            }

            var actual = tally.Snapshot().Select(q => $"{q.ModelVersion}: {q.TruePositives} {q.FalsePositives} {q.FalseNegatives} {q.TrueNegatives}");
            Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: {string.Join(' ', kv.Value)}"), actual);
        }
    }

    [Fact]
    public void QualityCounts_PrecisionRecallCost()
    {
        var q = new QualityCounts("v1", TruePositives: 6, FalsePositives: 2, FalseNegatives: 3, TrueNegatives: 50);
        Assert.Equal(0.75, q.Precision);
        Assert.Equal(6.0 / 9, q.Recall);
        Assert.Equal(32, q.Cost); // 10 x 3 + 2
        Assert.True(double.IsNaN(new QualityCounts("v2", 0, 0, 0, 4).Precision));
        Assert.True(double.IsNaN(new QualityCounts("v2", 0, 0, 0, 4).Recall));
    }
}
