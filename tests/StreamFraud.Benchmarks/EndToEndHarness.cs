using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Sim.Generation;

/// <summary>
/// The scorer's whole Kafka path in this process — consume, decode, windows in Redis, models, alerts, produce, offsets —
/// against a broker, registry and Redis in another process (the DevStack app, or real services), so this process's
/// CPU time is the scorer's. Events are produced first; the clock and the CPU/allocation counters cover only the drain.
/// </summary>
internal static class EndToEndHarness
{
    public static async Task Run(string[] args)
    {
        var bootstrap = Str(args, "--bootstrap") ?? "127.0.0.1:9092";
        var registryUrl = Str(args, "--schema-registry") ?? "http://127.0.0.1:8081";
        var redis = Str(args, "--redis") ?? "127.0.0.1:6379";
        var count = Opt(args, "--events", 50_000);
        var batchSize = Opt(args, "--batch", 512);
        var spec = FeatureSpec.CardV1;
        // The bundle is trained on at least 60k events (the first ones of a week hold too few frauds); the stream is the first --events.
        var history = new TransactionSimulator(new SimulationOptions { Cards = 20_000, Days = 7, Seed = 3 }).Generate().Take(Math.Max(count, 60_000)).ToList();
        var events = history.Take(count).ToList();
        var dir = Directory.CreateTempSubdirectory("sf-e2e-bench-").FullName;
        var topic = $"bench-tx-{Guid.NewGuid():N}";
        try
        {
            using var bundle = ScoringHarness.BuildBundle(dir, spec, history);
            using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
            using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 20 }).Build())
            {
                var serializer = new AvroSerializer<StreamFraud.Contracts.Transaction>(registry);
                foreach (var tx in events)
                {
                    var value = await serializer.SerializeAsync(StreamFraud.Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
                    producer.Produce(topic, new Message<string, byte[]> { Key = tx.CardId, Value = value });
                }

                producer.Flush(TimeSpan.FromMinutes(2));
            }

            await using var mux = await ConnectionMultiplexer.ConnectAsync(redis);
            long consumed = 0;
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "streamfraud.events.consumed")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref consumed, value));
            listener.Start();

            using var metrics = new ScorerMetrics();
            using var loop = new ScoringLoop(
                new ScoringLoopClients(
                    new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-{Guid.NewGuid():N}", FetchWaitMaxMs = 20 },
                    new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5 }, registry,
                    new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"bench:{Guid.NewGuid():N}:" }),
                    new FixedBundleSource(() => bundle), spec),
                new ScorerOptions { InputTopic = topic, AlertsTopic = topic + "-alerts", DlqTopic = topic + "-dlq", BatchSize = batchSize },
                new ScoringOptions(), NullLogger.Instance, metrics);
            await Measure(count, () => Interlocked.Read(ref consumed), loop.Run);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs the loop until <paramref name="count"/> events were consumed; prints wall rate, CPU and allocations per event.</summary>
    internal static async Task Measure(int count, Func<long> consumed, Action<CancellationToken> run)
    {
        using var stop = new CancellationTokenSource();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var thread = new Thread(() => run(stop.Token)) { IsBackground = true };
        thread.Start();
        while (consumed() < count && clock.Elapsed < TimeSpan.FromMinutes(10))
        {
            await Task.Delay(20);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / count;
        var allocated = (double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / count;
        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(30));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"end-to-end: {consumed():N0} of {count:N0} events consumed, {Environment.ProcessorCount} cores"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  throughput       {count / seconds:N0} events/s (wall, broker-bound on the mock cluster)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  per event        {cpuUs:F1} CPU-us (this process: the scorer's loop), {allocated:F0} managed bytes allocated"));
    }

    private static int Opt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? Str(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
