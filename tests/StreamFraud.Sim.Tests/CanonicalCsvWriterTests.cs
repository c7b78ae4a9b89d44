using System.Text;
using StreamFraud.Core;
using StreamFraud.Core.Data;

namespace StreamFraud.Sim.Tests;

public class CanonicalCsvWriterTests
{
    private const string Header =
        "transaction_id,card_id,merchant_id,amount,currency,event_time,mcc,country,channel,is_fraud,fraud_scenario\n";

    // 2026-03-01T08:15:30.123Z
    private static readonly long s_time = new DateTimeOffset(2026, 3, 1, 8, 15, 30, 123, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Write_KnownTransaction_WritesExactCanonicalLine()
    {
        var text = WriteToString(new Transaction("t1", "c1", "m1", 12.34, "EUR", s_time, "5411", "DE", "pos", IsFraud: false));
        Assert.Equal(Header + "t1,c1,m1,12.34,EUR,2026-03-01T08:15:30.123Z,5411,DE,pos,false,\n", text);
    }

    [Fact]
    public void Write_AbsentOptionalValues_WritesEmptyFields()
    {
        var text = WriteToString(new Transaction("t1", "c1", "m1", 7, "EUR", s_time));
        Assert.Equal(Header + "t1,c1,m1,7,EUR,2026-03-01T08:15:30.123Z,,,,,\n", text);
    }

    [Fact]
    public void Write_FraudLabel_WritesTrueAndScenario()
    {
        var text = WriteToString(new Transaction("t1", "c1", "m1", 0.5, "EUR", s_time, IsFraud: true, FraudScenario: "card_testing"));
        Assert.EndsWith(",true,card_testing\n", text);
    }

    [Fact]
    public void Write_TextWithCommaQuoteAndNewline_QuotesPerRfc4180()
    {
        var text = WriteToString(new Transaction("t1", "c,1", "m\"1\"", 1, "EUR", s_time, Channel: "a\nb"));
        Assert.Equal(Header + "t1,\"c,1\",\"m\"\"1\"\"\",1,EUR,2026-03-01T08:15:30.123Z,,,\"a\nb\",,\n", text);
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1234567.891, "1234567.891")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(100, "100")]
    public void Write_Amount_UsesShortestRoundTripInvariantForm(double amount, string expected)
    {
        var text = WriteToString(new Transaction("t", "c", "m", amount, "EUR", s_time));
        Assert.Contains($",m,{expected},EUR,", text);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Write_NonFiniteAmount_ThrowsNamingTransaction(double amount)
    {
        using var writer = new CanonicalCsvWriter(new MemoryStream());
        var ex = Assert.Throws<ArgumentException>(() => writer.Write(new Transaction("tx-9", "c", "m", amount, "EUR", s_time)));
        Assert.Contains("tx-9", ex.Message);
    }

    [Fact]
    public void Write_IncludeFeatures_AppendsSemicolonSeparatedColumn()
    {
        var options = new CanonicalCsvWriterOptions { IncludeFeatures = true };
        var text = WriteToString(options, new Transaction("t", "c", "m", 1, "EUR", s_time, Features: [0.5f, -2f, 1e-3f]));
        Assert.StartsWith(Header.TrimEnd('\n') + ",features\n", text);
        Assert.EndsWith(",,,,,,0.5;-2;0.001\n", text);
    }

    [Fact]
    public void Write_SmallBuffer_ManyRowsFlushCorrectly()
    {
        var rows = Enumerable.Range(0, 5000)
            .Select(i => new Transaction($"t{i}", $"card-{i % 37}", "m", i / 100.0, "EUR", s_time + i))
            .ToList();
        var stream = new MemoryStream();
        using (var writer = new CanonicalCsvWriter(stream, new CanonicalCsvWriterOptions { BufferSize = 1024 }, leaveOpen: true))
        {
            rows.ForEach(writer.Write);
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n');
        Assert.Equal(5002, lines.Length); // header + rows + empty after last LF
        Assert.Equal("t4999,card-4,m,49.99,EUR,2026-03-01T08:15:35.122Z,,,,,", lines[5000]);
    }

    [Fact]
    public void Write_TextWriterTarget_ProducesSameTextAsStream()
    {
        var t = new Transaction("t1", "c1", "m1", 12.34, "EUR", s_time, "5411", "DE", "pos", IsFraud: false);
        var sw = new StringWriter();
        CanonicalCsv.Write(sw, [t]);
        Assert.Equal(WriteToString(t), sw.ToString());
    }

    private static string WriteToString(params Transaction[] rows) => WriteToString(null, rows);

    private static string WriteToString(CanonicalCsvWriterOptions? options, params Transaction[] rows)
    {
        var stream = new MemoryStream();
        CanonicalCsv.Write(stream, rows, options);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
