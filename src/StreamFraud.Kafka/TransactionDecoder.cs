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
/// Turns raw Kafka values into domain transactions with Confluent's Avro deserializer and the Schema Registry
/// (<see cref="StrictAvroReader{T}"/>: strict framing), and classifies everything it cannot use for the DLQ — an
/// expected outcome, returned as a value, never thrown. Registry outages are NOT bad input: they throw, so the caller
/// pauses and retries instead of dead-lettering.
/// </summary>
public sealed class TransactionDecoder
{
    private readonly StrictAvroReader<Contracts.Transaction> _reader;
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
        _time = time ?? TimeProvider.System;
        _maxFutureSkew = maxFutureSkew ?? TimeSpan.FromDays(1);
        _minEventTimeMs = (minEventTime ?? new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)).ToUnixTimeMilliseconds();
    }

    /// <summary>Decodes and validates one message value.</summary>
    public async Task<Decoded> DecodeAsync(byte[]? value, string topic)
    {
        var read = await _reader.ReadAsync(value, topic).ConfigureAwait(false);
        if (read.Record is not { } record)
        {
            return new(null, read.ErrorClass, read.Reason);
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
}
