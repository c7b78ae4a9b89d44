using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

public class CardFeaturesV2Tests
{
    private static readonly CardFeatureSpecV2 Spec = FeatureSpec.CardV2;
    private static readonly int[] Taus = [1, 7, 30];

    [Fact]
    public void Identity_V1Prefix_NineteenRiskFeatures_Resolvable()
    {
        Assert.Equal(75, Spec.Dimension);
        Assert.Equal(("card", 2), (Spec.Name, Spec.Version));
        Assert.True(Spec.UsesEntityRisk);
        Assert.False(FeatureSpec.CardV1.UsesEntityRisk);
        for (var i = 0; i < FeatureSpec.CardV1.Dimension; i++)
        {
            Assert.Equal(FeatureSpec.CardV1.Features[i].Name, Spec.Features[i].Name);
        }

        Assert.NotEqual(FeatureSpec.CardV1.ContentHash, Spec.ContentHash);
        Assert.True(FeatureSpec.TryResolve("card", 2, out var resolved, out _));
        Assert.Same(Spec, resolved);
        Assert.Equal("merchant_risk_7d", Spec.Features[Spec.IndexOf("merchant_risk_7d")].Name);
        Assert.Equal(Spec.Features.Count, Spec.Features.Select(f => f.Name).Distinct().Count());
    }

    [Fact]
    public void V1Block_IsBitForBitV1_AndRiskBlockIsEmptyWithoutHistory()
    {
        var v1 = new CardState(FeatureSpec.CardV1);
        var v2 = new CardState(Spec);
        var w1 = new float[FeatureSpec.CardV1.WindowSize];
        var w2 = new float[Spec.WindowSize];
        for (var i = 0; i < 12; i++)
        {
            var tx = Make($"t{i}", T0 + (i * 7 * Hour), 10 + (i * 3.5), merchant: $"m{i % 3}");
            v1.TryApply(tx, SourcePosition.None, w1);
            v2.TryApply(tx, SourcePosition.None, w2, null, null);
            Assert.True(BitEqual(w1.AsSpan(^56..), w2.AsSpan(^75..^19)));
            var risk = w2.AsSpan(^19..);
            Assert.Equal(0f, risk[..9].ToArray().Sum());
            Assert.Equal((float)Math.Log(32), risk[10], 6); // merchant days since: none
            Assert.Equal((float)Math.Log(32), risk[18], 6); // card days since: none
        }
    }

    [Fact]
    public void RiskFeatures_EqualABruteForceOverTheKnownHistory_WithSimulatedLabels()
    {
        var stream = Stream(seed: 11, cards: 150, merchants: 25, days: 75, events: 15_000);
        Assert.True(LabelDelay.TryParse("exp:2d", out var delay, out _));
        var feed = LabelFeed.FromDelay(delay);
        var set = TrainingSet.Build(Spec, stream, feed);
        Assert.Equal(stream.Count, set.Count);

        // Brute force from the raw stream: the labels known at row r are the frauds whose label time (event time +
        // delay) is before r's event time; transactions counted are all earlier rows.
        var labelTime = stream.Where(t => t.IsFraud == true).ToDictionary(t => t.TransactionId, t => t.EventTimeMs + Math.Max(1, delay.DelayMs(t.TransactionId)));
        var byDay = stream.Select((tx, index) => (Tx: tx, Index: index)).GroupBy(e => RiskRing.Stamp(e.Tx.EventTimeMs)).ToDictionary(g => g.Key, g => g.ToList());
        var checkedRows = 0;
        for (var r = 0; r < set.Count; r += 5)
        {
            var tx = stream[r];
            var day = RiskRing.Stamp(tx.EventTimeMs);
            var v = set.Vector(r);
            Check(v, CardFeatureSpecV2.MerchantTxn, earlier => earlier.MerchantId == tx.MerchantId, merchant: true);
            Check(v, CardFeatureSpecV2.CardTxn, earlier => earlier.CardId == tx.CardId, merchant: false);
            checkedRows++;

            void Check(ReadOnlySpan<float> vector, int at, Func<Transaction, bool> same, bool merchant)
            {
                var txns = new double[3];
                var frauds = new double[3];
                var newest = 0;
                for (var a = 1; a <= 30; a++)
                {
                    var rows = (byDay.TryGetValue(day - (uint)a, out var list) ? list : []).Where(e => e.Index < r && same(e.Tx)).Select(e => e.Tx).ToList();
                    var f = rows.Count(e => e.IsFraud == true && labelTime[e.TransactionId] < tx.EventTimeMs);
                    if (f > 0 && newest == 0)
                    {
                        newest = a;
                    }

                    for (var k = 0; k < 3; k++)
                    {
                        txns[k] += rows.Count * Math.Exp(-(a - 1) / (double)Taus[k]);
                        frauds[k] += f * Math.Exp(-(a - 1) / (double)Taus[k]);
                    }
                }

                for (var k = 0; k < 3; k++)
                {
                    Near(Math.Log(1 + txns[k]), vector[at + k], $"row {r} txn τ{Taus[k]}");
                    Near(Math.Log(1 + frauds[k]), vector[at + 3 + k], $"row {r} fraud τ{Taus[k]}");
                    if (merchant)
                    {
                        Near(Math.Min(1, frauds[k] / Math.Max(1, txns[k])), vector[at + 6 + k], $"row {r} risk τ{Taus[k]}");
                    }
                }

                var flags = merchant ? at + 9 : at + 6;
                Assert.Equal(newest > 0 ? 1f : 0f, vector[flags]);
                Near(Math.Log(1 + (newest > 0 ? newest : 31)), vector[flags + 1], $"row {r} days since");
            }
        }

        Assert.True(checkedRows > 2000);
        Assert.True(set.Vectors.ToArray().Where((_, i) => i % 75 == CardFeatureSpecV2.MerchantHasFraud).Count(x => x == 1f) > 500, "the stream must exercise known frauds");
        Assert.Equal(feed.Simulated, set.LabelStats!.Offered + set.LabelStats.NotReached);
    }

    [Fact]
    public void CardDayCounts_EqualABruteForce_OutOfOrderAndAcrossGaps_AndSurviveTheStateBytes()
    {
        // Reference: a count per day; a day 40 or more before the newest day counted is dropped and reads 0.
        var rng = new Random(5);
        var counts = new CardFeatureSpecV2.DayCounts();
        var reference = new Dictionary<uint, uint>();
        uint newest = 0;
        var day0 = RiskRing.Stamp(T0);
        for (var step = 0; step < 5000; step++)
        {
            // Mostly forward by 0-2 days, sometimes late (up to 45 days back), sometimes a gap of 30-90 days.
            var roll = rng.Next(100);
            var day = newest == 0 ? day0
                : roll < 80 ? newest + (uint)rng.Next(3)
                : roll < 97 ? newest - (uint)Math.Min(rng.Next(46), newest - 1)
                : newest + (uint)rng.Next(30, 91);
            if (newest == 0 || newest < day + CardFeatureSpecV2.DayCounts.Days)
            {
                reference[day] = reference.GetValueOrDefault(day) + 1;
                newest = Math.Max(newest, day);
            }

            counts.Add(day);
            Assert.Equal(newest, counts.Newest);
            for (var probe = newest - 50; probe <= newest + 2; probe++)
            {
                var expected = probe <= newest && newest - probe < CardFeatureSpecV2.DayCounts.Days ? reference.GetValueOrDefault(probe) : 0u;
                Assert.Equal(expected, counts.Count(probe));
            }

            if (step % 500 == 0)
            {
                var bytes = new byte[CardFeatureSpecV2.DayCounts.Size];
                counts.Write(bytes);
                var copy = new CardFeatureSpecV2.DayCounts();
                Assert.True(copy.TryRead(bytes));
                Assert.Equal(Enumerable.Range(0, 60).Select(k => counts.Count(newest - (uint)k)), Enumerable.Range(0, 60).Select(k => copy.Count(newest - (uint)k)));
            }
        }

        // Counts without a base day were never written: a corrupt state.
        var corrupt = new byte[CardFeatureSpecV2.DayCounts.Size];
        corrupt[10] = 1;
        Assert.False(new CardFeatureSpecV2.DayCounts().TryRead(corrupt));
    }

    [Fact]
    public void CardOwnTransactions_AreCountedInTheCardState_NotOnItsRing()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        var book = new RiskBook();
        for (var d = 0; d < 5; d++)
        {
            for (var k = 0; k <= d; k++)
            {
                var tx = Make($"t{d}-{k}", T0 + (d * Day) + (k * Hour), 20, merchant: "m1");
                Assert.True(state.TryApply(tx, SourcePosition.None, window, book.Find(RiskEntity.Merchant, "m1"), book.Find(RiskEntity.Card, tx.CardId)).IsApplied);
                book.CountTransaction(tx);
            }
        }

        // Day 5 reads days 4..0 with 5, 4, 3, 2, 1 transactions: card and merchant both (one card, one merchant).
        var last = Make("t5", T0 + (5 * Day), 20, merchant: "m1");
        var copy = new CardState(Spec);
        Assert.Equal(StateLoadStatus.Loaded, copy.Load(state.ToArray())); // the counts travel in the state bytes
        Assert.True(copy.TryApply(last, SourcePosition.None, window, book.Find(RiskEntity.Merchant, "m1"), null).IsApplied);
        var v = window.AsSpan(^Spec.Dimension..);
        var expected = Enumerable.Range(1, 5).Sum(a => (6 - a) * Math.Exp(-(a - 1) / 7.0));
        Near(Math.Log(1 + expected), v[CardFeatureSpecV2.CardTxn + 1], "card txn 7d");
        Assert.Equal(v[CardFeatureSpecV2.MerchantTxn + 1], v[CardFeatureSpecV2.CardTxn + 1]);
        Assert.Null(book.Find(RiskEntity.Card, last.CardId)); // no ring bump for the card
        Assert.Equal(5u, book.Find(RiskEntity.Merchant, "m1")!.Transactions(RiskRing.Stamp(T0 + (4 * Day))));
    }

    [Fact]
    public void NoRow_SeesItsOwnLabel_EvenWhenTheLabelIsInstant()
    {
        // Labels 1 ms after their transaction: known to every later transaction, never to the labelled one or to
        // others of its own day.
        var stream = Stream(seed: 5, cards: 40, merchants: 3, days: 20, events: 3000);
        Assert.True(LabelDelay.TryParse("1ms", out var delay, out _));
        var set = TrainingSet.Build(Spec, stream, LabelFeed.FromDelay(delay));
        for (var r = 0; r < set.Count; r++)
        {
            var day = RiskRing.Stamp(stream[r].EventTimeMs);
            var anyEarlierDayFraud = stream.Take(r).Any(e => e.MerchantId == stream[r].MerchantId && e.IsFraud == true &&
                RiskRing.Stamp(e.EventTimeMs) < day && RiskRing.Stamp(e.EventTimeMs) >= day - 30);
            Assert.Equal(anyEarlierDayFraud ? 1f : 0f, set.Vector(r)[CardFeatureSpecV2.MerchantHasFraud]);
        }
    }

    [Fact]
    public async Task InMemoryStore_InBatches_WithLabelsBetween_EqualsTheOfflineReplay_BitForBit()
    {
        var stream = Stream(seed: 21, cards: 120, merchants: 12, days: 50, events: 8000, duplicates: true);
        var rng = new Random(4);
        var labels = new List<TransactionLabel>();
        foreach (var tx in stream.Where(t => t.IsFraud == true))
        {
            var at = tx.EventTimeMs + (long)(rng.NextDouble() * 6 * Day) + 1;
            labels.Add(new TransactionLabel(tx.TransactionId, tx.CardId, tx.MerchantId, tx.EventTimeMs, at, true));
            if (rng.Next(5) == 0)
            {
                labels.Add(labels[^1] with { Origin = LabelOrigin.Analyst }); // duplicate
            }

            if (rng.Next(8) == 0)
            {
                labels.Add(labels[^1] with { LabelTimeMs = at + Day, IsFraud = false }); // reversed later
            }

            if (rng.Next(10) == 0)
            {
                labels.Add(labels[^1] with { LabelTimeMs = at + (20 * Day), IsFraud = true }); // a late confirmation
            }
        }

        labels.Add(new TransactionLabel("never-seen", "card-00001", "m-3", stream[100].EventTimeMs, stream[2000].EventTimeMs, true));
        labels.Add(new TransactionLabel("ancient", "card-00002", "m-4", stream[0].EventTimeMs - (40 * Day), stream[500].EventTimeMs, true));
        labels.Sort((a, b) => a.LabelTimeMs.CompareTo(b.LabelTimeMs));

        // Offline: the reference replay (labels by label time between transactions).
        var offline = new OfflineFeaturizer(Spec);
        var expected = new List<float[]>();
        var next = 0;
        foreach (var tx in stream)
        {
            while (next < labels.Count && labels[next].LabelTimeMs < tx.EventTimeMs)
            {
                offline.ApplyLabel(labels[next++]);
            }

            var window = new float[Spec.WindowSize];
            offline.Apply(tx, window);
            expected.Add(window);
        }

        // Online: batches of random size; labels applied between batches, each batch cut where a label becomes due.
        var store = new InMemoryWindowStore(Spec);
        var batch = new WindowBatch(Spec, 64);
        next = 0;
        var i = 0;
        while (i < stream.Count)
        {
            var due = labels.Skip(next).TakeWhile(l => l.LabelTimeMs < stream[i].EventTimeMs).ToList();
            await store.ApplyLabelsAsync(due);
            next += due.Count;
            batch.Clear();
            var size = 1 + rng.Next(64);
            while (i < stream.Count && batch.Count < size && (batch.Count == 0 || next >= labels.Count || labels[next].LabelTimeMs >= stream[i].EventTimeMs))
            {
                batch.Add(stream[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
                i++;
            }

            await store.ApplyAsync(batch);
            for (var k = 0; k < batch.Count; k++)
            {
                var row = i - batch.Count + k;
                Assert.True(batch.Result(k).Status == StatusOf(row), $"row {row}");
                if (batch.Result(k).IsApplied || batch.Result(k).RealSteps > 0)
                {
                    Assert.True(BitEqual(expected[row], batch.Window(k)), $"row {row}: online window differs from the offline replay");
                }
            }
        }

        Assert.True(store.Risk.Count(LabelOutcome.Flipped) > 0 && store.Risk.Count(LabelOutcome.Duplicate) > 0);
        Assert.Equal(1, store.Risk.Count(LabelOutcome.Stale));
        Assert.Equal(offline.Risk.Find(RiskEntity.Merchant, "m-3")!.ToArray(), store.Risk.Find(RiskEntity.Merchant, "m-3")!.ToArray());

        ApplyStatus StatusOf(int row) => stream.Take(row).Any(e => e.TransactionId == stream[row].TransactionId)
            ? ApplyStatus.DuplicateTransactionId : ApplyStatus.Applied;
    }

    [Fact]
    public async Task BatchAcrossMidnight_AppliesInBatchOrder_AcrossCards()
    {
        // Card A's event of day 2 comes after card B's event of day 1 at the same merchant: it must count B's.
        var store = new InMemoryWindowStore(Spec);
        var batch = new WindowBatch(Spec, 8);
        batch.Add(Make("a1", T0 + (23 * Hour), 10, merchant: "shop", card: "A"), new SourcePosition(0, 0, SourcePosition.OfflineSource));
        batch.Add(Make("b1", T0 + (23 * Hour) + 1, 10, merchant: "shop", card: "B"), new SourcePosition(0, 1, SourcePosition.OfflineSource));
        batch.Add(Make("a2", T0 + Day + Hour, 10, merchant: "shop", card: "A"), new SourcePosition(0, 2, SourcePosition.OfflineSource));
        await store.ApplyAsync(batch);
        Near(Math.Log(3), batch.Newest(2)[CardFeatureSpecV2.MerchantTxn], "merchant txns yesterday");
        Near(Math.Log(2), batch.Newest(2)[CardFeatureSpecV2.CardTxn], "card txns yesterday");
        Assert.Equal(0f, batch.Newest(1)[CardFeatureSpecV2.MerchantTxn]); // same day: not yet counted
    }

    /// <summary>A small in-order world with few merchants so the rings fill: 3% fraud, clustered by merchant.</summary>
    private static List<Transaction> Stream(int seed, int cards, int merchants, int days, int events, bool duplicates = false)
    {
        var rng = new Random(seed);
        var list = new List<Transaction>(events);
        var times = Enumerable.Range(0, events).Select(_ => T0 + (long)(rng.NextDouble() * days * Day)).Order().ToList();
        foreach (var t in times)
        {
            var merchant = rng.Next(merchants);
            var fraud = rng.NextDouble() < (merchant == 0 ? 0.3 : 0.01);
            list.Add(Make($"tx-{list.Count}", t, Math.Round(5 + (rng.NextDouble() * 200), 2), merchant: $"m-{merchant}", card: $"card-{rng.Next(cards):D5}", isFraud: fraud));
            if (duplicates && rng.Next(100) == 0)
            {
                list.Add(list[^1]);
            }
        }

        return list;
    }
}
