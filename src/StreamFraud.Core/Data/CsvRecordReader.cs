using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace StreamFraud.Core.Data;

/// <summary>
/// The RFC 4180 part of the CSV readers of this namespace (<see cref="CanonicalCsvReader"/>, <see cref="LabelCsv"/>):
/// parses records straight out of a reusable character buffer, maps columns by header name, and converts fields with
/// the shared rules and error messages. A record reader knows no column but the ones it is told are required.
/// </summary>
/// <remarks>
/// Rules: the first record is the header; names are matched case-insensitively, in any order; unknown columns are
/// ignored; blank lines are skipped; line endings may be LF, CRLF or CR; a quoted field may contain commas, doubled
/// quotes and line breaks. Every problem raises <see cref="CanonicalCsvException"/> naming the line where the record
/// starts and, for a bad value, the column.
/// </remarks>
internal sealed class CsvRecordReader : IDisposable
{
    private const int MaxRecordChars = 64 << 20;
    private static readonly SearchValues<char> s_delimiters = SearchValues.Create(",\r\n");

    private readonly TextReader _reader;
    private readonly bool _leaveOpen;
    private readonly string[] _header;
    private readonly Dictionary<string, int> _index;

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
    /// <param name="exampleHeader">The format's header, quoted in the message about an empty input.</param>
    /// <param name="requiredColumns">Columns the header must have.</param>
    /// <exception cref="CanonicalCsvException">The input is empty, a column is named twice or a required one is missing.</exception>
    public CsvRecordReader(TextReader reader, bool leaveOpen, string exampleHeader, IReadOnlyList<string> requiredColumns)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _leaveOpen = leaveOpen;

        if (!NextRecord())
        {
            throw new CanonicalCsvException($"line 1: the input is empty; expected a header row such as '{exampleHeader}'", 1);
        }

        _header = new string[_fieldCount];
        _index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < _fieldCount; i++)
        {
            var name = FieldSpan(i).Trim().TrimStart('\uFEFF').Trim().ToString();
            _header[i] = name;
            if (name.Length > 0 && !_index.TryAdd(name, i))
            {
                throw new CanonicalCsvException($"line 1: column '{name}' appears more than once in the header", 1, name);
            }
        }

        var missing = requiredColumns.Where(c => !_index.ContainsKey(c)).ToList();
        if (missing.Count > 0)
        {
            throw new CanonicalCsvException(
                $"line 1: the header lacks required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} "
                + $"(found: {string.Join(", ", _header)})",
                1,
                missing[0]);
        }
    }

    /// <summary>Column names as they appear in the header, in file order.</summary>
    public IReadOnlyList<string> Header => _header;

    /// <summary>1-based line where the most recently read record starts (1 = the header).</summary>
    public long RecordLine => _recordLine;

    /// <summary>The position of a column in the header (case-insensitive), -1 when absent.</summary>
    public int Column(string name) => _index.TryGetValue(name, out var i) ? i : -1;

    /// <summary>Moves to the next data record, skipping blank lines.</summary>
    /// <returns><see langword="false"/> at the end of the input.</returns>
    /// <exception cref="CanonicalCsvException">A structural problem, or a record whose field count differs from the header's.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool NextRow()
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

            return true;
        }

        return false;
    }

    /// <summary>The text of a field of the current record (unquoted, untrimmed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<char> FieldSpan(int column)
    {
        var f = _fields[column];
        return (f.InScratch ? _scratch : _buffer).AsSpan(f.Start, f.Length);
    }

    /// <summary>A required text field; pooled when <paramref name="pool"/> is given.</summary>
    /// <exception cref="CanonicalCsvException">The field is empty.</exception>
    public string Required(int column, CsvStringPool? pool)
    {
        var text = FieldSpan(column);
        if (text.IsEmpty)
        {
            throw Bad(column, EmptyRequired);
        }

        return pool is null ? text.ToString() : pool.Get(text);
    }

    /// <summary>An optional text field, pooled: <see langword="null"/> when the column is absent (-1) or the field empty.</summary>
    public string? Optional(int column, CsvStringPool pool)
    {
        if (column < 0)
        {
            return null;
        }

        var text = FieldSpan(column);
        return text.IsEmpty ? null : pool.Get(text);
    }

    /// <summary>A required amount: a finite, non-negative number.</summary>
    /// <exception cref="CanonicalCsvException">Empty or not such a number.</exception>
    public double Amount(int column)
    {
        var text = FieldSpan(column);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            throw Bad(column, text.Trim().IsEmpty ? EmptyRequired : "is not a number");
        }

        if (!double.IsFinite(amount))
        {
            throw Bad(column, "is not a finite number");
        }

        if (amount < 0)
        {
            throw Bad(column, "is negative; amounts must be zero or more");
        }

        return amount;
    }

    /// <summary>An optional amount: <see langword="null"/> when the column is absent (-1) or the field blank, else as
    /// <see cref="Amount"/>.</summary>
    /// <exception cref="CanonicalCsvException">Not a finite, non-negative number.</exception>
    public double? OptionalAmount(int column) => column < 0 || FieldSpan(column).Trim().IsEmpty ? null : Amount(column);

    /// <summary>A required ISO-8601 timestamp (see <see cref="Iso8601.TryParse"/>) as Unix ms.</summary>
    /// <exception cref="CanonicalCsvException">Empty or not a timestamp.</exception>
    public long Time(int column)
    {
        var text = FieldSpan(column);
        if (!Iso8601.TryParse(text, out var unixMs))
        {
            throw Bad(column, text.Trim().IsEmpty
                ? EmptyRequired
                : "is not an ISO-8601 timestamp (expected e.g. 2026-03-01T08:15:30.123Z)");
        }

        return unixMs;
    }

    /// <summary>A boolean (<c>true</c>/<c>false</c>, any case, or <c>1</c>/<c>0</c>); <see langword="null"/> when empty.</summary>
    /// <exception cref="CanonicalCsvException">Not a boolean.</exception>
    public bool? Boolean(int column)
    {
        var text = FieldSpan(column).Trim();
        if (text.IsEmpty)
        {
            return null;
        }

        if (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("1"))
        {
            return true;
        }

        if (text.Equals("false", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("0"))
        {
            return false;
        }

        throw Bad(column, "is not a boolean (true, false, 1 or 0)");
    }

    /// <summary>The error about a value: <c>line N, column C: 'value' problem</c> (the value left out when the problem
    /// is <see cref="EmptyRequired"/>).</summary>
    public CanonicalCsvException Bad(int column, string problem)
    {
        var name = _header[column];
        var message = problem.StartsWith("value is empty", StringComparison.Ordinal)
            ? $"line {_recordLine}, column {name}: {problem}"
            : $"line {_recordLine}, column {name}: '{Shorten(FieldSpan(column))}' {problem}";
        return new CanonicalCsvException(message, _recordLine, name);
    }

    /// <summary>The problem of an empty required field.</summary>
    public const string EmptyRequired = "value is empty (the column is required)";

    /// <summary>A value for a message: at most 60 characters.</summary>
    public static string Shorten(ReadOnlySpan<char> text) =>
        text.Length <= 60 ? text.ToString() : string.Concat(text[..57], "...");

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
}

/// <summary>Returns one string instance per distinct value, up to a cap (after which values are allocated as usual):
/// the readers pool the strings that repeat (card and merchant ids, currency, MCC, country, channel, scenario).</summary>
internal sealed class CsvStringPool
{
    private const int Capacity = 1 << 18;

    private readonly Dictionary<string, string> _map = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public CsvStringPool() => _lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();

    public string Get(ReadOnlySpan<char> text)
    {
        if (_lookup.TryGetValue(text, out var pooled))
        {
            return pooled;
        }

        var value = text.ToString();
        if (_map.Count < Capacity)
        {
            _map.Add(value, value);
        }

        return value;
    }
}
