using StreamFraud.Core;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Tests;

/// <summary>Each scenario shows the signature a model must learn, judged from the generated rows alone.</summary>
public class FraudScenarioTests(MediumRunFixture run) : IClassFixture<MediumRunFixture>
{
    private const long Minute = 60_000L;
    private const long Day = 86_400_000L;

    [Theory]
    [InlineData(FraudScenarios.LargeAmount)]
    [InlineData(FraudScenarios.CompromisedMerchant)]
    [InlineData(FraudScenarios.CompromisedCard)]
    [InlineData(FraudScenarios.CardTesting)]
    [InlineData(FraudScenarios.AccountTakeover)]
    [InlineData(FraudScenarios.CompromisedTerminal)]
    public void Generate_MediumRun_ScenarioAppearsLabelledFraud(string scenario)
    {
        var rows = run.Rows.Where(r => r.FraudScenario == scenario).ToList();
        Assert.True(rows.Count >= 20, $"{scenario}: only {rows.Count} rows");
        Assert.All(rows, r => Assert.True(r.IsFraud));
    }

    [Fact]
    public void CardTesting_Incident_TinyAmountsAtNewMerchantsThenLargeOne()
    {
        var incidents = run.FraudByCard(FraudScenarios.CardTesting).ToList();
        Assert.NotEmpty(incidents);
        foreach (var incident in incidents)
        {
            var rows = incident.OrderBy(r => r.EventTimeMs).ToList();
            var tests = rows[..^1];
            var large = rows[^1];
            Assert.InRange(tests.Count, 2, 4);
            Assert.All(tests, t => Assert.True(t.Amount < 3, $"{incident.Key}: test amount {t.Amount} is not tiny"));
            Assert.True(large.Amount >= 200 && large.Amount >= 50 * tests.Max(t => t.Amount), $"{incident.Key}: final {large.Amount}");
            Assert.All(rows, r => Assert.False(run.UsedBefore(r, r.MerchantId), $"{incident.Key}: {r.MerchantId} not new"));
            Assert.Equal(rows.Count, rows.Select(r => r.MerchantId).Distinct().Count());
            Assert.All(rows, r => Assert.Equal("ecom", r.Channel));
            Assert.True(large.EventTimeMs - rows[0].EventTimeMs <= 120 * Minute, $"{incident.Key}: incident spans too long");
        }
    }

    [Fact]
    public void CompromisedMerchant_FraudRows_InsideBoundedWindowWhereEveryRowIsFraud()
    {
        var merchants = run.Rows.Where(r => r.FraudScenario == FraudScenarios.CompromisedMerchant).GroupBy(r => r.MerchantId).ToList();
        Assert.NotEmpty(merchants);
        foreach (var merchant in merchants)
        {
            var from = merchant.Min(r => r.EventTimeMs);
            var to = merchant.Max(r => r.EventTimeMs);
            Assert.True(to - from <= 5 * Day, $"{merchant.Key}: fraud spread over {(to - from) / (double)Day:0.0} days");
            Assert.True(merchant.Select(r => r.CardId).Distinct().Count() >= merchant.Count() / 2, $"{merchant.Key}: few cards");

            // Inside the window every transaction at the merchant is fraud of this scenario.
            var inside = run.Rows.Where(r => r.MerchantId == merchant.Key && r.EventTimeMs >= from && r.EventTimeMs <= to);
            Assert.All(inside, r => Assert.Equal(FraudScenarios.CompromisedMerchant, r.FraudScenario));
        }
    }

    [Fact]
    public void CompromisedMerchant_OutsideWindow_MerchantTradesLegitimately()
    {
        // The merchant id alone is not a label: compromised merchants also appear in legitimate rows.
        var compromised = run.Rows.Where(r => r.FraudScenario == FraudScenarios.CompromisedMerchant)
            .Select(r => r.MerchantId).ToHashSet();
        var legitimate = run.Rows.Where(r => r.IsFraud == false).Select(r => r.MerchantId).ToHashSet();
        Assert.Contains(compromised, legitimate.Contains);
    }

    [Fact]
    public void CompromisedTerminal_FraudRows_HabitualCardPresentPurchasesOfExistingCustomers()
    {
        var rows = run.Rows.Where(r => r.FraudScenario == FraudScenarios.CompromisedTerminal).ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.NotEqual("ecom", r.Channel));

        // Most victims already shopped there: the merchant is not new to them.
        var known = rows.Count(r => run.UsedBefore(r, r.MerchantId));
        Assert.True(known >= 0.7 * rows.Count, $"only {known} of {rows.Count} at a merchant the card used before");

        // An existing merchant: it traded legitimately before its compromise.
        foreach (var merchant in rows.GroupBy(r => r.MerchantId))
        {
            var from = merchant.Min(r => r.EventTimeMs);
            Assert.Contains(run.Rows, r => r.MerchantId == merchant.Key && r.IsFraud == false && r.EventTimeMs < from);
        }
    }

    [Fact]
    public void CompromisedTerminal_Window_MostPurchasesAtTheMerchantAreFraud()
    {
        var merchants = run.Rows.Where(r => r.FraudScenario == FraudScenarios.CompromisedTerminal).GroupBy(r => r.MerchantId).ToList();
        Assert.NotEmpty(merchants);
        long fraud = 0, all = 0;
        foreach (var merchant in merchants)
        {
            var from = merchant.Min(r => r.EventTimeMs);
            var to = merchant.Max(r => r.EventTimeMs);
            Assert.True(to - from <= 21 * Day, $"{merchant.Key}: fraud spread over {(to - from) / (double)Day:0.0} days");
            var inside = run.Rows.Where(r => r.MerchantId == merchant.Key && r.EventTimeMs >= from && r.EventTimeMs <= to).ToList();
            fraud += merchant.Count();
            all += inside.Count;
            Assert.True(merchant.Select(r => r.CardId).Distinct().Count() >= 3, $"{merchant.Key}: fewer than three victims");
        }

        Assert.True(fraud >= 0.6 * all, $"{fraud} of {all} purchases inside the windows are fraud");
    }

    [Fact]
    public void CompromisedTerminal_AmountsAndHours_LikeTheMerchantsLegitimateTrade()
    {
        // Nothing in the transaction gives it away: amounts and hours match the legitimate purchases at the same
        // merchants, unlike the scenarios that inflate amounts or strike at night.
        var rows = run.Rows.Where(r => r.FraudScenario == FraudScenarios.CompromisedTerminal).ToList();
        var merchants = rows.Select(r => r.MerchantId).ToHashSet();
        var legit = run.Rows.Where(r => r.IsFraud == false && merchants.Contains(r.MerchantId)).ToList();
        var legitMedian = legit.GroupBy(r => r.MerchantId).ToDictionary(g => g.Key, g => MediumRunFixture.Median(g.Select(r => r.Amount)));
        Assert.InRange(MediumRunFixture.Median(rows.Select(r => r.Amount / legitMedian[r.MerchantId])), 0.7, 1.4);
        var cardMedians = rows.Select(r => r.Amount / MediumRunFixture.Median(run.Legit(r.CardId).Select(l => l.Amount))).ToList();
        Assert.True(cardMedians.Count(x => x >= 5) <= 0.05 * rows.Count, "inflated amounts");

        static double Night(IEnumerable<Core.Transaction> t) => t.Count(r => r.EventTime.Hour is >= 1 and <= 4) / (double)t.Count();
        Assert.True(Night(rows) <= Night(legit) + 0.05, $"night share {Night(rows):P1} vs legitimate {Night(legit):P1}");
    }

    [Fact]
    public void CompromisedTerminal_IssueSizedRun_FewHundredRowsOverSeveralMerchantsAndPeriodsIncludingTheLastThird()
    {
        // The issue's reference run: generate --cards 8000 --days 60.
        var options = new SimulationOptions { Cards = 8000, Days = 60 };
        var rows = new TransactionSimulator(options).Generate()
            .Where(r => r.FraudScenario == FraudScenarios.CompromisedTerminal)
            .Select(r => (r.MerchantId, r.EventTimeMs))
            .ToList();
        Assert.InRange(rows.Count, 200, 700);
        var windows = rows.GroupBy(r => r.MerchantId).Select(g => (From: g.Min(r => r.EventTimeMs), To: g.Max(r => r.EventTimeMs))).ToList();
        Assert.True(windows.Count >= 4, $"{windows.Count} merchants");
        var lastThird = options.StartUnixMs + 40 * Day;
        var firstHalf = options.StartUnixMs + 30 * Day;
        Assert.True(rows.Count(r => r.EventTimeMs >= lastThird) >= 30, "too few in the last third");
        Assert.Contains(windows, w => w.To < firstHalf);
        Assert.Contains(windows, w => w.To >= lastThird);
    }

    [Fact]
    public void AccountTakeover_Incident_ForeignCountryNewChannelHighVelocity()
    {
        var incidents = run.FraudByCard(FraudScenarios.AccountTakeover).ToList();
        Assert.NotEmpty(incidents);
        foreach (var incident in incidents)
        {
            var rows = incident.OrderBy(r => r.EventTimeMs).ToList();
            var legit = run.Legit(incident.Key);
            var home = MediumRunFixture.Mode(legit.Select(r => r.Country));
            var usualChannel = MediumRunFixture.Mode(legit.Select(r => r.Channel));
            Assert.InRange(rows.Count, 4, 8);
            Assert.Single(rows.Select(r => r.Country).Distinct());
            Assert.All(rows, r => Assert.NotEqual(home, r.Country));
            Assert.All(rows, r => Assert.NotEqual(usualChannel, r.Channel));

            // Velocity: four takeover rows land within an hour and a half, a pace (64+ a day) at least four times
            // the card's own.
            Assert.True(rows[3].EventTimeMs - rows[0].EventTimeMs <= 90 * Minute, $"{incident.Key}: not a burst");
            var legitPerDay = legit.Count / 30.0;
            Assert.True(4 * 24 * 60 / 90.0 >= 4 * legitPerDay, $"{incident.Key}: legit pace {legitPerDay}/day");
        }
    }

    [Fact]
    public void CompromisedCard_Incident_BurstOfInflatedAmountsAtNewMerchants()
    {
        var incidents = run.FraudByCard(FraudScenarios.CompromisedCard).ToList();
        Assert.NotEmpty(incidents);
        var inflated = 0;
        var total = 0;
        foreach (var incident in incidents)
        {
            var rows = incident.OrderBy(r => r.EventTimeMs).ToList();
            var median = MediumRunFixture.Median(run.Legit(incident.Key).Select(r => r.Amount));
            Assert.InRange(rows.Count, 3, 8);
            Assert.True(rows[^1].EventTimeMs - rows[0].EventTimeMs <= 4 * 60 * Minute, $"{incident.Key}: not a burst");
            Assert.All(rows, r => Assert.False(run.UsedBefore(r, r.MerchantId), $"{incident.Key}: {r.MerchantId} not new"));
            inflated += rows.Count(r => r.Amount >= 2 * median);
            total += rows.Count;
        }

        Assert.True(inflated >= 0.9 * total, $"only {inflated} of {total} burst amounts are at least twice the card's median");
    }

    [Fact]
    public void LargeAmount_Row_FarAboveCardMedianAtUnusualMccOrCountry()
    {
        var rows = run.Rows.Where(r => r.FraudScenario == FraudScenarios.LargeAmount).ToList();
        Assert.NotEmpty(rows);
        var atLeastFive = 0;
        var unusual = 0;
        foreach (var row in rows)
        {
            var legit = run.Legit(row.CardId);
            var median = MediumRunFixture.Median(legit.Select(r => r.Amount));
            var home = MediumRunFixture.Mode(legit.Select(r => r.Country));
            Assert.True(row.Amount >= 250, $"{row.TransactionId}: {row.Amount}");
            atLeastFive += row.Amount >= 5 * median ? 1 : 0;
            var usualMccs = legit.Where(r => r.EventTimeMs < row.EventTimeMs).Select(r => r.Mcc).ToHashSet();
            unusual += row.Country != home || !usualMccs.Contains(row.Mcc) ? 1 : 0;
        }

        Assert.True(atLeastFive >= 0.95 * rows.Count, $"only {atLeastFive} of {rows.Count} are ≥ 5× the card's median");

        // The MCC is never one of the card's regular merchants', but a card-holder may have browsed that category
        // once at home, so a few are only unusual by amount.
        Assert.True(unusual >= 0.9 * rows.Count, $"only {unusual} of {rows.Count} are abroad or at a new MCC");
    }

    [Fact]
    public void SequenceScenarios_Victims_HaveHistoryBeforeTheIncident()
    {
        // A sequence model needs earlier transactions of the card to compare against.
        foreach (var scenario in new[] { FraudScenarios.CardTesting, FraudScenarios.AccountTakeover, FraudScenarios.CompromisedCard })
        {
            var withHistory = run.FraudByCard(scenario).Count(g =>
            {
                var first = g.Min(r => r.EventTimeMs);
                return run.ByCard[g.Key].Count(r => r.IsFraud == false && r.EventTimeMs < first) >= 2;
            });
            var all = run.FraudByCard(scenario).Count();
            Assert.True(withHistory >= 0.8 * all, $"{scenario}: {withHistory} of {all} victims have history");
        }
    }

    [Fact]
    public void SingleTransactionSignals_NotPerfectSeparators()
    {
        // Legitimate data also has big tickets, tiny amounts, foreign countries and online buys, so no single field
        // gives the label away.
        var legit = run.Rows.Where(r => r.IsFraud == false).ToList();
        Assert.True(legit.Count(r => r.Amount >= 250) > 0.005 * legit.Count);
        Assert.True(legit.Count(r => r.Amount < 3) > 0.005 * legit.Count);
        Assert.True(legit.Count(r => r.Channel == "ecom") > 0.1 * legit.Count);
        var homes = run.ByCard.ToDictionary(kv => kv.Key, kv => MediumRunFixture.Mode(kv.Value.Select(r => r.Country)));
        Assert.True(legit.Count(r => r.Country != homes[r.CardId]) > 0.02 * legit.Count);
    }
}
