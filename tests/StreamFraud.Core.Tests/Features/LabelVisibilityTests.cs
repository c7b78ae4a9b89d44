using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// No training example sees its own label or a label from its future: for every row of a <c>card</c> v2
/// <see cref="TrainingSet"/>, the 19 merchant and card label-history features are recomputed by brute force from the
/// label list filtered to <c>label_time &lt; the row's event_time</c> and to transactions of days before the row's UTC
/// day (the definitions of <c>FEATURES.md</c> / <see cref="CardFeatureSpecV2"/>), and compared bit for bit — with
/// simulated delays and with a labels file holding labels at exactly other rows' event times, at the transaction's
/// own event time, flips, ties, duplicates, stale, conflicting, invalid and unknown-transaction labels.
/// </summary>
public sealed class LabelVisibilityTests
{
    private const int V1 = CardFeatureSpecV1.FeatureCount;
    private const int Horizon = 30;
    private const long Grid = 10 * Minute;
    private static readonly int[] Taus = [1, 7, 30];

    [Theory]
    [InlineData("1d")]          // label times on the event-time grid: ties with other rows' event times
    [InlineData("exp:2d")]
    [InlineData("uniform:1h..3d")]
    [InlineData("10m")]         // labelled before the end of the fraud's own day: still invisible that day
    public void Build_SimulatedDelay_EveryRowEqualsBruteForceOverEarlierLabelsAndDays(string delayText)
    {
        Assert.True(LabelDelay.TryParse(delayText, out var delay, out _));
        var stream = Stream(seed: 3);

        var set = TrainingSet.Build(FeatureSpec.CardV2, stream, LabelFeed.FromDelay(delay));

        // The simulated feed labels every applied fraud at event time + delay, and nothing else.
        var labels = stream.Where(t => t.IsFraud == true)
            .Select(t => new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, t.EventTimeMs + delay.DelayMs(t.TransactionId), true))
            .ToList();
        var checkedRows = AssertEveryRowEqualsBruteForce(set, stream, labels);
        Assert.True(checkedRows.SawMerchantFraud > 100, $"only {checkedRows.SawMerchantFraud} rows saw a merchant fraud: the test data exercises nothing");
        Assert.True(checkedRows.SawCardFraud > 10, $"only {checkedRows.SawCardFraud} rows saw a card fraud");
        Assert.Equal(labels.Count, set.LabelStats!.Applied + set.LabelStats.NotReached);
        if (delayText == "1d")
        {
            Assert.Contains(labels, l => stream.Any(t => t.EventTimeMs == l.LabelTimeMs)); // ties were exercised
        }
    }

    [Fact]
    public void Build_LabelsFile_EveryRowEqualsBruteForce_WithTiesFlipsDuplicatesAndDeadLetters()
    {
        var stream = Stream(seed: 5);
        var labels = FileLabels(stream, seed: 6);

        var set = TrainingSet.Build(FeatureSpec.CardV2, stream, LabelFeed.FromLabels(labels));

        var seen = AssertEveryRowEqualsBruteForce(set, stream, labels);
        Assert.True(seen.SawMerchantFraud > 100, $"only {seen.SawMerchantFraud} rows saw a merchant fraud");
        var stats = set.LabelStats!;
        Assert.Equal("file", stats.Source);
        Assert.True(stats.Flipped > 0 && stats.Duplicates > 0 && stats.Superseded > 0 && stats.Stale > 0 && stats.Conflicting > 0 && stats.Invalid > 0,
            $"every rule should be exercised: {stats}");
        Assert.Equal(labels.Count, stats.Offered + stats.NotReached);
    }

    [Fact]
    public void Build_OwnLabelAtOwnEventTime_NeverVisibleToItsDay_VisibleFromTheNextDayOn()
    {
        var day = T0 + (3 * Day);
        Transaction[] stream =
        [
            Make("x", day + Hour, 10, merchant: "m", card: "a", isFraud: true),
            Make("same-day", day + (2 * Hour), 10, merchant: "m", card: "b"),
            Make("label-time", day + (3 * Hour), 10, merchant: "m", card: "c"),  // event time == the label's time
            Make("next-day", day + Day + Minute, 10, merchant: "m", card: "d"),
        ];
        TransactionLabel[] labels =
        [
            new("x", "a", "m", day + Hour, day + Hour, true),                  // labelled at its own event time
            new("y", "z", "m", day - Day, day + (3 * Hour), true),             // a day-earlier fraud labelled at exactly a row's time
        ];

        var set = TrainingSet.Build(FeatureSpec.CardV2, stream, LabelFeed.FromLabels(labels));

        var fraud1d = CardFeatureSpecV2.MerchantFraud;
        Assert.Equal(0f, set.Vector(0)[fraud1d]);   // its own label: same day, and not before its event time
        Assert.Equal(0f, set.Vector(1)[fraud1d]);   // x's label is known, but x's day is not complete
        Assert.Equal(0f, set.Vector(2)[fraud1d]);   // y's label arrives at exactly this event time: the transaction goes first
        Assert.True(set.Vector(3)[fraud1d] > 0f);   // next day: x (1 day back) and y (2 days back) are known
        Assert.Equal((float)DeterministicMath.Log1P(1 + DeterministicMath.Exp(-1)), set.Vector(3)[fraud1d]);
    }

    private sealed record Seen(int SawMerchantFraud, int SawCardFraud);

    /// <summary>Checks every row's 19 entity features against the brute force, and its v1 block against a v1 build.</summary>
    private static Seen AssertEveryRowEqualsBruteForce(TrainingSet set, List<Transaction> stream, List<TransactionLabel> labels)
    {
        Assert.Equal(stream.Count, set.Count); // the streams have no duplicates or invalid rows
        var v1 = TrainingSet.Build(FeatureSpec.CardV1, stream);
        var byId = stream.ToDictionary(t => t.TransactionId, StringComparer.Ordinal);

        // Applied transactions per (entity, UTC day): every row of an earlier day was applied before the row that reads it.
        var merchantDays = new Dictionary<(string, long), int>();
        var cardDays = new Dictionary<(string, long), int>();
        for (var i = 0; i < set.Count; i++)
        {
            var tx = byId[set.TransactionIds[i]];
            if (tx.MerchantId.Length > 0)
            {
                merchantDays[(tx.MerchantId, DayOf(tx.EventTimeMs))] = merchantDays.GetValueOrDefault((tx.MerchantId, DayOf(tx.EventTimeMs))) + 1;
            }

            cardDays[(tx.CardId, DayOf(tx.EventTimeMs))] = cardDays.GetValueOrDefault((tx.CardId, DayOf(tx.EventTimeMs))) + 1;
        }

        int sawMerchant = 0, sawCard = 0;
        var expected = new float[19];
        for (var i = 0; i < set.Count; i++)
        {
            var tx = byId[set.TransactionIds[i]];
            var t = set.EventTimesMs[i];
            var frauds = ConfirmedFrauds(labels.Where(l => l.LabelTimeMs < t));
            var day = DayOf(t);
            var mFraud = Entity(tx.MerchantId.Length == 0 ? null : tx.MerchantId, day, merchantDays, frauds.Where(f => f.MerchantId.Length > 0).Select(f => (f.MerchantId, DayOf(f.EventTimeMs))));
            var cFraud = Entity(tx.CardId, day, cardDays, frauds.Select(f => (f.CardId, DayOf(f.EventTimeMs))));
            for (var k = 0; k < 3; k++)
            {
                expected[k] = (float)DeterministicMath.Log1P(mFraud.Txns[k]);
                expected[3 + k] = (float)DeterministicMath.Log1P(mFraud.Frauds[k]);
                expected[6 + k] = (float)Math.Clamp(mFraud.Frauds[k] / Math.Max(mFraud.Txns[k], 1.0), 0.0, 1.0);
                expected[11 + k] = (float)DeterministicMath.Log1P(cFraud.Txns[k]);
                expected[14 + k] = (float)DeterministicMath.Log1P(cFraud.Frauds[k]);
            }

            expected[9] = mFraud.Newest > 0 ? 1f : 0f;
            expected[10] = (float)DeterministicMath.Log1P(mFraud.Newest > 0 ? mFraud.Newest : Horizon + 1);
            expected[17] = cFraud.Newest > 0 ? 1f : 0f;
            expected[18] = (float)DeterministicMath.Log1P(cFraud.Newest > 0 ? cFraud.Newest : Horizon + 1);

            var actual = set.Vector(i);
            for (var f = 0; f < 19; f++)
            {
                if (BitConverter.SingleToInt32Bits(expected[f]) != BitConverter.SingleToInt32Bits(actual[V1 + f]))
                {
                    Assert.Fail($"row {i} ({tx.TransactionId}, {Iso8601.Format(t)}): {FeatureSpec.CardV2.Features[V1 + f].Name} = {actual[V1 + f]:R}, brute force {expected[f]:R}");
                }
            }

            Assert.True(actual[..V1].SequenceEqual(v1.Vector(i)), $"row {i}: the v1 block differs from spec v1's vector");
            sawMerchant += mFraud.Newest > 0 ? 1 : 0;
            sawCard += cFraud.Newest > 0 ? 1 : 0;
        }

        return new Seen(sawMerchant, sawCard);
    }

    /// <summary>
    /// The transactions confirmed fraud by <paramref name="visible"/> (FEATURES.md "Labels"), declaratively: bad labels
    /// and labels more than 30 days after their transaction count for nothing; a transaction's identity (card, merchant,
    /// event time) is that of its first remaining label by label time, labels naming it otherwise count for nothing; its
    /// verdict is that of its newest label, fraud winning a tie.
    /// </summary>
    private static List<TransactionLabel> ConfirmedFrauds(IEnumerable<TransactionLabel> visible)
    {
        var result = new List<TransactionLabel>();
        var usable = visible
            .Select((l, order) => (Label: l, Order: order))
            .Where(x => x.Label.LabelTimeMs >= x.Label.EventTimeMs && x.Label.LabelTimeMs - x.Label.EventTimeMs <= 30 * Day);
        foreach (var group in usable.GroupBy(x => x.Label.TransactionId, StringComparer.Ordinal))
        {
            var first = group.OrderBy(x => x.Label.LabelTimeMs).ThenBy(x => x.Order).First().Label;
            var same = group.Select(x => x.Label)
                .Where(l => l.CardId == first.CardId && l.MerchantId == first.MerchantId && l.EventTimeMs == first.EventTimeMs)
                .ToList();
            var newest = same.Max(l => l.LabelTimeMs);
            if (same.Any(l => l.LabelTimeMs == newest && l.IsFraud))
            {
                result.Add(first);
            }
        }

        return result;
    }

    /// <summary>Decayed sums over days D−1 … D−30 (a ascending, the spec's order) and the age of the newest fraud day.</summary>
    private static (double[] Txns, double[] Frauds, int Newest) Entity(
        string? id, long day, Dictionary<(string, long), int> txnDays, IEnumerable<(string Id, long Day)> fraudDays)
    {
        var txns = new double[3];
        var frauds = new double[3];
        if (id is null)
        {
            return (txns, frauds, 0);
        }

        var fraudCounts = fraudDays.Where(f => f.Id == id).GroupBy(f => f.Day).ToDictionary(g => g.Key, g => g.Count());
        var newest = 0;
        for (var a = 1; a <= Horizon; a++)
        {
            var t = txnDays.GetValueOrDefault((id, day - a));
            var f = fraudCounts.GetValueOrDefault(day - a);
            if (f > 0 && newest == 0)
            {
                newest = a;
            }

            for (var k = 0; k < 3; k++)
            {
                var w = DeterministicMath.Exp(-(a - 1) / (double)Taus[k]);
                txns[k] += w * t;
                frauds[k] += w * f;
            }
        }

        return (txns, frauds, newest);
    }

    private static long DayOf(long ms) => ms / Day;

    /// <summary>
    /// 45 days of 30 cards at 9 merchants (one without an id) on a 10-minute grid, so event times tie with each other
    /// and with label times; a hot merchant has frauds on days 5–20, elsewhere 1.5% of rows are fraud.
    /// </summary>
    private static List<Transaction> Stream(int seed)
    {
        var rng = new Random(seed);
        var rows = new List<(long Time, int Seq, Transaction Tx)>();
        for (var i = 0; i < 3000; i++)
        {
            var t = T0 + (rng.NextInt64(45 * Day / Grid) * Grid);
            var card = $"c{rng.Next(30):D2}";
            var merchant = rng.Next(40) == 0 ? "" : $"m{rng.Next(8)}";
            var dayIndex = (t - T0) / Day;
            var fraud = merchant == "m0" && dayIndex is >= 5 and <= 20 ? rng.Next(3) == 0 : rng.Next(66) == 0;
            rows.Add((t, i, Make($"t{i:D4}", t, Math.Round(5 + (rng.NextDouble() * 200), 2), merchant: merchant, card: card,
                isFraud: fraud, scenario: fraud ? "test" : null)));
        }

        return [.. rows.OrderBy(r => r.Time).ThenBy(r => r.Seq).Select(r => r.Tx)];
    }

    /// <summary>
    /// A labels file for <paramref name="stream"/>: most frauds labelled after 0 (its own event time) to 5 days on the
    /// event grid; duplicates (the same verdict again, also at the same instant), flips both ways, fraud and legitimate
    /// at one instant, stale labels, labels of unknown transactions, a conflicting label and an invalid one; shuffled.
    /// </summary>
    private static List<TransactionLabel> FileLabels(List<Transaction> stream, int seed)
    {
        var rng = new Random(seed);
        var labels = new List<TransactionLabel>();
        TransactionLabel Label(Transaction t, long labelTime, bool fraud, LabelOrigin origin = LabelOrigin.Chargeback) =>
            new(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, labelTime, fraud, origin, t.Amount);
        long Delay() => rng.Next(8) == 0 ? 0 : rng.NextInt64(5 * Day / Grid) * Grid;

        var legit = stream.Where(t => t.IsFraud != true).ToList();
        foreach (var t in stream.Where(t => t.IsFraud == true))
        {
            if (rng.Next(7) == 0)
            {
                continue; // never labelled
            }

            var at = t.EventTimeMs + Delay();
            labels.Add(Label(t, at, true));
            switch (rng.Next(12))
            {
                case 0:
                    labels.Add(Label(t, at + (rng.Next(1, 100) * Grid), true, LabelOrigin.Analyst)); // duplicate later
                    break;
                case 1:
                    labels.Add(Label(t, at, true, LabelOrigin.CustomerClaim)); // duplicate at the same instant
                    break;
                case 2:
                    labels.Add(Label(t, at + (rng.Next(1, 300) * Grid), false)); // reversed later
                    break;
                case 3:
                    labels.Add(Label(t, at, false)); // legitimate at the same instant: fraud wins
                    break;
                case 4:
                    labels.Add(Label(t, at - Grid >= t.EventTimeMs ? at - Grid : at, false)); // legitimate first, then fraud
                    break;
                default:
                    break;
            }
        }

        for (var i = 0; i < 25; i++)
        {
            var t = legit[rng.Next(legit.Count)];
            var at = t.EventTimeMs + Delay();
            labels.Add(Label(t, at, true, LabelOrigin.CustomerClaim));                  // a claim …
            labels.Add(Label(t, at + (rng.Next(1, 500) * Grid), false, LabelOrigin.Analyst)); // … rejected later
        }

        for (var i = 0; i < 5; i++)
        {
            var t = legit[rng.Next(legit.Count)];
            labels.Add(Label(t, t.EventTimeMs + (31 * Day), true));                  // stale: no feature can see it
            var x = legit[rng.Next(legit.Count)];
            labels.Add(new TransactionLabel($"unknown-{i}", "c00", "m0", x.EventTimeMs, x.EventTimeMs + Day, true)); // not in the stream
        }

        var victim = labels[0];
        labels.Add(victim with { MerchantId = "m7", LabelTimeMs = victim.LabelTimeMs + Day });        // conflicting: other merchant
        labels.Add(victim with { TransactionId = "bad", LabelTimeMs = victim.EventTimeMs - Minute }); // invalid: before its transaction
        return [.. labels.OrderBy(_ => rng.Next())];
    }
}
