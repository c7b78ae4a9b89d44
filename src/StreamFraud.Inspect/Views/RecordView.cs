using Avro;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;

namespace StreamFraud.Inspect.Views;

/// <summary>How one kind of record is printed: a table with a header, or one JSON object per record.</summary>
public abstract class RecordView : IDisposable
{
    /// <summary>The table's columns.</summary>
    public abstract LineTable Table { get; }

    /// <summary>The record as a table row (<paramref name="json"/> false) or a JSON object; null to print nothing
    /// (a record that cannot be read in table mode is reported through <see cref="Warnings"/>).</summary>
    public abstract string? Render(ConsumeResult<byte[]?, byte[]?> record, bool json);

    /// <summary>The order of a bounded read, Unix ms: the message timestamp unless the view knows a better time.</summary>
    public virtual long OrderKey(ConsumeResult<byte[]?, byte[]?> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Message.Timestamp.UnixTimestampMs;
    }

    /// <summary>Warnings for standard error since the last call (undecodable records, failed lookups).</summary>
    public IReadOnlyList<string> TakeWarnings()
    {
        var taken = Warnings.ToList();
        Warnings.Clear();
        return taken;
    }

    /// <summary>Warnings not yet taken.</summary>
    protected List<string> Warnings { get; } = [];

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the view holds.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>
    /// Reads a Confluent-framed Avro value as <typeparamref name="T"/>; a value that is not one is a problem returned
    /// with the reason (printed, never fatal), a registry outage throws <see cref="InspectException"/>.
    /// </summary>
    protected static (T? Record, string? Problem) Decode<T>(AvroDeserializer<T> deserializer, byte[]? value, string topic, string what)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(deserializer);
        if (value is null || value.Length < 5 || value[0] != 0)
        {
            return (null, value is null ? "null value" : $"not Confluent-framed Avro ({value.Length} bytes)");
        }

        try
        {
            return (deserializer.DeserializeAsync(value, isNull: false, new SerializationContext(MessageComponentType.Value, topic)).GetAwaiter().GetResult(), null);
        }
        catch (Exception e) when (IsRegistryOutage(e))
        {
            throw RegistryOutage(e);
        }
        catch (SchemaRegistryException e)
        {
            return (null, $"schema id {SchemaId(value)} is not in the registry: {e.Message}");
        }
        catch (Exception e) when (e is AvroException or InvalidDataException or IndexOutOfRangeException or ArgumentOutOfRangeException
                                       or OverflowException or EndOfStreamException or InvalidCastException)
        {
            return (null, $"schema id {SchemaId(value)}: does not decode as {what} ({e.GetType().Name}: {e.Message})");
        }
    }

    /// <summary>The schema id of a Confluent-framed value (bytes 1..4, big-endian).</summary>
    protected static int SchemaId(byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return (value[1] << 24) | (value[2] << 16) | (value[3] << 8) | value[4];
    }

    /// <summary>
    /// Registry failures that are not about the record (unreachable, refused credentials) end the command; an unknown
    /// schema id is the record's problem.
    /// </summary>
    protected static bool IsRegistryOutage(Exception e) =>
        e is HttpRequestException or TaskCanceledException
        || (e is SchemaRegistryException s && s.ErrorCode is not (40403 or 404));

    /// <summary>The message of a registry outage, naming the flags to check.</summary>
    protected static InspectException RegistryOutage(Exception e) =>
        new($"cannot read schemas from the Schema Registry ({e.Message}); check --schema-registry and --schema-registry-config", e);
}
