using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using StreamFraud.Core.Features;

namespace StreamFraud.Training.Data;

/// <summary>
/// Reads the research notebook's input: a NumPy <c>.npz</c> (a zip written by <c>np.savez</c> or
/// <c>np.savez_compressed</c>) holding <c>X.npy</c> and <c>y.npy</c>. Parsed directly: zip via
/// <see cref="ZipArchive"/> (stored or deflated entries, zip64 included), <c>.npy</c> headers per the NumPy format
/// spec (versions 1.0–3.0). No Python needed.
/// </summary>
/// <remarks>
/// <para>Accepted:</para>
/// <list type="bullet">
/// <item><c>X</c>: 2-D, shape <c>(rows, F)</c> with rows ≥ 1 and 1 ≤ F ≤ <see cref="PrecomputedFeatureSpec.MaxDimension"/>,
/// dtype <c>&lt;f4</c> or <c>&lt;f8</c> (float64 is narrowed to float32, the precision the models and the
/// <c>features</c> Avro field use), C order, every value finite (and finite after narrowing).</item>
/// <item><c>y</c>: shape <c>(rows,)</c> or <c>(rows, 1)</c>; dtype bool (<c>|b1</c>), signed or unsigned integers of
/// 1–8 bytes (<c>|u1</c>, <c>&lt;i4</c>, <c>&lt;i8</c>, ...) or floats (<c>&lt;f4</c>, <c>&lt;f8</c>); every value exactly 0 or 1.</item>
/// </list>
/// <para>
/// Everything else fails with an <see cref="NpzFormatException"/> naming the file, the array and the problem: Fortran
/// order, big-endian dtypes, other dtypes (complex, strings, objects, structured), wrong dimensions, a missing array,
/// a label count different from the row count, truncated data.
/// </para>
/// </remarks>
public static class NpzReader
{
    /// <summary>Entry name of the feature matrix.</summary>
    public const string FeaturesEntry = "X.npy";

    /// <summary>Entry name of the labels.</summary>
    public const string LabelsEntry = "y.npy";

    private const int ChunkElements = 1 << 16;

    /// <summary>Reads <c>X</c> and <c>y</c> from the <c>.npz</c> file at <paramref name="path"/>.</summary>
    /// <exception cref="NpzFormatException">The file is not a readable notebook <c>.npz</c>; the message says why.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static NpzDataset Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, Path.GetFileName(path));
    }

    /// <summary>Reads <c>X</c> and <c>y</c> from a seekable stream holding a <c>.npz</c>.</summary>
    /// <param name="stream">The archive; read, not disposed.</param>
    /// <param name="sourceName">Name used in messages and <see cref="NpzDataset.Source"/>.</param>
    /// <exception cref="NpzFormatException">The stream is not a readable notebook <c>.npz</c>; the message says why.</exception>
    public static NpzDataset Read(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new NpzFormatException(
                $"{sourceName}: not a .npz (zip) archive ({ex.Message}); save the arrays with np.savez(path, X=X, y=y)",
                innerException: ex);
        }

        using (zip)
        {
            var xEntry = zip.GetEntry(FeaturesEntry);
            var yEntry = zip.GetEntry(LabelsEntry);
            if (xEntry is null || yEntry is null)
            {
                var missing = xEntry is null ? "X" : "y";
                var held = zip.Entries.Count == 0 ? "nothing" : string.Join(", ", zip.Entries.Select(e => e.FullName));
                throw new NpzFormatException(
                    $"{sourceName}: missing array '{missing}' (entry {missing}.npy); the archive holds {held}. " +
                    "Save with np.savez(path, X=X, y=y)",
                    missing);
            }

            var (features, featureCount, featureDtype) = ReadEntry(xEntry, sourceName, "X", ReadFeatures);
            var rows = features.Length / featureCount;
            var (labels, _, labelDtype) = ReadEntry(yEntry, sourceName, "y", (s, h, fail) => ReadLabels(s, h, fail));
            if (labels.Length != rows)
            {
                throw new NpzFormatException(
                    $"{sourceName}: y.npy has {labels.Length} labels but X.npy has {rows} rows; they must pair up row by row",
                    "y");
            }

            return new NpzDataset(sourceName, features, labels, featureCount, featureDtype, labelDtype);
        }
    }

    private delegate (T[] Values, int Columns) ArrayReader<T>(Stream stream, NpyHeader header, Func<string, NpzFormatException> fail);

    private static (T[] Values, int Columns, string Dtype) ReadEntry<T>(
        ZipArchiveEntry entry, string sourceName, string array, ArrayReader<T> reader)
    {
        NpzFormatException Fail(string what) => new($"{sourceName}: {array}.npy: {what}", array);

        Stream stream;
        try
        {
            stream = entry.Open();
        }
        catch (InvalidDataException ex)
        {
            throw new NpzFormatException($"{sourceName}: {array}.npy: cannot open the entry ({ex.Message})", array, ex);
        }

        using (stream)
        {
            try
            {
                var header = NpyHeader.Read(stream, Fail);
                if (header.FortranOrder)
                {
                    throw Fail($"fortran_order=True is not supported; save with np.ascontiguousarray({array})");
                }

                // The entry's uncompressed size bounds the data, so a corrupt shape fails before a huge allocation.
                var dtype = Dtype.Parse(header.Descr, Fail);
                var needed = checked(header.ElementCount * dtype.Size);
                if (header.DataOffset + needed > entry.Length)
                {
                    throw Fail(
                        $"data truncated: shape {header.ShapeText} of {header.Descr} needs {needed} bytes but the entry " +
                        $"has {Math.Max(0, entry.Length - header.DataOffset)}");
                }

                var (values, columns) = reader(stream, header, Fail);
                return (values, columns, header.Descr);
            }
            catch (OverflowException)
            {
                throw Fail("shape is too large");
            }
            catch (InvalidDataException ex)
            {
                throw new NpzFormatException($"{sourceName}: {array}.npy: corrupt entry ({ex.Message})", array, ex);
            }
        }
    }

    private static (float[] Values, int Columns) ReadFeatures(Stream stream, NpyHeader header, Func<string, NpzFormatException> fail)
    {
        var dtype = Dtype.Parse(header.Descr, fail);
        if (dtype.Kind != 'f' || dtype.Size is not (4 or 8))
        {
            throw fail($"dtype '{header.Descr}' is not supported for X; use float32 or float64 (X.astype('<f4'))");
        }

        if (header.Shape.Length != 2)
        {
            throw fail($"expected a 2-D array (rows, features), got shape {header.ShapeText}");
        }

        long rows = header.Shape[0], columns = header.Shape[1];
        if (rows == 0)
        {
            throw fail($"has no rows (shape {header.ShapeText})");
        }

        if (columns < 1 || columns > PrecomputedFeatureSpec.MaxDimension)
        {
            throw fail($"has {columns} features per row; 1..{PrecomputedFeatureSpec.MaxDimension} are supported");
        }

        if (rows * columns > Array.MaxLength)
        {
            throw fail($"shape {header.ShapeText} has {rows * columns} values, more than one array can hold ({Array.MaxLength})");
        }

        var values = new float[rows * columns];
        var buffer = new byte[ChunkElements * dtype.Size];
        for (var start = 0; start < values.Length; start += ChunkElements)
        {
            var count = Math.Min(ChunkElements, values.Length - start);
            ReadExactly(stream, buffer.AsSpan(0, count * dtype.Size), fail);
            var bytes = buffer.AsSpan(0, count * dtype.Size);
            var dest = values.AsSpan(start, count);
            if (dtype.Size == 4)
            {
                for (var i = 0; i < count; i++)
                {
                    var v = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4, 4));
                    if (!float.IsFinite(v))
                    {
                        throw NotFinite(start + i, columns, v, fail);
                    }

                    dest[i] = v;
                }
            }
            else
            {
                for (var i = 0; i < count; i++)
                {
                    var d = BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i * 8, 8));
                    var v = (float)d;
                    if (!float.IsFinite(v))
                    {
                        throw NotFinite(start + i, columns, d, fail);
                    }

                    dest[i] = v;
                }
            }
        }

        return (values, (int)columns);
    }

    private static NpzFormatException NotFinite(long index, long columns, double value, Func<string, NpzFormatException> fail)
    {
        var what = double.IsFinite(value)
            ? $"{value.ToString("R", CultureInfo.InvariantCulture)} overflows float32"
            : $"is {value.ToString(CultureInfo.InvariantCulture)}";
        return fail($"row {index / columns}, column {index % columns} {what}; features must be finite");
    }

    private static (bool[] Values, int Columns) ReadLabels(Stream stream, NpyHeader header, Func<string, NpzFormatException> fail)
    {
        var dtype = Dtype.Parse(header.Descr, fail);
        if (dtype.Kind is not ('f' or 'i' or 'u' or 'b') || (dtype.Kind == 'f' && dtype.Size is not (4 or 8)))
        {
            throw fail($"dtype '{header.Descr}' is not supported for y; use 0/1 integers, bool or float");
        }

        if (!(header.Shape.Length == 1 || (header.Shape.Length == 2 && header.Shape[1] == 1)))
        {
            throw fail($"expected a 1-D array (rows,) or (rows, 1), got shape {header.ShapeText}");
        }

        var n = header.Shape[0];
        if (n > Array.MaxLength)
        {
            throw fail($"has {n} labels, more than one array can hold");
        }

        var values = new bool[n];
        var buffer = new byte[ChunkElements * dtype.Size];
        for (var start = 0; start < values.Length; start += ChunkElements)
        {
            var count = Math.Min(ChunkElements, values.Length - start);
            var bytes = buffer.AsSpan(0, count * dtype.Size);
            ReadExactly(stream, bytes, fail);
            for (var i = 0; i < count; i++)
            {
                var raw = bytes.Slice(i * dtype.Size, dtype.Size);
                var v = dtype.Kind switch
                {
                    'f' when dtype.Size == 4 => BinaryPrimitives.ReadSingleLittleEndian(raw),
                    'f' => BinaryPrimitives.ReadDoubleLittleEndian(raw),
                    'i' => ReadSigned(raw),
                    _ => ReadUnsigned(raw),
                };
                if (v is not (0.0 or 1.0))
                {
                    throw fail($"element {start + i} is {v.ToString(CultureInfo.InvariantCulture)}; labels must be 0 or 1");
                }

                values[start + i] = v == 1.0;
            }
        }

        return (values, 1);
    }

    private static double ReadSigned(ReadOnlySpan<byte> raw) => raw.Length switch
    {
        1 => (sbyte)raw[0],
        2 => BinaryPrimitives.ReadInt16LittleEndian(raw),
        4 => BinaryPrimitives.ReadInt32LittleEndian(raw),
        _ => BinaryPrimitives.ReadInt64LittleEndian(raw),
    };

    private static double ReadUnsigned(ReadOnlySpan<byte> raw) => raw.Length switch
    {
        1 => raw[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(raw),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(raw),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(raw),
    };

    private static void ReadExactly(Stream stream, Span<byte> buffer, Func<string, NpzFormatException> fail)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw fail("data truncated: the entry ends before the shape's last value");
        }
    }

    /// <summary>A <c>descr</c> like <c>&lt;f4</c>: byte order, kind, item size.</summary>
    private readonly record struct Dtype(char Kind, int Size)
    {
        public static Dtype Parse(string descr, Func<string, NpzFormatException> fail)
        {
            if (descr.Length < 3 || descr[0] is not ('<' or '>' or '|' or '=')
                || !int.TryParse(descr.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                throw fail($"dtype '{descr}' is not supported; use float32/float64 features and 0/1 labels");
            }

            var kind = descr[1];
            var valid = kind switch
            {
                'f' => size is 2 or 4 or 8,
                'i' or 'u' => size is 1 or 2 or 4 or 8,
                'b' => size == 1,
                _ => false,
            };
            if (!valid)
            {
                throw fail($"dtype '{descr}' is not supported; use float32/float64 features and 0/1 labels");
            }

            // '>' only matters for multi-byte items; numpy writes '|' for single bytes but '>u1' means the same.
            if (descr[0] == '>' && size > 1)
            {
                var little = "<" + descr[1..];
                throw fail($"big-endian dtype '{descr}' is not supported; convert with .astype('{little}') before saving");
            }

            return new Dtype(kind, size);
        }
    }
}
