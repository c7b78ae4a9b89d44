using StreamFraud.Core;
using StreamFraud.IntegrationTests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Docker is not available here, so docker-compose.yml is kept honest by reading it: services, published ports and
/// the init service's topic list must match what the code uses by default; a plain <c>up</c> starts the
/// infrastructure only; every long-running service has a healthcheck; the scorer's configuration passes its own
/// validation; the mounted files exist.
/// </summary>
public sealed class DockerCompose_MatchesCodeDefaults
{
    private static readonly string[] Infrastructure = ["kafka", "kafka-init", "schema-registry", "redis"];
    private static readonly YamlMappingNode Services = Load();

    [Fact]
    public void Services_KafkaRegistryRedisAndInit_Present()
    {
        var names = Services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).ToHashSet();
        Assert.Superset(new HashSet<string?> { "kafka", "kafka-init", "schema-registry", "redis", "scorer", "scorer-gpu", "trainer", "prometheus", "grafana" }, names);
        Assert.StartsWith("apache/kafka:", Scalar(Service("kafka"), "image"));
        Assert.Equal("broker,controller", Scalar((YamlMappingNode)Service("kafka")["environment"], "KAFKA_PROCESS_ROLES")); // KRaft
        Assert.StartsWith("confluentinc/cp-schema-registry:", Scalar(Service("schema-registry"), "image"));
        Assert.StartsWith("redis:", Scalar(Service("redis"), "image"));
    }

    [Fact]
    public void PlainUp_StartsInfrastructureOnly_AppServicesBehindProfiles()
    {
        var withoutProfile = ServiceNames().Where(s => Profiles(s).Count == 0).Order(StringComparer.Ordinal);
        Assert.Equal(Infrastructure.Order(StringComparer.Ordinal), withoutProfile);
        Assert.Equal(["app"], Profiles("scorer"));
        Assert.Equal(["gpu"], Profiles("scorer-gpu"));
        Assert.Equal(["train"], Profiles("trainer"));
        foreach (var service in new[] { "prometheus", "grafana" })
        {
            Assert.Equal(["app", "gpu"], Profiles(service).Order(StringComparer.Ordinal));
        }

        // Infrastructure never waits on an app service (it would pull it in or block).
        foreach (var service in Infrastructure)
        {
            Assert.All(DependsOn(service).Keys, d => Assert.Contains(d, Infrastructure));
        }
    }

    [Fact]
    public void EveryLongRunningService_HasAHealthcheck_AndDependenciesWaitForIt()
    {
        foreach (var service in ServiceNames())
        {
            var node = Service(service);
            if (OneShot(service))
            {
                continue; // kafka-init, trainer: they run to completion (service_completed_successfully)
            }

            Assert.True(node.Children.ContainsKey("healthcheck"), $"{service} has no healthcheck");
            var test = (YamlSequenceNode)((YamlMappingNode)node["healthcheck"])["test"];
            Assert.Contains(((YamlScalarNode)test[0]).Value, new[] { "CMD", "CMD-SHELL" });
        }

        foreach (var service in ServiceNames())
        {
            foreach (var (dependency, condition) in DependsOn(service))
            {
                Assert.Contains(dependency, ServiceNames());
                Assert.Equal(OneShot(dependency) ? "service_completed_successfully" : "service_healthy", condition);
            }
        }
    }

    [Fact]
    public void Scorer_WaitsForAPromotedBundle_InsteadOfCrashLooping()
    {
        foreach (var name in new[] { "scorer", "scorer-gpu" })
        {
            var scorer = Service(name);
            var registry = ScorerEnvironment(name)["STREAMFRAUD_Models__Registry"];
            var entrypoint = string.Join(' ', ((YamlSequenceNode)scorer["entrypoint"]).Children.Select(c => ((YamlScalarNode)c).Value));
            Assert.Contains($"until [ -f {registry}/{Scoring.Bundles.BundleRegistry.CurrentFile} ]", entrypoint);
            // Then the image's own entrypoint takes over the process (signals, exit codes).
            var dockerfile = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "scorer.Dockerfile"));
            Assert.Contains("ENTRYPOINT [\"/app/StreamFraud.Scorer\"]", dockerfile);
            Assert.Contains("exec /app/StreamFraud.Scorer \"$$@\"", entrypoint);
            Assert.Contains($"models:{registry}:ro", ((YamlSequenceNode)scorer["volumes"]).Children.Select(v => ((YamlScalarNode)v).Value));
        }
    }

    [Fact]
    public void GpuProfile_ReservesAnNvidiaDevice_RunsCuda_AndIsScrapedAsScorer()
    {
        var gpu = Service("scorer-gpu");
        var devices = (YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)gpu["deploy"])["resources"])["reservations"])["devices"];
        var device = (YamlMappingNode)Assert.Single(devices.Children);
        Assert.Equal("nvidia", Scalar(device, "driver"));
        Assert.Equal("1", Scalar(device, "count"));
        Assert.Contains("gpu", ((YamlSequenceNode)device["capabilities"]).Children.Select(c => ((YamlScalarNode)c).Value));
        Assert.Equal("cuda", ScorerEnvironment("scorer-gpu")["STREAMFRAUD_Scoring__Device"]);
        Assert.Equal("cpu", ScorerEnvironment("scorer")["STREAMFRAUD_Scoring__Device"]);

        // The same configuration but the device; reachable under the name Prometheus scrapes.
        var cpu = ScorerEnvironment("scorer").Where(kv => !kv.Key.EndsWith("__Device", StringComparison.Ordinal));
        Assert.Equal(cpu, ScorerEnvironment("scorer-gpu").Where(kv => !kv.Key.EndsWith("__Device", StringComparison.Ordinal)));
        var aliases = (YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)gpu["networks"])["default"])["aliases"];
        Assert.Contains("scorer", aliases.Children.Select(a => ((YamlScalarNode)a).Value));
        var prometheus = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "prometheus", "prometheus.yml"));
        Assert.Contains("targets: [\"scorer:8080\"]", prometheus);
        Assert.Contains("8080:8080", ((YamlSequenceNode)gpu["ports"]).Children.Select(p => ((YamlScalarNode)p).Value));
    }

    [Fact]
    public void Grafana_MountsTheProvisioningAndDashboardsThatExist()
    {
        var grafana = Service("grafana");
        var mounts = ((YamlSequenceNode)grafana["volumes"]).Children.Select(v => ((YamlScalarNode)v).Value!.Split(':')).ToDictionary(p => p[1], p => p[0]);
        Assert.True(Directory.Exists(Path.Combine(Repository.Root, mounts["/etc/grafana/provisioning"])));
        Assert.True(File.Exists(Path.Combine(Repository.Root, mounts["/etc/grafana/provisioning"], "datasources", "prometheus.yml")));
        var dashboards = Path.Combine(Repository.Root, mounts["/var/lib/grafana/dashboards"]);
        Assert.NotEmpty(Directory.GetFiles(dashboards, "*.json"));
        var home = Scalar((YamlMappingNode)grafana["environment"], "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
        Assert.StartsWith("/var/lib/grafana/dashboards/", home);
        Assert.True(File.Exists(Path.Combine(dashboards, Path.GetFileName(home))), home);
        var datasource = File.ReadAllText(Path.Combine(Repository.Root, mounts["/etc/grafana/provisioning"], "datasources", "prometheus.yml"));
        Assert.Contains($"url: http://prometheus:{Service("prometheus")["ports"].AllNodes.OfType<YamlScalarNode>().Single().Value!.Split(':')[1]}", datasource);
    }

    [Fact]
    public void Images_PinnedToAVersion_AppImagesTaggedAsTheKubernetesRelease()
    {
        var release = Kubernetes_ManifestsCrossReferenced.ReleaseTag();
        foreach (var service in ServiceNames())
        {
            var image = Scalar(Service(service), "image");
            Assert.Matches(@"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$", image);
            Assert.False(image.EndsWith(":latest", StringComparison.Ordinal), $"{service}: {image}");
            if (image.StartsWith("streamfraud/", StringComparison.Ordinal))
            {
                Assert.EndsWith(":" + release, image);
            }
        }
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
    public void ScorerEnvironment_PassesTheScorersOwnValidation()
    {
        foreach (var service in new[] { "scorer", "scorer-gpu" })
        {
            var settings = Kubernetes_ManifestsCrossReferenced.ReadScorerSettings(ScorerEnvironment(service), $"docker-compose.yml {service}");
            Assert.Equal("streamfraud-scorer", settings.Consumer.GroupId);
            Assert.Equal("kafka:19092", settings.Consumer.BootstrapServers); // the broker's in-network listener
            Assert.Equal(settings.Consumer.BootstrapServers, settings.Producer.BootstrapServers);
        }
    }

    /// <summary>The scorer service's environment (merge keys resolved).</summary>
    internal static Dictionary<string, string> ScorerEnvironment(string service) =>
        ((YamlMappingNode)Service(service)["environment"]).Children
            .ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);

    private static IEnumerable<string> ServiceNames() => Services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!);

    private static YamlMappingNode Service(string name) => (YamlMappingNode)Services[name];

    private static List<string> Profiles(string service) =>
        Service(service).Children.TryGetValue("profiles", out var p) ? ((YamlSequenceNode)p).Children.Select(c => ((YamlScalarNode)c).Value!).ToList() : [];

    private static bool OneShot(string service) => Service(service).Children.TryGetValue("restart", out var r) && ((YamlScalarNode)r).Value == "no";

    private static Dictionary<string, string> DependsOn(string service) =>
        Service(service).Children.TryGetValue("depends_on", out var d)
            ? ((YamlMappingNode)d).Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => Scalar((YamlMappingNode)kv.Value, "condition"))
            : [];

    private static string Scalar(YamlMappingNode node, string key) =>
        ((YamlScalarNode)node[key]).Value ?? throw new InvalidDataException($"docker-compose.yml: {key} is empty");

    private static YamlMappingNode Load()
    {
        var path = Path.Combine(Repository.Root, "docker-compose.yml");
        var yaml = new YamlStream();
        using var reader = File.OpenText(path);
        yaml.Load(reader);
        return (YamlMappingNode)Yaml.ResolveMergeKeys(((YamlMappingNode)yaml.Documents[0].RootNode)["services"]);
    }
}
