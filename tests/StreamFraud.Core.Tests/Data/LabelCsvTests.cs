using System.Text;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Tests.Data;

public class LabelCsvTests
{
    private const string Header = "transaction_id,card_id,merchant_id,event_time,label_time,is_fraud,source,amount";
    private const string Row = "t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00.000Z,true,chargeback,12.34";

    private static readonly long s_event = new DateTimeOffset(2026, 3, 1, 8, 15, 30, 123, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private static readonly long s_label = new DateTimeOffset(2026, 3, 4, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Header_IsTheDocumentedColumnOrder()
    {
        Assert.Equal(Header, LabelCsv.Header);
    }

    [Fact]
    public void Read_FullRow_ReturnsEveryField()
    {
        var labels = Read(Header + "\n" + Row + "\n");
        Assert.Equal([new TransactionLabel("t1", "c1", "m1", s_event, s_label, true, LabelOrigin.Chargeback, 12.34)], labels);
    }

    [Fact]
    public void Read_OnlyRequiredColumns_SourceOtherAmountNull()
    {
        var labels = Read("transaction_id,card_id,merchant_id,event_time,label_time,is_fraud\nt1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,0\n");
        Assert.Equal([new TransactionLabel("t1", "c1", "m1", s_event, s_label, false)], labels);
        Assert.Equal(LabelOrigin.Other, labels[0].Origin);
        Assert.Null(labels[0].Amount);
    }

    [Fact]
    public void Read_EmptySourceAndAmount_OtherAndNull()
    {
        var labels = Read(Header + "\nt1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,1,,\n");
        Assert.Equal([new TransactionLabel("t1", "c1", "m1", s_event, s_label, true, LabelOrigin.Other, null)], labels);
    }

    [Fact]
    public void Read_ReorderedUnknownColumnsQuotesCrLfBom_MapsByName()
    {
        var text = "\uFEFFAmount,Source,note,is_fraud,label_time,event_time,merchant_id,card_id,transaction_id\r\n"
            + "\r\n"
            + "7,customer_claim,\"says \"\"not me\"\", twice\",TRUE,2026-03-04T11:00:00+01:00,2026-03-01T08:15:30.123Z,\"m,1\",c1,t1\r\n"
            + "0.5,analyst,,false,2026-03-04T10:00:00Z,2026-03-01T08:15:30.123Z,m2,c2,t2";
        var labels = Read(text);
        Assert.Equal(
            [
                new TransactionLabel("t1", "c1", "m,1", s_event, s_label, true, LabelOrigin.CustomerClaim, 7),
                new TransactionLabel("t2", "c2", "m2", s_event, s_label, false, LabelOrigin.Analyst, 0.5),
            ],
            labels);
    }

    [Fact]
    public void Read_LabelTimeEqualToEventTime_Accepted()
    {
        var labels = Read(Header + "\nt1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-01T08:15:30.123Z,true,analyst,\n");
        Assert.Equal(s_event, Assert.Single(labels).LabelTimeMs);
    }

    [Fact]
    public void WriteThenRead_EveryOriginAndAwkwardText_RoundTrips()
    {
        var labels = new List<TransactionLabel>();
        var origins = Enum.GetValues<LabelOrigin>();
        for (var i = 0; i < 200; i++)
        {
            var eventMs = s_event + i * 3_600_123L;
            labels.Add(new TransactionLabel(
                TransactionId: i % 17 == 0 ? $"t\"{i}\",\nx" : $"run-{i:D10}",
                CardId: i % 13 == 0 ? "C,ü" : $"C{i % 9}",
                MerchantId: $"M{i % 5}",
                EventTimeMs: eventMs,
                LabelTimeMs: eventMs + i * 86_400_001L,
                IsFraud: i % 3 != 0,
                Origin: origins[i % origins.Length],
                Amount: i % 4 == 0 ? null : i * 1.01 + 0.1 / 3));
        }

        var bytes = new MemoryStream();
        Assert.Equal(200, LabelCsv.Write(bytes, labels));
        bytes.Position = 0;
        Assert.Equal(labels, LabelCsv.Read(bytes).ToList());

        var text = new StringWriter();
        LabelCsv.Write(text, labels);
        Assert.Equal(Encoding.UTF8.GetString(bytes.ToArray()), text.ToString());
        Assert.Equal(labels, LabelCsv.Read(new StringReader(text.ToString())).ToList());
    }

    [Fact]
    public void Write_Row_FormatsLikeTheCanonicalCsv()
    {
        var text = new StringWriter();
        LabelCsv.Write(text, [
            new TransactionLabel("t1", "c1", "m1", s_event, s_label, true, LabelOrigin.CustomerClaim, 12.3),
            new TransactionLabel("t2", "c2", "m2", s_event, s_event, false),
        ]);
        Assert.Equal(
            Header + "\n"
            + "t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00.000Z,true,customer_claim,12.3\n"
            + "t2,c2,m2,2026-03-01T08:15:30.123Z,2026-03-01T08:15:30.123Z,false,other,\n",
            text.ToString());
    }

    [Fact]
    public void WriteFileThenReadFile_RoundTrips()
    {
        var path = Path.Combine(Path.GetTempPath(), $"labels-{Guid.NewGuid():N}.csv");
        try
        {
            var labels = new[] { new TransactionLabel("t1", "c1", "m1", s_event, s_label, true, LabelOrigin.Analyst, 1) };
            LabelCsv.Write(path, labels);
            Assert.Equal(labels, LabelCsv.Read(path).ToList());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Write_LabelBeforeEvent_Throws()
    {
        using var writer = new LabelCsvWriter(new MemoryStream());
        var ex = Assert.Throws<ArgumentException>(() => writer.Write(new TransactionLabel("t1", "c1", "m1", s_label, s_event, true)));
        Assert.Contains("precedes the event time", ex.Message);
        Assert.Throws<ArgumentException>(() => writer.Write(new TransactionLabel("t1", "c1", "m1", s_event, s_label, true, Amount: double.NaN)));
        Assert.Throws<ArgumentException>(() => writer.Write(new TransactionLabel("t1", "c1", "m1", s_event, long.MaxValue, true)));
        Assert.Equal(0, writer.RowsWritten);
    }

    [Theory]
    [InlineData("t1,c1,m1,2026-03-04T10:00:00Z,2026-03-01T08:15:30.123Z,true,analyst,",
        "line 3, column label_time: '2026-03-01T08:15:30.123Z' is before the event_time 2026-03-04T10:00:00.000Z; a verdict cannot precede its transaction",
        "label_time")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,,analyst,",
        "line 3, column is_fraud: value is empty (the column is required)", "is_fraud")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,yes,analyst,",
        "line 3, column is_fraud: 'yes' is not a boolean (true, false, 1 or 0)", "is_fraud")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,true,police,",
        "line 3, column source: 'police' is not a label source (chargeback, analyst, customer_claim or other)", "source")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,true,analyst,-3",
        "line 3, column amount: '-3' is negative; amounts must be zero or more", "amount")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,true,analyst,abc",
        "line 3, column amount: 'abc' is not a number", "amount")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,soon,true,analyst,",
        "line 3, column label_time: 'soon' is not an ISO-8601 timestamp (expected e.g. 2026-03-01T08:15:30.123Z)", "label_time")]
    [InlineData("t1,c1,m1,,2026-03-04T10:00:00Z,true,analyst,",
        "line 3, column event_time: value is empty (the column is required)", "event_time")]
    [InlineData("t1,,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,true,analyst,",
        "line 3, column card_id: value is empty (the column is required)", "card_id")]
    [InlineData("t1,c1,m1,2026-03-01T08:15:30.123Z,2026-03-04T10:00:00Z,true,analyst",
        "line 3: expected 8 fields as in the header, found 7", null)]
    public void Read_BadRow_NamesLineAndColumn(string row, string message, string? column)
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + "\n" + Row + "\n" + row + "\n"));
        Assert.Equal(message, ex.Message);
        Assert.Equal(3, ex.LineNumber);
        Assert.Equal(column, ex.Column);
    }

    [Fact]
    public void Read_MissingRequiredColumns_NamesThem()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read("transaction_id,card_id,merchant_id,event_time,source\n"));
        Assert.StartsWith("line 1: the header lacks required columns label_time, is_fraud", ex.Message);
        Assert.Equal("label_time", ex.Column);
    }

    [Fact]
    public void Read_EmptyInput_AsksForTheLabelsHeader()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(""));
        Assert.Equal($"line 1: the input is empty; expected a header row such as '{Header}'", ex.Message);
    }

    [Fact]
    public void Read_UnclosedQuote_NamesTheLine()
    {
        var ex = Assert.Throws<CanonicalCsvException>(() => Read(Header + "\n" + Row + "\n\"t2,c1\n"));
        Assert.Equal(3, ex.LineNumber);
        Assert.Contains("not closed", ex.Message);
    }

    [Fact]
    public void Read_Stream_IsLazyAndLeavesTheStreamOpen()
    {
        var stream = new MemoryStream(Encoding.UTF8.GetBytes(Header + "\n" + Row + "\nbad\n"));
        using var labels = LabelCsv.Read(stream).GetEnumerator();
        Assert.True(labels.MoveNext());
        Assert.Equal("t1", labels.Current.TransactionId);
        Assert.Throws<CanonicalCsvException>(() => labels.MoveNext());
        labels.Dispose();
        Assert.True(stream.CanRead);
    }

    private static List<TransactionLabel> Read(string text) => LabelCsv.Read(new StringReader(text)).ToList();
}
