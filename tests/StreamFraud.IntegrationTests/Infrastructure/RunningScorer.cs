using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// The scorer as a process with its HTTP endpoints on a free port, over fresh topics and a tiny promoted bundle
/// (<c>v1</c>), for tests that read <c>/metrics</c>. Disposing stops it with SIGTERM.
/// </summary>
internal sealed partial class RunningScorer : IDisposable
{
    private RunningScorer(ChildProcess process, HttpClient http, string input, string alerts)
    {
        Process = process;
        Http = http;
        Input = input;
        Alerts = alerts;
    }

    /// <summary>The scorer's process.</summary>
    public ChildProcess Process { get; }

    /// <summary>A client of its endpoints.</summary>
    public HttpClient Http { get; }

    /// <summary>Its input topic.</summary>
    public string Input { get; }

    /// <summary>Its alerts topic.</summary>
    public string Alerts { get; }

    /// <summary>Starts a scorer serving a tiny bundle trained on <paramref name="history"/>, and waits until it is ready (partitions assigned).</summary>
    public static async Task<RunningScorer> StartAsync(StackFixture stack, string root, string name, List<Core.Transaction> history, int partitions = 2, bool checkManaged = false)
    {
        var registryDir = ScorerRuns.PublishBundle(root, "v1", history, threshold: 0.4, checkManaged: checkManaged);
        var input = await stack.CreateTopicAsync($"{name}-tx", partitions);
        var alerts = await stack.CreateTopicAsync($"{name}-alerts", partitions);
        var port = FreePort();
        var process = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", $"{name}-{Guid.NewGuid():N}", "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis, "--Redis:KeyPrefix", $"{name}:{Guid.NewGuid():N}:",
            "--Models:Registry", registryDir, "--Models:ListenAnnouncements", "false", "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts,
            "--Scorer:Labels:Topic", await stack.CreateTopicAsync($"{name}-labels", 1), "--urls", $"http://127.0.0.1:{port}",
        ]);
        var scorer = new RunningScorer(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") }, input, alerts);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!await scorer.ReadyAsync())
            {
                Assert.False(process.HasExited, "the scorer exited:\n" + process.Output);
                Assert.True(DateTime.UtcNow < deadline, "never ready:\n" + process.Output);
                await Task.Delay(200);
            }

            return scorer;
        }
        catch
        {
            scorer.Dispose();
            throw;
        }
    }

    /// <summary>The metric names (series names without labels) of a Prometheus text exposition.</summary>
    public static HashSet<string> MetricNames(string exposition) =>
        exposition.Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => SeriesName().Match(l).Value)
            .Where(n => n.Length > 0)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The value of the first series of <paramref name="metric"/> whose labels contain every one of <paramref name="labels"/> (<c>name="value"</c>), or null.</summary>
    public static double? Value(string exposition, string metric, params string[] labels)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(metric, StringComparison.Ordinal) && line.Length > metric.Length && line[metric.Length] is '{' or ' '
                && labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            {
                var value = line[(line.LastIndexOf('}') is var close and >= 0 ? close + 1 : metric.Length)..].Trim().Split(' ')[0];
                return double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>The current <c>/metrics</c> text.</summary>
    public Task<string> ScrapeAsync() => Http.GetStringAsync("/metrics");

    /// <inheritdoc />
    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Terminate();
            Process.WaitForExit(TimeSpan.FromSeconds(30));
        }

        Process.Dispose();
        Http.Dispose();
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            return (await Http.GetAsync("/readyz")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false; // not listening yet: loading and warming the bundle
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SeriesName();
}
