using StreamFraud.Core;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Tests;

/// <summary>The simulated verdicts, judged against the transactions they label (medium run, labels CSV read back).</summary>
public class LabelSimulationTests(MediumRunFixture run) : IClassFixture<MediumRunFixture>
{
    private const long Day = 86_400_000L;

    private readonly Dictionary<string, Transaction> _byId = run.Rows.ToDictionary(r => r.TransactionId);

    [Fact]
    public void Labels_EveryLabel_DescribesItsTransactionAndComesAfterIt()
    {
        Assert.NotEmpty(run.Labels);
        Assert.All(run.Labels, l =>
        {
            var t = _byId[l.TransactionId];
            Assert.Equal((t.CardId, t.MerchantId, t.EventTimeMs, (double?)t.Amount), (l.CardId, l.MerchantId, l.EventTimeMs, l.Amount));
            Assert.True(l.LabelTimeMs >= l.EventTimeMs + 3_600_000L, $"{l.TransactionId}: labelled within the hour");
            Assert.NotEqual(LabelOrigin.Other, l.Origin);
        });
    }

    [Fact]
    public void Labels_Csv_SortedByLabelTimeIncludingLabelsAfterTheRun()
    {
        for (var i = 1; i < run.Labels.Count; i++)
        {
            Assert.True(run.Labels[i - 1].LabelTimeMs <= run.Labels[i].LabelTimeMs, $"labels {i - 1} and {i} out of order");
        }

        // Verdicts on the last days arrive after the generated range, and are written all the same.
        Assert.Contains(run.Labels, l => l.LabelTimeMs >= run.Options.EndUnixMs);
    }

    [Fact]
    public void Labels_Frauds_MostWithinDaysATailOfWeeksSomeNever()
    {
        var frauds = run.Rows.Where(r => r.IsFraud == true).ToList();
        var first = run.Labels.Where(l => l.IsFraud && _byId[l.TransactionId].IsFraud == true)
            .GroupBy(l => l.TransactionId)
            .ToDictionary(g => g.Key, g => g.Min(l => l.LabelTimeMs - l.EventTimeMs));
        var never = frauds.Count(f => !first.ContainsKey(f.TransactionId)) / (double)frauds.Count;
        Assert.InRange(never, 0.07, 0.13);

        var delays = first.Values.ToList();
        var withinFour = delays.Count(d => d <= 4 * Day) / (double)delays.Count;
        Assert.InRange(withinFour, 0.6, 0.8);
        Assert.True(delays.Count(d => d >= 14 * Day) >= 0.05 * delays.Count, "no tail of weeks");
        Assert.True(delays.Max() <= 60 * Day, $"longest delay {delays.Max() / (double)Day:0.0} days");
        Assert.True(delays.Count(d => d == 60 * Day) <= 2, "delays pile up at the cap");
    }

    [Fact]
    public void Labels_Sources_AnalystsFastestChargebacksSlowest()
    {
        var median = run.Labels.Where(l => l.IsFraud && _byId[l.TransactionId].IsFraud == true)
            .GroupBy(l => l.TransactionId)
            .Select(g => g.MinBy(l => l.LabelTimeMs)!)
            .GroupBy(l => l.Origin)
            .ToDictionary(g => g.Key, g => MediumRunFixture.Median(g.Select(l => (double)(l.LabelTimeMs - l.EventTimeMs))));
        Assert.Equal(3, median.Count);
        Assert.True(median[LabelOrigin.Analyst] < median[LabelOrigin.CustomerClaim], "analysts slower than claims");
        Assert.True(median[LabelOrigin.CustomerClaim] < median[LabelOrigin.Chargeback], "claims slower than chargebacks");
        Assert.True(median[LabelOrigin.Chargeback] >= 7 * Day, "chargebacks within a week");
    }

    [Fact]
    public void Labels_LegitimateTransactions_FewFalseClaimsMostlyReversedLater()
    {
        var legit = run.Rows.Count(r => r.IsFraud == false);
        var claims = run.Labels.Where(l => _byId[l.TransactionId].IsFraud == false).GroupBy(l => l.TransactionId).ToList();
        Assert.InRange(claims.Count, 0.00005 * legit, 0.0005 * legit);
        var reversed = 0;
        foreach (var claim in claims)
        {
            var verdicts = claim.OrderBy(l => l.LabelTimeMs).ToList();
            Assert.True(verdicts[0].IsFraud, $"{claim.Key}: no claim");
            Assert.Equal(LabelOrigin.CustomerClaim, verdicts[0].Origin);
            Assert.InRange(verdicts.Count, 1, 2);
            if (verdicts.Count == 2)
            {
                Assert.False(verdicts[1].IsFraud, $"{claim.Key}: second verdict is not a reversal");
                Assert.True(verdicts[1].LabelTimeMs > verdicts[0].LabelTimeMs);
                reversed++;
            }
        }

        Assert.True(reversed >= 0.5 * claims.Count && reversed < claims.Count, $"{reversed} of {claims.Count} claims reversed");
        Assert.DoesNotContain(run.Labels, l => !l.IsFraud && _byId[l.TransactionId].IsFraud == true);
    }

    [Fact]
    public void Labels_Duplicates_SameVerdictFromAnotherSourceLater()
    {
        var labelled = run.Labels.Where(l => _byId[l.TransactionId].IsFraud == true).GroupBy(l => l.TransactionId).ToList();
        var twice = labelled.Where(g => g.Count() > 1).ToList();
        Assert.InRange(twice.Count, 0.02 * labelled.Count, 0.09 * labelled.Count);
        Assert.All(twice, g =>
        {
            Assert.Equal(2, g.Count());
            Assert.All(g, l => Assert.True(l.IsFraud));
            Assert.NotEqual(g.First().Origin, g.Last().Origin);
        });
    }

    [Fact]
    public void Summary_Counts_MatchARecountOfTheLabels()
    {
        var s = run.LabelSummary;
        Assert.Equal(run.Labels.Count, s.Labels);
        Assert.Equal(run.Rows.Count(r => r.IsFraud == true), s.Frauds);
        Assert.Equal(run.Labels.Where(l => _byId[l.TransactionId].IsFraud == true).Select(l => l.TransactionId).Distinct().Count(), s.FraudsLabelled);
        Assert.Equal(run.Labels.Count(l => !l.IsFraud), s.Flips);
        Assert.Equal(run.Labels.Where(l => _byId[l.TransactionId].IsFraud == false).Select(l => l.TransactionId).Distinct().Count(), s.FalseClaims);
        Assert.Equal(run.Labels.Where(l => _byId[l.TransactionId].IsFraud == true).GroupBy(l => l.TransactionId).Count(g => g.Count() == 2), s.Duplicates);
        foreach (var origin in Enum.GetValues<LabelOrigin>())
        {
            Assert.Equal(run.Labels.Count(l => l.Origin == origin), s.BySource[(int)origin]);
        }

        var firstDelays = run.Labels.Where(l => _byId[l.TransactionId].IsFraud == true)
            .GroupBy(l => l.TransactionId).Select(g => (double)g.Min(l => l.LabelTimeMs - l.EventTimeMs)).Order().ToArray();
        Assert.Equal(firstDelays[(int)Math.Ceiling(0.5 * firstDelays.Length) - 1], s.MedianDelay.TotalMilliseconds);
        Assert.Equal(firstDelays[(int)Math.Ceiling(0.9 * firstDelays.Length) - 1], s.P90Delay.TotalMilliseconds);
    }

    [Fact]
    public void Observe_SameTransactionsTwice_SameLabels()
    {
        Assert.Equal(Labels(run.Rows), Labels(run.Rows));
    }

    [Fact]
    public void Observe_PrefixOfTheRun_SameLabelsForThoseTransactions()
    {
        // produce --limit sends a prefix: its transactions get the verdicts the whole run gives them.
        var prefix = run.Rows.Take(run.Rows.Count / 3).ToList();
        var ids = prefix.Select(r => r.TransactionId).ToHashSet();
        Assert.Equal(Labels(run.Rows).Where(l => ids.Contains(l.TransactionId)), Labels(prefix));
    }

    [Fact]
    public void TryTakeDue_InterleavedWithTheStream_HandsOutEachLabelOnceItsTimeHasPassed()
    {
        var labels = new LabelSimulator(run.Options.Seed);
        var taken = new List<TransactionLabel>();
        foreach (var row in run.Rows)
        {
            while (labels.TryTakeDue(row.EventTimeMs, out var label))
            {
                Assert.True(label.LabelTimeMs < row.EventTimeMs);
                taken.Add(label);
            }

            labels.Observe(row);
        }

        Assert.True(labels.Pending > 0);
        Assert.All(labels.TakeAll(), l => Assert.True(l.LabelTimeMs >= run.Rows[^1].EventTimeMs));
        Assert.Equal(0, labels.Pending);
        Assert.Equal(run.Labels.Take(taken.Count), taken);
    }

    private static List<TransactionLabel> Labels(IEnumerable<Transaction> rows)
    {
        var labels = new LabelSimulator(7);
        foreach (var row in rows)
        {
            labels.Observe(row);
        }

        return labels.TakeAll().ToList();
    }
}
