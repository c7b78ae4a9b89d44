using Confluent.SchemaRegistry;
using StreamFraud.Contracts;
using StreamFraud.Core.Labels;

namespace StreamFraud.Kafka;

/// <summary>Result of decoding one label message.</summary>
/// <param name="Label">The label, when the message decoded to a valid one.</param>
/// <param name="ErrorClass">The DLQ class (<see cref="DlqErrorClass"/>) otherwise.</param>
/// <param name="Reason">Why, for the DLQ's <c>error.reason</c> header.</param>
public readonly record struct DecodedLabel(TransactionLabel? Label, string? ErrorClass, string? Reason)
{
    /// <summary>Whether the message decoded to a usable label.</summary>
    public bool Ok => Label is not null;
}

/// <summary>
/// Turns raw values of topic <c>fraud-labels</c> (<c>schemas/fraud-label.avsc</c>) into domain labels, with the
/// transaction decoder's framing and classes (<see cref="StrictAvroReader{T}"/>: <c>undecodable</c>,
/// <c>unknown_schema</c>, <c>schema_mismatch</c>, <c>invalid_value</c> for a timestamp no date holds) and
/// <see cref="LabelRules.Validate"/> for values (<c>invalid_value</c>: a missing or over-long id, a label before its
/// transaction, a time out of range, a negative amount). Bad input is a returned value, never thrown; registry outages
/// throw, so the caller pauses and retries.
/// </summary>
public sealed class LabelDecoder
{
    private readonly StrictAvroReader<FraudLabel> _reader;

    /// <summary>Creates a decoder over <paramref name="registry"/>.</summary>
    public LabelDecoder(ISchemaRegistryClient registry) =>
        _reader = new StrictAvroReader<FraudLabel>(registry, AvroSchemas.FraudLabel, "a fraud label");

    /// <summary>Decodes and validates one message value.</summary>
    public async Task<DecodedLabel> DecodeAsync(byte[]? value, string topic)
    {
        var read = await _reader.ReadAsync(value, topic).ConfigureAwait(false);
        if (read.Record is not { } record)
        {
            return new(null, read.ErrorClass, read.Reason);
        }

        var label = LabelRecords.ToDomain(record);
        return LabelRules.Validate(label) is { } invalid ? new(null, DlqErrorClass.InvalidValue, invalid) : new(label, null, null);
    }
}

/// <summary>Fraud labels between the domain (<see cref="TransactionLabel"/>) and Avro (<see cref="FraudLabel"/>).</summary>
public static class LabelRecords
{
    /// <summary>The domain label of an Avro record (the source symbol becomes the origin).</summary>
    public static TransactionLabel ToDomain(FraudLabel record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var origin = TransactionLabel.TryParseOrigin(record.Source.ToString(), out var o) ? o : LabelOrigin.Other;
        return new TransactionLabel(
            record.TransactionId, record.CardId, record.MerchantId, record.EventTimeMs, record.LabelTimeMs, record.IsFraud, origin, record.Amount);
    }

    /// <summary>The Avro record of a domain label (for producers and tests).</summary>
    public static FraudLabel ToRecord(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        return new FraudLabel
        {
            TransactionId = label.TransactionId,
            CardId = label.CardId,
            MerchantId = label.MerchantId,
            EventTimeMs = label.EventTimeMs,
            LabelTimeMs = label.LabelTimeMs,
            IsFraud = label.IsFraud,
            Source = Enum.Parse<LabelSource>(TransactionLabel.OriginSymbol(label.Origin)),
            Amount = label.Amount,
        };
    }
}
