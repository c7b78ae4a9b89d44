using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamFraud.Core;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Kafka;

/// <summary>
/// Reacts to announcements on <c>model-updates</c>: each one makes the bundle manager look at the registry now
/// instead of at its next poll. The registry (current.json, pin) stays the source of truth, so a lost or
/// duplicated announcement changes nothing but timing.
/// </summary>
/// <param name="kafka">Every Kafka client's settings (bootstrap, security); the listener's own are added on top.</param>
/// <param name="manager">The bundle manager to wake.</param>
/// <param name="logger">Logger.</param>
/// <param name="topic">The announcements topic.</param>
public sealed class ModelUpdateListener(ClientConfig kafka, BundleManager manager, ILogger logger, string topic = Topics.ModelUpdates)
{
    /// <summary>Announcements seen.</summary>
    public long Announcements { get; private set; }

    /// <summary>
    /// The listener's consumer settings: <paramref name="kafka"/> (every client's settings: bootstrap, security) in a
    /// group of its own that starts at the end of the topic and never commits.
    /// </summary>
    public static ConsumerConfig ConsumerConfig(ClientConfig kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ConsumerConfig(kafka.ToDictionary(kv => kv.Key, kv => kv.Value))
        {
            GroupId = $"streamfraud-model-updates-{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Latest,
            EnableAutoCommit = false,
            AllowAutoCreateTopics = false,
        };
    }

    /// <summary>Consumes until cancelled (blocking; run on its own thread). Starts at the end of the topic.</summary>
    public void Run(CancellationToken stop)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(ConsumerConfig(kafka))
            .SetLogHandler((_, m) => logger.LogDebug("librdkafka model-updates {Message}", m.Message))
            .SetErrorHandler((_, e) => logger.LogDebug("model-updates consumer: {Reason}", e.Reason))
            .Build();
        consumer.Subscribe(topic);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ConsumeResult<string, byte[]>? r;
                try
                {
                    r = consumer.Consume(TimeSpan.FromMilliseconds(500));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue;
                }

                if (r is { IsPartitionEOF: false })
                {
                    Announcements++;
                    logger.LogInformation("Model update announced for {Model}; checking the registry now", r.Message.Key);
                    manager.RequestCheck();
                }
            }
        }
        finally
        {
            consumer.Close();
        }
    }
}
