using Confluent.Kafka;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>The mock cluster is a real Kafka-protocol broker for Confluent's clients: idempotent produce, consumer groups, commits.</summary>
[Collection(StackCollection.Name)]
public sealed class KafkaMockCluster_GroupConsumption(StackFixture stack, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Messages = 10_000;

    [Fact]
    public async Task IdempotentProduce_GroupConsumesEachMessageOnce_SecondMemberResumesFromCommit()
    {
        var topic = await stack.CreateTopicAsync("roundtrip", partitions: 4);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sent = new Dictionary<string, List<int>>();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               {
                   BootstrapServers = stack.Kafka,
                   EnableIdempotence = true,
                   Acks = Acks.All,
                   LingerMs = 5,
               }).Build())
        {
            for (var i = 0; i < Messages; i++)
            {
                var key = $"card-{i % 97}";
                producer.Produce(topic, new Message<string, string> { Key = key, Value = $"{key}:{i}" }, r =>
                {
                    if (r.Error.IsError)
                    {
                        throw new InvalidOperationException(r.Error.Reason);
                    }
                });
                if (!sent.TryGetValue(key, out var list))
                {
                    sent[key] = list = [];
                }

                list.Add(i);
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }

        output.WriteLine($"produced {Messages} in {clock.Elapsed}");
        var group = $"g-{Guid.NewGuid():N}";
        var received = new Dictionary<string, List<int>>();
        var partitionsSeen = new HashSet<int>();
        using (var consumer = Consumer(group))
        {
            consumer.Subscribe(topic);
            var count = 0;
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (count < Messages && DateTime.UtcNow < deadline)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (r is null || r.IsPartitionEOF)
                {
                    continue;
                }

                count++;
                partitionsSeen.Add(r.Partition.Value);
                var i = int.Parse(r.Message.Value[(r.Message.Value.IndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                if (!received.TryGetValue(r.Message.Key, out var list))
                {
                    received[r.Message.Key] = list = [];
                }

                list.Add(i);
            }

            // A few more polls: nothing beyond the 10k may arrive (no duplicates).
            for (var extra = 0; extra < 4; extra++)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(250));
                Assert.True(r is null || r.IsPartitionEOF, $"unexpected extra message at {r?.TopicPartitionOffset}");
            }

            output.WriteLine($"consumed {count} at {clock.Elapsed}");
            consumer.Commit();
            consumer.Close();
        }

        Assert.Equal(4, partitionsSeen.Count);
        Assert.Equal(sent.Count, received.Count);
        foreach (var (key, values) in sent)
        {
            // Exactly once, and in produce order per key (one key → one partition).
            Assert.Equal(values, received[key]);
        }

        // A second member of the same group starts from the committed offsets: nothing old, then only what is new.
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < 5; i++)
            {
                await producer.ProduceAsync(topic, new Message<string, string> { Key = $"late-{i}", Value = $"late-{i}:{Messages + i}" });
            }
        }

        output.WriteLine($"second phase from {clock.Elapsed}");
        using var second = Consumer(group);
        second.Subscribe(topic);
        var late = new List<string>();
        var until = DateTime.UtcNow.AddSeconds(60);
        while (late.Count < 5 && DateTime.UtcNow < until)
        {
            var r = second.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                late.Add(r.Message.Value);
            }
        }

        output.WriteLine($"late read at {clock.Elapsed}");
        var tail = second.Consume(TimeSpan.FromSeconds(1));
        Assert.True(tail is null || tail.IsPartitionEOF);
        second.Close();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"late-{i}:{Messages + i}").Order(), late.Order());
    }

    private IConsumer<string, string> Consumer(string group) =>
        new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = stack.Kafka,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            // The mock broker answers a fetch with little data; do not let it hold each fetch for the default 500 ms.
            FetchWaitMaxMs = 20,
            // If a departed member is not removed by LeaveGroup, the group waits this long for it before rebalancing.
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        }).Build();
}
