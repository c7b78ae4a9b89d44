using System.Reflection;
using Avro;

namespace StreamFraud.Contracts;

/// <summary>The Avro schemas of <c>schemas/*.avsc</c>, embedded in this assembly.</summary>
public static class AvroSchemas
{
    /// <summary><c>schemas/transaction.avsc</c>.</summary>
    public static RecordSchema Transaction { get; } = Load("transaction.avsc");

    /// <summary><c>schemas/fraud-alert.avsc</c>.</summary>
    public static RecordSchema FraudAlert { get; } = Load("fraud-alert.avsc");

    /// <summary><c>schemas/model-update.avsc</c>.</summary>
    public static RecordSchema ModelUpdate { get; } = Load("model-update.avsc");

    /// <summary><c>schemas/fraud-label.avsc</c>.</summary>
    public static RecordSchema FraudLabel { get; } = Load("fraud-label.avsc");

    /// <summary>The text of an embedded <c>.avsc</c> file.</summary>
    public static string Text(string fileName)
    {
        using var stream = typeof(AvroSchemas).Assembly.GetManifestResourceStream($"schemas/{fileName}")
            ?? throw new FileNotFoundException($"schemas/{fileName} is not embedded in {typeof(AvroSchemas).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static RecordSchema Load(string fileName) => (RecordSchema)Schema.Parse(Text(fileName));
}

/// <summary>Throw helper for field positions outside a record's schema.</summary>
internal static class Field
{
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Bad(string record, int position) =>
        throw new AvroRuntimeException($"{record} has no field at position {position}.");

    /// <summary>Avro <c>timestamp-millis</c> arrives as a UTC <see cref="DateTime"/> (logical type) or a raw long.</summary>
    public static long Millis(object value) => value switch
    {
        DateTime d => new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : d.ToUniversalTime()).ToUnixTimeMilliseconds(),
        DateTimeOffset o => o.ToUnixTimeMilliseconds(),
        long l => l,
        _ => throw new AvroRuntimeException($"Expected a timestamp, got {value.GetType().Name}."),
    };

    /// <summary>Epoch milliseconds as the UTC <see cref="DateTime"/> Avro's logical-type writer expects.</summary>
    public static DateTime Utc(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis).UtcDateTime;
}
