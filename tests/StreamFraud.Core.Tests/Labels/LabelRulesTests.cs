using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Tests.Labels;

public class LabelRulesTests
{
    private const long T = 1_704_067_200_000;
    private const long Day = 86_400_000;

    private static TransactionLabel L(long labelTime, bool fraud, string txn = "t1", string card = "c1", string merchant = "m1", long eventTime = T) =>
        new(txn, card, merchant, eventTime, labelTime, fraud, LabelOrigin.Chargeback);

    [Fact]
    public void FirstVerdict_Applied_FraudCountsOnce()
    {
        var book = new RiskBook();
        Assert.Equal(new LabelDecision(LabelOutcome.Applied, new LabelRecord(true, T + Day, LabelRules.ContentHash(L(T + Day, true))), 1, null), book.ApplyLabel(L(T + Day, true)));
        Assert.Equal(LabelOutcome.Duplicate, book.ApplyLabel(L(T + Day, true)).Outcome);
        Assert.Equal(LabelOutcome.Duplicate, book.ApplyLabel(L(T + (2 * Day), true)).Outcome);
        var stamp = RiskRing.Stamp(T);
        Assert.Equal(1u, book.Find(RiskEntity.Merchant, "m1")!.Frauds(stamp));
        Assert.Equal(1u, book.Find(RiskEntity.Card, "c1")!.Frauds(stamp));
        Assert.Equal(T + (2 * Day), book.FindLabel("t1")!.Value.LabelTimeMs); // a duplicate keeps the newer time
    }

    [Fact]
    public void Flip_MovesTheCount_AndAnOlderLabelIsSuperseded()
    {
        var book = new RiskBook();
        book.ApplyLabel(L(T + Day, true));
        Assert.Equal(-1, book.ApplyLabel(L(T + (3 * Day), false)).FraudDelta);
        Assert.Equal(LabelOutcome.Superseded, book.ApplyLabel(L(T + (2 * Day), true)).Outcome); // older than the reversal
        Assert.Equal(0u, book.Find(RiskEntity.Merchant, "m1")!.Frauds(RiskRing.Stamp(T)));
        Assert.Equal(LabelOutcome.Flipped, book.ApplyLabel(L(T + (4 * Day), true)).Outcome);
        Assert.Equal(1u, book.Find(RiskEntity.Merchant, "m1")!.Frauds(RiskRing.Stamp(T)));
    }

    [Fact]
    public void EqualLabelTimes_FraudWins_WhateverTheOrder()
    {
        var a = new RiskBook();
        a.ApplyLabel(L(T + Day, false));
        a.ApplyLabel(L(T + Day, true));
        var b = new RiskBook();
        b.ApplyLabel(L(T + Day, true));
        Assert.Equal(LabelOutcome.Superseded, b.ApplyLabel(L(T + Day, false)).Outcome);
        Assert.Equal(a.FindLabel("t1"), b.FindLabel("t1"));
        Assert.True(a.FindLabel("t1")!.Value.IsFraud);
    }

    [Fact]
    public void Stale_Conflicting_Invalid_ChangeNothing()
    {
        var book = new RiskBook();
        Assert.Equal(LabelOutcome.Stale, book.ApplyLabel(L(T + (30 * Day) + 1, true)).Outcome);
        Assert.Equal(LabelOutcome.Applied, book.ApplyLabel(L(T + (30 * Day), true)).Outcome); // exactly 30 days: still counted
        Assert.Equal(LabelOutcome.Conflicting, book.ApplyLabel(L(T + (29 * Day), false, merchant: "m2")).Outcome);
        Assert.Equal(LabelOutcome.Conflicting, book.ApplyLabel(L(T + (29 * Day), false, eventTime: T + 1)).Outcome);
        var invalid = book.ApplyLabel(L(T - 1, true, txn: "t2"));
        Assert.Equal(LabelOutcome.Invalid, invalid.Outcome);
        Assert.Contains("before event_time", invalid.Reason, StringComparison.Ordinal);
        Assert.Equal(LabelOutcome.Invalid, book.ApplyLabel(L(T + 1, true, txn: "")).Outcome);
        Assert.Equal(LabelOutcome.Invalid, book.ApplyLabel(L(T + 1, true, card: "a\nb", txn: "t3")).Outcome);
        Assert.Null(book.FindLabel("t2"));
        Assert.Null(book.Find(RiskEntity.Merchant, "m2"));
        Assert.Equal(1u, book.Find(RiskEntity.Merchant, "m1")!.Frauds(RiskRing.Stamp(T)));
        Assert.Equal(2, book.Count(LabelOutcome.Conflicting));
    }

    [Fact]
    public void UnknownTransaction_IsCountedOnItsOwnEntities_AndAnEmptyMerchantHasNoRing()
    {
        var book = new RiskBook();
        book.ApplyLabel(L(T + Day, true, txn: "never-seen", merchant: ""));
        Assert.Null(book.Find(RiskEntity.Merchant, ""));
        Assert.Equal(1u, book.Find(RiskEntity.Card, "c1")!.Frauds(RiskRing.Stamp(T)));
    }

    [Fact]
    public void AnyArrivalOrder_EndsWithTheNewestVerdict_AndOneFraudAtMost()
    {
        var rng = new Random(3);
        for (var trial = 0; trial < 300; trial++)
        {
            var labels = new List<TransactionLabel>();
            for (var i = 0; i < 1 + rng.Next(6); i++)
            {
                labels.Add(L(T + (rng.Next(5) * Day), rng.Next(2) == 0));
            }

            // Brute force: the newest label time wins; at equal times a fraud verdict wins.
            var expected = labels.OrderBy(l => l.LabelTimeMs).ThenBy(l => l.IsFraud).Last().IsFraud;
            var book = new RiskBook();
            foreach (var label in labels.OrderBy(_ => rng.Next()))
            {
                book.ApplyLabel(label);
            }

            Assert.Equal(expected, book.FindLabel("t1")!.Value.IsFraud);
            Assert.Equal(expected ? 1u : 0u, book.Find(RiskEntity.Merchant, "m1")?.Frauds(RiskRing.Stamp(T)) ?? 0u);
        }
    }

    [Theory]
    [InlineData("7d", 7 * Day)]
    [InlineData("36h", 36 * 3_600_000L)]
    [InlineData("90m", 90 * 60_000L)]
    [InlineData("1.5d", 36 * 3_600_000L)]
    [InlineData("250ms", 250L)]
    public void LabelDelay_Fixed_Parses(string text, long ms)
    {
        Assert.True(LabelDelay.TryParse(text, out var delay, out var error), error);
        Assert.Equal(ms, delay.DelayMs("any"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("0d")]
    [InlineData("-1d")]
    [InlineData("exp:0d")]
    [InlineData("uniform:5d..1d")]
    [InlineData("uniform:1d")]
    [InlineData("weeks")]
    public void LabelDelay_Bad_IsRefusedWithTheForms(string text)
    {
        Assert.False(LabelDelay.TryParse(text, out _, out var error));
        Assert.Contains("exp:MEAN", error, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelDelay_Distributions_AreDeterministic_AndHaveTheirShape()
    {
        Assert.True(LabelDelay.TryParse("exp:3d", out var exp, out _));
        Assert.True(LabelDelay.TryParse("uniform:1d..14d", out var uniform, out _));
        var ids = Enumerable.Range(0, 20_000).Select(i => $"tx-{i}").ToList();
        var e = ids.Select(exp.DelayMs).ToList();
        var u = ids.Select(uniform.DelayMs).ToList();
        Assert.Equal(e, ids.Select(exp.DelayMs));
        Assert.InRange(e.Average() / Day, 2.85, 3.15);                                   // mean 3 d
        Assert.InRange(e.Count(d => d <= 3 * Day) / (double)e.Count, 0.62, 0.645);      // 1 − e^−1 ≈ 0.632
        Assert.All(u, d => Assert.InRange(d, Day, 14 * Day));
        Assert.InRange(u.Average() / Day, 7.3, 7.7);
    }
}
