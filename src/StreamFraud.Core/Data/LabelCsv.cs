using System.Text;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Data;

/// <summary>
/// The labels CSV: one confirmed verdict per row (<see cref="TransactionLabel"/>, the fields of
/// <c>schemas/fraud-label.avsc</c>), written by the generator next to its transactions and read by training and
/// backtests. The conventions are the canonical CSV's (<see cref="CanonicalCsv"/>): a header row names the columns,
/// which may come in any order; unknown columns are ignored; fields follow RFC 4180 quoting; times are ISO-8601 UTC and
/// numbers use the invariant culture; a bad input raises <see cref="CanonicalCsvException"/> naming line and column.
/// </summary>
/// <remarks>
/// A transaction may have several rows: the same verdict from two sources, or a verdict reversed later (a claim of
/// fraud, then <c>is_fraud=false</c>). The generator writes rows sorted by <c>label_time</c>; the reader accepts any order.
/// </remarks>
public static class LabelCsv
{
    /// <summary>Column <c>transaction_id</c> (required): the labelled transaction.</summary>
    public const string TransactionId = "transaction_id";

    /// <summary>Column <c>card_id</c> (required).</summary>
    public const string CardId = "card_id";

    /// <summary>Column <c>merchant_id</c> (required).</summary>
    public const string MerchantId = "merchant_id";

    /// <summary>Column <c>event_time</c> (required): when the transaction happened; ISO-8601, UTC when no offset is given.</summary>
    public const string EventTime = "event_time";

    /// <summary>Column <c>label_time</c> (required): when the verdict became known; not before <c>event_time</c>.</summary>
    public const string LabelTime = "label_time";

    /// <summary>Column <c>is_fraud</c> (required): <c>true</c>/<c>false</c> (also <c>1</c>/<c>0</c>).</summary>
    public const string IsFraud = "is_fraud";

    /// <summary>Column <c>source</c> (optional): <c>chargeback</c>, <c>analyst</c>, <c>customer_claim</c> or <c>other</c>;
    /// absent or empty reads as <c>other</c>.</summary>
    public const string Source = "source";

    /// <summary>Column <c>amount</c> (optional): the transaction's amount when the source knows it; a finite,
    /// non-negative number or empty.</summary>
    public const string Amount = "amount";

    /// <summary>The columns in the order the writer emits them.</summary>
    public static IReadOnlyList<string> Columns { get; } =
        [TransactionId, CardId, MerchantId, EventTime, LabelTime, IsFraud, Source, Amount];

    /// <summary>Columns a reader cannot do without.</summary>
    public static IReadOnlyList<string> RequiredColumns { get; } =
        [TransactionId, CardId, MerchantId, EventTime, LabelTime, IsFraud];

    /// <summary>The header row (without line terminator).</summary>
    public static string Header { get; } = string.Join(',', Columns);

    /// <summary>Streams the labels of a labels CSV text; the reader is not disposed.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<TransactionLabel> Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return ReadCore(reader, leaveOpen: true);
    }

    /// <summary>Streams the labels of a labels CSV (UTF-8, BOM optional); the stream is not disposed.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<TransactionLabel> Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadCore(new StreamReader(stream, Encoding.UTF8, true, 1 << 16, leaveOpen: true), leaveOpen: false);
    }

    /// <summary>Streams the labels of a labels CSV file; the file is opened on enumeration and closed after.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<TransactionLabel> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ReadFile(path);
    }

    /// <summary>Writes a header and all <paramref name="labels"/> to a file (created or replaced).</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(string path, IEnumerable<TransactionLabel> labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.SequentialScan);
        return Write(file, labels);
    }

    /// <summary>Writes a header and all <paramref name="labels"/> as UTF-8; the stream is flushed, not closed.</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(Stream stream, IEnumerable<TransactionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        using var writer = new LabelCsvWriter(stream, leaveOpen: true);
        return WriteAll(writer, labels);
    }

    /// <summary>Writes a header and all <paramref name="labels"/>; the text writer is flushed, not closed.</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(TextWriter textWriter, IEnumerable<TransactionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        using var writer = new LabelCsvWriter(textWriter, leaveOpen: true);
        return WriteAll(writer, labels);
    }

    private static long WriteAll(LabelCsvWriter writer, IEnumerable<TransactionLabel> labels)
    {
        foreach (var label in labels)
        {
            writer.Write(label);
        }

        writer.Flush();
        return writer.RowsWritten;
    }

    private static IEnumerable<TransactionLabel> ReadCore(TextReader reader, bool leaveOpen)
    {
        using var csv = new CsvRecordReader(reader, leaveOpen, Header, RequiredColumns);
        foreach (var label in ReadRows(csv))
        {
            yield return label;
        }
    }

    private static IEnumerable<TransactionLabel> ReadFile(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var csv = new CsvRecordReader(new StreamReader(stream, Encoding.UTF8, true, 1 << 16), leaveOpen: false, Header, RequiredColumns);
        foreach (var label in ReadRows(csv))
        {
            yield return label;
        }
    }

    private static IEnumerable<TransactionLabel> ReadRows(CsvRecordReader csv)
    {
        var iTransactionId = csv.Column(TransactionId);
        var iCardId = csv.Column(CardId);
        var iMerchantId = csv.Column(MerchantId);
        var iEventTime = csv.Column(EventTime);
        var iLabelTime = csv.Column(LabelTime);
        var iIsFraud = csv.Column(IsFraud);
        var iSource = csv.Column(Source);
        var iAmount = csv.Column(Amount);
        var cards = new CsvStringPool();
        var merchants = new CsvStringPool();
        while (csv.NextRow())
        {
            var transactionId = csv.Required(iTransactionId, null);
            var cardId = csv.Required(iCardId, cards);
            var merchantId = csv.Required(iMerchantId, merchants);
            var eventTimeMs = csv.Time(iEventTime);
            var labelTimeMs = csv.Time(iLabelTime);
            if (labelTimeMs < eventTimeMs)
            {
                throw csv.Bad(iLabelTime,
                    $"is before the event_time {Iso8601.Format(eventTimeMs)}; a verdict cannot precede its transaction");
            }

            var isFraud = csv.Boolean(iIsFraud) ?? throw csv.Bad(iIsFraud, CsvRecordReader.EmptyRequired);
            var origin = LabelOrigin.Other;
            if (iSource >= 0)
            {
                var text = csv.FieldSpan(iSource).Trim();
                if (!text.IsEmpty && !TransactionLabel.TryParseOrigin(text.ToString(), out origin))
                {
                    throw csv.Bad(iSource, "is not a label source (chargeback, analyst, customer_claim or other)");
                }
            }

            yield return new TransactionLabel(
                transactionId, cardId, merchantId, eventTimeMs, labelTimeMs, isFraud, origin, csv.OptionalAmount(iAmount));
        }
    }
}
