using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Data;

/// <summary>
/// Writes the labels CSV (see <see cref="LabelCsv"/>) as UTF-8 (no BOM, LF line ends), formatted as the canonical CSV
/// is (<see cref="CanonicalCsvWriter"/>): times as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, <c>is_fraud</c> as
/// <c>true</c>/<c>false</c>, <c>source</c> as its Avro symbol, an unknown amount as an empty field, text quoted per
/// RFC 4180 only when needed. The header is written on construction.
/// </summary>
public sealed class LabelCsvWriter : IDisposable
{
    private const int DefaultBufferSize = 1 << 16;

    private readonly CsvUtf8Output _out;

    /// <summary>Writes to a byte stream.</summary>
    /// <param name="stream">Destination; wrap nothing around it, the writer buffers.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="stream"/> open.</param>
    public LabelCsvWriter(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _out = new CsvUtf8Output(stream, null, DefaultBufferSize, leaveOpen);
        _out.Header(LabelCsv.Header);
    }

    /// <summary>Writes to a text writer (the UTF-8 bytes are decoded back to characters on flush).</summary>
    /// <param name="writer">Destination.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="writer"/> open.</param>
    public LabelCsvWriter(TextWriter writer, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _out = new CsvUtf8Output(null, writer, DefaultBufferSize, leaveOpen);
        _out.Header(LabelCsv.Header);
    }

    /// <summary>Data rows written so far (the header not counted).</summary>
    public long RowsWritten { get; private set; }

    /// <summary>Appends one row.</summary>
    /// <exception cref="ArgumentException">A time is outside years 1–9999, the label time precedes the event time, or
    /// the amount is not a finite, non-negative number.</exception>
    public void Write(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        ObjectDisposedException.ThrowIf(_out.IsDisposed, this);
        CheckTime(label, "event", label.EventTimeMs);
        CheckTime(label, "label", label.LabelTimeMs);
        if (label.LabelTimeMs < label.EventTimeMs)
        {
            throw new ArgumentException(
                $"Label of {label.TransactionId}: label time {Iso8601.Format(label.LabelTimeMs)} precedes the event time {Iso8601.Format(label.EventTimeMs)}.",
                nameof(label));
        }

        if (label.Amount is { } a && !(double.IsFinite(a) && a >= 0))
        {
            throw new ArgumentException($"Label of {label.TransactionId}: amount {a} is not a finite, non-negative number.", nameof(label));
        }

        var o = _out;
        o.Ensure(CsvUtf8Output.TextBound(label.TransactionId) + CsvUtf8Output.TextBound(label.CardId)
            + CsvUtf8Output.TextBound(label.MerchantId) + 2 * Iso8601.FormattedLength + CsvUtf8Output.MaxNumberBytes + 32);
        o.Text(label.TransactionId);
        o.Byte((byte)',');
        o.Text(label.CardId);
        o.Byte((byte)',');
        o.Text(label.MerchantId);
        o.Byte((byte)',');
        o.Time(label.EventTimeMs);
        o.Byte((byte)',');
        o.Time(label.LabelTimeMs);
        o.Byte((byte)',');
        o.Boolean(label.IsFraud);
        o.Byte((byte)',');
        o.Text(TransactionLabel.OriginSymbol(label.Origin));
        o.Byte((byte)',');
        if (label.Amount is { } amount)
        {
            o.Number(amount);
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

    private static void CheckTime(TransactionLabel label, string which, long unixMs)
    {
        if (unixMs < Iso8601.MinUnixMs || unixMs > Iso8601.MaxUnixMs)
        {
            throw new ArgumentException($"Label of {label.TransactionId}: {which} time {unixMs} ms is outside years 1-9999.", nameof(label));
        }
    }
}
