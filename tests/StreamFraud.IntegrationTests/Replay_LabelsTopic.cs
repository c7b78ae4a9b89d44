using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using StreamFraud.Contracts;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Replay;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;
using StreamFraud.Sim.Generation;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// A card v2 replay of a topic range reads the range's labels (and those that arrived before it) from the labels topic,
/// and merges the topic's partitions by event time: its report equals the replay of the same events from a CSV with
/// the same labels from a file.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Replay_LabelsTopic(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-replay-labels-topic-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task TopicRangeWithLabelsTopic_ReportEqualsCsvWithLabelsFile()
    {
        var events = new TransactionSimulator(new SimulationOptions
        {
            Cards = 60,
            Days = 40,
            Seed = 31,
            FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.012),
        }).Generate().ToList();
        var rng = new Random(2);
        var labels = events.Where(e => e.IsFraud == true)
            .Select(e => new TransactionLabel(e.TransactionId, e.CardId, e.MerchantId, e.EventTimeMs, e.EventTimeMs + 3_600_000 + rng.NextInt64(4 * 86_400_000L), true, LabelOrigin.Chargeback))
            .OrderBy(l => l.LabelTimeMs)
            .ToList();
        var registryDir = Path.Combine(_root, "registry");
        var registry = new BundleRegistry(registryDir);
        var staging = registry.CreateStagingDirectory();
        TinyBundle.Create(staging, "v2", events.Take(2000).ToList(), costMinThreshold: 0.3, spec: FeatureSpec.CardV2, labelFeed: LabelFeed.FromLabels(labels));
        registry.Publish(staging, "v2");

        using var sr = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var input = await stack.CreateTopicAsync("replay-v2-tx", 4);
        var labelsTopic = await stack.CreateTopicAsync("replay-v2-labels", 2);
        await stack.ProduceAsync(input, events, sr);
        using (var producer = new ProducerBuilder<string, FraudLabel>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true })
                   .SetValueSerializer(new AvroSerializer<FraudLabel>(sr).AsSyncOverAsync())
                   .Build())
        {
            foreach (var l in labels)
            {
                producer.Produce(labelsTopic, new Message<string, FraudLabel>
                {
                    Key = l.CardId, Value = FraudLabel.FromDomain(l), Timestamp = new Timestamp(l.LabelTimeMs, TimestampType.CreateTime),
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }

        var csv = Path.Combine(_root, "events.csv");
        CanonicalCsv.Write(csv, events);
        var labelsCsv = Path.Combine(_root, "labels.csv");
        LabelCsv.Write(labelsCsv, labels);
        var from = DateTimeOffset.FromUnixTimeMilliseconds(events[0].EventTimeMs).UtcDateTime.Date.AddDays(32);
        var to = from.AddDays(5);
        var quiet = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

        var topicReport = await ReplayCommand.RunAsync(new ReplayArgs
        {
            Registry = registryDir, Versions = ["v2"], Bootstrap = stack.Kafka, SchemaRegistry = stack.Registry, Topic = input,
            LabelsTopic = labelsTopic, From = from, To = to, Out = Path.Combine(_root, "topic-report"),
        }, quiet);
        var csvReport = await ReplayCommand.RunAsync(new ReplayArgs
        {
            Registry = registryDir, Versions = ["v2"], Input = csv, Labels = labelsCsv, From = from, To = to, Out = Path.Combine(_root, "csv-report"),
        }, quiet);

        var (a, b) = (topicReport.Versions[0], csvReport.Versions[0]);
        Assert.True(a.Events > 300, $"{a.Events} events in range");
        Assert.Equal((a.Events, a.Alerts, a.RocAuc, a.AveragePrecision), (b.Events, b.Alerts, b.RocAuc, b.AveragePrecision));
        Assert.Equal(a.ScoreHistogram, b.ScoreHistogram);
        Assert.Equal(a.ByLabels.Select(q => (q.Basis, q.Positives, q.AveragePrecision)), b.ByLabels.Select(q => (q.Basis, q.Positives, q.AveragePrecision)));
        var (la, lb) = (topicReport.Labels!, csvReport.Labels!);
        Assert.Equal("topic", la.Kind);
        Assert.Equal(labels.Count, la.Labels);
        Assert.Equal(lb.Outcomes, la.Outcomes);
        Assert.True(la.Outcomes["applied"] > 50, $"labels applied: {string.Join(", ", la.Outcomes)}");
        Assert.Equal((lb.Frauds, lb.LabelledAfterRange, lb.NotReached), (la.Frauds, la.LabelledAfterRange, la.NotReached));
        Assert.Equal(TimeSpan.FromDays(31), topicReport.Warmup);
    }
}
