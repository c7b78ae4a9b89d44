namespace StreamFraud.Core;

/// <summary>
/// Default endpoints when nothing is configured: the ports docker-compose.yml publishes and <c>make devstack</c>
/// binds, so every program finds a local stack without flags.
/// </summary>
public static class Endpoints
{
    /// <summary>Kafka bootstrap port.</summary>
    public const int KafkaPort = 9092;

    /// <summary>Schema Registry port.</summary>
    public const int SchemaRegistryPort = 8081;

    /// <summary>Redis port.</summary>
    public const int RedisPort = 6379;

    /// <summary><c>localhost:9092</c>.</summary>
    public const string KafkaBootstrap = "localhost:9092";

    /// <summary><c>http://localhost:8081</c>.</summary>
    public const string SchemaRegistryUrl = "http://localhost:8081";

    /// <summary><c>localhost:6379</c>.</summary>
    public const string Redis = "localhost:6379";
}
