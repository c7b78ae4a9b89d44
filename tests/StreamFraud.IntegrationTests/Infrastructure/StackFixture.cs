using Confluent.Kafka;
using Confluent.Kafka.Admin;
using StreamFraud.DevStack;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// One local stack per test run: mock Kafka cluster (3 brokers), the in-process Schema Registry and a real
/// redis-server, or the external endpoints named by STREAMFRAUD_KAFKA_BOOTSTRAP, STREAMFRAUD_SCHEMA_REGISTRY_URL and
/// STREAMFRAUD_REDIS (docker-compose), in which case the same tests run against real Kafka, registry and Redis.
/// </summary>
public sealed class StackFixture : IAsyncLifetime
{
    private LocalStack? _stack;

    public LocalStack Stack => _stack ?? throw new InvalidOperationException("The stack has not started.");

    public string Kafka => Stack.KafkaBootstrap;

    public string Registry => Stack.SchemaRegistryUrl;

    public string Redis => Stack.RedisEndpoint;

    public async Task InitializeAsync() =>
        _stack = await LocalStack.StartAsync(new LocalStackOptions { KafkaBrokers = 3, Redis = RedisKind.RedisServer });

    public async Task DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }

    /// <summary>
    /// Produces transactions as Avro through the registry, keyed by card id, with the event time as the message
    /// timestamp (so replays can position by time), and waits for every acknowledgement.
    /// </summary>
    public Task ProduceAsync(string topic, IEnumerable<Core.Transaction> transactions, Confluent.SchemaRegistry.ISchemaRegistryClient registry, string? bootstrap = null)
    {
        // Serialised synchronously and enqueued in order: ProduceAsync with an async serializer could reorder a card's events.
        using var producer = new ProducerBuilder<string, Contracts.Transaction>(new ProducerConfig { BootstrapServers = bootstrap ?? Kafka, EnableIdempotence = true, LingerMs = 20 })
            .SetValueSerializer(Confluent.Kafka.SyncOverAsync.SyncOverAsyncSerializerExtensionMethods.AsSyncOverAsync(new Confluent.SchemaRegistry.Serdes.AvroSerializer<Contracts.Transaction>(registry)))
            .Build();
        var failed = 0;
        foreach (var tx in transactions)
        {
            producer.Produce(topic, new Message<string, Contracts.Transaction>
            {
                Key = tx.CardId, Value = Contracts.Transaction.FromDomain(tx), Timestamp = new Timestamp(tx.EventTimeMs, TimestampType.CreateTime),
            }, r => failed += r.Error.IsError ? 1 : 0);
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, failed);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Reads alerts (read_committed, from the earliest offset, in a fresh group) until <paramref name="distinct"/>
    /// distinct alert ids have arrived or <paramref name="timeout"/> has passed; every record read is returned,
    /// duplicates included.
    /// </summary>
    public List<Contracts.FraudAlert> ReadAlerts(string topic, Confluent.SchemaRegistry.ISchemaRegistryClient registry, int distinct, TimeSpan timeout, string? bootstrap = null)
    {
        using var consumer = new ConsumerBuilder<string, Contracts.FraudAlert>(new ConsumerConfig
            {
                BootstrapServers = bootstrap ?? Kafka, GroupId = $"reader-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest,
                FetchWaitMaxMs = 20, IsolationLevel = IsolationLevel.ReadCommitted,
            })
            .SetValueDeserializer(Confluent.Kafka.SyncOverAsync.SyncOverAsyncDeserializerExtensionMethods.AsSyncOverAsync(new Confluent.SchemaRegistry.Serdes.AvroDeserializer<Contracts.FraudAlert>(registry)))
            .Build();
        consumer.Subscribe(topic);
        var result = new List<Contracts.FraudAlert>();
        var ids = new HashSet<string>();
        var deadline = DateTime.UtcNow + timeout;
        while (ids.Count < distinct && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add(r.Message.Value);
                ids.Add(r.Message.Value.AlertId);
            }
        }

        consumer.Close();
        return result;
    }

    /// <summary>Reads raw records from the earliest offset, in a fresh group, until <paramref name="count"/> or <paramref name="timeout"/>.</summary>
    public List<ConsumeResult<byte[]?, byte[]>> ReadRaw(string topic, int count, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Kafka, GroupId = $"reader-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
        }).Build();
        consumer.Subscribe(topic);
        var result = new List<ConsumeResult<byte[]?, byte[]>>();
        var deadline = DateTime.UtcNow + timeout;
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add(r);
            }
        }

        consumer.Close();
        return result;
    }

    /// <summary>A fresh topic (unique name): through the mock API, or the admin API on a real broker.</summary>
    public async Task<string> CreateTopicAsync(string prefix, int partitions)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}";
        if (Stack.Kafka is { } cluster)
        {
            cluster.CreateTopic(name, partitions);
            return name;
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Kafka }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = 1 }]);
        return name;
    }
}

[CollectionDefinition(Name)]
public sealed class StackCollection : ICollectionFixture<StackFixture>
{
    public const string Name = "stack";
}

/// <summary>A fact that needs the embedded mock cluster (broker faults): skipped when Kafka is external.</summary>
public sealed class MockClusterFactAttribute : FactAttribute
{
    public MockClusterFactAttribute()
    {
        if (LocalStack.External(LocalStack.KafkaVariable) is not null)
        {
            Skip = $"{LocalStack.KafkaVariable} points at an external broker; this test drives the mock cluster's broker faults.";
        }
    }
}
