using System.Text;
using StreamFraud.Core;
using StreamFraud.Core.Data;

namespace StreamFraud.Sim.Tests;

public class CanonicalCsvRoundTripTests
{
    [Fact]
    public void WriteThenRead_RandomTransactions_ReturnsEqualRecords()
    {
        var random = new Random(42);
        string[] awkward = ["plain", "with,comma", "with \"quotes\"", "multi\nline", "crlf\r\nline", "ünïcødé €", " padded "];
        string? Maybe(string prefix) => random.Next(4) == 0 ? null : prefix + awkward[random.Next(awkward.Length)];
        var rows = new List<Transaction>();
        for (var i = 0; i < 2000; i++)
        {
            var amount = random.Next(5) switch
            {
                0 => Math.Round(random.NextDouble() * 1000, 2),
                1 => random.NextDouble() * 1e9,
                2 => random.NextDouble() * 1e-6,
                3 => 0,
                _ => random.Next(1, 100_000),
            };
            rows.Add(new Transaction(
                $"t{i}-{awkward[random.Next(awkward.Length)]}",
                "card" + awkward[random.Next(awkward.Length)],
                "merchant" + random.Next(50),
                amount,
                random.Next(2) == 0 ? "EUR" : "GBP",
                random.NextInt64(Iso8601.MinUnixMs, Iso8601.MaxUnixMs + 1),
                Maybe("m"),
                Maybe("c"),
                Maybe("ch"),
                random.Next(3) == 0 ? Enumerable.Range(0, random.Next(1, 6)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray() : null,
                random.Next(3) switch { 0 => null, 1 => true, _ => false },
                Maybe("s")));
        }

        var stream = new MemoryStream();
        Assert.Equal(rows.Count, CanonicalCsv.Write(stream, rows, new CanonicalCsvWriterOptions { IncludeFeatures = true }));
        stream.Position = 0;
        var back = CanonicalCsv.Read(stream).ToList();

        Assert.Equal(rows.Count, back.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            // Records compare arrays by reference, so compare the vector separately.
            Assert.Equal(rows[i] with { Features = null }, back[i] with { Features = null });
            Assert.Equal(rows[i].Features, back[i].Features);
        }
    }

    [Fact]
    public void WriteThenRead_Utf8Output_HasNoBomAndLfEndings()
    {
        var stream = new MemoryStream();
        CanonicalCsv.Write(stream, [new Transaction("t", "c", "m", 1, "EUR", 0)]);
        var bytes = stream.ToArray();
        Assert.Equal((byte)'t', bytes[0]);
        Assert.DoesNotContain((byte)'\r', bytes);
        Assert.Equal(
            "transaction_id,card_id,merchant_id,amount,currency,event_time,mcc,country,channel,is_fraud,fraud_scenario\n"
            + "t,c,m,1,EUR,1970-01-01T00:00:00.000Z,,,,,\n",
            Encoding.UTF8.GetString(bytes));
    }
}
