using YamlDotNet.RepresentationModel;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// YAML as the deploy files use it: merge keys (<c>&lt;&lt;: *anchor</c>, docker-compose.yml) and Kubernetes manifests
/// as plain trees (dictionaries, lists, strings) with the subset of kustomize the manifests use — resources (files and
/// directories), strategic-merge patches and image tags — so tests can check the objects an apply would create.
/// </summary>
internal static class Yaml
{
    /// <summary>A copy of <paramref name="node"/> with every merge key (<c>&lt;&lt;</c>) expanded; local keys win.</summary>
    public static YamlNode ResolveMergeKeys(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var result = new YamlMappingNode();
                if (map.Children.TryGetValue(new YamlScalarNode("<<"), out var merged))
                {
                    var sources = merged is YamlSequenceNode many ? many.Children : [merged];
                    foreach (var source in sources)
                    {
                        foreach (var (key, value) in ((YamlMappingNode)ResolveMergeKeys(source)).Children)
                        {
                            result.Children[key] = value;
                        }
                    }
                }

                foreach (var (key, value) in map.Children)
                {
                    if (key is YamlScalarNode { Value: "<<" })
                    {
                        continue;
                    }

                    result.Children[key] = ResolveMergeKeys(value);
                }

                return result;
            case YamlSequenceNode seq:
                return new YamlSequenceNode(seq.Children.Select(ResolveMergeKeys));
            default:
                return node;
        }
    }

    /// <summary>Every document of a YAML file as a plain tree: <see cref="Dictionary{TKey,TValue}"/>, <see cref="List{T}"/>, string or null.</summary>
    public static List<Dictionary<string, object?>> LoadDocuments(string path)
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            yaml.Load(reader);
        }

        return yaml.Documents.Where(d => d.RootNode is YamlMappingNode).Select(d => (Dictionary<string, object?>)Plain(d.RootNode)!).ToList();
    }

    /// <summary>
    /// The objects <c>kubectl apply -k <paramref name="directory"/></c> would create: its kustomization's resources
    /// (files, and directories built the same way), then its strategic-merge patches (maps merged key by key, lists of
    /// named items merged by name, anything else replaced), then its image tags.
    /// </summary>
    public static List<Dictionary<string, object?>> Kustomize(string directory)
    {
        var kustomization = LoadDocuments(Path.Combine(directory, "kustomization.yaml")).Single();
        var objects = new List<Dictionary<string, object?>>();
        foreach (var resource in Strings(kustomization, "resources"))
        {
            var path = Path.GetFullPath(Path.Combine(directory, resource));
            objects.AddRange(Directory.Exists(path) ? Kustomize(path) : LoadDocuments(path));
        }

        foreach (var patch in List(kustomization, "patches").Cast<Dictionary<string, object?>>())
        {
            foreach (var change in LoadDocuments(Path.Combine(directory, (string)patch["path"]!)))
            {
                var target = objects.SingleOrDefault(o => Str(o, "kind") == Str(change, "kind") && Str(o, "metadata", "name") == Str(change, "metadata", "name"))
                    ?? throw new InvalidDataException($"{directory}: patch {patch["path"]} targets {Str(change, "kind")}/{Str(change, "metadata", "name")}, which the resources do not define");
                Merge(target, change);
            }
        }

        foreach (var image in List(kustomization, "images").Cast<Dictionary<string, object?>>())
        {
            foreach (var container in objects.SelectMany(Containers))
            {
                var name = ((string)container["image"]!).Split(':')[0];
                if (name == (string)image["name"]!)
                {
                    container["image"] = $"{name}:{image["newTag"]}";
                }
            }
        }

        return objects;
    }

    /// <summary>The pod template's spec of a Deployment or Job (null for other kinds).</summary>
    public static Dictionary<string, object?>? PodSpec(Dictionary<string, object?> obj) =>
        Str(obj, "kind") is "Deployment" or "Job" ? Map(obj, "spec", "template", "spec") : null;

    /// <summary>Containers and init containers of an object's pod template.</summary>
    public static IEnumerable<Dictionary<string, object?>> Containers(Dictionary<string, object?> obj) =>
        PodSpec(obj) is { } spec
            ? List(spec, "initContainers").Concat(List(spec, "containers")).Cast<Dictionary<string, object?>>()
            : [];

    /// <summary>The map at <paramref name="path"/>, or null.</summary>
    public static Dictionary<string, object?>? Map(Dictionary<string, object?> node, params string[] path) => Get(node, path) as Dictionary<string, object?>;

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? Str(Dictionary<string, object?> node, params string[] path) => Get(node, path) as string;

    /// <summary>The list at <paramref name="path"/>, or an empty one.</summary>
    public static List<object?> List(Dictionary<string, object?> node, params string[] path) => Get(node, path) as List<object?> ?? [];

    /// <summary>The strings of the list at <paramref name="path"/>.</summary>
    public static IEnumerable<string> Strings(Dictionary<string, object?> node, params string[] path) => List(node, path).Cast<string>();

    private static object? Get(Dictionary<string, object?> node, string[] path)
    {
        object? current = node;
        foreach (var key in path)
        {
            if (current is not Dictionary<string, object?> map || !map.TryGetValue(key, out current))
            {
                return null;
            }
        }

        return current;
    }

    private static void Merge(Dictionary<string, object?> target, Dictionary<string, object?> patch)
    {
        foreach (var (key, value) in patch)
        {
            if (target.TryGetValue(key, out var existing) && existing is Dictionary<string, object?> a && value is Dictionary<string, object?> b)
            {
                Merge(a, b);
            }
            else if (existing is List<object?> items && value is List<object?> changes && changes.All(Named) && items.All(Named))
            {
                foreach (var change in changes.Cast<Dictionary<string, object?>>())
                {
                    if (items.Cast<Dictionary<string, object?>>().FirstOrDefault(i => Str(i, "name") == Str(change, "name")) is { } item)
                    {
                        Merge(item, change);
                    }
                    else
                    {
                        items.Add(change);
                    }
                }
            }
            else
            {
                target[key] = value;
            }
        }

        static bool Named(object? item) => item is Dictionary<string, object?> d && d.ContainsKey("name");
    }

    private static object? Plain(YamlNode node) => node switch
    {
        YamlMappingNode map => map.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => Plain(kv.Value)),
        YamlSequenceNode seq => seq.Children.Select(Plain).ToList(),
        YamlScalarNode scalar => scalar.Value,
        _ => null,
    };
}
