using Confluent.SchemaRegistry;
using StreamFraud.Core;

namespace StreamFraud.Kafka;

/// <summary>Classes of bad input (the DLQ's <c>error.class</c> header).</summary>
public static class DlqErrorClass
{
    /// <summary>Not Confluent-framed Avro, Avro that does not parse, or bytes left over after the Avro body.</summary>
    public const string Undecodable = "undecodable";

    /// <summary>The schema id is not in the registry.</summary>
    public const string UnknownSchema = "unknown_schema";

    /// <summary>A schema that cannot be read as the topic's record (a transaction, a fraud label).</summary>
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

    /// <summary>
    /// A fraud label naming a transaction already labelled with another card, merchant or event time
    /// (<c>LabelOutcome.Conflicting</c>): the first label's facts are kept, this one changes nothing (set by the label
    /// consumer from the label store's decision, not the decoder).
    /// </summary>
    public const string ConflictingLabel = "conflicting_label";
}

/// <summary>Result of decoding one message.</summary>
public readonly record struct Decoded(Transaction? Transaction, string? ErrorClass, string? Reason)
{
    /// <summary>Whether the message decoded to a usable transaction.</summary>
    public bool Ok => Transaction is not null;
}

/// <summary>
/// Turns raw Kafka values into domain transactions — values written with the contract's own schema through a
/// hand-written reader (<see cref="TransactionBodyReader"/>), others with Confluent's Avro deserializer and the Schema
/// Registry (<see cref="StrictAvroReader{T}"/>: strict framing) — and classifies everything it cannot use for the DLQ — an
/// expected outcome, returned as a value, never thrown. Registry outages are NOT bad input: they throw, so the caller
/// pauses and retries instead of dead-lettering.
/// </summary>
public sealed class TransactionDecoder
{
    private static readonly string ContractForm = Avro.SchemaNormalization.ToParsingForm(Contracts.AvroSchemas.Transaction);
    private readonly StrictAvroReader<Contracts.Transaction> _reader;
    private readonly ISchemaRegistryClient _registry;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _fastSchemas = new(); // schema id → written with the contract's own schema
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxFutureSkew;
    private readonly long _minEventTimeMs;

    /// <summary>Creates a decoder.</summary>
    /// <param name="registry">Registry client.</param>
    /// <param name="time">Clock for the "event from the future" rule.</param>
    /// <param name="maxFutureSkew">Events later than now + this are invalid (a bad clock would make a card's later events "late").</param>
    /// <param name="minEventTime">Events earlier than this are invalid.</param>
    public TransactionDecoder(ISchemaRegistryClient registry, TimeProvider? time = null, TimeSpan? maxFutureSkew = null, DateTimeOffset? minEventTime = null)
    {
        _reader = new StrictAvroReader<Contracts.Transaction>(registry, Contracts.AvroSchemas.Transaction, "a transaction");
        _registry = registry;
        _time = time ?? TimeProvider.System;
        _maxFutureSkew = maxFutureSkew ?? TimeSpan.FromDays(1);
        _minEventTimeMs = (minEventTime ?? new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)).ToUnixTimeMilliseconds();
    }

    /// <summary>
    /// Whether the fast path is used (default true): values written with exactly the contract's schema are read by
    /// <see cref="TransactionBodyReader"/>, everything else (and anything it declines) by Confluent's deserializer.
    /// </summary>
    public bool FastPath { get; init; } = true;

    /// <summary>
    /// Decodes a value synchronously when the fast path can (a known schema id written with the contract's own
    /// schema, a body it reads whole); false: call <see cref="DecodeAsync"/>. Same result as <see cref="DecodeAsync"/>.
    /// </summary>
    public bool TryDecode(byte[]? value, out Decoded decoded)
    {
        decoded = default;
        if (!FastPath || value is not { Length: >= 5 } || value[0] != 0
            || !_fastSchemas.TryGetValue(StrictAvroReader<Contracts.Transaction>.SchemaId(value), out var fast) || !fast
            || !TransactionBodyReader.TryRead(value.AsSpan(5), out var tx))
        {
            return false;
        }

        var invalid = Validate(tx!.TransactionId, tx.CardId, tx.MerchantId, tx.Amount, tx.EventTimeMs, tx.Features);
        decoded = invalid is null ? new(tx, null, null) : new(null, DlqErrorClass.InvalidValue, invalid);
        return true;
    }

    /// <summary>Decodes and validates one message value.</summary>
    public async Task<Decoded> DecodeAsync(byte[]? value, string topic)
    {
        if (FastPath && value is { Length: >= 5 } && value[0] == 0)
        {
            var id = StrictAvroReader<Contracts.Transaction>.SchemaId(value);
            if (!_fastSchemas.ContainsKey(id))
            {
                await LearnSchemaAsync(id).ConfigureAwait(false);
            }

            if (TryDecode(value, out var fast))
            {
                return fast;
            }
        }

        var read = await _reader.ReadAsync(value, topic).ConfigureAwait(false);
        if (read.Record is not { } record)
        {
            return new(null, read.ErrorClass, read.Reason);
        }

        var invalid = Validate(record.TransactionId, record.CardId, record.MerchantId, record.Amount, record.EventTimeMs, record.Features);
        return invalid is null ? new(record.ToDomain(), null, null) : new(null, DlqErrorClass.InvalidValue, invalid);
    }

    /// <summary>Whether schema id <paramref name="id"/> is the contract's own schema (Parsing Canonical Form); unknown ids are left to the general path.</summary>
    private async Task LearnSchemaAsync(int id)
    {
        try
        {
            var schema = await _registry.GetSchemaAsync(id).ConfigureAwait(false);
            var writer = Avro.Schema.Parse(schema.SchemaString);
            _fastSchemas[id] = Avro.SchemaNormalization.ToParsingForm(writer) == ContractForm && SameLogicalTypes(writer);
        }
        catch (Exception e) when (e is SchemaRegistryException or Avro.AvroException)
        {
            // Unknown or unparsable: the general path classifies it (and a registry outage throws there).
        }
    }

    /// <summary>
    /// The Parsing Canonical Form drops logical types, so a writer whose <c>event_time</c> is a plain long (or
    /// timestamp-micros), or with a logical type elsewhere, would compare equal; the general path reads those
    /// differently or refuses them. Only the contract's exact logical types take the fast path.
    /// </summary>
    private static bool SameLogicalTypes(Avro.Schema writer)
    {
        if (writer is not Avro.RecordSchema record)
        {
            return false;
        }

        foreach (var field in record.Fields)
        {
            var logical = Logical(field.Schema);
            var expected = field.Name == "event_time" ? "timestamp-millis" : null;
            if (logical != expected)
            {
                return false;
            }
        }

        return true;

        static string? Logical(Avro.Schema schema) => schema switch
        {
            Avro.LogicalSchema l => l.LogicalTypeName,
            Avro.UnionSchema u => u.Schemas.Select(Logical).FirstOrDefault(n => n is not null),
            Avro.ArraySchema a => Logical(a.ItemSchema),
            _ => null,
        };
    }

    private string? Validate(string transactionId, string cardId, string merchantId, double amount, long eventTimeMs, IList<float>? features)
    {
        var idProblem = TransactionLimits.CheckId("card_id", cardId, required: true)
            ?? TransactionLimits.CheckId("transaction_id", transactionId, required: true)
            ?? TransactionLimits.CheckId("merchant_id", merchantId, required: false);
        if (idProblem is not null)
        {
            return idProblem;
        }

        if (!double.IsFinite(amount) || amount < 0)
        {
            return $"amount {amount} is not a finite non-negative number";
        }

        var max = _time.GetUtcNow().Add(_maxFutureSkew).ToUnixTimeMilliseconds();
        if (eventTimeMs < _minEventTimeMs || eventTimeMs > max)
        {
            return $"event_time {DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(eventTimeMs, -62135596800000, 253402300799999)):O} is outside " +
                $"[{DateTimeOffset.FromUnixTimeMilliseconds(_minEventTimeMs):yyyy-MM-dd}, now + {_maxFutureSkew.TotalHours:0} h]";
        }

        if (features is { } f)
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
}
