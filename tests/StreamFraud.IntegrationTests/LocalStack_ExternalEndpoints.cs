using Confluent.Kafka;
using StackExchange.Redis;
using StreamFraud.DevStack;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>STREAMFRAUD_* variables replace embedded pieces by external endpoints (how tests run against docker-compose).</summary>
[Collection(StackCollection.Name)]
public sealed class LocalStack_ExternalEndpoints(StackFixture stack)
{
    [Fact]
    public async Task EnvironmentVariables_ReplaceEachPiece_AndClientsUseTheExternalOnes()
    {
        // The shared fixture's pieces play the "external" services.
        var env = new Dictionary<string, string>
        {
            [LocalStack.KafkaVariable] = stack.Kafka,
            [LocalStack.RegistryVariable] = stack.Registry,
            [LocalStack.RedisVariable] = stack.Redis,
        };
        await using var external = await LocalStack.StartAsync(new LocalStackOptions { GetEnvironmentVariable = v => env.GetValueOrDefault(v) });
        Assert.Null(external.Kafka);
        Assert.Null(external.Registry);
        Assert.Null(external.Redis);
        Assert.Equal(stack.Kafka, external.KafkaBootstrap);
        Assert.Equal(stack.Registry, external.SchemaRegistryUrl);
        Assert.Equal(stack.Redis, external.RedisEndpoint);

        await using var mux = await ConnectionMultiplexer.ConnectAsync(external.RedisEndpoint);
        var key = $"external:{Guid.NewGuid():N}";
        await mux.GetDatabase().StringSetAsync(key, "through-the-external-endpoint");
        Assert.Equal("through-the-external-endpoint", (string?)await mux.GetDatabase().StringGetAsync(key));

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = external.KafkaBootstrap }).Build();
        Assert.NotEmpty(admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers);
    }

    [Fact]
    public async Task BlankVariable_StartsTheEmbeddedPiece()
    {
        var env = new Dictionary<string, string> { [LocalStack.RedisVariable] = "  ", [LocalStack.KafkaVariable] = stack.Kafka, [LocalStack.RegistryVariable] = stack.Registry };
        await using var local = await LocalStack.StartAsync(new LocalStackOptions { GetEnvironmentVariable = v => env.GetValueOrDefault(v) });
        Assert.NotNull(local.Redis);
        Assert.Equal("garnet", local.Redis!.Kind);
        Assert.Equal(local.Redis.Endpoint, local.RedisEndpoint);
    }
}
