using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace StreamFraud.Core.Data;

/// <summary>
/// Streaming reader of the canonical CSV (see <see cref="CanonicalCsv"/>). It parses RFC 4180 records straight out of a
/// reusable character buffer, maps columns by header name, and pools the strings that repeat (card and merchant ids,
/// currency, MCC, country, channel, scenario) so that reading millions of rows allocates little beyond the records.
/// </summary>
/// <remarks>
/// Rules: the first record is the header; names are matched case-insensitively, in any order; unknown columns are
/// ignored; blank lines are skipped; line endings may be LF, CRLF or CR; a quoted field may contain commas, doubled
/// quotes and line breaks. Every problem raises <see cref="CanonicalCsvException"/> naming the line where the record
/// starts and, for a bad value, the column.
/// </remarks>
public sealed class CanonicalCsvReader : IDisposable
{
    private const int MaxRecordChars = 64 << 20;
    private const int PoolCapacity = 1 << 18;
    private static readonly SearchValues<char> s_delimiters = SearchValues.Create(",\r\n");

    private readonly TextReader _reader;
    private readonly bool _leaveOpen;
    private readonly string[] _header;
    private readonly int _iTransactionId, _iCardId, _iMerchantId, _iAmount, _iCurrency, _iEventTime;
    private readonly int _iMcc, _iCountry, _iChannel, _iIsFraud, _iFraudScenario, _iFeatures;
    private readonly StringPool _cards = new(), _merchants = new(), _small = new();

    private char[] _buffer = new char[1 << 16];
    private int _pos;
    private int _len;
    private bool _eof;
    private char[] _scratch = new char[256];
    private Field[] _fields = new Field[16];
    private int _fieldCount;
    private long _nextLine = 1;
    private long _recordLine;
    private bool _disposed;

    /// <summary>Opens a reader over CSV text and reads the header.</summary>
    /// <param name="reader">Source text.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="reader"/> open.</param>
    /// <exception cref="CanonicalCsvException">The input is empty or the header lacks a required column.</exception>
    public CanonicalCsvReader(TextReader reader, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _leaveOpen = leaveOpen;

        if (!NextRecord())
        {
            throw new CanonicalCsvException(
                $"line 1: the input is empty; expected a header row such as '{CanonicalCsv.Header}'", 1);
        }

        _header = new string[_fieldCount];
        var index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < _fieldCount; i++)
        {
            var name = FieldSpan(i).Trim().TrimStart('\uFEFF').Trim().ToString();
            _header[i] = name;
            if (name.Length > 0 && !index.TryAdd(name, i))
            {
                throw new CanonicalCsvException($"line 1: column '{name}' appears more than once in the header", 1, name);
            }
        }

        var missing = CanonicalCsv.RequiredColumns.Where(c => !index.ContainsKey(c)).ToList();
        if (missing.Count > 0)
        {
            throw new CanonicalCsvException(
                $"line 1: the header lacks required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} "
                + $"(found: {string.Join(", ", _header)})",
                1,
                missing[0]);
        }

        int Col(string name) => index.TryGetValue(name, out var i) ? i : -1;
        _iTransactionId = Col(CanonicalCsv.TransactionId);
        _iCardId = Col(CanonicalCsv.CardId);
        _iMerchantId = Col(CanonicalCsv.MerchantId);
        _iAmount = Col(CanonicalCsv.Amount);
        _iCurrency = Col(CanonicalCsv.Currency);
        _iEventTime = Col(CanonicalCsv.EventTime);
        _iMcc = Col(CanonicalCsv.Mcc);
        _iCountry = Col(CanonicalCsv.Country);
        _iChannel = Col(CanonicalCsv.Channel);
        _iIsFraud = Col(CanonicalCsv.IsFraud);
        _iFraudScenario = Col(CanonicalCsv.FraudScenario);
        _iFeatures = Col(CanonicalCsv.Features);
    }

    /// <summary>Column names as they appear in the header, in file order.</summary>
    public IReadOnlyList<string> HeaderColumns => _header;

    /// <summary>Whether the input has an <c>is_fraud</c> column.</summary>
    public bool HasLabels => _iIsFraud >= 0;

    /// <summary>Whether the input has a <c>features</c> column.</summary>
    public bool HasFeatures => _iFeatures >= 0;

    /// <summary>1-based line where the most recently read record starts (1 = the header).</summary>
    public long LineNumber => _recordLine;

    /// <summary>Reads the next transaction.</summary>
    /// <returns><see langword="false"/> at the end of the input.</returns>
    /// <exception cref="CanonicalCsvException">A structural problem or a bad value, naming line and column.</exception>
    // Hot loop: compile optimised at once rather than after tier-0 warm-up (a one-pass read of a file never warms up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryRead([NotNullWhen(true)] out Transaction? transaction)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (NextRecord())
        {
            if (_fieldCount == 1 && _header.Length > 1 && _fields[0].Length == 0)
            {
                continue; // blank line
            }

            if (_fieldCount != _header.Length)
            {
                throw new CanonicalCsvException(
                    $"line {_recordLine}: expected {_header.Length} fields as in the header, found {_fieldCount}",
                    _recordLine);
            }

            transaction = Convert();
            return true;
        }

        transaction = null;
        return false;
    }

    /// <summary>Releases the underlying reader unless it was opened with <c>leaveOpen</c>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _reader.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Transaction Convert()
    {
        var transactionId = Required(_iTransactionId, null);
        var cardId = Required(_iCardId, _cards);
        var merchantId = Required(_iMerchantId, _merchants);
        var currency = Required(_iCurrency, _small);

        var amountText = FieldSpan(_iAmount);
        if (!double.TryParse(amountText, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            throw Bad(_iAmount, amountText.Trim().IsEmpty ? "value is empty (the column is required)" : "is not a number");
        }

        if (!double.IsFinite(amount))
        {
            throw Bad(_iAmount, "is not a finite number");
        }

        if (amount < 0)
        {
            throw Bad(_iAmount, "is negative; amounts must be zero or more");
        }

        var timeText = FieldSpan(_iEventTime);
        if (!Iso8601.TryParse(timeText, out var eventTimeMs))
        {
            throw Bad(_iEventTime, timeText.Trim().IsEmpty
                ? "value is empty (the column is required)"
                : "is not an ISO-8601 timestamp (expected e.g. 2026-03-01T08:15:30.123Z)");
        }

        bool? isFraud = null;
        if (_iIsFraud >= 0)
        {
            var text = FieldSpan(_iIsFraud).Trim();
            if (!text.IsEmpty)
            {
                isFraud = ParseBool(text) ?? throw Bad(_iIsFraud, "is not a boolean (true, false, 1 or 0)");
            }
        }

        return new Transaction(
            transactionId,
            cardId,
            merchantId,
            amount,
            currency,
            eventTimeMs,
            Optional(_iMcc),
            Optional(_iCountry),
            Optional(_iChannel),
            _iFeatures >= 0 ? ParseFeatures() : null,
            isFraud,
            Optional(_iFraudScenario));
    }

    private string Required(int column, StringPool? pool)
    {
        var text = FieldSpan(column);
        if (text.IsEmpty)
        {
            throw new CanonicalCsvException(
                $"line {_recordLine}, column {_header[column]}: value is empty (the column is required)",
                _recordLine,
                _header[column]);
        }

        return pool is null ? text.ToString() : pool.Get(text);
    }

    private string? Optional(int column)
    {
        if (column < 0)
        {
            return null;
        }

        var text = FieldSpan(column);
        return text.IsEmpty ? null : _small.Get(text);
    }

    private float[]? ParseFeatures()
    {
        var text = FieldSpan(_iFeatures).Trim();
        if (text.IsEmpty)
        {
            return null;
        }

        var count = text.Count(';') + 1;
        var result = new float[count];
        var i = 0;
        foreach (var range in text.Split(';'))
        {
            var item = text[range];
            if (!float.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
            {
                throw Bad(_iFeatures, $"is not a list of numbers separated by ';' (item {i + 1}: '{Shorten(item)}')");
            }

            i++;
        }

        return result;
    }

    private static bool? ParseBool(ReadOnlySpan<char> text)
    {
        if (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("1"))
        {
            return true;
        }

        if (text.Equals("false", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("0"))
        {
            return false;
        }

        return null;
    }

    private CanonicalCsvException Bad(int column, string problem)
    {
        var name = _header[column];
        var text = FieldSpan(column);
        var message = problem.StartsWith("value is empty", StringComparison.Ordinal)
            ? $"line {_recordLine}, column {name}: {problem}"
            : $"line {_recordLine}, column {name}: '{Shorten(text)}' {problem}";
        return new CanonicalCsvException(message, _recordLine, name);
    }

    private static string Shorten(ReadOnlySpan<char> text) =>
        text.Length <= 60 ? text.ToString() : string.Concat(text[..57], "...");

    private ReadOnlySpan<char> FieldSpan(int i)
    {
        var f = _fields[i];
        return (f.InScratch ? _scratch : _buffer).AsSpan(f.Start, f.Length);
    }

    // Parses the next record into _fields; false at the end of the input. A record cut by the end of the buffer is
    // re-parsed from its start after the buffer is compacted and refilled, so fields always point into one buffer.
    private bool NextRecord()
    {
        while (true)
        {
            var result = TryParseRecord();
            if (result == ParseResult.NeedMore)
            {
                Fill();
                continue;
            }

            return result == ParseResult.Record;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ParseResult TryParseRecord()
    {
        var p = _pos;
        var buffer = _buffer;
        var scratchLength = 0;
        var newlines = 0;
        _fieldCount = 0;
        if (p >= _len)
        {
            return _eof ? ParseResult.End : ParseResult.NeedMore;
        }

        while (true)
        {
            if (p < _len && buffer[p] == '"')
            {
                p++;
                var start = scratchLength;
                while (true)
                {
                    var rest = buffer.AsSpan(p, _len - p);
                    var q = rest.IndexOf('"');
                    if (q < 0)
                    {
                        if (!_eof)
                        {
                            return ParseResult.NeedMore;
                        }

                        throw new CanonicalCsvException(
                            $"line {_nextLine}: a quoted field (field {_fieldCount + 1}) is not closed before the end of the input",
                            _nextLine);
                    }

                    AppendScratch(ref scratchLength, rest[..q]);
                    newlines += rest[..q].Count('\n');
                    p += q + 1;
                    if (p >= _len)
                    {
                        if (!_eof)
                        {
                            return ParseResult.NeedMore;
                        }

                        break;
                    }

                    if (buffer[p] != '"')
                    {
                        break;
                    }

                    AppendScratch(ref scratchLength, "\"");
                    p++;
                }

                AddField(new Field(start, scratchLength - start, true));
            }
            else
            {
                var rest = buffer.AsSpan(p, _len - p);
                var i = rest.IndexOfAny(s_delimiters);
                if (i < 0)
                {
                    if (!_eof)
                    {
                        return ParseResult.NeedMore;
                    }

                    i = rest.Length;
                }

                AddField(new Field(p, i, false));
                p += i;
            }

            if (p >= _len)
            {
                return EndRecord(p, newlines);
            }

            var c = buffer[p];
            if (c == ',')
            {
                p++;
                if (p >= _len && !_eof)
                {
                    return ParseResult.NeedMore;
                }

                continue;
            }

            if (c == '\n')
            {
                return EndRecord(p + 1, newlines);
            }

            if (c == '\r')
            {
                p++;
                if (p >= _len && !_eof)
                {
                    return ParseResult.NeedMore;
                }

                return EndRecord(p < _len && buffer[p] == '\n' ? p + 1 : p, newlines);
            }

            var column = _header is not null && _fieldCount <= _header.Length ? $" ({_header[_fieldCount - 1]})" : "";
            throw new CanonicalCsvException(
                $"line {_nextLine}: unexpected character '{c}' after the closing quote of field {_fieldCount}{column}; "
                + "quotes inside a quoted field must be doubled",
                _nextLine);
        }
    }

    private ParseResult EndRecord(int next, int newlines)
    {
        _pos = next;
        _recordLine = _nextLine;
        _nextLine += 1 + newlines;
        return ParseResult.Record;
    }

    private void AddField(Field field)
    {
        if (_fieldCount == _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        _fields[_fieldCount++] = field;
    }

    private void AppendScratch(ref int length, ReadOnlySpan<char> chars)
    {
        if (length + chars.Length > _scratch.Length)
        {
            Array.Resize(ref _scratch, Math.Max(_scratch.Length * 2, length + chars.Length));
        }

        chars.CopyTo(_scratch.AsSpan(length));
        length += chars.Length;
    }

    private void Fill()
    {
        if (_pos > 0)
        {
            _buffer.AsSpan(_pos, _len - _pos).CopyTo(_buffer);
            _len -= _pos;
            _pos = 0;
        }

        if (_len == _buffer.Length)
        {
            if (_buffer.Length >= MaxRecordChars)
            {
                throw new CanonicalCsvException(
                    $"line {_nextLine}: a record is longer than {MaxRecordChars} characters (unbalanced quotes?)",
                    _nextLine);
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var read = _reader.Read(_buffer, _len, _buffer.Length - _len);
        if (read == 0)
        {
            _eof = true;
        }
        else
        {
            _len += read;
        }
    }

    private enum ParseResult
    {
        Record,
        End,
        NeedMore,
    }

    private readonly record struct Field(int Start, int Length, bool InScratch);

    // Returns one string instance per distinct value, up to a cap (after which values are allocated as usual).
    private sealed class StringPool
    {
        private readonly Dictionary<string, string> _map = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

        public StringPool() => _lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();

        public string Get(ReadOnlySpan<char> text)
        {
            if (_lookup.TryGetValue(text, out var pooled))
            {
                return pooled;
            }

            var value = text.ToString();
            if (_map.Count < PoolCapacity)
            {
                _map.Add(value, value);
            }

            return value;
        }
    }
}
