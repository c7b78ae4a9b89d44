using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using StreamFraud.Core.Data;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Sim;
using StreamFraud.Sim.Generation;

namespace StreamFraud.IntegrationTests;

/// <summary>The load driver sends exactly the simulated (or CSV) transactions, as Avro, keyed by card, and with
/// <c>--labels</c> their fraud labels to the labels topic.</summary>
[Collection(StackCollection.Name)]
public sealed class Sim_Produce(StackFixture stack)
{
    [Fact]
    public async Task Produce_Simulated_ConsumerReadsEveryTransactionKeyedByCard()
    {
        var topic = await stack.CreateTopicAsync("sim-produce", partitions: 3);
        var (code, output) = await Run("produce", "--bootstrap", stack.Kafka, "--schema-registry", stack.Registry, "--topic", topic,
            "--cards", "60", "--days", "3", "--seed", "4");
        Assert.True(code == 0, output);

        // Independent evidence: the simulator's own stream for the same flags.
        var expected = new TransactionSimulator(new SimulationOptions { Cards = 60, Days = 3, Seed = 4 }).Generate().ToList();
        Assert.Contains($"{expected.Count:N0} delivered", output);
        var read = Consume(topic, expected.Count);
        Assert.Equal(expected.Count, read.Count);
        Assert.All(read, r => Assert.Equal(r.Key, r.Value.CardId));
        Assert.Equal(expected.Select(t => t.TransactionId).Order(), read.Select(r => r.Value.TransactionId).Order());
        var byId = expected.ToDictionary(t => t.TransactionId);
        foreach (var (_, value) in read)
        {
            Assert.Equal(byId[value.TransactionId] with { Features = null }, value.ToDomain() with { Features = null });
        }
    }

    [Fact]
    public async Task Produce_CsvWithLimit_SendsTheFirstRows()
    {
        var topic = await stack.CreateTopicAsync("sim-produce-csv", partitions: 1);
        var csv = Path.Combine(Path.GetTempPath(), $"sim-{Guid.NewGuid():N}.csv");
        var rows = new TransactionSimulator(new SimulationOptions { Cards = 30, Days = 2, Seed = 9 }).Generate().ToList();
        CanonicalCsv.Write(csv, rows);
        try
        {
            var (code, output) = await Run("produce", "--bootstrap", stack.Kafka, "--schema-registry", stack.Registry, "--topic", topic,
                "--input", csv, "--limit", "25");
            Assert.True(code == 0, output);
            var read = Consume(topic, 25);
            Assert.Equal(rows.Take(25).Select(t => t.TransactionId), read.Select(r => r.Value.TransactionId)); // one partition: file order
        }
        finally
        {
            File.Delete(csv);
        }
    }

    [Fact]
    public async Task Produce_SimulatedWithLabels_LabelsTopicHoldsTheRunsLabelsInLabelTimeOrderKeyedByCard()
    {
        var topic = await stack.CreateTopicAsync("sim-produce-tx", partitions: 3);
        var labelsTopic = await stack.CreateTopicAsync("sim-produce-labels", partitions: 1);
        var (code, output) = await Run("produce", "--bootstrap", stack.Kafka, "--schema-registry", stack.Registry, "--topic", topic,
            "--cards", "120", "--days", "10", "--seed", "4", "--fraud-rate", "all=0.5%", "--labels", "--labels-topic", labelsTopic);
        Assert.True(code == 0, output);

        // Independent evidence: the simulator's transactions and the label simulator's verdicts for the same flags.
        var options = new SimulationOptions { Cards = 120, Days = 10, Seed = 4, FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.005) };
        var transactions = new TransactionSimulator(options).Generate().ToList();
        var simulator = new LabelSimulator(4);
        transactions.ForEach(simulator.Observe);
        var expected = simulator.TakeAll().ToList();
        Assert.True(expected.Count >= 20, $"only {expected.Count} labels");
        Assert.Contains(expected, l => l.LabelTimeMs > transactions[^1].EventTimeMs); // some come after the last transaction
        Assert.Contains($"{transactions.Count:N0} delivered", output);
        Assert.Contains($"{expected.Count:N0} labels delivered, 0 failed, to {labelsTopic}", output);

        // A real consumer with the Avro deserializer; one partition, so the order is the order they were sent in.
        var read = Consume<Contracts.FraudLabel>(labelsTopic, expected.Count);
        Assert.Equal(expected, read.Select(r => r.Value.ToDomain()));
        Assert.All(read, r => Assert.Equal(r.Key, r.Value.CardId));
        Assert.All(read, r => Assert.Equal(r.Value.LabelTimeMs, r.Timestamp));
        Assert.Equal(transactions.Count, Consume<Contracts.Transaction>(topic, transactions.Count).Count);
    }

    [Fact]
    public async Task Produce_CsvWithLabelsInputAndLimit_SendsTheLabelsOfTheSentTransactions()
    {
        var topic = await stack.CreateTopicAsync("sim-produce-csv-tx", partitions: 1);
        var labelsTopic = await stack.CreateTopicAsync("sim-produce-csv-labels", partitions: 1);
        var csv = Path.Combine(Path.GetTempPath(), $"sim-{Guid.NewGuid():N}.csv");
        var labelsCsv = Path.Combine(Path.GetTempPath(), $"sim-labels-{Guid.NewGuid():N}.csv");
        var options = new SimulationOptions { Cards = 80, Days = 8, Seed = 9, FraudRates = FraudScenarios.All.ToDictionary(s => s, _ => 0.01) };
        var rows = new TransactionSimulator(options).Generate().ToList();
        var simulator = new LabelSimulator(9);
        rows.ForEach(simulator.Observe);
        var labels = simulator.TakeAll().ToList();
        CanonicalCsv.Write(csv, rows);
        LabelCsv.Write(labelsCsv, labels);
        var limit = rows.Count / 2;
        try
        {
            var (code, output) = await Run("produce", "--bootstrap", stack.Kafka, "--schema-registry", stack.Registry, "--topic", topic,
                "--input", csv, "--labels-input", labelsCsv, "--labels-topic", labelsTopic, "--limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(code == 0, output);

            // The labels of the transactions sent, in label-time order; the others are left out and counted.
            var lastSent = rows[limit - 1].EventTimeMs;
            var expected = labels.Where(l => l.EventTimeMs <= lastSent).ToList();
            Assert.NotEmpty(expected);
            Assert.True(expected.Count < labels.Count);
            Assert.Contains($"({labels.Count - expected.Count:N0} labels of transactions not sent were left out)", output);
            var read = Consume<Contracts.FraudLabel>(labelsTopic, expected.Count);
            Assert.Equal(expected, read.Select(r => r.Value.ToDomain()));
        }
        finally
        {
            File.Delete(csv);
            File.Delete(labelsCsv);
        }
    }

    [Fact]
    public async Task Produce_MissingInputOrBothPacings_ExitsWithUsage()
    {
        var (code, output) = await Run("produce", "--input", "/nonexistent/x.csv");
        Assert.Equal(2, code);
        Assert.Contains("--input", output);
        (code, output) = await Run("produce", "--rate", "10", "--realtime");
        Assert.Equal(2, code);
        Assert.Contains("--rate and --realtime", output);
    }

    private static async Task<(int Code, string Output)> Run(params string[] args)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        console.Profile.Width = 250; // report lines unwrapped
        var code = await SimApp.RunAsync(args, console, console, () => Stream.Null);
        return (code, writer.ToString());
    }

    private List<(string Key, Contracts.Transaction Value)> Consume(string topic, int count) =>
        Consume<Contracts.Transaction>(topic, count).Select(r => (r.Key, r.Value)).ToList();

    private List<(string Key, T Value, long Timestamp)> Consume<T>(string topic, int count)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        using var consumer = new ConsumerBuilder<string, T>(new ConsumerConfig
            {
                BootstrapServers = stack.Kafka, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
            })
            .SetValueDeserializer(new AvroDeserializer<T>(registry).AsSyncOverAsync())
            .Build();
        consumer.Subscribe(topic);
        var result = new List<(string, T, long)>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add((r.Message.Key, r.Message.Value, r.Message.Timestamp.UnixTimestampMs));
            }
        }

        var extra = consumer.Consume(TimeSpan.FromSeconds(1));
        Assert.Null(extra); // nothing beyond the expected count
        consumer.Close();
        return result;
    }
}
