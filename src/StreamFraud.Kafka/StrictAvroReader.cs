using System.Collections.Concurrent;
using Avro;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Schema = Avro.Schema;

namespace StreamFraud.Kafka;

/// <summary>Result of <see cref="StrictAvroReader{T}.ReadAsync"/>: the record, or the DLQ class and reason.</summary>
internal readonly record struct AvroRead<T>(T? Record, string? ErrorClass, string? Reason)
    where T : class;

/// <summary>
/// The framing and classification every input decoder shares: Confluent-framed Avro read with Confluent's deserializer
/// through the Schema Registry, strict framing (exactly one record per value, <see cref="AvroBodyWalker"/>), and the
/// DLQ class of whatever cannot be read (<see cref="DlqErrorClass"/>). Values are validated by the caller. Registry
/// outages are not bad input: they throw, so the caller pauses and retries instead of dead-lettering.
/// </summary>
/// <typeparam name="T">The specific record read.</typeparam>
internal sealed class StrictAvroReader<T>
    where T : class, ISpecificRecord
{
    private readonly AvroDeserializer<T> _deserializer;
    private readonly ISchemaRegistryClient _registry;
    private readonly Schema _readerSchema;
    private readonly string _what;
    private readonly ConcurrentDictionary<int, Schema> _writerSchemas = new();

    /// <summary>Creates a reader.</summary>
    /// <param name="registry">Registry client.</param>
    /// <param name="readerSchema">The record's schema (decides <see cref="DlqErrorClass.SchemaMismatch"/>).</param>
    /// <param name="what">What a record is, for reasons ("a transaction", "a fraud label").</param>
    public StrictAvroReader(ISchemaRegistryClient registry, Schema readerSchema, string what)
    {
        _deserializer = new AvroDeserializer<T>(registry);
        _registry = registry;
        _readerSchema = readerSchema;
        _what = what;
    }

    /// <summary>Reads one message value; every failure but a registry outage is a DLQ class with a reason.</summary>
    public async Task<AvroRead<T>> ReadAsync(byte[]? value, string topic)
    {
        if (value is null || value.Length < 5 || value[0] != 0)
        {
            return new(null, DlqErrorClass.Undecodable,
                value is null ? "null value (tombstone)" : $"not Confluent-framed Avro: {value.Length} bytes, first byte {(value.Length > 0 ? value[0] : -1)} (expected magic byte 0)");
        }

        T record;
        try
        {
            record = await _deserializer.DeserializeAsync(value, isNull: false, new SerializationContext(MessageComponentType.Value, topic)).ConfigureAwait(false);
        }
        catch (SchemaRegistryException e) when (e.ErrorCode is 40403 or 404)
        {
            return new(null, DlqErrorClass.UnknownSchema, $"schema id {SchemaId(value)} is not in the registry: {e.Message}");
        }
        catch (Exception e) when (e is AvroException or InvalidDataException or IndexOutOfRangeException or ArgumentOutOfRangeException
                                       or OverflowException or EndOfStreamException or InvalidCastException)
        {
            // Well-formed bytes whose timestamp no date can hold (e.g. event_time = long.MaxValue): a bad value.
            if (await OutOfRangeValueAsync(value).ConfigureAwait(false) is { } outOfRange)
            {
                return new(null, DlqErrorClass.InvalidValue, outOfRange);
            }

            // Whose fault: a writer schema the record cannot be read from, or bytes that do not match their schema.
            var writer = await WriterSchemaAsync(SchemaId(value)).ConfigureAwait(false);
            return writer is not null && !_readerSchema.CanRead(writer)
                ? new(null, DlqErrorClass.SchemaMismatch, $"schema id {SchemaId(value)} ({writer.Fullname}) cannot be read as {_what}: {e.Message}")
                : new(null, DlqErrorClass.Undecodable, $"schema id {SchemaId(value)}: Avro body does not decode ({e.GetType().Name}: {e.Message})");
        }

        // Strict framing: one message value is exactly one Avro record. Bytes after it (a concatenation, a truncated
        // rewrite, a wrong length) mean the producer framed something else than it meant to send.
        var schemaId = SchemaId(value);
        var writerSchema = await ParsedWriterSchemaAsync(schemaId).ConfigureAwait(false);
        var body = value.Length - 5;
        var walked = AvroBodyWalker.Walk(writerSchema, value.AsSpan(5));
        if (walked.Length != body)
        {
            return new(null, DlqErrorClass.Undecodable, walked.Length < 0
                ? $"schema id {schemaId}: the Avro body does not follow its writer schema ({body} bytes)"
                : $"schema id {schemaId}: {body - walked.Length} trailing byte(s) after the {walked.Length}-byte Avro body; a message " +
                  "value must be exactly one Confluent-framed Avro record (check the producer's serializer)");
        }

        return new(record, null, null);
    }

    /// <summary>
    /// The value's reason when its bytes follow the writer schema but hold a timestamp outside every representable
    /// date; null otherwise (then the failure is the bytes', classified by the caller).
    /// </summary>
    private async Task<string?> OutOfRangeValueAsync(byte[] value)
    {
        var writer = await WriterSchemaAsync(SchemaId(value)).ConfigureAwait(false);
        if (writer is null)
        {
            return null;
        }

        var walked = AvroBodyWalker.Walk(writer, value.AsSpan(5));
        return walked.Length >= 0 && walked.InvalidValue is { } reason ? reason : null;
    }

    /// <summary>
    /// The writer schema of a value that just deserialised (so the registry holds it), parsed once per id. A
    /// registry failure here throws, like any registry outage, and the caller retries.
    /// </summary>
    private async Task<Schema> ParsedWriterSchemaAsync(int id)
    {
        if (_writerSchemas.TryGetValue(id, out var cached))
        {
            return cached;
        }

        var schema = await _registry.GetSchemaAsync(id).ConfigureAwait(false);
        return _writerSchemas.GetOrAdd(id, Schema.Parse(schema.SchemaString));
    }

    private async Task<Schema?> WriterSchemaAsync(int id)
    {
        try
        {
            var schema = await _registry.GetSchemaAsync(id).ConfigureAwait(false);
            return Schema.Parse(schema.SchemaString);
        }
        catch (Exception e) when (e is SchemaRegistryException or AvroException)
        {
            return null;
        }
    }

    /// <summary>The schema id of a Confluent-framed value (bytes 1–4, big-endian).</summary>
    internal static int SchemaId(byte[] value) => (value[1] << 24) | (value[2] << 16) | (value[3] << 8) | value[4];
}
