using Microsoft.Extensions.Configuration;
using StreamFraud.Core;
using StreamFraud.IntegrationTests.Infrastructure;
using static StreamFraud.IntegrationTests.Infrastructure.Yaml;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// No cluster here, so <c>deploy/k8s</c> is checked by reading it, variant by variant (each kustomization built the way
/// <c>kubectl apply -k</c> would): every volume claim, ConfigMap and Secret referenced is defined (Secret keys too, in
/// the example Secret operators copy), the scorer's environment passes the scorer's own validation, autoscalers and
/// budgets target the Deployment, probes hit the scorer's endpoints, pods run non-root on a read-only root file system,
/// and every image is pinned to the release tag.
/// </summary>
public sealed class Kubernetes_ManifestsCrossReferenced
{
    /// <summary>
    /// Credentials the manifests already pass but the scorer reads only once secured clients land (deploy/README.md
    /// lists them); every other key must be one of the scorer's (its --help).
    /// </summary>
    private static readonly string[] PendingKeys = ["SchemaRegistry:BasicAuthUserInfo"];

    private static readonly string K8s = Path.Combine(Repository.Root, "deploy", "k8s");

    public static TheoryData<string> Variants => new() { "base", "keda", "hpa", "gpu" };

    [Theory]
    [MemberData(nameof(Variants))]
    public void EveryReference_IsDefined(string variant)
    {
        var objects = Build(variant);
        Assert.Equal(objects.Count, objects.Select(o => (Str(o, "kind"), Str(o, "metadata", "name"))).Distinct().Count());
        CheckPodReferences(objects, objects.Concat(ExampleSecret()).ToList(), variant);
    }

    [Fact]
    public void TrainerJob_ReferencesTheBaseVolumes_AndIsPinnedAndNonRoot()
    {
        var job = LoadDocuments(Path.Combine(K8s, "trainer-job.yaml")).Single();
        Assert.Equal("Job", Str(job, "kind"));
        Assert.NotNull(Str(job, "metadata", "generateName")); // a new Job per run
        var claims = List(PodSpec(job)!, "volumes").Cast<Dictionary<string, object?>>().Select(v => Str(v, "persistentVolumeClaim", "claimName")).OfType<string>();
        Assert.Equal(["streamfraud-history", "streamfraud-models"], claims.Order(StringComparer.Ordinal));
        CheckPodReferences([job], Build("base").Concat(ExampleSecret()).ToList(), "trainer-job.yaml");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ScorerEnvironment_PassesTheScorersOwnValidation(string variant)
    {
        var objects = Build(variant);
        var (deployment, scorer) = Scorer(objects);
        var env = Environment(scorer, objects.Concat(ExampleSecret()).ToList());
        var settings = ReadScorerSettings(env, $"deploy/k8s/{variant}");
        Assert.Equal("streamfraud-scorer", settings.Consumer.GroupId);
        Assert.Equal(settings.Consumer.BootstrapServers, settings.Producer.BootstrapServers);
        Assert.Equal(Str(MountOf(scorer, "models")!, "mountPath"), env["STREAMFRAUD_Models__Registry"]); // the registry is the mounted volume
        _ = StackExchange.Redis.ConfigurationOptions.Parse(settings.RedisConfiguration); // the Secret's example parses

        // Credentials come from the Secret only: nothing credential-like in a ConfigMap.
        foreach (var configMap in objects.Where(o => Str(o, "kind") == "ConfigMap"))
        {
            Assert.All(Map(configMap, "data")!.Keys, key => Assert.False(StreamFraud.Clients.CredentialText.IsCredentialKey(key), $"{key} belongs in the Secret"));
            Assert.DoesNotContain(Map(configMap, "data")!.Keys, k => k.EndsWith("Redis__Configuration", StringComparison.Ordinal));
        }

        var gpu = Str(scorer, "resources", "limits", "nvidia.com/gpu");
        Assert.Equal(variant == "gpu" ? "1" : null, gpu);
        Assert.Equal(variant == "gpu" ? Scoring.Onnx.InferenceDevice.Cuda : Scoring.Onnx.InferenceDevice.Cpu, settings.Device);
        Assert.NotNull(deployment);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Autoscaling_TargetsTheDeployment_WithinThePartitions(string variant)
    {
        var objects = Build(variant);
        var (deployment, scorer) = Scorer(objects);
        var name = Str(deployment, "metadata", "name");
        var settings = ReadScorerSettings(Environment(scorer, objects.Concat(ExampleSecret()).ToList()), variant);
        var partitions = Topics.Defaults.Single(t => t.Name == settings.Scorer.InputTopic).Partitions;
        var scaled = objects.Where(o => Str(o, "kind") == "ScaledObject").ToList();
        var hpas = objects.Where(o => Str(o, "kind") == "HorizontalPodAutoscaler").ToList();
        Assert.Equal(variant is "keda" or "gpu" ? 1 : 0, scaled.Count);
        Assert.Equal(variant == "hpa" ? 1 : 0, hpas.Count);
        Assert.False(Map(deployment, "spec")!.ContainsKey("replicas"), "the autoscaler owns the replica count");

        foreach (var keda in scaled)
        {
            Assert.Equal(("Deployment", name), (Str(keda, "spec", "scaleTargetRef", "kind"), Str(keda, "spec", "scaleTargetRef", "name")));
            Assert.InRange(int.Parse(Str(keda, "spec", "maxReplicaCount")!, System.Globalization.CultureInfo.InvariantCulture), 2, partitions);
            var trigger = (Dictionary<string, object?>)Assert.Single(List(keda, "spec", "triggers"))!;
            Assert.Equal("kafka", Str(trigger, "type"));
            Assert.Equal(settings.Scorer.InputTopic, Str(trigger, "metadata", "topic"));
            Assert.Equal(settings.Consumer.GroupId, Str(trigger, "metadata", "consumerGroup"));
            Assert.Equal(settings.Consumer.BootstrapServers, Str(trigger, "metadata", "bootstrapServers"));
            Assert.True(long.Parse(Str(trigger, "metadata", "lagThreshold")!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        }

        foreach (var hpa in hpas)
        {
            Assert.Equal(("Deployment", name), (Str(hpa, "spec", "scaleTargetRef", "kind"), Str(hpa, "spec", "scaleTargetRef", "name")));
            Assert.InRange(int.Parse(Str(hpa, "spec", "maxReplicas")!, System.Globalization.CultureInfo.InvariantCulture), 2, partitions);
            Assert.NotNull(Str(scorer, "resources", "requests", "cpu")); // utilization is relative to the request
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ServiceBudgetAndProbes_MatchTheScorer(string variant)
    {
        var objects = Build(variant);
        var (deployment, scorer) = Scorer(objects);
        var labels = Map(deployment, "spec", "template", "metadata", "labels")!;
        bool Selects(Dictionary<string, object?>? selector) => selector is { Count: > 0 } && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && Equals(v, kv.Value));

        Assert.True(Selects(Map(deployment, "spec", "selector", "matchLabels")));
        var pdb = objects.Single(o => Str(o, "kind") == "PodDisruptionBudget");
        Assert.True(Selects(Map(pdb, "spec", "selector", "matchLabels")), "the PodDisruptionBudget selects no scorer pod");
        Assert.Equal("1", Str(pdb, "spec", "maxUnavailable"));
        var service = objects.Single(o => Str(o, "kind") == "Service");
        Assert.True(Selects(Map(service, "spec", "selector")));
        var ports = List(scorer, "ports").Cast<Dictionary<string, object?>>().Select(p => Str(p, "name")).ToList();
        Assert.All(List(service, "spec", "ports").Cast<Dictionary<string, object?>>(), p => Assert.Contains(Str(p, "targetPort"), ports));

        // The scorer listens only once the bundle is loaded and warmed up: a startup probe holds liveness back.
        Assert.Equal("/healthz", Str(scorer, "startupProbe", "httpGet", "path"));
        Assert.Equal("/healthz", Str(scorer, "livenessProbe", "httpGet", "path"));
        Assert.Equal("/readyz", Str(scorer, "readinessProbe", "httpGet", "path"));
        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            Assert.Contains(Str(scorer, probe, "httpGet", "port"), ports);
        }

        var startupSeconds = int.Parse(Str(scorer, "startupProbe", "periodSeconds")!, System.Globalization.CultureInfo.InvariantCulture)
            * int.Parse(Str(scorer, "startupProbe", "failureThreshold")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(startupSeconds >= 2 * Scoring.Bundles.BundleLoadOptions.DefaultLoadTimeout.TotalSeconds, $"startup probe gives up after {startupSeconds} s");
        Assert.Equal("true", Str(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/scrape"));
        foreach (var resource in new[] { "cpu", "memory" })
        {
            Assert.NotNull(Str(scorer, "resources", "requests", resource));
            Assert.NotNull(Str(scorer, "resources", "limits", resource));
        }
    }

    [Fact]
    public void Kustomizations_PinTheReleaseTag_AndOnlyTheSecretExampleIsOutsideThem()
    {
        var release = ReleaseTag();
        Assert.Matches(@"^\d+\.\d+\.\d+$", release);
        var built = new[] { "base", "keda", "hpa", "gpu" }.SelectMany(Build).Select(o => (Str(o, "kind"), Str(o, "metadata", "name"))).ToHashSet();
        foreach (var file in Directory.GetFiles(K8s, "*.yaml", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "kustomization.yaml"))
        {
            foreach (var doc in LoadDocuments(file))
            {
                foreach (var image in Containers(doc).Select(c => Str(c, "image")).OfType<string>())
                {
                    Assert.EndsWith(":" + release, image); // patches name no image
                }

                var relative = Path.GetRelativePath(K8s, file);
                if (relative is not ("secret.example.yaml" or "trainer-job.yaml"))
                {
                    Assert.Contains((Str(doc, "kind"), Str(doc, "metadata", "name")), built); // no manifest left out of every variant
                }
            }
        }
    }

    /// <summary>The release tag of the StreamFraud images (deploy/k8s/base/kustomization.yaml).</summary>
    internal static string ReleaseTag()
    {
        var kustomization = LoadDocuments(Path.Combine(K8s, "base", "kustomization.yaml")).Single();
        return List(kustomization, "images").Cast<Dictionary<string, object?>>().Single(i => Str(i, "name") == "streamfraud/scorer")["newTag"] as string
            ?? throw new InvalidDataException("no newTag for streamfraud/scorer");
    }

    /// <summary>
    /// Reads the scorer's settings from environment variables as the scorer does (<c>STREAMFRAUD_Section__Key</c> →
    /// <c>Section:Key</c>; every key one of the scorer's, or pending), with a temporary directory standing in for the
    /// registry volume; throws with the bad key's name when the scorer would refuse to start.
    /// </summary>
    internal static StreamFraud.Scorer.Settings ReadScorerSettings(IReadOnlyDictionary<string, string> environment, string where)
    {
        var values = environment.Where(kv => kv.Key.StartsWith("STREAMFRAUD_", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["STREAMFRAUD_".Length..].Replace("__", ":", StringComparison.Ordinal), kv => (string?)kv.Value);
        Assert.Equal(environment.Count(kv => kv.Key.StartsWith("STREAMFRAUD_", StringComparison.Ordinal)), values.Count);
        // librdkafka and Schema Registry client properties pass through (Kafka:Client|Consumer|Producer:*, SchemaRegistry:*).
        foreach (var key in values.Keys.Where(k => !new[] { "Kafka:Client:", "Kafka:Consumer:", "Kafka:Producer:", "SchemaRegistry:" }.Any(p => k.StartsWith(p, StringComparison.Ordinal)) || k == "SchemaRegistry:Url"))
        {
            Assert.True(StreamFraud.Scorer.ScorerHost.Help.Contains($"--{key}", StringComparison.Ordinal) || PendingKeys.Contains(key),
                $"{where}: {key} is not a scorer configuration key (see --help)");
        }

        var registry = Directory.CreateTempSubdirectory("sf-env-").FullName;
        try
        {
            values["Models:Registry"] = registry;
            return StreamFraud.Scorer.Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        }
        finally
        {
            Directory.Delete(registry);
        }
    }

    [Fact]
    public void PendingCredentialKeys_AreListedInTheDeployReadme()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "README.md"));
        foreach (var key in PendingKeys)
        {
            Assert.Contains($"STREAMFRAUD_{key.Replace(":", "__", StringComparison.Ordinal)}", readme);
        }
    }

    private static List<Dictionary<string, object?>> Build(string variant) => Kustomize(Path.Combine(K8s, variant));

    private static List<Dictionary<string, object?>> ExampleSecret() => LoadDocuments(Path.Combine(K8s, "secret.example.yaml"));

    private static (Dictionary<string, object?> Deployment, Dictionary<string, object?> Container) Scorer(List<Dictionary<string, object?>> objects)
    {
        var deployment = objects.Single(o => Str(o, "kind") == "Deployment");
        var container = List(PodSpec(deployment)!, "containers").Cast<Dictionary<string, object?>>().Single(c => Str(c, "name") == "scorer");
        return (deployment, container);
    }

    private static Dictionary<string, object?>? MountOf(Dictionary<string, object?> container, string volume) =>
        List(container, "volumeMounts").Cast<Dictionary<string, object?>>().SingleOrDefault(m => Str(m, "name") == volume);

    /// <summary>A container's environment as the kubelet builds it: envFrom ConfigMaps and Secrets, then env (literal or from a key), env winning.</summary>
    private static Dictionary<string, string> Environment(Dictionary<string, object?> container, List<Dictionary<string, object?>> defined)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in List(container, "envFrom").Cast<Dictionary<string, object?>>())
        {
            var (kind, name) = Str(source, "configMapRef", "name") is { } cm ? ("ConfigMap", cm) : ("Secret", Str(source, "secretRef", "name")!);
            foreach (var (key, value) in Data(Find(defined, kind, name)!))
            {
                env[key] = value;
            }
        }

        foreach (var variable in List(container, "env").Cast<Dictionary<string, object?>>())
        {
            var name = Str(variable, "name")!;
            env[name] = Str(variable, "value")
                ?? (Map(variable, "valueFrom", "secretKeyRef") is { } s ? Data(Find(defined, "Secret", Str(s, "name")!)!)[Str(s, "key")!]
                : Map(variable, "valueFrom", "configMapKeyRef") is { } c ? Data(Find(defined, "ConfigMap", Str(c, "name")!)!)[Str(c, "key")!]
                : throw new InvalidDataException($"{name}: no value"));
        }

        return env;
    }

    private static Dictionary<string, object?>? Find(List<Dictionary<string, object?>> objects, string kind, string name) =>
        objects.FirstOrDefault(o => Str(o, "kind") == kind && Str(o, "metadata", "name") == name);

    private static Dictionary<string, string> Data(Dictionary<string, object?> obj) =>
        (Map(obj, "data") ?? []).Concat(Map(obj, "stringData") ?? []).ToDictionary(kv => kv.Key, kv => (string)kv.Value!);

    private static void CheckPodReferences(List<Dictionary<string, object?>> pods, List<Dictionary<string, object?>> defined, string where)
    {
        bool Has(string kind, string name) => Find(defined, kind, name) is not null;
        var release = ReleaseTag();
        foreach (var obj in pods.Where(o => PodSpec(o) is not null))
        {
            var spec = PodSpec(obj)!;
            var what = $"{where}: {Str(obj, "kind")} {Str(obj, "metadata", "name") ?? Str(obj, "metadata", "generateName")}";
            Assert.Equal("true", Str(spec, "securityContext", "runAsNonRoot"));
            Assert.NotEqual("0", Str(spec, "securityContext", "runAsUser"));
            var volumes = List(spec, "volumes").Cast<Dictionary<string, object?>>().ToList();
            foreach (var volume in volumes)
            {
                if (Str(volume, "persistentVolumeClaim", "claimName") is { } claim)
                {
                    Assert.True(Has("PersistentVolumeClaim", claim), $"{what}: claim {claim} is not defined");
                }

                if (Str(volume, "secret", "secretName") is { } secret)
                {
                    Assert.True(Has("Secret", secret), $"{what}: Secret {secret} is not defined");
                }

                if (Str(volume, "configMap", "name") is { } configMap)
                {
                    Assert.True(Has("ConfigMap", configMap), $"{what}: ConfigMap {configMap} is not defined");
                }
            }

            foreach (var container in Containers(obj))
            {
                var image = Str(container, "image")!;
                Assert.Matches(@"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$", image);
                Assert.DoesNotContain(":latest", image, StringComparison.Ordinal);
                if (image.StartsWith("streamfraud/", StringComparison.Ordinal))
                {
                    Assert.EndsWith(":" + release, image);
                }

                Assert.Equal("true", Str(container, "securityContext", "readOnlyRootFilesystem"));
                Assert.Equal("false", Str(container, "securityContext", "allowPrivilegeEscalation"));
                Assert.Contains("ALL", Strings(container, "securityContext", "capabilities", "drop"));
                foreach (var mount in List(container, "volumeMounts").Cast<Dictionary<string, object?>>())
                {
                    Assert.Contains(Str(mount, "name"), volumes.Select(v => Str(v, "name")));
                }

                foreach (var source in List(container, "envFrom").Cast<Dictionary<string, object?>>())
                {
                    if (Str(source, "configMapRef", "name") is { } cm)
                    {
                        Assert.True(Has("ConfigMap", cm), $"{what}: ConfigMap {cm} is not defined");
                    }

                    if (Str(source, "secretRef", "name") is { } s)
                    {
                        Assert.True(Has("Secret", s), $"{what}: Secret {s} is not defined");
                    }
                }

                foreach (var variable in List(container, "env").Cast<Dictionary<string, object?>>())
                {
                    foreach (var (kind, reference) in new[] { ("Secret", Map(variable, "valueFrom", "secretKeyRef")), ("ConfigMap", Map(variable, "valueFrom", "configMapKeyRef")) })
                    {
                        if (reference is null)
                        {
                            continue;
                        }

                        var definition = Find(defined, kind, Str(reference, "name")!);
                        Assert.True(definition is not null, $"{what}: {kind} {Str(reference, "name")} is not defined");
                        Assert.True(Data(definition!).ContainsKey(Str(reference, "key")!), $"{what}: {kind} {Str(reference, "name")} has no key {Str(reference, "key")}");
                    }
                }
            }
        }
    }
}
