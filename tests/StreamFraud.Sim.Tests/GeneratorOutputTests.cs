using System.Globalization;
using System.Text;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Tests;

public class GeneratorOutputTests(MediumRunFixture run) : IClassFixture<MediumRunFixture>
{
    [Fact]
    public void Generate_SameOptions_ByteIdenticalCsv()
    {
        var options = new SimulationOptions { Cards = 400, Days = 10, Seed = 99 };
        Assert.Equal(Csv(options), Csv(options));
    }

    [Fact]
    public void Generate_EnumeratedTwice_SameRows()
    {
        var simulator = new TransactionSimulator(new SimulationOptions { Cards = 300, Days = 5, Seed = 3 });
        Assert.Equal(simulator.Generate().ToList(), simulator.Generate().ToList());
    }

    [Fact]
    public void Generate_DifferentSeed_DifferentDataAndIds()
    {
        var a = Encoding.UTF8.GetString(Csv(new SimulationOptions { Cards = 400, Days = 10, Seed = 1 })).Split('\n');
        var b = Encoding.UTF8.GetString(Csv(new SimulationOptions { Cards = 400, Days = 10, Seed = 2 })).Split('\n');
        Assert.Equal(a[0], b[0]);
        Assert.NotEqual(a[1..], b[1..]);
        Assert.Empty(a.Skip(1).Select(l => l.Split(',')[0]).Where(id => id.Length > 0)
            .Intersect(b.Skip(1).Select(l => l.Split(',')[0]).Where(id => id.Length > 0)));
    }

    [Fact]
    public void Generate_Header_IsCanonical()
    {
        var firstLine = Encoding.UTF8.GetString(run.CsvBytes, 0, 200).Split('\n')[0];
        Assert.Equal("transaction_id,card_id,merchant_id,amount,currency,event_time,mcc,country,channel,is_fraud,fraud_scenario", firstLine);
    }

    [Fact]
    public void Generate_EventTimes_SortedWithTiesInIdOrder()
    {
        for (var i = 1; i < run.Rows.Count; i++)
        {
            var prev = run.Rows[i - 1];
            var cur = run.Rows[i];
            Assert.True(
                prev.EventTimeMs < cur.EventTimeMs
                || (prev.EventTimeMs == cur.EventTimeMs && string.CompareOrdinal(prev.TransactionId, cur.TransactionId) < 0),
                $"rows {i - 1} and {i} out of order");
        }
    }

    [Fact]
    public void Generate_EventTimes_WithinConfiguredDaysWithMillisecondText()
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.All(run.Rows, r => Assert.InRange(r.EventTimeMs, start, start + 30 * 86_400_000L - 1));
        var line = Encoding.UTF8.GetString(run.CsvBytes, 0, 400).Split('\n')[1];
        Assert.Matches(@",\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z,", line);
    }

    [Fact]
    public void Generate_TransactionIds_Unique()
    {
        Assert.Equal(run.Rows.Count, run.Rows.Select(r => r.TransactionId).Distinct().Count());
    }

    [Fact]
    public void Generate_Labels_ConsistentWithScenario()
    {
        Assert.All(run.Rows, r =>
        {
            Assert.NotNull(r.IsFraud);
            if (r.IsFraud == true)
            {
                Assert.Contains(r.FraudScenario, FraudScenarios.All);
            }
            else
            {
                Assert.Null(r.FraudScenario);
            }
        });
    }

    [Fact]
    public void Generate_Fields_WellFormed()
    {
        Assert.All(run.Rows, r =>
        {
            Assert.Equal("EUR", r.Currency);
            Assert.Matches(@"^\d{4}$", r.Mcc);
            Assert.Matches("^[A-Z]{2}$", r.Country);
            Assert.Contains(r.Channel, new[] { "pos", "contactless", "ecom", "atm" });
            Assert.True(r.Amount > 0 && Math.Round(r.Amount, 2) == r.Amount, $"amount {r.Amount} is not whole cents");
        });
    }

    [Fact]
    public void Generate_DefaultRates_TotalFraudRateBetweenPoint3And1Percent()
    {
        var rate = run.Rows.Count(r => r.IsFraud == true) / (double)run.Rows.Count;
        Assert.InRange(rate, 0.003, 0.01);
        Assert.InRange(run.Rows.Count, 130_000, 200_000); // 3000 cards × 30 days × 1.8 per day ≈ 162k
    }

    [Fact]
    public void Generate_DefaultRates_EveryScenarioNearItsConfiguredShare()
    {
        foreach (var scenario in FraudScenarios.All)
        {
            var share = run.Rows.Count(r => r.FraudScenario == scenario) / (double)run.Rows.Count;
            var target = FraudScenarios.DefaultRates[scenario];
            Assert.True(share >= 0.6 * target && share <= 1.6 * target, $"{scenario}: {share:P3} vs configured {target:P3}");
        }
    }

    [Fact]
    public void Generate_ScenarioRateFlags_ChangeOnlyThoseScenarios()
    {
        var rates = new Dictionary<string, double>(FraudScenarios.DefaultRates)
        {
            [FraudScenarios.CardTesting] = 0,
            [FraudScenarios.LargeAmount] = 0.004,
        };
        var rows = new TransactionSimulator(new SimulationOptions { Cards = 3000, Days = 30, Seed = 7, FraudRates = rates })
            .Generate().ToList();
        Assert.DoesNotContain(rows, r => r.FraudScenario == FraudScenarios.CardTesting);
        var large = rows.Count(r => r.FraudScenario == FraudScenarios.LargeAmount) / (double)rows.Count;
        Assert.InRange(large, 0.0032, 0.0048);
    }

    [Fact]
    public void Generate_CompromisedTerminal_OnlyRelabelsPurchasesTheRunMakesAnyway()
    {
        var rates = new Dictionary<string, double>(FraudScenarios.DefaultRates) { [FraudScenarios.CompromisedTerminal] = 0 };
        var without = new TransactionSimulator(new SimulationOptions { Cards = 1500, Days = 30, Seed = 3, FraudRates = rates }).Generate().ToList();
        var with = new TransactionSimulator(new SimulationOptions { Cards = 1500, Days = 30, Seed = 3 }).Generate().ToList();

        // Same rows, same other scenarios; only some legitimate purchases turned into compromised_terminal fraud.
        Assert.Equal(
            without.Select(r => (r.CardId, r.MerchantId, r.Amount, r.EventTimeMs, r.Channel)),
            with.Select(r => (r.CardId, r.MerchantId, r.Amount, r.EventTimeMs, r.Channel)));
        var relabelled = 0;
        for (var i = 0; i < with.Count; i++)
        {
            if (with[i].FraudScenario == FraudScenarios.CompromisedTerminal)
            {
                Assert.False(without[i].IsFraud);
                relabelled++;
            }
            else
            {
                Assert.Equal(without[i].FraudScenario, with[i].FraudScenario);
            }
        }

        Assert.True(relabelled > 0);
    }

    [Fact]
    public void Generate_NoFraud_AllRowsLegitimate()
    {
        var rates = FraudScenarios.All.ToDictionary(s => s, _ => 0.0);
        var rows = new TransactionSimulator(new SimulationOptions { Cards = 500, Days = 10, FraudRates = rates }).Generate().ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.False(r.IsFraud));
    }

    [Fact]
    public void Generate_StartOption_ShiftsTimesByWholeDays()
    {
        var a = new TransactionSimulator(new SimulationOptions { Cards = 200, Days = 7, Start = new DateOnly(2026, 1, 1) })
            .Generate().ToList();
        var b = new TransactionSimulator(new SimulationOptions { Cards = 200, Days = 7, Start = new DateOnly(2026, 1, 8) })
            .Generate().ToList();
        Assert.Equal(DateTimeOffset.Parse("2026-01-08T00:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(),
            b.Min(r => r.EventTimeMs) / 86_400_000L * 86_400_000L);

        // One week later (same weekdays), the same card-days produce the same rows, moved by exactly seven days.
        const long week = 7 * 86_400_000L;
        Assert.Equal(
            a.Select(r => (r.CardId, r.MerchantId, r.Amount, r.EventTimeMs + week, r.FraudScenario)),
            b.Select(r => (r.CardId, r.MerchantId, r.Amount, r.EventTimeMs, r.FraudScenario)));
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsNamingEveryProblem()
    {
        var options = new SimulationOptions
        {
            Cards = 0,
            Currency = "euro",
            FraudRates = new Dictionary<string, double> { ["phishing"] = 0.1, [FraudScenarios.CardTesting] = 0.5 },
        };
        var ex = Assert.Throws<ArgumentException>(() => new TransactionSimulator(options));
        Assert.Contains("Cards", ex.Message);
        Assert.Contains("Currency", ex.Message);
        Assert.Contains("unknown scenario 'phishing'", ex.Message);
        Assert.Contains("rate of card_testing", ex.Message);
    }

    private static byte[] Csv(SimulationOptions options)
    {
        var stream = new MemoryStream();
        CanonicalCsv.Write(stream, new TransactionSimulator(options).Generate());
        return stream.ToArray();
    }
}
