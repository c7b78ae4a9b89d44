using Avro;
using Avro.Specific;

namespace StreamFraud.Contracts;

/// <summary>Avro specific record of <c>schemas/fraud-alert.avsc</c> (topic <c>fraud-alerts</c>).</summary>
public sealed class FraudAlert : ISpecificRecord
{
    /// <summary>The writer schema (Confluent's serializer reads this static field).</summary>
#pragma warning disable CA1707, SA1310, IDE1006
    public static readonly Schema _SCHEMA = AvroSchemas.FraudAlert;
#pragma warning restore CA1707, SA1310, IDE1006

    /// <summary>Deterministic alert id.</summary>
    public string AlertId { get; set; } = "";

    /// <summary>Scored transaction.</summary>
    public string TransactionId { get; set; } = "";

    /// <summary>Card.</summary>
    public string CardId { get; set; } = "";

    /// <summary>Event time of the transaction, epoch ms UTC.</summary>
    public long EventTimeMs { get; set; }

    /// <summary>Scoring time, epoch ms UTC.</summary>
    public long ScoredAtMs { get; set; }

    /// <summary>Ensemble score.</summary>
    public double Score { get; set; }

    /// <summary>LSTM score.</summary>
    public double LstmScore { get; set; }

    /// <summary>XGBoost score.</summary>
    public double XgbScore { get; set; }

    /// <summary>Threshold applied.</summary>
    public double Threshold { get; set; }

    /// <summary>Threshold policy.</summary>
    public string ThresholdPolicy { get; set; } = "";

    /// <summary>Bundle version.</summary>
    public string ModelVersion { get; set; } = "";

    /// <summary>Hex SHA-256 of the scored window.</summary>
    public string WindowHash { get; set; } = "";

    /// <summary>Real transactions in the window.</summary>
    public int WindowLength { get; set; }

    /// <summary>Source partition.</summary>
    public int Partition { get; set; }

    /// <summary>Source offset.</summary>
    public long Offset { get; set; }

    /// <summary>Top XGBoost feature contributions.</summary>
    public IList<FeatureContribution> TopFeatures { get; set; } = [];

    /// <summary>Most influential earlier transaction, as steps back from the scored one (1 = previous), when any.</summary>
    public int? InfluentialStepsBack { get; set; }

    /// <summary>Event time of that transaction, epoch ms UTC.</summary>
    public long? InfluentialEventTimeMs { get; set; }

    /// <summary>LSTM score with minus without that transaction.</summary>
    public double? InfluentialScoreDelta { get; set; }

    /// <summary>Merchant of the scored transaction (null in alerts of scorers before this field).</summary>
    public string? MerchantId { get; set; }

    /// <summary>Amount of the scored transaction in <see cref="Currency"/> (null in alerts of scorers before this field).</summary>
    public double? Amount { get; set; }

    /// <summary>ISO-4217 currency of <see cref="Amount"/>.</summary>
    public string? Currency { get; set; }

    /// <inheritdoc />
    public Schema Schema => _SCHEMA;

    /// <inheritdoc />
    public object? Get(int fieldPos) => fieldPos switch
    {
        0 => AlertId,
        1 => TransactionId,
        2 => CardId,
        3 => Field.Utc(EventTimeMs),
        4 => Field.Utc(ScoredAtMs),
        5 => Score,
        6 => LstmScore,
        7 => XgbScore,
        8 => Threshold,
        9 => ThresholdPolicy,
        10 => ModelVersion,
        11 => WindowHash,
        12 => WindowLength,
        13 => Partition,
        14 => Offset,
        15 => TopFeatures,
        16 => InfluentialStepsBack,
        17 => InfluentialEventTimeMs is { } t ? Field.Utc(t) : null,
        18 => InfluentialScoreDelta,
        19 => MerchantId,
        20 => Amount,
        21 => Currency,
        _ => Bad(fieldPos),
    };

    /// <inheritdoc />
    public void Put(int fieldPos, object? fieldValue)
    {
        switch (fieldPos)
        {
            case 0: AlertId = (string)fieldValue!; break;
            case 1: TransactionId = (string)fieldValue!; break;
            case 2: CardId = (string)fieldValue!; break;
            case 3: EventTimeMs = Field.Millis(fieldValue!); break;
            case 4: ScoredAtMs = Field.Millis(fieldValue!); break;
            case 5: Score = (double)fieldValue!; break;
            case 6: LstmScore = (double)fieldValue!; break;
            case 7: XgbScore = (double)fieldValue!; break;
            case 8: Threshold = (double)fieldValue!; break;
            case 9: ThresholdPolicy = (string)fieldValue!; break;
            case 10: ModelVersion = (string)fieldValue!; break;
            case 11: WindowHash = (string)fieldValue!; break;
            case 12: WindowLength = (int)fieldValue!; break;
            case 13: Partition = (int)fieldValue!; break;
            case 14: Offset = (long)fieldValue!; break;
            case 15: TopFeatures = (IList<FeatureContribution>)fieldValue!; break;
            case 16: InfluentialStepsBack = (int?)fieldValue; break;
            case 17: InfluentialEventTimeMs = fieldValue is null ? null : Field.Millis(fieldValue); break;
            case 18: InfluentialScoreDelta = (double?)fieldValue; break;
            case 19: MerchantId = (string?)fieldValue; break;
            case 20: Amount = (double?)fieldValue; break;
            case 21: Currency = (string?)fieldValue; break;
            default: Bad(fieldPos); break;
        }
    }

    private static object Bad(int fieldPos)
    {
        Field.Bad(nameof(FraudAlert), fieldPos);
        return null!;
    }
}

/// <summary>Avro record <c>FeatureContribution</c> nested in <see cref="FraudAlert"/>.</summary>
public sealed class FeatureContribution : ISpecificRecord
{
    /// <summary>The record's schema, taken from the alert schema's <c>top_features</c> items.</summary>
#pragma warning disable CA1707, SA1310, IDE1006
    public static readonly Schema _SCHEMA = ((ArraySchema)AvroSchemas.FraudAlert.Fields.Single(f => f.Name == "top_features").Schema).ItemSchema;
#pragma warning restore CA1707, SA1310, IDE1006

    /// <summary>Feature name.</summary>
    public string Name { get; set; } = "";

    /// <summary>Feature value.</summary>
    public double Value { get; set; }

    /// <summary>Margin contribution (log-odds).</summary>
    public double Contribution { get; set; }

    /// <inheritdoc />
    public Schema Schema => _SCHEMA;

    /// <inheritdoc />
    public object? Get(int fieldPos) => fieldPos switch
    {
        0 => Name,
        1 => Value,
        2 => Contribution,
        _ => Bad(fieldPos),
    };

    /// <inheritdoc />
    public void Put(int fieldPos, object? fieldValue)
    {
        switch (fieldPos)
        {
            case 0: Name = (string)fieldValue!; break;
            case 1: Value = (double)fieldValue!; break;
            case 2: Contribution = (double)fieldValue!; break;
            default: Bad(fieldPos); break;
        }
    }

    private static object Bad(int fieldPos)
    {
        Field.Bad(nameof(FeatureContribution), fieldPos);
        return null!;
    }
}
