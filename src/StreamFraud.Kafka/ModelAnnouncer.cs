using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;
using StreamFraud.Core;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Kafka;

/// <summary>Announces a published bundle on the compacted <c>model-updates</c> topic (key = model name).</summary>
public static class ModelAnnouncer
{
    /// <summary>The announcement of a bundle directory's manifest.</summary>
    public static ModelUpdate Describe(string bundleDirectory, string? previousVersion)
    {
        var manifestPath = Path.Combine(bundleDirectory, BundleManifest.FileName);
        var m = BundleManifest.Read(manifestPath);
        var metrics = new Dictionary<string, double>();
        foreach (var (split, models) in m.Metrics)
        {
            foreach (var (model, values) in models)
            {
                foreach (var (metric, value) in values)
                {
                    metrics[$"{split}.{model}.{metric}"] = value;
                }
            }
        }

        return new ModelUpdate
        {
            ModelName = m.ModelName,
            Version = m.Version,
            PreviousVersion = previousVersion,
            CreatedAtMs = m.CreatedAt.ToUnixTimeMilliseconds(),
            BundleUri = Path.GetFullPath(bundleDirectory),
            ManifestSha256 = BundleRegistry.Sha256(manifestPath),
            FeatureSpec = $"{m.FeatureSpec.Name}:v{m.FeatureSpec.Version}",
            FeatureSpecHash = m.FeatureSpec.Hash,
            DefaultPolicy = m.DefaultPolicy,
            Thresholds = new Dictionary<string, double>
            {
                ["best_f1"] = m.Thresholds.BestF1,
                ["cost_min"] = m.Thresholds.CostMin.Threshold,
                ["target_recall"] = m.Thresholds.TargetRecall.Threshold,
            },
            Metrics = metrics,
        };
    }

    /// <summary>The announcer's producer settings: <paramref name="kafka"/> (every client's settings: bootstrap, security), idempotent, 30 s to deliver.</summary>
    public static ProducerConfig ProducerConfig(ClientConfig kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ProducerConfig(kafka.ToDictionary(kv => kv.Key, kv => kv.Value)) { EnableIdempotence = true, MessageTimeoutMs = 30_000 };
    }

    /// <summary>Produces the announcement and waits for the broker's acknowledgement.</summary>
    /// <param name="kafka">Every Kafka client's settings (bootstrap, security).</param>
    /// <param name="registryConfig">The Schema Registry client's settings (URL, auth, TLS).</param>
    /// <param name="update">The announcement.</param>
    /// <param name="topic">The announcements topic.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ProduceException{TKey, TValue}">The broker did not take it (message says why).</exception>
    public static async Task<TopicPartitionOffset> AnnounceAsync(ClientConfig kafka, SchemaRegistryConfig registryConfig, ModelUpdate update, string topic = Topics.ModelUpdates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        using var registry = new CachedSchemaRegistryClient(registryConfig);
        using var producer = new ProducerBuilder<string, ModelUpdate>(ProducerConfig(kafka))
            .SetValueSerializer(new AvroSerializer<ModelUpdate>(registry))
            .Build();
        var result = await producer.ProduceAsync(topic, new Message<string, ModelUpdate> { Key = update.ModelName, Value = update }, cancellationToken).ConfigureAwait(false);
        return result.TopicPartitionOffset;
    }
}
