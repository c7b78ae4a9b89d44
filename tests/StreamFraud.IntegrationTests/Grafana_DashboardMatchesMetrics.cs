using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.SchemaRegistry;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The provisioned Grafana dashboard (<c>deploy/grafana/dashboards</c>) queries only metrics a running scorer exports:
/// every metric name in every panel's PromQL and in the template variables appears in <c>/metrics</c> of a scorer that
/// has scored a few batches (histograms have series only after one).
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class Grafana_DashboardMatchesMetrics(StackFixture stack) : IDisposable
{
    private static readonly HashSet<string> PromQlKeywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN",
    };

    private readonly string _root = Directory.CreateTempSubdirectory("sf-grafana-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void MetricNamesOf_FindsSelectorsOnly()
    {
        Assert.Equal(["a_bucket"], MetricNamesOf("histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~\"$i\",y=\"z_total\"}[$__rate_interval])))"));
        Assert.Equal(["a_sum", "b_total", "c"], MetricNamesOf("sum by (stage) (rate(a_sum[5m])) / ignoring(stage) group_left sum(b_total) - scalar(c offset 1h) > bool 0"));
        Assert.Equal(["up"], MetricNamesOf("label_values(up, instance)"));
    }

    [Fact]
    public async Task EveryQueriedMetric_IsExportedByARunningScorer()
    {
        var queried = DashboardQueries().SelectMany(MetricNamesOf).ToHashSet(StringComparer.Ordinal);
        Assert.True(queried.Count >= 20, "too few metrics found in the dashboard: " + string.Join(", ", queried));

        var history = TinyBundle.Stream(seed: 93, cards: 30, count: 400);
        using var scorer = await RunningScorer.StartAsync(stack, _root, "grafana", history);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(scorer.Input, TinyBundle.Stream(seed: 94, cards: 30, count: 300, start: history[^1].EventTimeMs + 1000), registry);

        // Batch histograms (duration, stages, size, score) appear with the first finished batch, the per-partition lags
        // once each consumer has its positions.
        var metrics = await scorer.ScrapeAsync();
        var exported = RunningScorer.MetricNames(metrics);
        var missing = queried.Where(m => !exported.Contains(m)).Order(StringComparer.Ordinal).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (missing.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            metrics = await scorer.ScrapeAsync();
            exported = RunningScorer.MetricNames(metrics);
            missing = queried.Where(m => !exported.Contains(m)).Order(StringComparer.Ordinal).ToList();
        }

        Assert.True(RunningScorer.Value(metrics, "streamfraud_batch_duration_seconds_count") > 0, "no batch was scored:\n" + scorer.Process.Output);
        Assert.True(missing.Count == 0, $"queried by the dashboard but not exported: {string.Join(", ", missing)}\nexported: {string.Join(", ", exported.Order(StringComparer.Ordinal))}\n{scorer.Process.Output}");
    }

    [Fact]
    public void Panels_UseTheDatasourceVariable_AndProvisioningPointsAtTheDashboard()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath()));
        var root = dashboard.RootElement;
        Assert.Equal("streamfraud-scorer", root.GetProperty("uid").GetString());
        foreach (var panel in Panels(root).Where(p => p.GetProperty("type").GetString() != "row"))
        {
            var title = panel.GetProperty("title").GetString();
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.True(panel.GetProperty("targets").GetArrayLength() > 0, $"panel '{title}' has no query");
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                Assert.Equal("${datasource}", target.GetProperty("datasource").GetProperty("uid").GetString());
            }
        }

        // The provider reads the directory docker-compose mounts the dashboards at; the datasource is Prometheus.
        var provider = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "grafana", "provisioning", "dashboards", "streamfraud.yml"));
        Assert.Contains("path: /var/lib/grafana/dashboards", provider);
        var datasource = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"));
        Assert.Contains("type: prometheus", datasource);
        Assert.Contains("url: http://prometheus:9090", datasource);
    }

    /// <summary>
    /// Metric names in a PromQL expression: identifiers outside label matchers, range selectors, strings and grouping
    /// clauses that are not functions (followed by '(') nor keywords. <c>label_values(metric, label)</c> counts its metric.
    /// </summary>
    internal static List<string> MetricNamesOf(string expression)
    {
        var text = LabelValues().Replace(expression, "$1");
        text = Strings().Replace(text, " ");
        text = Matchers().Replace(text, " ");
        text = Ranges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        var names = new List<string>();
        foreach (Match m in Identifier().Matches(text))
        {
            var after = text[(m.Index + m.Length)..].TrimStart();
            if (!after.StartsWith('(') && !PromQlKeywords.Contains(m.Value) && !names.Contains(m.Value))
            {
                names.Add(m.Value);
            }
        }

        return names;
    }

    private static string DashboardPath() => Path.Combine(Repository.Root, "deploy", "grafana", "dashboards", "streamfraud.json");

    /// <summary>Every PromQL expression of the dashboard: panel targets (rows' nested panels too) and query variables.</summary>
    private static List<string> DashboardQueries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath()));
        var root = dashboard.RootElement;
        var queries = Panels(root)
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .ToList();
        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
        {
            var query = variable.GetProperty("query");
            queries.Add(query.ValueKind == JsonValueKind.String ? query.GetString()! : query.GetProperty("query").GetString()!);
        }

        return queries;
    }

    private static IEnumerable<JsonElement> Panels(JsonElement root)
    {
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in nested.EnumerateArray())
                {
                    yield return inner;
                }
            }
        }
    }

    [GeneratedRegex(@"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,[^)]*\)")]
    private static partial Regex LabelValues();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex("(?<![a-zA-Z0-9_:.$])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
