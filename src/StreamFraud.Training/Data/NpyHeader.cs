using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace StreamFraud.Training.Data;

/// <summary>
/// The header of one <c>.npy</c> array (format versions 1.0, 2.0 and 3.0): magic <c>\x93NUMPY</c>, major/minor version,
/// a little-endian header length (2 bytes in v1, 4 in v2/v3), then a Python dict literal with <c>descr</c>,
/// <c>fortran_order</c> and <c>shape</c>. Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
/// </summary>
internal sealed record NpyHeader(int Major, int Minor, string Descr, bool FortranOrder, long[] Shape, long DataOffset)
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The shape as numpy prints it: <c>(3, 2)</c>, <c>(5,)</c>, <c>()</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Elements in the array (product of the shape).</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (var d in Shape)
            {
                count = checked(count * d);
            }

            return count;
        }
    }

    public static string FormatShape(long[] shape) => shape.Length switch
    {
        0 => "()",
        1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
        _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
    };

    /// <summary>Reads the header from the start of <paramref name="stream"/>, leaving it at the first data byte.</summary>
    /// <param name="stream">The array's bytes.</param>
    /// <param name="fail">Builds the exception for a problem (the caller prefixes file and array).</param>
    public static NpyHeader Read(Stream stream, Func<string, Exception> fail)
    {
        Span<byte> prefix = stackalloc byte[12];
        if (ReadFully(stream, prefix[..8]) < 8 || !prefix[..6].SequenceEqual(Magic))
        {
            throw fail("not a .npy array (the magic string \\x93NUMPY is missing)");
        }

        int major = prefix[6], minor = prefix[7];
        int headerLength;
        switch (major)
        {
            case 1:
                if (ReadFully(stream, prefix.Slice(8, 2)) < 2)
                {
                    throw fail("header truncated");
                }

                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(8, 2));
                break;
            case 2:
            case 3:
                if (ReadFully(stream, prefix.Slice(8, 4)) < 4)
                {
                    throw fail("header truncated");
                }

                var length = BinaryPrimitives.ReadUInt32LittleEndian(prefix.Slice(8, 4));
                if (length > 1 << 20)
                {
                    throw fail($"header length {length} is implausible (over 1 MiB)");
                }

                headerLength = (int)length;
                break;
            default:
                throw fail($"format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)");
        }

        var headerBytes = new byte[headerLength];
        if (ReadFully(stream, headerBytes) < headerLength)
        {
            throw fail("header truncated");
        }

        // v1/v2 headers are latin-1, v3 UTF-8 (the only difference between v2 and v3).
        var text = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        var dict = new DictParser(text, fail).ParseDict();

        if (!dict.TryGetValue("descr", out var descr))
        {
            throw fail("header has no 'descr'");
        }

        if (descr is not string descrText)
        {
            throw fail("structured dtypes (a list 'descr') are not supported; save plain float or integer arrays");
        }

        if (!dict.TryGetValue("fortran_order", out var fortran) || fortran is not bool fortranOrder)
        {
            throw fail("header has no boolean 'fortran_order'");
        }

        if (!dict.TryGetValue("shape", out var shape) || shape is not long[] dims)
        {
            throw fail("header has no 'shape' tuple");
        }

        return new NpyHeader(major, minor, descrText, fortranOrder, dims, (major == 1 ? 10 : 12) + headerLength);
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = stream.Read(buffer[total..]);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>
    /// Parses the subset of Python literals numpy writes in a header: a dict with string keys whose values are
    /// strings, <c>True</c>/<c>False</c>, tuples of integers, or (structured dtypes) lists, which are skipped.
    /// </summary>
    private ref struct DictParser(string text, Func<string, Exception> fail)
    {
        private readonly string _text = text;
        private readonly Func<string, Exception> _fail = fail;
        private int _pos;

        public Dictionary<string, object> ParseDict()
        {
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            SkipSpace();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (TryTake('}'))
                {
                    break;
                }

                var key = ParseString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                result[key] = ParseValue();
                SkipSpace();
                if (TryTake(','))
                {
                    continue;
                }

                Expect('}');
                break;
            }

            SkipSpace();
            if (_pos != _text.Length)
            {
                throw Error("unexpected text after the header dict");
            }

            return result;
        }

        private object ParseValue()
        {
            if (_pos >= _text.Length)
            {
                throw Error("header ends inside a value");
            }

            var c = _text[_pos];
            if (c is '\'' or '"')
            {
                return ParseString();
            }

            if (c == '(')
            {
                return ParseTuple();
            }

            if (c == '[')
            {
                SkipBracketed();
                return new object();
            }

            if (Word("True"))
            {
                return true;
            }

            if (Word("False"))
            {
                return false;
            }

            throw Error($"unexpected value starting '{c}'");
        }

        private long[] ParseTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (true)
            {
                SkipSpace();
                if (TryTake(')'))
                {
                    return [.. dims];
                }

                var start = _pos;
                while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
                {
                    _pos++;
                }

                if (_pos == start || !long.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out var dim))
                {
                    throw Error("shape must be a tuple of non-negative integers");
                }

                TryTake('L'); // Python 2 long literal, seen in very old files.
                dims.Add(dim);
                SkipSpace();
                if (!TryTake(','))
                {
                    Expect(')');
                    return [.. dims];
                }
            }
        }

        private void SkipBracketed()
        {
            var depth = 0;
            for (; _pos < _text.Length; _pos++)
            {
                var c = _text[_pos];
                if (c is '[' or '(')
                {
                    depth++;
                }
                else if (c is ']' or ')' && --depth == 0)
                {
                    _pos++;
                    return;
                }
            }

            throw Error("unterminated list");
        }

        private string ParseString()
        {
            if (_pos >= _text.Length || _text[_pos] is not ('\'' or '"'))
            {
                throw Error("expected a quoted string");
            }

            var quote = _text[_pos++];
            var end = _text.IndexOf(quote, _pos);
            if (end < 0)
            {
                throw Error("unterminated string");
            }

            var s = _text[_pos..end];
            _pos = end + 1;
            return s;
        }

        private bool Word(string word)
        {
            if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) == 0)
            {
                _pos += word.Length;
                return true;
            }

            return false;
        }

        private void SkipSpace()
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos]))
            {
                _pos++;
            }
        }

        private bool TryTake(char c)
        {
            if (_pos < _text.Length && _text[_pos] == c)
            {
                _pos++;
                return true;
            }

            return false;
        }

        private void Expect(char c)
        {
            if (!TryTake(c))
            {
                throw Error($"expected '{c}'");
            }
        }

        private readonly Exception Error(string what) =>
            _fail($"header is not a valid Python dict literal ({what} at offset {_pos}): {_text.TrimEnd()}");
    }
}
