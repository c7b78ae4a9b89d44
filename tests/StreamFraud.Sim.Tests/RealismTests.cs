using StreamFraud.Core;

namespace StreamFraud.Sim.Tests;

/// <summary>Shapes of legitimate spending the models learn "normal" from.</summary>
public class RealismTests(MediumRunFixture run) : IClassFixture<MediumRunFixture>
{
    private List<Transaction> Legit => run.Rows.Where(r => r.IsFraud == false).ToList();

    [Fact]
    public void Legit_TimeOfDay_QuietAtNightBusyByDay()
    {
        // Most card-holders live at UTC+0/+1, so UTC hours approximate local ones.
        var hours = Legit.GroupBy(r => r.EventTime.Hour).ToDictionary(g => g.Key, g => g.Count());
        var night = Enumerable.Range(1, 4).Sum(h => hours.GetValueOrDefault(h)) / 4.0;
        var day = Enumerable.Range(10, 8).Sum(h => hours.GetValueOrDefault(h)) / 8.0;
        Assert.True(night < 0.15 * day, $"night {night:0}/h vs day {day:0}/h");
    }

    [Fact]
    public void Legit_Weekdays_SaturdayBusierThanSunday()
    {
        var perWeekday = Legit.GroupBy(r => r.EventTime.DayOfWeek)
            .ToDictionary(g => g.Key, g => g.Count() / (double)g.Select(r => r.EventTime.Date).Distinct().Count());
        Assert.True(perWeekday[DayOfWeek.Saturday] > 1.3 * perWeekday[DayOfWeek.Sunday]);
        Assert.True(perWeekday[DayOfWeek.Friday] > perWeekday[DayOfWeek.Tuesday]);
    }

    [Fact]
    public void Legit_Cards_MostlyInHomeCountryAtUsualMerchants()
    {
        var homeShares = new List<double>();
        var topMerchantShares = new List<double>();
        foreach (var (card, rows) in run.ByCard)
        {
            var legit = rows.Where(r => r.IsFraud == false).ToList();
            if (legit.Count < 20)
            {
                continue;
            }

            homeShares.Add(legit.GroupBy(r => r.Country).Max(g => g.Count()) / (double)legit.Count);
            topMerchantShares.Add(legit.GroupBy(r => r.MerchantId).OrderByDescending(g => g.Count()).Take(8).Sum(g => g.Count()) / (double)legit.Count);
        }

        Assert.InRange(homeShares.Average(), 0.8, 0.98);
        Assert.True(topMerchantShares.Average() > 0.6, $"top-8 merchants carry {topMerchantShares.Average():P0}");
    }

    [Fact]
    public void Legit_Cards_DifferInAmountAndPace()
    {
        var cards = run.ByCard.Values.Where(rows => rows.Count >= 20).ToList();
        var medians = cards.Select(rows => MediumRunFixture.Median(rows.Where(r => r.IsFraud == false).Select(r => r.Amount))).Order().ToArray();
        Assert.True(medians[9 * medians.Length / 10] > 2 * medians[medians.Length / 10], "card amount profiles are too alike");
        var counts = run.ByCard.Values.Select(rows => rows.Count).Order().ToArray();
        Assert.True(counts[9 * counts.Length / 10] > 3 * counts[counts.Length / 10], "card paces are too alike");
    }

    [Fact]
    public void Legit_Channels_FollowPaymentRules()
    {
        var legit = Legit;
        Assert.All(legit.Where(r => r.Channel == "atm"), r =>
        {
            Assert.Equal("6011", r.Mcc);
            Assert.Equal(0, r.Amount % 20);
        });
        Assert.All(legit.Where(r => r.Channel == "contactless"), r => Assert.True(r.Amount <= 50));
        foreach (var channel in new[] { "pos", "contactless", "ecom", "atm" })
        {
            Assert.True(legit.Count(r => r.Channel == channel) > 0.02 * legit.Count, $"{channel} is rare");
        }
    }

    [Fact]
    public void Legit_Amounts_RoughlyLognormalPerCard()
    {
        // Log-amounts of a card are spread out but not wildly: a lognormal around the card's typical ticket per MCC.
        var sds = new List<double>();
        foreach (var rows in run.ByCard.Values.Where(v => v.Count >= 30))
        {
            var logs = rows.Where(r => r.IsFraud == false && r.Channel != "atm").Select(r => Math.Log(r.Amount)).ToArray();
            var mean = logs.Average();
            sds.Add(Math.Sqrt(logs.Sum(x => (x - mean) * (x - mean)) / (logs.Length - 1)));
        }

        Assert.InRange(sds.Average(), 0.6, 1.6);
    }
}
