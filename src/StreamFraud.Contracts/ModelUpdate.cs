using Avro;
using Avro.Specific;

namespace StreamFraud.Contracts;

/// <summary>Avro specific record of <c>schemas/model-update.avsc</c> (compacted topic <c>model-updates</c>).</summary>
public sealed class ModelUpdate : ISpecificRecord
{
    /// <summary>The writer schema (Confluent's serializer reads this static field).</summary>
#pragma warning disable CA1707, SA1310, IDE1006
    public static readonly Schema _SCHEMA = AvroSchemas.ModelUpdate;
#pragma warning restore CA1707, SA1310, IDE1006

    /// <summary>Model family (the Kafka key).</summary>
    public string ModelName { get; set; } = "";

    /// <summary>Bundle version.</summary>
    public string Version { get; set; } = "";

    /// <summary>Version current before this one.</summary>
    public string? PreviousVersion { get; set; }

    /// <summary>Build time, epoch ms UTC.</summary>
    public long CreatedAtMs { get; set; }

    /// <summary>Bundle location.</summary>
    public string BundleUri { get; set; } = "";

    /// <summary>Hex SHA-256 of manifest.json.</summary>
    public string ManifestSha256 { get; set; } = "";

    /// <summary>Feature spec name and version.</summary>
    public string FeatureSpec { get; set; } = "";

    /// <summary>Feature spec content hash.</summary>
    public string FeatureSpecHash { get; set; } = "";

    /// <summary>Default threshold policy.</summary>
    public string DefaultPolicy { get; set; } = "";

    /// <summary>Threshold per policy.</summary>
    public IDictionary<string, double> Thresholds { get; set; } = new Dictionary<string, double>();

    /// <summary>Headline metrics.</summary>
    public IDictionary<string, double> Metrics { get; set; } = new Dictionary<string, double>();

    /// <inheritdoc />
    public Schema Schema => _SCHEMA;

    /// <inheritdoc />
    public object? Get(int fieldPos) => fieldPos switch
    {
        0 => ModelName,
        1 => Version,
        2 => PreviousVersion,
        3 => Field.Utc(CreatedAtMs),
        4 => BundleUri,
        5 => ManifestSha256,
        6 => FeatureSpec,
        7 => FeatureSpecHash,
        8 => DefaultPolicy,
        9 => Thresholds,
        10 => Metrics,
        _ => Bad(fieldPos),
    };

    /// <inheritdoc />
    public void Put(int fieldPos, object? fieldValue)
    {
        switch (fieldPos)
        {
            case 0: ModelName = (string)fieldValue!; break;
            case 1: Version = (string)fieldValue!; break;
            case 2: PreviousVersion = (string?)fieldValue; break;
            case 3: CreatedAtMs = Field.Millis(fieldValue!); break;
            case 4: BundleUri = (string)fieldValue!; break;
            case 5: ManifestSha256 = (string)fieldValue!; break;
            case 6: FeatureSpec = (string)fieldValue!; break;
            case 7: FeatureSpecHash = (string)fieldValue!; break;
            case 8: DefaultPolicy = (string)fieldValue!; break;
            case 9: Thresholds = (IDictionary<string, double>)fieldValue!; break;
            case 10: Metrics = (IDictionary<string, double>)fieldValue!; break;
            default: Bad(fieldPos); break;
        }
    }

    private static object Bad(int fieldPos)
    {
        Field.Bad(nameof(ModelUpdate), fieldPos);
        return null!;
    }
}
