using StreamFraud.Scoring.Lstm;
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
        var bootstrap = Str(args, "--bootstrap") ?? Environment.GetEnvironmentVariable("STREAMFRAUD_KAFKA_BOOTSTRAP") ?? "127.0.0.1:9092";
        var registryUrl = Str(args, "--schema-registry") ?? Environment.GetEnvironmentVariable("STREAMFRAUD_SCHEMA_REGISTRY_URL") ?? "http://127.0.0.1:8081";
        var redis = Str(args, "--redis") ?? Environment.GetEnvironmentVariable("STREAMFRAUD_REDIS") ?? "127.0.0.1:6379";
        var latencyEvents = Opt(args, "--latency-events", 10_000);
        var count = Opt(args, "--events", 80_000);
        var warmup = Opt(args, "--warmup-events", 100_000);
        var lstmThreads = Opt(args, "--lstm-threads", 0);
        var lstmPathText = Str(args, "--lstm-path") ?? "auto";
        if (!LstmPaths.TryParseChoice(lstmPathText, out var lstmPath))
        {
            throw new ArgumentException($"--lstm-path must be {LstmPaths.ChoiceList}, not '{lstmPathText}'.");
        }

        var batching = (Size: Opt(args, "--batch", 512), Timeout: TimeSpan.FromMilliseconds(Opt(args, "--batch-timeout-ms", (int)new ScorerOptions().BatchTimeout.TotalMilliseconds)));
        var spec = FeatureSpec.CardV1;
        var zeroSteps = (Str(args, "--zero-steps") ?? "skip") switch
        {
            "skip" => true,
            "run" => false,
            var other => throw new ArgumentException($"--zero-steps must be skip or run, not '{other}'."),
        };
        // The bundle is trained on at least 60k events (the first ones of a week hold too few frauds); the stream is the first --events.
        // The stream is --warmup-events unmeasured events (JIT tiering, group join, connections), then --events measured.
        // Tiering takes long here: with both cores scoring, the background JIT gets little CPU, and after 40,000 events it
        // still compiled for 14-21 us per event of the window; after 100,000, 0.5-2.3 (the "JIT in window" line says which).
        // The DevStack's mock broker keeps about 5 MB per partition (~190,000 of these events): more is refused below.
        var needed = Math.Max(warmup + count + latencyEvents, 60_000);
        List<StreamFraud.Core.Transaction> history = [];
        for (var days = 7; history.Count < needed && days <= 448; days *= 2) // a week of 20,000 cards holds ~210k events
        {
            history = new TransactionSimulator(new SimulationOptions { Cards = 20_000, Days = days, Seed = 3 }).Generate().Take(needed).ToList();
        }

        if (history.Count < needed)
        {
            throw new HarnessUsageException($"The generator gave {history.Count:N0} events; --warmup-events + --events + --latency-events ask for {needed:N0}.");
        }

        var events = history.Take(warmup + count).ToList();
        var dir = Directory.CreateTempSubdirectory("sf-e2e-bench-").FullName;
        var topic = $"bench-tx-{Guid.NewGuid():N}";
        try
        {
            using var bundle = ScoringHarness.BuildBundle(dir, spec, history, lstmPath: lstmPath, lstmThreads: lstmThreads);
            if (bundle.ManagedLstm is { } managed)
            {
                managed.SkipLeadingZeroSteps = zeroSteps;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bundle: spec {spec.Name} v{spec.Version}, LSTM path {bundle.LstmPath} on {bundle.LstmProvider} ({(lstmThreads > 0 ? lstmThreads : Environment.ProcessorCount)} threads), trees {bundle.Trees}, explanations on {bundle.Explainer.Name}"));
            using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
            using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 20 }).Build())
            {
                var serializer = new AvroSerializer<StreamFraud.Contracts.Transaction>(registry);
                foreach (var tx in events)
                {
                    var value = await serializer.SerializeAsync(StreamFraud.Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic));
                    producer.Produce(topic, new Message<string, byte[]> { Key = tx.CardId, Value = value });
                }

                var unsent = producer.Flush(TimeSpan.FromMinutes(2));
                if (unsent > 0)
                {
                    throw new InvalidOperationException($"{unsent:N0} of the {events.Count:N0} events were still undelivered to {bootstrap} after 2 minutes.");
                }
            }

            var (kept, dropped) = Kept(bootstrap, topic);
            if (dropped > 0)
            {
                throw new HarnessUsageException(string.Create(CultureInfo.InvariantCulture,
                    $"The broker kept {kept:N0} of the {events.Count:N0} events produced to {topic} (it dropped the oldest {dropped:N0}; librdkafka's mock broker, the DevStack's, keeps about 5 MB per partition), so the loop would wait for events that are gone. Ask for fewer --warmup-events + --events (about 190,000 fit in the DevStack's broker)."));
            }

            if (kept < events.Count)
            {
                throw new InvalidOperationException($"{topic} holds {kept:N0} events, {events.Count:N0} were produced and none dropped: a delivery failed.");
            }

            // The broker's own ceiling: a bare consumer in this process draining the same topic (no decoding, no scoring).
            var ceiling = DrainRate(bootstrap, topic, events.Count);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"broker: {bootstrap}; a bare consumer drains {ceiling:N0} events/s (the ceiling of any wall figure below)"));

            await using var mux = await ConnectionMultiplexer.ConnectAsync(redis);
            long consumed = 0, alerts = 0;
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name is "streamfraud.events.consumed" or "streamfraud.alerts.emitted")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "streamfraud.alerts.emitted")
                {
                    Interlocked.Add(ref alerts, value);
                }
                else
                {
                    Interlocked.Add(ref consumed, value);
                }
            });
            listener.Start();
            using var stages = new StageClock();

            using var metrics = new ScorerMetrics();
            using var loop = Loop(bootstrap, registry, mux, bundle, spec, topic, scoresTopic: null, batching, metrics);
            var rate = await Measure(count, () => Interlocked.Read(ref consumed), loop.Run, stages, warmup, () => Interlocked.Read(ref alerts));
            if (latencyEvents > 0)
            {
                await Latency(bootstrap, registry, mux, bundle, spec, history.Skip(events.Count).Take(latencyEvents).ToList(), batching, rate / 2);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The scorer's loop over <paramref name="topic"/> (a new group, from the start), its own Redis key prefix.</summary>
    private static ScoringLoop Loop(string bootstrap, CachedSchemaRegistryClient registry, ConnectionMultiplexer mux, ModelBundle bundle, FeatureSpec spec,
        string topic, string? scoresTopic, (int Size, TimeSpan Timeout) batching, ScorerMetrics metrics) => new(
        new ScoringLoopClients(
            new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-{Guid.NewGuid():N}", FetchWaitMaxMs = 20, AutoOffsetReset = AutoOffsetReset.Earliest },
            new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5 }, registry,
            new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"bench:{Guid.NewGuid():N}:" }),
            new FixedBundleSource(() => bundle), spec),
        new ScorerOptions { InputTopic = topic, AlertsTopic = topic + "-alerts", DlqTopic = topic + "-dlq", ScoresTopic = scoresTopic, BatchSize = batching.Size, BatchTimeout = batching.Timeout },
        new ScoringOptions(), NullLogger.Instance, metrics);

    /// <summary>Events a topic holds (high − low watermarks, summed over its partitions) and the ones it dropped (the lows).</summary>
    private static (long Kept, long Dropped) Kept(string bootstrap, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(30)).Topics.Single();
        if (metadata.Error.IsError)
        {
            throw new InvalidOperationException($"The broker at {bootstrap} gave no metadata for {topic}: {metadata.Error.Reason}.");
        }

        var partitions = metadata.Partitions;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-watermarks-{Guid.NewGuid():N}" }).Build();
        long kept = 0, dropped = 0;
        foreach (var partition in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition.PartitionId), TimeSpan.FromSeconds(30));
            kept += marks.High - marks.Low;
            dropped += marks.Low;
        }

        return (kept, dropped);
    }

    /// <summary>Events/s a plain consumer (new group, from the start) reads <paramref name="count"/> messages of <paramref name="topic"/> at.</summary>
    private static double DrainRate(string bootstrap, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"bench-ceiling-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false, FetchWaitMaxMs = 20,
        }).Build();
        consumer.Subscribe(topic);
        var read = 0;
        Stopwatch? clock = null;
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (read < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: not null })
            {
                clock ??= Stopwatch.StartNew(); // from the first message: assignment and connection time aside
                read++;
            }
        }

        consumer.Close();
        return clock is null ? 0 : read / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Per-event latency at a fixed rate: <paramref name="events"/> produced at <paramref name="rate"/> events/s (each
    /// stamped with its send time) into a new topic while the scorer's loop runs with a scores topic, which gets one
    /// record per scored event from the same publish as the alerts; latency = the score record's timestamp (set when
    /// the scorer produces it) − the transaction's.
    /// </summary>
    private static async Task Latency(string bootstrap, CachedSchemaRegistryClient registry, ConnectionMultiplexer mux, ModelBundle bundle, FeatureSpec spec,
        List<StreamFraud.Core.Transaction> events, (int Size, TimeSpan Timeout) batching, double rate)
    {
        var topic = $"bench-lat-{Guid.NewGuid():N}";
        var scores = topic + "-scores";
        var serializer = new AvroSerializer<StreamFraud.Contracts.Transaction>(registry);
        var values = new List<(string Key, byte[] Value)>(events.Count);
        foreach (var tx in events)
        {
            values.Add((tx.CardId, await serializer.SerializeAsync(StreamFraud.Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, topic))));
        }

        using var metrics = new ScorerMetrics();
        using var loop = Loop(bootstrap, registry, mux, bundle, spec, topic, scores, batching, metrics);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 1 }).Build();
        producer.Produce(topic, new Message<string, byte[]> { Key = values[0].Key, Value = values[0].Value }); // creates the topic
        producer.Flush(TimeSpan.FromSeconds(30));
        thread.Start();
        await Task.Delay(TimeSpan.FromSeconds(3)); // assignment and first fetch

        var sent = new Dictionary<string, long>(events.Count, StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        for (var i = 1; i < events.Count; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate);
            while (clock.Elapsed < due)
            {
                Thread.Sleep(1);
            }

            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            sent[events[i].TransactionId] = now;
            producer.Produce(topic, new Message<string, byte[]> { Key = values[i].Key, Value = values[i].Value, Timestamp = new Timestamp(now, TimestampType.CreateTime) });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        var latencies = new List<double>(events.Count);
        using (var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"bench-lat-read-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build())
        {
            consumer.Subscribe(scores);
            var deadline = DateTime.UtcNow.AddSeconds(120);
            var total = sent.Count;
            while (latencies.Count < total && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m }
                    && System.Text.Json.JsonDocument.Parse(m.Value).RootElement.GetProperty("transaction_id").GetString() is { } id
                    && sent.Remove(id, out var at))
                {
                    latencies.Add(m.Timestamp.UnixTimestampMs - at);
                }
            }

            consumer.Close();
        }

        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(30));
        latencies.Sort();
        double Pct(double p) => latencies.Count == 0 ? double.NaN : latencies[(int)Math.Min(latencies.Count - 1, Math.Floor(p * latencies.Count))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  latency          at {rate:N0} events/s (half the drain rate), {latencies.Count:N0} events: p50 {Pct(0.5):F0} ms, p99 {Pct(0.99):F0} ms, max {Pct(1):F0} ms (transaction timestamp → its score record's)"));
    }

    /// <summary>
    /// Runs the loop until <paramref name="warmup"/> + <paramref name="count"/> events were consumed; prints wall rate,
    /// CPU and allocations per event over the last <paramref name="count"/> (from the poll that saw the warm-up's
    /// last event; the loop runs on across it); returns the rate.
    /// </summary>
    internal static async Task<double> Measure(int count, Func<long> consumed, Action<CancellationToken> run, StageClock? stages = null, int warmup = 0, Func<long>? alerts = null)
    {
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => run(stop.Token)) { IsBackground = true };
        thread.Start();
        var deadline = Stopwatch.StartNew();
        while (consumed() < warmup && deadline.Elapsed < TimeSpan.FromMinutes(10))
        {
            await Task.Delay(1);
        }

        stages?.Reset();
        var alertsBefore = alerts?.Invoke() ?? 0;
        var start = consumed(); // a batch may cross the boundary: the figures are per event of the window actually measured
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        int[] gcBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var pauseBefore = GC.GetTotalPauseDuration();
        var jitBefore = (Methods: System.Runtime.JitInfo.GetCompiledMethodCount(), Time: System.Runtime.JitInfo.GetCompilationTime());
        var machineBefore = MachineTime.Read();
        var clock = Stopwatch.StartNew();
        while (consumed() < warmup + count && deadline.Elapsed < TimeSpan.FromMinutes(10))
        {
            await Task.Delay(5);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var measured = Math.Max(1, consumed() - start);
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / measured;
        var steal = MachineTime.StealSince(machineBefore);
        var allocated = (double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / measured;
        var total = consumed();
        var gcs = string.Create(CultureInfo.InvariantCulture,
            $"GCs gen0 {GC.CollectionCount(0) - gcBefore[0]}, gen1 {GC.CollectionCount(1) - gcBefore[1]}, gen2 {GC.CollectionCount(2) - gcBefore[2]}, paused {(GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds:F0} ms");
        var alerted = (alerts?.Invoke() ?? 0) - alertsBefore;
        var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Methods;
        var jitUs = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Time).TotalMicroseconds;
        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(30));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"end-to-end: {total:N0} of {warmup + count:N0} events consumed, the {measured:N0} after the first {start:N0} (warm-up) measured, {Environment.ProcessorCount} cores"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  throughput       {measured / seconds:N0} events/s (wall; the broker's ceiling is above), {alerted:N0} alerts"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  per event        {cpuUs:F1} CPU-us (this process: the scorer's loop), {allocated:F0} managed bytes allocated; {gcs}; {MachineTime.Format(steal)} of the machine's CPU time in the window (/proc/stat: a shared host's other guests; every figure reads slower with it)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  JIT in window    {jitMethods:N0} methods compiled, {jitUs / measured:F1} us per event compiling (JitInfo: elapsed time while compiling, an upper bound on its CPU; a few us or more: tiering is still at work inside the figure above, and a longer --warmup-events leaves it out)"));
        if (stages is not null)
        {
            // The loop thread's time per event by stage (streamfraud.stage.duration); the rest is polling, batching and bookkeeping.
            var parts = stages.Totals();
            var staged = parts.Values.Sum();
            var line = string.Join(", ", parts.OrderByDescending(p => p.Value).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value * 1e6 / measured:F1}")));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  loop thread      {seconds * 1e6 / measured:F1} us per event wall: {line}, outside the stages {(seconds - staged) * 1e6 / measured:F1}"));
        }

        return measured / seconds;
    }

    /// <summary>Sums <c>streamfraud.stage.duration</c> by stage.</summary>
    internal sealed class StageClock : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, double> _totals = [];

        public StageClock()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "streamfraud.stage.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                var stage = "?";
                foreach (var t in tags)
                {
                    if (t.Key == "stage")
                    {
                        stage = t.Value as string ?? "?";
                    }
                }

                lock (_totals)
                {
                    _totals[stage] = _totals.GetValueOrDefault(stage) + value;
                }
            });
            _listener.Start();
        }

        public void Reset()
        {
            lock (_totals)
            {
                _totals.Clear();
            }
        }

        public Dictionary<string, double> Totals()
        {
            lock (_totals)
            {
                return new Dictionary<string, double>(_totals);
            }
        }

        public void Dispose() => _listener.Dispose();
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
