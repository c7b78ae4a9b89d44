using Confluent.Kafka;
using StreamFraud.DevStack.Kafka;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>Broker faults for outage tests: a broker taken down makes produce time out; back up, produce succeeds.</summary>
public sealed class KafkaMockCluster_BrokerFaults
{
    [MockClusterFact]
    public async Task BrokerDown_ProduceTimesOut_BrokerUp_ProduceSucceeds()
    {
        // Its own one-broker cluster, so the fault does not disturb tests sharing the stack.
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [("faults", 1)] });
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            MessageTimeoutMs = 3000,
            ReconnectBackoffMs = 100,
            ReconnectBackoffMaxMs = 500,
        }).SetLogHandler((_, _) => { }).Build();

        var before = await producer.ProduceAsync("faults", new Message<string, string> { Key = "k", Value = "before" });
        Assert.Equal(PersistenceStatus.Persisted, before.Status);

        cluster.SetBrokerDown(1);
        var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
            () => producer.ProduceAsync("faults", new Message<string, string> { Key = "k", Value = "during" }));
        Assert.Equal(ErrorCode.Local_MsgTimedOut, failure.Error.Code);

        cluster.SetBrokerUp(1);
        var after = await producer.ProduceAsync("faults", new Message<string, string> { Key = "k", Value = "after" });
        Assert.Equal(PersistenceStatus.Persisted, after.Status);
        Assert.Equal(before.Offset.Value + 1, after.Offset.Value);
    }

    [MockClusterFact]
    public void LibraryPath_IsTheFileConfluentLoaded()
    {
        _ = Library.Version;
        var mapped = File.ReadLines("/proc/self/maps").Where(l => l.Contains("librdkafka", StringComparison.Ordinal))
            .Select(l => l[l.IndexOf('/', StringComparison.Ordinal)..].Trim()).Distinct().ToList();
        Assert.Single(mapped); // one librdkafka in the process: the clients' and the mock's are the same file
        Assert.Equal(mapped[0], MockKafkaCluster.LibraryPath);
    }
}
