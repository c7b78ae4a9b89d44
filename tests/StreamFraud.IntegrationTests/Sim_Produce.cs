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

/// <summary>The load driver sends exactly the simulated (or CSV) transactions, as Avro, keyed by card.</summary>
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
        var code = await SimApp.RunAsync(args, console, console, () => Stream.Null);
        return (code, writer.ToString());
    }

    private List<(string Key, Contracts.Transaction Value)> Consume(string topic, int count)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        using var consumer = new ConsumerBuilder<string, Contracts.Transaction>(new ConsumerConfig
            {
                BootstrapServers = stack.Kafka, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
            })
            .SetValueDeserializer(new AvroDeserializer<Contracts.Transaction>(registry).AsSyncOverAsync())
            .Build();
        consumer.Subscribe(topic);
        var result = new List<(string, Contracts.Transaction)>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is { IsPartitionEOF: false })
            {
                result.Add((r.Message.Key, r.Message.Value));
            }
        }

        var extra = consumer.Consume(TimeSpan.FromSeconds(1));
        Assert.Null(extra); // nothing beyond the expected count
        consumer.Close();
        return result;
    }
}
