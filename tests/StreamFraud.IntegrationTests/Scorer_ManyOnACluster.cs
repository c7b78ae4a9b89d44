using Confluent.SchemaRegistry;
using StackExchange.Redis;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 13: three scorer processes in one consumer group over a Redis Cluster (3 primaries + 3 replicas); one is
/// SIGKILLed mid-stream and a fourth joins. Every alert of an independent offline computation is present, and an alert
/// delivered more than once is the same decision every time (same score, same window).
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_ManyOnACluster(StackFixture stack, RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task ThreeScorersOneKilledOneAdded_EveryAlertPresent_NoWindowScoredTwiceDifferently()
    {
        using var scenario = ScorerScenario.Create("many", seed: 71, cards: 400, events: 8000, promote: true);
        var (_, live, expected) = scenario;
        var (input, alerts, dlq) = (await stack.CreateTopicAsync("many-tx", 6), await stack.CreateTopicAsync("many-alerts", 6), await stack.CreateTopicAsync("many-dlq", 1));
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        // The first half now; the second once the added scorer owns partitions, so it has events to score.
        var half = live.Count / 2;
        await stack.ProduceAsync(input, live[..half], registry);
        var group = $"many-{Guid.NewGuid():N}";
        var prefix = $"many:{Guid.NewGuid():N}:";
        string[] args =
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "6000", "--SchemaRegistry:Url", stack.Registry,
            "--Redis:Configuration", cluster.Cluster.Configuration, "--Redis:KeyPrefix", prefix,
            "--Models:Registry", scenario.Registry, "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts,
            "--Scorer:DlqTopic", dlq, "--Scorer:BatchSize", "100", "--urls", "http://127.0.0.1:0",
        ];
        var scorers = Enumerable.Range(0, 3).Select(_ => ChildProcess.Start("StreamFraud.Scorer", args)).ToList();
        try
        {
            // Kill one after all three own partitions and it has scored some batches.
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (!scorers.All(s => s.Output.Contains("Assigned", StringComparison.Ordinal)) && DateTime.UtcNow < deadline && !scorers.Any(s => s.HasExited))
            {
                await Task.Delay(100);
            }

            Assert.All(scorers, s => Assert.Contains("Window store on Redis Cluster", s.Output, StringComparison.Ordinal));
            await Task.Delay(1500);
            Assert.All(scorers, s => Assert.False(s.HasExited, s.Output));
            scorers[0].KillHard();
            scorers.Add(ChildProcess.Start("StreamFraud.Scorer", args));
            deadline = DateTime.UtcNow.AddSeconds(120);
            while (!scorers[^1].Output.Contains("Assigned " + input, StringComparison.Ordinal) && DateTime.UtcNow < deadline && !scorers[^1].HasExited)
            {
                await Task.Delay(100);
            }

            Assert.True(scorers[^1].Output.Contains("Assigned " + input, StringComparison.Ordinal), scorers[^1].Output);
            await stack.ProduceAsync(input, live[half..], registry);

            var read = stack.ReadAlerts(alerts, registry, expected.Count, TimeSpan.FromSeconds(180));
            var ids = read.Select(a => a.AlertId).ToHashSet();
            var missing = expected.Keys.Where(k => !ids.Contains(k)).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} alerts missing\n" + string.Join("\n---\n", scorers.Select(s => s.Output[Math.Max(0, s.Output.Length - 3000)..])));
            Assert.Empty(ids.Except(expected.Keys));

            // Each alert, however often delivered, is the offline computation's decision on the same window.
            foreach (var g in read.GroupBy(a => a.AlertId))
            {
                var (score, hash, _) = expected[g.Key];
                Assert.All(g, a =>
                {
                    Assert.Equal(hash, a.WindowHash);
                    Assert.Equal(score, a.Score, 1e-6);
                });
            }

            // The states are spread over every primary.
            await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.Cluster.Configuration);
            foreach (var primary in await cluster.Cluster.PrimariesAsync())
            {
                var any = false;
                await foreach (var _ in mux.GetServer(primary).KeysAsync(pattern: prefix + "c:*", pageSize: 500))
                {
                    any = true;
                    break;
                }

                Assert.True(any, $"primary {primary} holds no card state");
            }
        }
        finally
        {
            foreach (var s in scorers)
            {
                if (!s.HasExited)
                {
                    s.Terminate();
                    s.WaitForExit(TimeSpan.FromSeconds(20));
                }

                s.Dispose();
            }
        }
    }
}
