using System.Buffers;
using System.Globalization;
using System.Text;

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
    private static readonly SearchValues<char> s_needsQuoting = SearchValues.Create(",\"\r\n");

    private readonly Stream? _stream;
    private readonly TextWriter? _textWriter;
    private readonly bool _leaveOpen;
    private readonly bool _includeFeatures;
    private byte[] _buffer;
    private int _length;
    private bool _disposed;

    /// <summary>Writes to a byte stream.</summary>
    /// <param name="stream">Destination; wrap nothing around it, the writer buffers.</param>
    /// <param name="options">Options, or <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="stream"/> open.</param>
    public CanonicalCsvWriter(Stream stream, CanonicalCsvWriterOptions? options = null, bool leaveOpen = false)
        : this(options, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        WriteHeader();
    }

    /// <summary>Writes to a text writer (the UTF-8 bytes are decoded back to characters on flush).</summary>
    /// <param name="writer">Destination.</param>
    /// <param name="options">Options, or <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="writer"/> open.</param>
    public CanonicalCsvWriter(TextWriter writer, CanonicalCsvWriterOptions? options = null, bool leaveOpen = false)
        : this(options, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _textWriter = writer;
        WriteHeader();
    }

    private CanonicalCsvWriter(CanonicalCsvWriterOptions? options, bool leaveOpen)
    {
        options ??= new CanonicalCsvWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, 1024, nameof(options));
        _buffer = new byte[options.BufferSize];
        _includeFeatures = options.IncludeFeatures;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Data rows written so far (the header not counted).</summary>
    public long RowsWritten { get; private set; }

    /// <summary>Appends one row.</summary>
    /// <exception cref="ArgumentException">The amount is not finite or the event time is outside years 1–9999.</exception>
    public void Write(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ObjectDisposedException.ThrowIf(_disposed, this);
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

        Ensure(bound);

        Text(transaction.TransactionId);
        Byte((byte)',');
        Text(transaction.CardId);
        Byte((byte)',');
        Text(transaction.MerchantId);
        Byte((byte)',');
        transaction.Amount.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        Byte((byte)',');
        Text(transaction.Currency);
        Byte((byte)',');
        Iso8601.WriteUtf8(_buffer.AsSpan(_length), transaction.EventTimeMs);
        _length += Iso8601.FormattedLength;
        Byte((byte)',');
        Text(transaction.Mcc);
        Byte((byte)',');
        Text(transaction.Country);
        Byte((byte)',');
        Text(transaction.Channel);
        Byte((byte)',');
        if (transaction.IsFraud is { } isFraud)
        {
            Ascii(isFraud ? "true"u8 : "false"u8);
        }

        Byte((byte)',');
        Text(transaction.FraudScenario);
        if (_includeFeatures)
        {
            Byte((byte)',');
            if (transaction.Features is { } vector)
            {
                for (var i = 0; i < vector.Length; i++)
                {
                    if (i > 0)
                    {
                        Byte((byte)';');
                    }

                    vector[i].TryFormat(_buffer.AsSpan(_length), out written, default, CultureInfo.InvariantCulture);
                    _length += written;
                }
            }
        }

        Byte((byte)'\n');
        RowsWritten++;
    }

    /// <summary>Writes buffered bytes to the destination and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushBuffer();
        _stream?.Flush();
        _textWriter?.Flush();
    }

    /// <summary>Flushes, then closes the destination unless it was opened with <c>leaveOpen</c>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            Flush();
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _stream?.Dispose();
                _textWriter?.Dispose();
            }
        }
    }

    private void WriteHeader()
    {
        var header = _includeFeatures ? CanonicalCsv.Header + "," + CanonicalCsv.Features : CanonicalCsv.Header;
        Ensure(header.Length + 1);
        _length += Encoding.ASCII.GetBytes(header, _buffer.AsSpan(_length));
        Byte((byte)'\n');
    }

    private void Text(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (!value.AsSpan().ContainsAny(s_needsQuoting))
        {
            _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
            return;
        }

        Byte((byte)'"');
        var rest = value.AsSpan();
        while (true)
        {
            var quote = rest.IndexOf('"');
            var chunk = quote < 0 ? rest : rest[..(quote + 1)];
            _length += Encoding.UTF8.GetBytes(chunk, _buffer.AsSpan(_length));
            if (quote < 0)
            {
                break;
            }

            Byte((byte)'"');
            rest = rest[(quote + 1)..];
        }

        Byte((byte)'"');
    }

    private void Ascii(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Byte(byte b) => _buffer[_length++] = b;

    private void Ensure(int bytes)
    {
        if (_buffer.Length - _length >= bytes)
        {
            return;
        }

        FlushBuffer();
        if (_buffer.Length < bytes)
        {
            _buffer = new byte[Math.Max(bytes, _buffer.Length * 2)];
        }
    }

    private void FlushBuffer()
    {
        if (_length == 0)
        {
            return;
        }

        if (_stream is not null)
        {
            _stream.Write(_buffer, 0, _length);
        }
        else
        {
            _textWriter!.Write(Encoding.UTF8.GetString(_buffer, 0, _length));
        }

        _length = 0;
    }
}
