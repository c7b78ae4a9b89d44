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
