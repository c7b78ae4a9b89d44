using System.Text;

namespace StreamFraud.Core.Data;

/// <summary>
/// The canonical CSV of docs/ARCHITECTURE.md ("Topics and contracts"): generator output, trainer and backtest input. A header row
/// names the columns exactly as the Avro fields; columns may come in any order, optional ones may be missing or empty,
/// unknown columns are ignored, fields follow RFC 4180 quoting, <c>event_time</c> is ISO-8601 UTC and numbers use the
/// invariant culture.
/// </summary>
public static class CanonicalCsv
{
    /// <summary>Column <c>transaction_id</c> (required).</summary>
    public const string TransactionId = "transaction_id";

    /// <summary>Column <c>card_id</c> (required).</summary>
    public const string CardId = "card_id";

    /// <summary>Column <c>merchant_id</c> (required).</summary>
    public const string MerchantId = "merchant_id";

    /// <summary>Column <c>amount</c> (required): a finite, non-negative decimal number.</summary>
    public const string Amount = "amount";

    /// <summary>Column <c>currency</c> (required): ISO-4217 code.</summary>
    public const string Currency = "currency";

    /// <summary>Column <c>event_time</c> (required): ISO-8601, UTC when no offset is given.</summary>
    public const string EventTime = "event_time";

    /// <summary>Column <c>mcc</c> (optional).</summary>
    public const string Mcc = "mcc";

    /// <summary>Column <c>country</c> (optional).</summary>
    public const string Country = "country";

    /// <summary>Column <c>channel</c> (optional).</summary>
    public const string Channel = "channel";

    /// <summary>Column <c>is_fraud</c> (optional): <c>true</c>/<c>false</c> (also <c>1</c>/<c>0</c>) or empty.</summary>
    public const string IsFraud = "is_fraud";

    /// <summary>Column <c>fraud_scenario</c> (optional).</summary>
    public const string FraudScenario = "fraud_scenario";

    /// <summary>
    /// Column <c>features</c> (optional, not written by default): the pre-engineered vector as invariant floats
    /// separated by <c>;</c>.
    /// </summary>
    public const string Features = "features";

    /// <summary>The canonical columns in the order the writer emits them.</summary>
    public static IReadOnlyList<string> Columns { get; } =
    [
        TransactionId, CardId, MerchantId, Amount, Currency, EventTime, Mcc, Country, Channel, IsFraud, FraudScenario,
    ];

    /// <summary>Columns a reader cannot do without.</summary>
    public static IReadOnlyList<string> RequiredColumns { get; } =
        [TransactionId, CardId, MerchantId, Amount, Currency, EventTime];

    /// <summary>The canonical header row (without line terminator).</summary>
    public static string Header { get; } = string.Join(',', Columns);

    /// <summary>Streams the transactions of a canonical CSV text; the reader is not disposed.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<Transaction> Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return ReadCore(reader, leaveOpen: true);
    }

    /// <summary>Streams the transactions of a canonical CSV (UTF-8, BOM optional); the stream is not disposed.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<Transaction> Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadCore(new StreamReader(stream, Encoding.UTF8, true, 1 << 16, leaveOpen: true), leaveOpen: false);
    }

    /// <summary>Streams the transactions of a canonical CSV file; the file is opened on enumeration and closed after.</summary>
    /// <exception cref="CanonicalCsvException">While enumerating: a structural problem or a bad value.</exception>
    public static IEnumerable<Transaction> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ReadFile(path);
    }

    /// <summary>Writes a header and all <paramref name="transactions"/> to a file (created or replaced).</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(string path, IEnumerable<Transaction> transactions, CanonicalCsvWriterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.SequentialScan);
        return Write(file, transactions, options);
    }

    /// <summary>Writes a header and all <paramref name="transactions"/> as UTF-8; the stream is flushed, not closed.</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(Stream stream, IEnumerable<Transaction> transactions, CanonicalCsvWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        using var writer = new CanonicalCsvWriter(stream, options, leaveOpen: true);
        foreach (var t in transactions)
        {
            writer.Write(t);
        }

        writer.Flush();
        return writer.RowsWritten;
    }

    /// <summary>Writes a header and all <paramref name="transactions"/>; the text writer is flushed, not closed.</summary>
    /// <returns>Rows written, header excluded.</returns>
    public static long Write(TextWriter textWriter, IEnumerable<Transaction> transactions, CanonicalCsvWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        using var writer = new CanonicalCsvWriter(textWriter, options, leaveOpen: true);
        foreach (var t in transactions)
        {
            writer.Write(t);
        }

        writer.Flush();
        return writer.RowsWritten;
    }

    private static IEnumerable<Transaction> ReadCore(TextReader reader, bool leaveOpen)
    {
        using var csv = new CanonicalCsvReader(reader, leaveOpen);
        while (csv.TryRead(out var transaction))
        {
            yield return transaction;
        }
    }

    private static IEnumerable<Transaction> ReadFile(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var csv = new CanonicalCsvReader(new StreamReader(stream, Encoding.UTF8, true, 1 << 16), leaveOpen: false);
        while (csv.TryRead(out var transaction))
        {
            yield return transaction;
        }
    }
}
