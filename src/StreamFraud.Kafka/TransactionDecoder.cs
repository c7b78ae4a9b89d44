using System.Collections.Concurrent;
using Avro;

using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Core;

namespace StreamFraud.Kafka;

/// <summary>Classes of bad input (the DLQ's <c>error.class</c> header).</summary>
public static class DlqErrorClass
{
    /// <summary>Not Confluent-framed Avro, Avro that does not parse, or bytes left over after the Avro body.</summary>
    public const string Undecodable = "undecodable";

    /// <summary>The schema id is not in the registry.</summary>
    public const string UnknownSchema = "unknown_schema";

    /// <summary>A schema that cannot be read as a transaction.</summary>
    public const string SchemaMismatch = "schema_mismatch";

    /// <summary>
    /// Decoded (or well-formed), but a value is unusable: NaN amount, missing or over-long id, control characters in
    /// an id, an event time outside the accepted range or outside every representable date, wrong feature count...
    /// </summary>
    public const string InvalidValue = "invalid_value";

    /// <summary>
    /// Larger than <c>Scorer:MaxInputBytes</c> (key, value and headers together): not decoded; the DLQ gets a reference
    /// record (source position, sizes, SHA-256) instead of a copy.
    /// </summary>
    public const string TooLarge = "too_large";

    /// <summary>
    /// The transaction id was already applied to the card with different content (amount, merchant, time...): two
    /// transactions share an id. The first is kept; this one is not scored (set by the scorer, not the decoder).
    /// </summary>
    public const string ReusedTransactionId = "reused_transaction_id";
}

/// <summary>Result of decoding one message.</summary>
public readonly record struct Decoded(Transaction? Transaction, string? ErrorClass, string? Reason)
{
    /// <summary>Whether the message decoded to a usable transaction.</summary>
    public bool Ok => Transaction is not null;
}

/// <summary>
/// Turns raw Kafka values into domain transactions with Confluent's Avro deserializer and the Schema Registry, and
/// classifies everything it cannot use for the DLQ — an expected outcome, returned as a value, never thrown.
/// Registry outages are NOT bad input: they throw, so the caller pauses and retries instead of dead-lettering.
/// </summary>
public sealed class TransactionDecoder
{
    private readonly AvroDeserializer<Contracts.Transaction> _deserializer;
    private readonly ISchemaRegistryClient _registry;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxFutureSkew;
    private readonly long _minEventTimeMs;
    private readonly ConcurrentDictionary<int, Avro.Schema> _writerSchemas = new();

    /// <summary>Creates a decoder.</summary>
    /// <param name="registry">Registry client.</param>
    /// <param name="time">Clock for the "event from the future" rule.</param>
    /// <param name="maxFutureSkew">Events later than now + this are invalid (a bad clock would make a card's later events "late").</param>
    /// <param name="minEventTime">Events earlier than this are invalid.</param>
    public TransactionDecoder(ISchemaRegistryClient registry, TimeProvider? time = null, TimeSpan? maxFutureSkew = null, DateTimeOffset? minEventTime = null)
    {
        _deserializer = new AvroDeserializer<Contracts.Transaction>(registry);
        _registry = registry;
        _time = time ?? TimeProvider.System;
        _maxFutureSkew = maxFutureSkew ?? TimeSpan.FromDays(1);
        _minEventTimeMs = (minEventTime ?? new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)).ToUnixTimeMilliseconds();
    }

    /// <summary>Decodes and validates one message value.</summary>
    public async Task<Decoded> DecodeAsync(byte[]? value, string topic)
    {
        if (value is null || value.Length < 5 || value[0] != 0)
        {
            return new(null, DlqErrorClass.Undecodable,
                value is null ? "null value (tombstone)" : $"not Confluent-framed Avro: {value.Length} bytes, first byte {(value.Length > 0 ? value[0] : -1)} (expected magic byte 0)");
        }

        Contracts.Transaction record;
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

            // Whose fault: a writer schema a transaction cannot be read from, or bytes that do not match their schema.
            var writer = await WriterSchemaAsync(SchemaId(value)).ConfigureAwait(false);
            return writer is not null && !Contracts.AvroSchemas.Transaction.CanRead(writer)
                ? new(null, DlqErrorClass.SchemaMismatch, $"schema id {SchemaId(value)} ({writer.Fullname}) cannot be read as a transaction: {e.Message}")
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

        var invalid = Validate(record);
        return invalid is null ? new(record.ToDomain(), null, null) : new(null, DlqErrorClass.InvalidValue, invalid);
    }

    private string? Validate(Contracts.Transaction t)
    {
        var idProblem = TransactionLimits.CheckId("card_id", t.CardId, required: true)
            ?? TransactionLimits.CheckId("transaction_id", t.TransactionId, required: true)
            ?? TransactionLimits.CheckId("merchant_id", t.MerchantId, required: false);
        if (idProblem is not null)
        {
            return idProblem;
        }

        if (!double.IsFinite(t.Amount) || t.Amount < 0)
        {
            return $"amount {t.Amount} is not a finite non-negative number";
        }

        var max = _time.GetUtcNow().Add(_maxFutureSkew).ToUnixTimeMilliseconds();
        if (t.EventTimeMs < _minEventTimeMs || t.EventTimeMs > max)
        {
            return $"event_time {DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(t.EventTimeMs, -62135596800000, 253402300799999)):O} is outside " +
                $"[{DateTimeOffset.FromUnixTimeMilliseconds(_minEventTimeMs):yyyy-MM-dd}, now + {_maxFutureSkew.TotalHours:0} h]";
        }

        if (t.Features is { } f)
        {
            for (var i = 0; i < f.Count; i++)
            {
                if (!float.IsFinite(f[i]))
                {
                    return $"features[{i}] is {f[i]}";
                }
            }
        }

        return null;
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
    private async Task<Avro.Schema> ParsedWriterSchemaAsync(int id)
    {
        if (_writerSchemas.TryGetValue(id, out var cached))
        {
            return cached;
        }

        var schema = await _registry.GetSchemaAsync(id).ConfigureAwait(false);
        return _writerSchemas.GetOrAdd(id, Avro.Schema.Parse(schema.SchemaString));
    }

    private async Task<Avro.Schema?> WriterSchemaAsync(int id)
    {
        try
        {
            var schema = await _registry.GetSchemaAsync(id).ConfigureAwait(false);
            return Avro.Schema.Parse(schema.SchemaString);
        }
        catch (Exception e) when (e is SchemaRegistryException or AvroException)
        {
            return null;
        }
    }

    private static int SchemaId(byte[] value) => (value[1] << 24) | (value[2] << 16) | (value[3] << 8) | value[4];
}
