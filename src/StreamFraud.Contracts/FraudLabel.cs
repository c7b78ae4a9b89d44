using System.Diagnostics.CodeAnalysis;
using Avro;
using Avro.Generic;
using Avro.Specific;

namespace StreamFraud.Contracts;

/// <summary>Where a verdict comes from (Avro enum <c>LabelSource</c>; member names are the Avro symbols).</summary>
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "Avro enum symbols")]
[SuppressMessage("Style", "IDE1006:Naming Styles", Justification = "Avro enum symbols")]
public enum LabelSource
{
    /// <summary>A card-network chargeback.</summary>
    chargeback = 0,

    /// <summary>A fraud analyst's decision.</summary>
    analyst = 1,

    /// <summary>The cardholder reported it.</summary>
    customer_claim = 2,

    /// <summary>Anything else.</summary>
    other = 3,
}

/// <summary>Avro specific record of <c>schemas/fraud-label.avsc</c> (topic <c>fraud-labels</c>, keyed by card id).</summary>
public sealed class FraudLabel : ISpecificRecord
{
    /// <summary>The writer schema (Confluent's serializer reads this static field).</summary>
#pragma warning disable CA1707, SA1310, IDE1006
    public static readonly Schema _SCHEMA = AvroSchemas.FraudLabel;
#pragma warning restore CA1707, SA1310, IDE1006

    /// <summary>The labelled transaction's id.</summary>
    public string TransactionId { get; set; } = "";

    /// <summary>The labelled transaction's card (the Kafka key).</summary>
    public string CardId { get; set; } = "";

    /// <summary>The labelled transaction's merchant.</summary>
    public string MerchantId { get; set; } = "";

    /// <summary>The labelled transaction's event time, epoch ms UTC.</summary>
    public long EventTimeMs { get; set; }

    /// <summary>When the verdict became known, epoch ms UTC.</summary>
    public long LabelTimeMs { get; set; }

    /// <summary>The verdict.</summary>
    public bool IsFraud { get; set; }

    /// <summary>Where the verdict comes from.</summary>
    public LabelSource Source { get; set; }

    /// <summary>The labelled transaction's amount, when known.</summary>
    public double? Amount { get; set; }

    /// <inheritdoc />
    public Schema Schema => _SCHEMA;

    /// <inheritdoc />
    public object? Get(int fieldPos) => fieldPos switch
    {
        0 => TransactionId,
        1 => CardId,
        2 => MerchantId,
        3 => Field.Utc(EventTimeMs),
        4 => Field.Utc(LabelTimeMs),
        5 => IsFraud,
        6 => Source,
        7 => Amount,
        _ => Bad(fieldPos),
    };

    /// <inheritdoc />
    public void Put(int fieldPos, object? fieldValue)
    {
        switch (fieldPos)
        {
            case 0: TransactionId = (string)fieldValue!; break;
            case 1: CardId = (string)fieldValue!; break;
            case 2: MerchantId = (string)fieldValue!; break;
            case 3: EventTimeMs = Field.Millis(fieldValue!); break;
            case 4: LabelTimeMs = Field.Millis(fieldValue!); break;
            case 5: IsFraud = (bool)fieldValue!; break;
            case 6: Source = ParseSource(fieldValue); break;
            case 7: Amount = (double?)fieldValue; break;
            default: Bad(fieldPos); break;
        }
    }

    /// <summary>The domain view of this label.</summary>
    public Core.Labels.TransactionLabel ToDomain() => new(
        TransactionId, CardId, MerchantId, EventTimeMs, LabelTimeMs, IsFraud, ToOrigin(Source), Amount);

    /// <summary>The wire view of a domain label.</summary>
    public static FraudLabel FromDomain(Core.Labels.TransactionLabel label)
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
            Source = ToSource(label.Origin),
            Amount = label.Amount,
        };
    }

    private static Core.Labels.LabelOrigin ToOrigin(LabelSource source) => source switch
    {
        LabelSource.chargeback => Core.Labels.LabelOrigin.Chargeback,
        LabelSource.analyst => Core.Labels.LabelOrigin.Analyst,
        LabelSource.customer_claim => Core.Labels.LabelOrigin.CustomerClaim,
        _ => Core.Labels.LabelOrigin.Other,
    };

    private static LabelSource ToSource(Core.Labels.LabelOrigin origin) => origin switch
    {
        Core.Labels.LabelOrigin.Chargeback => LabelSource.chargeback,
        Core.Labels.LabelOrigin.Analyst => LabelSource.analyst,
        Core.Labels.LabelOrigin.CustomerClaim => LabelSource.customer_claim,
        _ => LabelSource.other,
    };

    private static LabelSource ParseSource(object? value) => value switch
    {
        LabelSource s => s,
        GenericEnum g => Enum.Parse<LabelSource>(g.Value),
        string s => Enum.Parse<LabelSource>(s),
        int i => (LabelSource)i,
        _ => throw new AvroRuntimeException($"FraudLabel.source: expected a LabelSource symbol, got {value?.GetType().Name ?? "null"}."),
    };

    private static object Bad(int fieldPos)
    {
        Field.Bad(nameof(FraudLabel), fieldPos);
        return null!;
    }
}
