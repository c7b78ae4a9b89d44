using System.Globalization;
using Avro;

namespace StreamFraud.Kafka;

/// <summary>
/// Walks one Avro binary datum by its writer schema without materialising it: how many bytes it occupies (so bytes
/// after it can be refused) and the first value of a logical type that no .NET date can hold (so such a value is
/// classed <c>invalid_value</c>, not <c>undecodable</c>). Allocates only for a reason.
/// </summary>
internal static class AvroBodyWalker
{
    private const int MaxDepth = 64;
    private static readonly Schema MapKey = PrimitiveSchema.Create(Schema.Type.String);

    // DateTime's range in Unix milliseconds / microseconds: what Avro's timestamp conversions can produce.
    private const long MinUnixMs = -62_135_596_800_000;
    private const long MaxUnixMs = 253_402_300_799_999;

    /// <summary>Result of <see cref="Walk"/>.</summary>
    /// <param name="Length">Bytes the datum occupies, or -1 when the bytes do not follow the schema.</param>
    /// <param name="InvalidValue">The first logical value out of range (field path, value, rule), or null.</param>
    public readonly record struct Walked(int Length, string? InvalidValue);

    /// <summary>Walks the datum of <paramref name="schema"/> at the start of <paramref name="data"/>.</summary>
    public static Walked Walk(Schema schema, ReadOnlySpan<byte> data)
    {
        var pos = 0;
        string? invalid = null;
        var ok = Skip(schema, data, ref pos, "", 0, ref invalid);
        return new Walked(ok ? pos : -1, invalid);
    }

    private static bool Skip(Schema schema, ReadOnlySpan<byte> data, ref int pos, string path, int depth, ref string? invalid)
    {
        if (depth > MaxDepth)
        {
            return false;
        }

        switch (schema.Tag)
        {
            case Schema.Type.Null:
                return true;
            case Schema.Type.Boolean:
                return Advance(data, ref pos, 1);
            case Schema.Type.Int:
            case Schema.Type.Long:
            case Schema.Type.Enumeration:
                return ReadLong(data, ref pos, out _);
            case Schema.Type.Float:
                return Advance(data, ref pos, 4);
            case Schema.Type.Double:
                return Advance(data, ref pos, 8);
            case Schema.Type.String:
            case Schema.Type.Bytes:
                return ReadLong(data, ref pos, out var length) && length >= 0 && length <= int.MaxValue && Advance(data, ref pos, (int)length);
            case Schema.Type.Fixed:
                return Advance(data, ref pos, ((FixedSchema)schema).Size);
            case Schema.Type.Record:
            case Schema.Type.Error:
                foreach (var field in ((RecordSchema)schema).Fields)
                {
                    if (!Skip(field.Schema, data, ref pos, path.Length == 0 ? field.Name : $"{path}.{field.Name}", depth + 1, ref invalid))
                    {
                        return false;
                    }
                }

                return true;
            case Schema.Type.Union:
                var union = (UnionSchema)schema;
                return ReadLong(data, ref pos, out var branch) && branch >= 0 && branch < union.Count &&
                    Skip(union[(int)branch], data, ref pos, path, depth + 1, ref invalid);
            case Schema.Type.Array:
                return SkipBlocks(((ArraySchema)schema).ItemSchema, null, data, ref pos, path, depth, ref invalid);
            case Schema.Type.Map:
                return SkipBlocks(((MapSchema)schema).ValueSchema, MapKey, data, ref pos, path, depth, ref invalid);
            case Schema.Type.Logical:
                var logical = (LogicalSchema)schema;
                var start = pos;
                if (!Skip(logical.BaseSchema, data, ref pos, path, depth + 1, ref invalid))
                {
                    return false;
                }

                if (invalid is null && logical.BaseSchema.Tag == Schema.Type.Long)
                {
                    var at = start;
                    ReadLong(data, ref at, out var value);
                    invalid = CheckTimestamp(logical.LogicalTypeName, path, value);
                }

                return true;
            default:
                return false;
        }
    }

    private static bool SkipBlocks(Schema item, Schema? key, ReadOnlySpan<byte> data, ref int pos, string path, int depth, ref string? invalid)
    {
        while (true)
        {
            if (!ReadLong(data, ref pos, out var count))
            {
                return false;
            }

            if (count == 0)
            {
                return true;
            }

            if (count < 0)
            {
                // A negative count is followed by the block's size in bytes.
                if (count == long.MinValue || !ReadLong(data, ref pos, out _))
                {
                    return false;
                }

                count = -count;
            }

            if (count > data.Length - pos && item.Tag != Schema.Type.Null)
            {
                return false; // more items than bytes left: cannot be valid
            }

            for (long i = 0; i < count; i++)
            {
                if ((key is not null && !Skip(key, data, ref pos, path, depth + 1, ref invalid)) ||
                    !Skip(item, data, ref pos, path, depth + 1, ref invalid))
                {
                    return false;
                }
            }
        }
    }

    private static string? CheckTimestamp(string logicalType, string path, long value)
    {
        var (min, max, unit) = logicalType switch
        {
            "timestamp-millis" or "local-timestamp-millis" => (MinUnixMs, MaxUnixMs, "ms"),
            "timestamp-micros" or "local-timestamp-micros" => (MinUnixMs * 1000, (MaxUnixMs * 1000) + 999, "µs"),
            _ => (long.MinValue, long.MaxValue, ""),
        };
        return value < min || value > max
            ? string.Create(CultureInfo.InvariantCulture,
                $"{path} = {value} ({logicalType}) is outside every representable date (0001-01-01..9999-12-31 UTC, {min}..{max} Unix {unit})")
            : null;
    }

    private static bool Advance(ReadOnlySpan<byte> data, ref int pos, int bytes)
    {
        if (bytes < 0 || bytes > data.Length - pos)
        {
            return false;
        }

        pos += bytes;
        return true;
    }

    /// <summary>Zig-zag varint (at most 10 bytes), as Avro encodes int and long.</summary>
    internal static bool ReadLong(ReadOnlySpan<byte> data, ref int pos, out long value)
    {
        ulong raw = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (pos >= data.Length)
            {
                value = 0;
                return false;
            }

            var b = data[pos++];
            raw |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                value = (long)(raw >> 1) ^ -(long)(raw & 1);
                return true;
            }
        }

        value = 0;
        return false;
    }
}
