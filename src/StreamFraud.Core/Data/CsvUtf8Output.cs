using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace StreamFraud.Core.Data;

/// <summary>
/// The output side shared by the CSV writers of this namespace (<see cref="CanonicalCsvWriter"/>,
/// <see cref="LabelCsvWriter"/>): a UTF-8 byte buffer in front of a stream or a text writer, with the formatting rules
/// of every StreamFraud CSV — numbers in the shortest invariant form that round-trips, times as
/// <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, and text quoted per RFC 4180 only when it contains a comma, quote or line break.
/// A row is appended after <see cref="Ensure"/> made room for its upper bound.
/// </summary>
internal sealed class CsvUtf8Output : IDisposable
{
    /// <summary>Bytes a number takes at most (shortest round-trip double, sign and exponent included).</summary>
    public const int MaxNumberBytes = 32;

    private static readonly SearchValues<char> s_needsQuoting = SearchValues.Create(",\"\r\n");

    private readonly Stream? _stream;
    private readonly TextWriter? _textWriter;
    private readonly bool _leaveOpen;
    private byte[] _buffer;
    private int _length;
    private bool _disposed;

    /// <summary>Writes to a byte stream or, when <paramref name="stream"/> is null, to <paramref name="textWriter"/>.</summary>
    public CsvUtf8Output(Stream? stream, TextWriter? textWriter, int bufferSize, bool leaveOpen)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1024);
        _stream = stream;
        _textWriter = textWriter;
        _buffer = new byte[bufferSize];
        _leaveOpen = leaveOpen;
    }

    /// <summary>Whether <see cref="Dispose"/> ran.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Upper bound of the UTF-8 bytes of a text field: every char may take 3 bytes and double when quoted.</summary>
    public static int TextBound(string? value) => 6 * (value?.Length ?? 0) + 2;

    /// <summary>Makes room for <paramref name="bytes"/> more bytes, flushing or growing the buffer.</summary>
    public void Ensure(int bytes)
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

    /// <summary>A header row (ASCII names) and its line end.</summary>
    public void Header(string header)
    {
        Ensure(header.Length + 1);
        _length += Encoding.ASCII.GetBytes(header, _buffer.AsSpan(_length));
        Byte((byte)'\n');
    }

    /// <summary>A text field; nothing for <see langword="null"/> or empty.</summary>
    public void Text(string? value)
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

    /// <summary>A number in the shortest invariant form that round-trips (<c>12.34</c>, <c>72</c>).</summary>
    public void Number(double value)
    {
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    /// <summary>A single-precision number in its shortest invariant round-trip form.</summary>
    public void Number(float value)
    {
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    /// <summary>A time as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (<see cref="Iso8601.FormattedLength"/> bytes).</summary>
    public void Time(long unixMs)
    {
        Iso8601.WriteUtf8(_buffer.AsSpan(_length), unixMs);
        _length += Iso8601.FormattedLength;
    }

    /// <summary><c>true</c> or <c>false</c>.</summary>
    public void Boolean(bool value) => Ascii(value ? "true"u8 : "false"u8);

    /// <summary>ASCII bytes as they are.</summary>
    public void Ascii(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>One byte (a separator or a line end).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Byte(byte b) => _buffer[_length++] = b;

    /// <summary>Writes buffered bytes to the destination and flushes it.</summary>
    public void Flush()
    {
        FlushBuffer();
        _stream?.Flush();
        _textWriter?.Flush();
    }

    /// <summary>Flushes, then closes the destination unless opened with <c>leaveOpen</c>.</summary>
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
