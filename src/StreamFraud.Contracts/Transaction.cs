using Avro;
using Avro.Specific;

namespace StreamFraud.Contracts;

/// <summary>Avro specific record of <c>schemas/transaction.avsc</c> (topic <c>transactions</c>).</summary>
public sealed class Transaction : ISpecificRecord
{
    /// <summary>The writer schema (Confluent's serializer reads this static field).</summary>
#pragma warning disable CA1707, SA1310, IDE1006 // the name Confluent's AvroSerializer looks up by reflection
    public static readonly Schema _SCHEMA = AvroSchemas.Transaction;
#pragma warning restore CA1707, SA1310, IDE1006

    /// <summary>Unique transaction id.</summary>
    public string TransactionId { get; set; } = "";

    /// <summary>Card id (the Kafka key).</summary>
    public string CardId { get; set; } = "";

    /// <summary>Merchant id.</summary>
    public string MerchantId { get; set; } = "";

    /// <summary>Amount.</summary>
    public double Amount { get; set; }

    /// <summary>ISO-4217 currency.</summary>
    public string Currency { get; set; } = "";

    /// <summary>Event time, Unix epoch milliseconds UTC.</summary>
    public long EventTimeMs { get; set; }

    /// <summary>Merchant category code.</summary>
    public string? Mcc { get; set; }

    /// <summary>Country.</summary>
    public string? Country { get; set; }

    /// <summary>Channel.</summary>
    public string? Channel { get; set; }

    /// <summary>Pre-engineered features (spec <c>precomputed:N</c>).</summary>
    public IList<float>? Features { get; set; }

    /// <summary>Label.</summary>
    public bool? IsFraud { get; set; }

    /// <summary>Simulated scenario name.</summary>
    public string? FraudScenario { get; set; }

    /// <inheritdoc />
    public Schema Schema => _SCHEMA;

    /// <inheritdoc />
    public object? Get(int fieldPos) => fieldPos switch
    {
        0 => TransactionId,
        1 => CardId,
        2 => MerchantId,
        3 => Amount,
        4 => Currency,
        5 => Field.Utc(EventTimeMs),
        6 => Mcc,
        7 => Country,
        8 => Channel,
        9 => Features,
        10 => IsFraud,
        11 => FraudScenario,
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
            case 3: Amount = (double)fieldValue!; break;
            case 4: Currency = (string)fieldValue!; break;
            case 5: EventTimeMs = Field.Millis(fieldValue!); break;
            case 6: Mcc = (string?)fieldValue; break;
            case 7: Country = (string?)fieldValue; break;
            case 8: Channel = (string?)fieldValue; break;
            case 9: Features = (IList<float>?)fieldValue; break;
            case 10: IsFraud = (bool?)fieldValue; break;
            case 11: FraudScenario = (string?)fieldValue; break;
            default: Bad(fieldPos); break;
        }
    }

    /// <summary>The domain view.</summary>
    public Core.Transaction ToDomain() => new(
        TransactionId, CardId, MerchantId, Amount, Currency, EventTimeMs, Mcc, Country, Channel,
        Features is null ? null : [.. Features], IsFraud, FraudScenario);

    /// <summary>The wire view of a domain transaction.</summary>
    public static Transaction FromDomain(Core.Transaction t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return new Transaction
        {
            TransactionId = t.TransactionId,
            CardId = t.CardId,
            MerchantId = t.MerchantId,
            Amount = t.Amount,
            Currency = t.Currency,
            EventTimeMs = t.EventTimeMs,
            Mcc = t.Mcc,
            Country = t.Country,
            Channel = t.Channel,
            Features = t.Features is null ? null : new List<float>(t.Features),
            IsFraud = t.IsFraud,
            FraudScenario = t.FraudScenario,
        };
    }

    private static object Bad(int fieldPos)
    {
        Field.Bad(nameof(Transaction), fieldPos);
        return null!;
    }
}
