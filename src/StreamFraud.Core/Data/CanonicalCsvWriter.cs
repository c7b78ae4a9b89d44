namespace StreamFraud.Core.Data;

/// <summary>Options of <see cref="CanonicalCsvWriter"/>.</summary>
public sealed record CanonicalCsvWriterOptions
{
    /// <summary>Append the optional <c>features</c> column (floats separated by <c>;</c>). Off by default.</summary>
    public bool IncludeFeatures { get; init; }

    /// <summary>Size of the UTF-8 output buffer in bytes (default 1 MiB).</summary>
    public int BufferSize { get; init; } = 1 << 20;
}

/// <summary>
/// Writes the canonical CSV as UTF-8 (no BOM, LF line ends). Rows are formatted straight into a byte buffer: amounts in
/// the shortest form that round-trips (<c>12.34</c>), <c>event_time</c> as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, absent
/// optional values as empty fields, and text fields quoted per RFC 4180 only when they contain a comma, quote or line
/// break. The header is written on construction.
/// </summary>
public sealed class CanonicalCsvWriter : IDisposable
{
    private readonly CsvUtf8Output _out;
    private readonly bool _includeFeatures;

    /// <summary>Writes to a byte stream.</summary>
    /// <param name="stream">Destination; wrap nothing around it, the writer buffers.</param>
    /// <param name="options">Options, or <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="stream"/> open.</param>
    public CanonicalCsvWriter(Stream stream, CanonicalCsvWriterOptions? options = null, bool leaveOpen = false)
        : this(stream ?? throw new ArgumentNullException(nameof(stream)), null, options, leaveOpen)
    {
    }

    /// <summary>Writes to a text writer (the UTF-8 bytes are decoded back to characters on flush).</summary>
    /// <param name="writer">Destination.</param>
    /// <param name="options">Options, or <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="writer"/> open.</param>
    public CanonicalCsvWriter(TextWriter writer, CanonicalCsvWriterOptions? options = null, bool leaveOpen = false)
        : this(null, writer ?? throw new ArgumentNullException(nameof(writer)), options, leaveOpen)
    {
    }

    private CanonicalCsvWriter(Stream? stream, TextWriter? writer, CanonicalCsvWriterOptions? options, bool leaveOpen)
    {
        options ??= new CanonicalCsvWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, 1024, nameof(options));
        _includeFeatures = options.IncludeFeatures;
        _out = new CsvUtf8Output(stream, writer, options.BufferSize, leaveOpen);
        _out.Header(_includeFeatures ? CanonicalCsv.Header + "," + CanonicalCsv.Features : CanonicalCsv.Header);
    }

    /// <summary>Data rows written so far (the header not counted).</summary>
    public long RowsWritten { get; private set; }

    /// <summary>Appends one row.</summary>
    /// <exception cref="ArgumentException">The amount is not finite or the event time is outside years 1–9999.</exception>
    public void Write(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ObjectDisposedException.ThrowIf(_out.IsDisposed, this);
        if (!double.IsFinite(transaction.Amount))
        {
            throw new ArgumentException(
                $"Transaction {transaction.TransactionId}: amount {transaction.Amount} is not a finite number.",
                nameof(transaction));
        }

        if (transaction.EventTimeMs < Iso8601.MinUnixMs || transaction.EventTimeMs > Iso8601.MaxUnixMs)
        {
            throw new ArgumentException(
                $"Transaction {transaction.TransactionId}: event time {transaction.EventTimeMs} ms is outside years 1-9999.",
                nameof(transaction));
        }

        // Upper bound of the row's size: every char may take 3 UTF-8 bytes and double when quoted.
        var bound = 160 + 6 * (transaction.TransactionId.Length + transaction.CardId.Length + transaction.MerchantId.Length
            + transaction.Currency.Length + (transaction.Mcc?.Length ?? 0) + (transaction.Country?.Length ?? 0)
            + (transaction.Channel?.Length ?? 0) + (transaction.FraudScenario?.Length ?? 0));
        if (_includeFeatures && transaction.Features is { } features)
        {
            bound += 20 * features.Length;
        }

        var o = _out;
        o.Ensure(bound);
        o.Text(transaction.TransactionId);
        o.Byte((byte)',');
        o.Text(transaction.CardId);
        o.Byte((byte)',');
        o.Text(transaction.MerchantId);
        o.Byte((byte)',');
        o.Number(transaction.Amount);
        o.Byte((byte)',');
        o.Text(transaction.Currency);
        o.Byte((byte)',');
        o.Time(transaction.EventTimeMs);
        o.Byte((byte)',');
        o.Text(transaction.Mcc);
        o.Byte((byte)',');
        o.Text(transaction.Country);
        o.Byte((byte)',');
        o.Text(transaction.Channel);
        o.Byte((byte)',');
        if (transaction.IsFraud is { } isFraud)
        {
            o.Boolean(isFraud);
        }

        o.Byte((byte)',');
        o.Text(transaction.FraudScenario);
        if (_includeFeatures)
        {
            o.Byte((byte)',');
            if (transaction.Features is { } vector)
            {
                for (var i = 0; i < vector.Length; i++)
                {
                    if (i > 0)
                    {
                        o.Byte((byte)';');
                    }

                    o.Number(vector[i]);
                }
            }
        }

        o.Byte((byte)'\n');
        RowsWritten++;
    }

    /// <summary>Writes buffered bytes to the destination and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_out.IsDisposed, this);
        _out.Flush();
    }

    /// <summary>Flushes, then closes the destination unless it was opened with <c>leaveOpen</c>.</summary>
    public void Dispose() => _out.Dispose();
}
