using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Confluent.Kafka;

namespace StreamFraud.Inspect.Views;

/// <summary>One compact JSON object, written field by field in a fixed order (<c>--json</c>: one per line, for jq).</summary>
public static class JsonLine
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>The object <paramref name="write"/> writes (inside the braces), as one line.</summary>
    public static string Object(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary><c>"kafka": {topic, partition, offset, timestamp, key}</c>: where the record was read.</summary>
    public static void Kafka(Utf8JsonWriter w, ConsumeResult<byte[]?, byte[]?> r)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        w.WriteStartObject("kafka");
        w.WriteString("topic", r.Topic);
        w.WriteNumber("partition", r.Partition.Value);
        w.WriteNumber("offset", r.Offset.Value);
        Time(w, "timestamp", r.Message.Timestamp.UnixTimestampMs);
        Text(w, "key", Key(r.Message.Key));
        w.WriteEndObject();
    }

    /// <summary>A UTC time as ISO-8601 with milliseconds (<c>2026-01-22T14:03:11.123Z</c>).</summary>
    public static void Time(Utf8JsonWriter w, string name, long? unixMs)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (unixMs is { } ms)
        {
            w.WriteString(name, Iso(ms));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>A UTC time as ISO-8601 with milliseconds.</summary>
    public static string Iso(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A number, or null when absent or not finite (JSON has no NaN).</summary>
    public static void Number(Utf8JsonWriter w, string name, double? value)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>A string, or null.</summary>
    public static void Text(Utf8JsonWriter w, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>A message key as text: UTF-8 when it is, else <c>base64:</c>…; null when absent.</summary>
    public static string? Key(byte[]? key)
    {
        if (key is null)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(key);
        }
        catch (DecoderFallbackException)
        {
            return "base64:" + Convert.ToBase64String(key);
        }
    }
}
