using Microsoft.Extensions.Configuration;
using StreamFraud.Core;
using YamlDotNet.RepresentationModel;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Docker is not available here, so docker-compose.yml is kept honest by reading it: services, published ports and
/// the init service's topic list must match what the code uses by default.
/// </summary>
public sealed class DockerCompose_MatchesCodeDefaults
{
    private static readonly YamlMappingNode Services = Load();

    [Fact]
    public void Services_KafkaRegistryRedisAndInit_Present()
    {
        var names = Services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).ToHashSet();
        Assert.Superset(new HashSet<string?> { "kafka", "kafka-init", "schema-registry", "redis", "scorer", "trainer", "prometheus", "grafana" }, names);
        Assert.StartsWith("apache/kafka:", Scalar(Service("kafka"), "image"));
        Assert.Equal("broker,controller", Scalar((YamlMappingNode)Service("kafka")["environment"], "KAFKA_PROCESS_ROLES")); // KRaft
        Assert.StartsWith("confluentinc/cp-schema-registry:", Scalar(Service("schema-registry"), "image"));
        Assert.StartsWith("redis:", Scalar(Service("redis"), "image"));
    }

    [Theory]
    [InlineData("kafka", Endpoints.KafkaPort)]
    [InlineData("schema-registry", Endpoints.SchemaRegistryPort)]
    [InlineData("redis", Endpoints.RedisPort)]
    public void PublishedPort_EqualsCodeDefault(string service, int port)
    {
        var ports = ((YamlSequenceNode)Service(service)["ports"]).Children.Select(p => ((YamlScalarNode)p).Value).ToList();
        Assert.Contains($"{port}:{port}", ports);
    }

    [Fact]
    public void KafkaAdvertisedHostListener_IsTheDefaultBootstrap()
    {
        var advertised = Scalar((YamlMappingNode)Service("kafka")["environment"], "KAFKA_ADVERTISED_LISTENERS");
        Assert.Contains($"://{Endpoints.KafkaBootstrap}", advertised);
        Assert.Equal(Endpoints.SchemaRegistryUrl, $"http://localhost:{Endpoints.SchemaRegistryPort}");
        Assert.Equal(Endpoints.Redis, $"localhost:{Endpoints.RedisPort}");
    }

    [Fact]
    public void InitTopics_EqualTopicsDefaults()
    {
        var spec = Scalar((YamlMappingNode)Service("kafka-init")["environment"], "TOPICS");
        var fromCompose = spec.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s =>
        {
            var parts = s.Split(':');
            return new Topics.Definition(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts.Length > 2 && parts[2] == "compact");
        }).ToList();
        Assert.Equal(Topics.Defaults, fromCompose);
    }

    [Fact]
    public void ScorerEnvironment_ComposeAndKubernetes_PassTheScorersOwnValidation()
    {
        var compose = ((YamlMappingNode)Service("scorer")["environment"]).Children
            .ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);
        var k8s = new YamlStream();
        using (var reader = File.OpenText(Path.Combine(Root(), "deploy", "k8s", "scorer.yaml")))
        {
            k8s.Load(reader);
        }

        var configMap = (YamlMappingNode)((YamlMappingNode)k8s.Documents[0].RootNode)["data"];
        var kube = configMap.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);
        foreach (var env in new[] { compose, kube })
        {
            // As the scorer reads them: STREAMFRAUD_Section__Key → Section:Key; the registry is a volume there, a temp dir here.
            var registry = Directory.CreateTempSubdirectory("sf-env-").FullName;
            try
            {
                var values = env.Where(kv => kv.Key.StartsWith("STREAMFRAUD_", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key["STREAMFRAUD_".Length..].Replace("__", ":", StringComparison.Ordinal), kv => (string?)kv.Value);
                Assert.Equal(env.Count(kv => kv.Key.StartsWith("STREAMFRAUD_", StringComparison.Ordinal)), values.Count);
                // librdkafka and Schema Registry client properties pass through (Kafka:Client|Consumer|Producer:*, SchemaRegistry:*).
                foreach (var key in values.Keys.Where(k => !new[] { "Kafka:Client:", "Kafka:Consumer:", "Kafka:Producer:", "SchemaRegistry:" }.Any(p => k.StartsWith(p, StringComparison.Ordinal)) || k == "SchemaRegistry:Url"))
                {
                    Assert.True(StreamFraud.Scorer.ScorerHost.Help.Contains(key, StringComparison.Ordinal), $"{key} is not a scorer configuration key (see --help)");
                }

                values["Models:Registry"] = registry;
                var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
                var settings = StreamFraud.Scorer.Settings.Read(config); // throws with the bad key's name otherwise
                Assert.Equal("streamfraud-scorer", settings.Consumer.GroupId);
                Assert.Contains(":", settings.Consumer.BootstrapServers);
                Assert.Equal(settings.Consumer.BootstrapServers, settings.Producer.BootstrapServers);
            }
            finally
            {
                Directory.Delete(registry);
            }
        }
    }

    private static YamlMappingNode Service(string name) => (YamlMappingNode)Services[name];

    private static string Scalar(YamlMappingNode node, string key) =>
        ((YamlScalarNode)node[key]).Value ?? throw new InvalidDataException($"docker-compose.yml: {key} is empty");

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamFraud.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("StreamFraud.sln not found above the test binaries");
    }

    private static YamlMappingNode Load()
    {
        var path = Path.Combine(Root(), "docker-compose.yml");
        var yaml = new YamlStream();
        using var reader = File.OpenText(path);
        yaml.Load(reader);
        return (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["services"];
    }
}
