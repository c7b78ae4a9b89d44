using System.Text;
using StreamFraud.Core;
using StreamFraud.Core.Data;

namespace StreamFraud.Sim.Tests;

public class CanonicalCsvReaderTests
{
    private const string Header =
        "transaction_id,card_id,merchant_id,amount,currency,event_time,mcc,country,channel,is_fraud,fraud_scenario";

    private static readonly long s_time = new DateTimeOffset(2026, 3, 1, 8, 15, 30, 123, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Read_CanonicalRow_ReturnsEveryField()
    {
        var rows = Read(Header + "\nt1,c1,m1,12.34,EUR,2026-03-01T08:15:30.123Z,5411,DE,pos,true,card_testing\n");
        var expected = new Transaction("t1", "c1", "m1", 12.34, "EUR", s_time, "5411", "DE", "pos", null, true, "card_testing");
        Assert.Equal([expected], rows);
    }

    [Fact]
    public void Read_OnlyRequiredColumns_LeavesOptionalsNull()
    {
        var rows = Read("transaction_id,card_id,merchant_id,amount,currency,event_time\nt1,c1,m1,5,EUR,2026-03-01T08:15:30.123Z\n");
        Assert.Equal([new Transaction("t1", "c1", "m1", 5, "EUR", s_time)], rows);
    }

    [Fact]
    public void Read_EmptyOptionalValues_AreNull()
    {
        var rows = Read(Header + "\nt1,c1,m1,5,EUR,2026-03-01T08:15:30.123Z,,,,,\n");
        Assert.Equal([new Transaction("t1", "c1", "m1", 5, "EUR", s_time)], rows);
    }

    [Fact]
    public void Read_ReorderedAndUnknownColumns_MapsByHeaderName()
    {
        var text = "Event_Time,extra,amount,is_fraud,card_id,currency,merchant_id,transaction_id\n"
            + "2026-03-01T08:15:30.123Z,whatever,9.5,0,c1,EUR,m1,t1\n";
        var rows = Read(text);
        Assert.Equal([new Transaction("t1", "c1", "m1", 9.5, "EUR", s_time, IsFraud: false)], rows);
    }

    [Fact]
    public void Read_QuotedFieldsWithCommasQuotesAndNewlines_Unquotes()
    {
        var text = Header + "\n\"t,1\",\"c\"\"1\"\"\",\"m\n1\",\"12.5\",EUR,2026-03-01T08:15:30.123Z,,\"\",,false,\n";
        var rows = Read(text);
        Assert.Equal([new Transaction("t,1", "c\"1\"", "m\n1", 12.5, "EUR", s_time, IsFraud: false)], rows);
    }

    [Fact]
    public void Read_CrLfBomBlankLinesAndNoFinalNewline_Accepted()
    {
        var text = "\uFEFF" + Header + "\r\n\r\nt1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,\r\n\nt2,c1,m1,2,EUR,2026-03-01T08:15:30.123Z,,,,,";
        var rows = Read(text);
        Assert.Equal(["t1", "t2"], rows.Select(r => r.TransactionId));
        Assert.Equal([1.0, 2.0], rows.Select(r => r.Amount));
    }

    [Theory]
    [InlineData("1e3", 1000.0)]
    [InlineData(" 12.3456789 ", 12.3456789)]
    [InlineData("0", 0.0)]
    [InlineData("-0", 0.0)]
    public void Read_AnyDecimalAmount_Parses(string amount, double expected)
    {
        var rows = Read($"{Header}\nt1,c1,m1,{amount},EUR,2026-03-01T08:15:30.123Z,,,,,\n");
        Assert.Equal(expected, rows[0].Amount);
    }

    [Theory]
    [InlineData("abc", "line 3, column amount: 'abc' is not a number")]
    [InlineData("", "line 3, column amount: value is empty (the column is required)")]
    [InlineData("NaN", "line 3, column amount: 'NaN' is not a finite number")]
    [InlineData("-5", "line 3, column amount: '-5' is negative; amounts must be zero or more")]
    public void Read_BadAmount_ReportsLineAndColumn(string amount, string message)
    {
        var text = $"{Header}\nt1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,\nt2,c1,m1,{amount},EUR,2026-03-01T08:15:30.123Z,,,,,\n";
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(text));
        Assert.Equal(message, ex.Message);
        Assert.Equal(3, ex.LineNumber);
        Assert.Equal("amount", ex.Column);
    }

    [Fact]
    public void Read_BadValueAfterMultilineField_CountsPhysicalLines()
    {
        var text = $"{Header}\nt1,c1,\"two\nlines\",1,EUR,2026-03-01T08:15:30.123Z,,,,,\nt2,c1,m1,1,EUR,yesterday,,,,,\n";
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(text));
        Assert.Equal(
            "line 4, column event_time: 'yesterday' is not an ISO-8601 timestamp (expected e.g. 2026-03-01T08:15:30.123Z)",
            ex.Message);
    }

    [Theory]
    [InlineData("t1,,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,", "line 2, column card_id: value is empty (the column is required)")]
    [InlineData("t1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,maybe,", "line 2, column is_fraud: 'maybe' is not a boolean (true, false, 1 or 0)")]
    [InlineData("t1,c1,m1,1,EUR,,,,,,", "line 2, column event_time: value is empty (the column is required)")]
    [InlineData("t1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,", "line 2: expected 11 fields as in the header, found 10")]
    [InlineData("t1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,,", "line 2: expected 11 fields as in the header, found 12")]
    public void Read_BadRecord_ReportsLineAndProblem(string record, string message)
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + "\n" + record + "\n"));
        Assert.Equal(message, ex.Message);
        Assert.Equal(2, ex.LineNumber);
    }

    [Fact]
    public void Read_MissingRequiredColumns_NamesThem()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read("transaction_id,card_id,merchant_id,currency\n"));
        Assert.StartsWith("line 1: the header lacks required columns amount, event_time", ex.Message);
        Assert.Equal("amount", ex.Column);
    }

    [Fact]
    public void Read_DuplicateColumn_Throws()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + ",amount\n"));
        Assert.Contains("column 'amount' appears more than once", ex.Message);
    }

    [Fact]
    public void Read_EmptyInput_ThrowsAskingForHeader()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(""));
        Assert.StartsWith("line 1: the input is empty", ex.Message);
    }

    [Fact]
    public void Read_UnterminatedQuote_Throws()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + "\nt1,\"c1,m1,1,EUR\n"));
        Assert.Contains("line 2: a quoted field (field 2) is not closed", ex.Message);
    }

    [Fact]
    public void Read_TextAfterClosingQuote_Throws()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + "\nt1,\"c1\"x,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,\n"));
        Assert.Contains("line 2: unexpected character 'x' after the closing quote of field 2 (card_id)", ex.Message);
    }

    [Fact]
    public void Read_FeaturesColumn_ParsesVector()
    {
        var rows = Read("transaction_id,card_id,merchant_id,amount,currency,event_time,features\n"
            + "t1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,0.5;-2;1e-3\n");
        Assert.Equal([0.5f, -2f, 1e-3f], rows[0].Features!);
    }

    [Fact]
    public void Read_TinyReadChunksAndHugeFields_SameAsWholeText()
    {
        // A reader that hands out 1-7 characters per call exercises every record split; a 200k-character quoted
        // field forces the buffer to grow.
        var huge = new string('x', 200_000) + "\"\"," + new string('y', 10);
        var sb = new StringBuilder(Header).Append('\n');
        for (var i = 0; i < 300; i++)
        {
            var merchant = i == 150 ? $"\"{huge}\"" : $"\"m,{i}\"";
            sb.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"t{i},c{i % 7},{merchant},{i}.25,EUR,2026-03-01T08:15:30.123Z,5411,DE,pos,{(i % 2 == 0 ? "true" : "false")},\r\n");
        }

        var whole = Read(sb.ToString());
        var chunked = CanonicalCsv.Read(new ChunkedReader(sb.ToString(), 3)).ToList();
        Assert.Equal(300, whole.Count);
        Assert.Equal(whole, chunked);
        Assert.Equal(new string('x', 200_000) + "\"," + new string('y', 10), whole[150].MerchantId);
        Assert.Equal("m,149", whole[149].MerchantId);
    }

    [Fact]
    public void Read_Path_ReadsFileAndClosesIt()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, Header + "\nt1,c1,m1,1,EUR,2026-03-01T08:15:30.123Z,,,,,\n");
            Assert.Single(CanonicalCsv.Read(path));
            File.Delete(path); // fails on some platforms if still open
        }
        finally
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    private static List<Transaction> Read(string text) => CanonicalCsv.Read(new StringReader(text)).ToList();

    private sealed class ChunkedReader(string text, int seed) : TextReader
    {
        private readonly Random _random = new(seed);
        private int _pos;

        public override int Read(char[] buffer, int index, int count)
        {
            var n = Math.Min(Math.Min(count, _random.Next(1, 8)), text.Length - _pos);
            text.CopyTo(_pos, buffer, index, n);
            _pos += n;
            return n;
        }
    }
}
