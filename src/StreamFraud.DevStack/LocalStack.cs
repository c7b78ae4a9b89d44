using StreamFraud.Core;
using StreamFraud.DevStack.Kafka;
using StreamFraud.DevStack.Redis;
using StreamFraud.DevStack.SchemaRegistry;

namespace StreamFraud.DevStack;

/// <summary>Which Redis-protocol server the stack starts.</summary>
public enum RedisKind
{
    /// <summary>Microsoft Garnet in this process (Lua on): nothing to install.</summary>
    Garnet,

    /// <summary>Debian's <c>redis-server</c> as a child process.</summary>
    RedisServer,
}

/// <summary>Options of <see cref="LocalStack.StartAsync"/>.</summary>
public sealed record LocalStackOptions
{
    /// <summary>Mock Kafka brokers.</summary>
    public int KafkaBrokers { get; init; } = 1;

    /// <summary>First fixed Kafka port (broker i gets port + i - 1); null: the brokers' ephemeral ports.</summary>
    public int? KafkaPort { get; init; }

    /// <summary>Schema Registry port; 0: a free port.</summary>
    public int RegistryPort { get; init; }

    /// <summary>Redis port; 0: a free port.</summary>
    public int RedisPort { get; init; }

    /// <summary>Redis implementation.</summary>
    public RedisKind Redis { get; init; } = RedisKind.Garnet;

    /// <summary>Topics to create on the mock cluster (ignored for an external broker).</summary>
    public IReadOnlyList<Topics.Definition> Topics { get; init; } = Core.Topics.Defaults;

    /// <summary>
    /// Honour <c>STREAMFRAUD_KAFKA_BOOTSTRAP</c>, <c>STREAMFRAUD_SCHEMA_REGISTRY_URL</c> and <c>STREAMFRAUD_REDIS</c>:
    /// a set variable replaces that embedded piece with the external endpoint (e.g. docker-compose's).
    /// </summary>
    public bool UseEnvironment { get; init; } = true;

    /// <summary>Reads an environment variable (replaceable in tests).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;
}

/// <summary>
/// The local stack: Kafka protocol (librdkafka mock cluster), Schema Registry (in-process stand-in) and Redis
/// (Garnet or redis-server), each replaceable by an external endpoint through environment variables, so the same
/// integration tests run against the embedded pieces or against docker-compose's real Kafka, registry and Redis.
/// </summary>
public sealed class LocalStack : IAsyncDisposable
{
    /// <summary>Environment variable naming an external Kafka bootstrap list.</summary>
    public const string KafkaVariable = "STREAMFRAUD_KAFKA_BOOTSTRAP";

    /// <summary>Environment variable naming an external Schema Registry URL.</summary>
    public const string RegistryVariable = "STREAMFRAUD_SCHEMA_REGISTRY_URL";

    /// <summary>Environment variable naming an external Redis endpoint (<c>host:port</c>).</summary>
    public const string RedisVariable = "STREAMFRAUD_REDIS";

    private LocalStack(string kafka, string registry, string redis, MockKafkaCluster? cluster, InProcessSchemaRegistry? registryHost, ILocalRedis? redisHost)
    {
        KafkaBootstrap = kafka;
        SchemaRegistryUrl = registry;
        RedisEndpoint = redis;
        Kafka = cluster;
        Registry = registryHost;
        Redis = redisHost;
    }

    /// <summary><c>bootstrap.servers</c>.</summary>
    public string KafkaBootstrap { get; }

    /// <summary>Schema Registry base URL.</summary>
    public string SchemaRegistryUrl { get; }

    /// <summary>Redis <c>host:port</c>.</summary>
    public string RedisEndpoint { get; }

    /// <summary>The embedded cluster; null when Kafka is external.</summary>
    public MockKafkaCluster? Kafka { get; }

    /// <summary>The embedded registry; null when the registry is external.</summary>
    public InProcessSchemaRegistry? Registry { get; }

    /// <summary>The embedded Redis; null when Redis is external.</summary>
    public ILocalRedis? Redis { get; }

    /// <summary>Reads an endpoint override, ignoring blank values.</summary>
    public static string? External(string variable, Func<string, string?>? getEnvironmentVariable = null) =>
        (getEnvironmentVariable ?? Environment.GetEnvironmentVariable)(variable) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    /// <summary>Starts what is not external; on failure, stops what already started.</summary>
    public static async Task<LocalStack> StartAsync(LocalStackOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalStackOptions();
        var env = options.GetEnvironmentVariable;
        var kafkaExternal = options.UseEnvironment ? External(KafkaVariable, env) : null;
        var registryExternal = options.UseEnvironment ? External(RegistryVariable, env) : null;
        var redisExternal = options.UseEnvironment ? External(RedisVariable, env) : null;

        MockKafkaCluster? cluster = null;
        InProcessSchemaRegistry? registry = null;
        ILocalRedis? redis = null;
        try
        {
            if (kafkaExternal is null)
            {
                cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions
                {
                    Brokers = options.KafkaBrokers,
                    AdvertisedPorts = options.KafkaPort is { } p ? Enumerable.Range(p, options.KafkaBrokers).ToList() : [],
                    Topics = options.Topics.Select(t => (t.Name, t.Partitions)).ToList(),
                });
            }

            if (registryExternal is null)
            {
                registry = await InProcessSchemaRegistry.StartAsync(options.RegistryPort, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            if (redisExternal is null)
            {
                redis = options.Redis == RedisKind.Garnet
                    ? await GarnetHost.StartAsync(options.RedisPort).ConfigureAwait(false)
                    : await RedisServerProcess.StartAsync(options.RedisPort).ConfigureAwait(false);
            }
        }
        catch
        {
            await StopAsync(cluster, registry, redis).ConfigureAwait(false);
            throw;
        }

        return new LocalStack(
            kafkaExternal ?? cluster!.BootstrapServers,
            registryExternal ?? registry!.Url,
            redisExternal ?? redis!.Endpoint,
            cluster, registry, redis);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => StopAsync(Kafka, Registry, Redis);

    private static async ValueTask StopAsync(MockKafkaCluster? cluster, InProcessSchemaRegistry? registry, ILocalRedis? redis)
    {
        if (redis is not null)
        {
            await redis.DisposeAsync().ConfigureAwait(false);
        }

        if (registry is not null)
        {
            await registry.DisposeAsync().ConfigureAwait(false);
        }

        cluster?.Dispose();
    }
}
