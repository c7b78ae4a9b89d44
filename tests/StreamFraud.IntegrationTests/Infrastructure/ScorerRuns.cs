using Confluent.Kafka;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>Shared steps of the tests that run the scorer: publishing a bundle, reading a group's committed progress.</summary>
internal static class ScorerRuns
{
    /// <summary>Publishes and promotes a tiny bundle in a new registry under <paramref name="root"/>; returns the registry.</summary>
    public static string PublishBundle(string root, string version, List<Core.Transaction> history, double threshold = 0.5, bool checkManaged = false)
    {
        var registryDir = Path.Combine(root, "registry-" + Guid.NewGuid().ToString("N")[..8]);
        var registry = new BundleRegistry(registryDir);
        var staging = registry.CreateStagingDirectory();
        TinyBundle.Create(staging, version, history, costMinThreshold: threshold, checkManaged: checkManaged, managedPaths: Scoring.Lstm.LstmPaths.Candidates);
        registry.Publish(staging, version);
        registry.Promote(version);
        return registryDir;
    }

    /// <summary>The group's committed offsets summed over the topic's partitions (-1 while the coordinator does not answer).</summary>
    public static async Task<long> Committed(string bootstrap, string group, string topic, int partitions)
    {
        using var probe = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group, EnableAutoCommit = false }).Build();
        var tps = Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)).ToList();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                return probe.Committed(tps, TimeSpan.FromSeconds(5)).Sum(c => Math.Max(0, c.Offset.Value));
            }
            catch (KafkaException)
            {
                await Task.Delay(300); // coordinator busy during a rebalance
            }
        }

        return -1;
    }

    /// <summary>Waits until the group committed <paramref name="total"/> offsets; false on timeout.</summary>
    public static async Task<bool> WaitForCommitted(string bootstrap, string group, string topic, int partitions, long total, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await Committed(bootstrap, group, topic, partitions) >= total)
            {
                return true;
            }

            await Task.Delay(300);
        }

        return false;
    }
}
