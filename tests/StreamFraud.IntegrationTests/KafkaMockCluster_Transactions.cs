using Confluent.Kafka;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Characterisation of librdkafka's mock broker: it accepts transactional produce, commit and abort, but a
/// read_committed consumer still receives messages of aborted transactions (no aborted-transaction index in its fetch
/// responses). The exactly-once scorer test therefore checks "no duplicates" only against a real broker. If this test
/// starts failing, the mock has learnt to filter: tighten Scorer_GroupsAndModes' exactly-once assertion.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class KafkaMockCluster_Transactions(StackFixture stack)
{
    [MockClusterFact]
    public async Task MockBroker_ReadCommitted_StillDeliversAbortedTransactions()
    {
        var topic = await stack.CreateTopicAsync("txn", 1);
        var id = $"txn-{Guid.NewGuid():N}";
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = stack.Kafka, TransactionalId = id }).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            for (var i = 0; i < 5; i++)
            {
                producer.Produce(topic, new Message<string, string> { Key = "k", Value = $"aborted-{i}" });
            }

            producer.Flush(TimeSpan.FromSeconds(10));
            producer.AbortTransaction(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            for (var i = 0; i < 3; i++)
            {
                producer.Produce(topic, new Message<string, string> { Key = "k", Value = $"committed-{i}" });
            }

            producer.CommitTransaction(TimeSpan.FromSeconds(30));
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = stack.Kafka, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted, FetchWaitMaxMs = 20,
        }).Build();
        consumer.Subscribe(topic);
        var seen = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is not null)
            {
                seen.Add(r.Message.Value);
            }
            else if (seen.Count >= 8)
            {
                break;
            }
        }

        Assert.Equal(["aborted-0", "aborted-1", "aborted-2", "aborted-3", "aborted-4", "committed-0", "committed-1", "committed-2"], seen);
    }
}
