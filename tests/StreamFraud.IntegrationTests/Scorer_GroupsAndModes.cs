using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Redis;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>Two instances in one group; exactly-once mode across crashes; a flood of malformed input.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_GroupsAndModes(StackFixture stack)
{
    [Fact]
    public async Task TwoInstancesInOneGroup_SplitPartitions_UnionOfAlertsEqualsSingleInstance()
    {
        using var scenario = ScorerScenario.Create("modes", seed: 51, cards: 200, events: 4000);
        await using var group = await GroupRun.StartAsync(this, stack, scenario, "two");
        group.Start();
        group.Start();
        var read = stack.ReadAlerts(group.Alerts, group.Registry, scenario.Expected.Count, TimeSpan.FromSeconds(120));
        Assert.Equal(scenario.Expected.Keys.Order(), read.Select(a => a.AlertId).Distinct().Order());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (group.Loops.Any(l => l.Assignment.Count == 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        // Both members own partitions, disjointly, covering the topic.
        var owned = group.Loops.Select(l => l.Assignment.Select(tp => tp.Partition.Value).ToHashSet()).ToList();
        Assert.All(owned, o => Assert.NotEmpty(o));
        Assert.Empty(owned[0].Intersect(owned[1]));
        Assert.Equal(4, owned[0].Count + owned[1].Count);
    }

    [Fact]
    public async Task SecondInstanceJoinsMidStream_RevokedWithABatchInFlight_NoAlertLost_EveryOffsetCommitted()
    {
        // One instance drains a backlog with overlapped batches (a batch is in flight at almost every poll); a second
        // joins the group mid-stream, so the first loses partitions while a batch is in flight. Its commits take 40 ms
        // more (at most 5,000 events/s), so the backlog outlasts the second member's join.
        using var scenario = ScorerScenario.Create("rebalance", seed: 57, cards: 1000, events: 30_000);
        await using var group = await GroupRun.StartAsync(this, stack, scenario, "join");
        var first = group.Start(commitDelay: TimeSpan.FromMilliseconds(40));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (first.OverlappedBatches < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.True(first.OverlappedBatches >= 2, "the first instance never overlapped two batches");
        group.Start();
        var read = stack.ReadAlerts(group.Alerts, group.Registry, scenario.Expected.Count, TimeSpan.FromSeconds(120));
        Assert.Equal(scenario.Expected.Keys.Order(), read.Select(a => a.AlertId).Distinct().Order());
        Assert.True(await ScorerRuns.WaitForCommitted(stack.Kafka, group.Group, group.Input, 4, scenario.Live.Count, TimeSpan.FromSeconds(60)), "the group did not commit every position");
        Assert.True(first.RevokedWithBatchInFlight > 0, $"no revocation met a batch in flight (overlapped {first.OverlappedBatches}, batches {first.Batches}); the test proved nothing");
        Assert.All(group.Loops, l => Assert.NotEmpty(l.Assignment));
    }

    [Fact]
    public async Task StoppedDuringAnOutage_TheBatchInFlightWrittenMeanwhile_IsCommitted_NotReadAgain()
    {
        // Redis starts failing reads while the member's third overlapped batch is being read, and the member is
        // stopped: the batch in flight is still written (its commit went out alongside the read), then the next
        // batch's read waits out the outage until the stop. The written batch's positions must be committed and only
        // the unread batch read again (before: both were given up, and the written one was redelivered).
        using var scenario = ScorerScenario.Create("stopflight", seed: 58, cards: 500, events: 5_000);
        await using var group = await GroupRun.StartAsync(this, stack, scenario, "stopflight");
        ReadsFailFromTheThirdOverlap? store = null;
        var loop = group.Start(wrap: inner => store = new ReadsFailFromTheThirdOverlap(inner));
        Assert.True(await Task.Run(() => store!.Reached.Wait(TimeSpan.FromSeconds(60))), "the third overlapped read never came");
        group.Stop(); // requested while the read is held; then the read fails, and every read after it
        store!.Release();
        Assert.True(group.Join(), "the member did not stop");

        // Every batch prepared before the failing read is written: batches before the one in flight, and that one.
        Assert.Equal(store.BatchesBeforeOutage, loop.Batches);
        Assert.Equal(store.EventsBeforeOutage, await ScorerRuns.Committed(stack.Kafka, group.Group, group.Input, 4));
    }

    /// <summary>
    /// A store whose third overlapped read is held until <see cref="Release"/> and then fails like a timed-out Redis
    /// read, as does every read after it; writes go through. It counts the batches prepared before.
    /// </summary>
    private sealed class ReadsFailFromTheThirdOverlap(IWindowStore inner) : IWindowStore
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _overlapped;

        public ManualResetEventSlim Reached { get; } = new();

        public long EventsBeforeOutage { get; private set; }

        public long BatchesBeforeOutage { get; private set; }

        public bool CanPrepareOnPending => inner.CanPrepareOnPending;

        public void Release() => _released.TrySetResult();

        public async Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
        {
            await FailOnceReachedAsync().ConfigureAwait(false);
            return Count(batch, await inner.PrepareAsync(batch, cancellationToken).ConfigureAwait(false));
        }

        public async Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default)
        {
            if (++_overlapped == 3)
            {
                Reached.Set();
            }

            await FailOnceReachedAsync().ConfigureAwait(false);
            return Count(batch, await inner.PrepareOnPendingAsync(batch, pending, cancellationToken).ConfigureAwait(false));
        }

        public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default) => inner.CommitAsync(writes, cancellationToken);

        public void ForgetCachedState() => inner.ForgetCachedState();

        private async Task FailOnceReachedAsync()
        {
            if (Reached.IsSet)
            {
                await _released.Task.ConfigureAwait(false);
                throw new TimeoutException("Redis read timed out (test)");
            }
        }

        private PreparedWrites Count(WindowBatch batch, PreparedWrites prepared)
        {
            EventsBeforeOutage += batch.Count;
            BatchesBeforeOutage++;
            return prepared;
        }
    }

    /// <summary>
    /// A scenario's events in a new 4-partition topic and members of one new group (at-least-once, one Redis key
    /// prefix) started on threads of their own; disposing stops and disposes them all.
    /// </summary>
    private sealed class GroupRun : IAsyncDisposable
    {
        private readonly Scorer_GroupsAndModes _test;
        private readonly ModelBundle _bundle;
        private readonly ConnectionMultiplexer _mux;
        private readonly string _prefix = $"group:{Guid.NewGuid():N}:";
        private readonly string _dlq;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Thread> _threads = [];

        private GroupRun(Scorer_GroupsAndModes test, ModelBundle bundle, ConnectionMultiplexer mux, CachedSchemaRegistryClient registry, string input, string alerts, string dlq)
        {
            (_test, _bundle, _mux, Registry, Input, Alerts, _dlq) = (test, bundle, mux, registry, input, alerts, dlq);
        }

        public CachedSchemaRegistryClient Registry { get; }

        public string Input { get; }

        public string Alerts { get; }

        public string Group { get; } = $"group-{Guid.NewGuid():N}";

        public List<ScoringLoop> Loops { get; } = [];

        public static async Task<GroupRun> StartAsync(Scorer_GroupsAndModes test, StackFixture stack, ScorerScenario scenario, string name)
        {
            var (input, alerts, dlq) = (await stack.CreateTopicAsync($"{name}-tx", 4), await stack.CreateTopicAsync($"{name}-alerts", 4), await stack.CreateTopicAsync($"{name}-dlq", 1));
            var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
            await stack.ProduceAsync(input, scenario.Live, registry);
            var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
            return new GroupRun(test, scenario.LoadBundle(warmupBatch: 8), mux, registry, input, alerts, dlq);
        }

        /// <summary>
        /// Starts one more member of the group (its commits delayed by <paramref name="commitDelay"/>, its store wrapped
        /// by <paramref name="wrap"/>).
        /// </summary>
        public ScoringLoop Start(TimeSpan commitDelay = default, Func<IWindowStore, IWindowStore>? wrap = null)
        {
            IWindowStore store = new RedisWindowStore(_mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = _prefix });
            if (commitDelay > TimeSpan.Zero)
            {
                store = new SlowCommits(store, commitDelay);
            }

            if (wrap is not null)
            {
                store = wrap(store);
            }

            var loop = _test.Loop(Group, Input, Alerts, _dlq, Registry, store, _bundle, exactlyOnce: false);
            Loops.Add(loop);
            var thread = new Thread(() => loop.Run(_stop.Token)) { IsBackground = true };
            _threads.Add(thread);
            thread.Start();
            return loop;
        }

        /// <summary>A store whose commits start <paramref name="delay"/> late; everything else is the inner store's (overlap included).</summary>
        private sealed class SlowCommits(IWindowStore inner, TimeSpan delay) : IWindowStore
        {
            public bool CanPrepareOnPending => inner.CanPrepareOnPending;

            public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) => inner.PrepareAsync(batch, cancellationToken);

            public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
                inner.PrepareOnPendingAsync(batch, pending, cancellationToken);

            public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                return await inner.CommitAsync(writes, cancellationToken).ConfigureAwait(false);
            }

            public void ForgetCachedState() => inner.ForgetCachedState();
        }

        /// <summary>Requests every member to stop (<see cref="Join"/> waits for them).</summary>
        public void Stop() => _stop.Cancel();

        /// <summary>Waits for every member's thread to end (at most 30 s each); false when one is still running.</summary>
        public bool Join() => _threads.Aggregate(true, (all, t) => t.Join(TimeSpan.FromSeconds(30)) && all);

        public async ValueTask DisposeAsync()
        {
            Stop();
            Join();
            Loops.ForEach(l => l.Dispose());
            _bundle.Dispose();
            Registry.Dispose();
            await _mux.DisposeAsync();
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task ExactlyOnce_SigKilledTwice_EveryAlertCommitted_NoDuplicatesOnARealBroker()
    {
        using var scenario = ScorerScenario.Create("modes", seed: 61, cards: 200, events: 6000, promote: true);
        var (_, live, expected) = scenario;
        var (input, alerts, dlq) = (await stack.CreateTopicAsync("eos-tx", 2), await stack.CreateTopicAsync("eos-alerts", 2), await stack.CreateTopicAsync("eos-dlq", 1));
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        await stack.ProduceAsync(input, live, registry);
        var group = $"eos-{Guid.NewGuid():N}";
        string[] args =
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", group, "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:session.timeout.ms", "6000", "--Kafka:Producer:transactional.id", $"eos-{Guid.NewGuid():N}",
            "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis, "--Redis:KeyPrefix", $"eos:{Guid.NewGuid():N}:",
            "--Models:Registry", scenario.Registry, "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alerts,
            "--Scorer:DlqTopic", dlq, "--Scorer:BatchSize", "150", "--Scorer:ExactlyOnce", "true", "--urls", "http://127.0.0.1:0",
        ];
        var logs = new List<string>();
        for (var kill = 0; kill < 2; kill++)
        {
            using var scorer = ChildProcess.Start("StreamFraud.Scorer", args);
            // Kill after this instance has committed a transaction of its own, mid-stream.
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (!scorer.Output.Contains("Assigned", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !scorer.HasExited)
            {
                await Task.Delay(100);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1000 + (kill * 700)));
            Assert.False(scorer.HasExited, scorer.Output);
            scorer.KillHard();
            logs.Add(scorer.Output);
        }

        using (var last = ChildProcess.Start("StreamFraud.Scorer", args))
        {
            var read = stack.ReadAlerts(alerts, registry, expected.Count, TimeSpan.FromSeconds(150));
            // Give a straggling duplicate time to show up before judging.
            await Task.Delay(TimeSpan.FromSeconds(3));
            read = stack.ReadAlerts(alerts, registry, expected.Count, TimeSpan.FromSeconds(30));
            last.Terminate();
            Assert.True(last.WaitForExit(TimeSpan.FromSeconds(30)), last.Output);
            var ids = read.Select(a => a.AlertId).ToList();
            var missing = expected.Keys.Except(ids).ToList();
            var extra = ids.Except(expected.Keys).ToList();
            if (missing.Count + extra.Count > 0)
            {
                // Say which transactions, where their cards' stored windows stand, and what each instance printed.
                logs.Add(last.Output);
                var detail = new StringBuilder();
                foreach (var id in missing.Take(10))
                {
                    var tx = live.First(t => t.TransactionId == expected[id].TransactionId);
                    detail.AppendLine(CultureInfo.InvariantCulture, $"missing {id}: card {tx.CardId}, txn {tx.TransactionId}, index {live.IndexOf(tx)} of {live.Count}");
                }

                for (var i = 0; i < logs.Count; i++)
                {
                    detail.AppendLine(CultureInfo.InvariantCulture, $"--- instance {i + 1} (last 4000 chars) ---").AppendLine(logs[i][Math.Max(0, logs[i].Length - 4000)..]);
                }

                Assert.Fail($"{missing.Count} missing, {extra.Count} extra of {expected.Count}\n{detail}");
            }

            // A repeated alert is the same decision (same score and window), from a transaction the kill aborted.
            foreach (var g in read.GroupBy(a => a.AlertId))
            {
                Assert.Single(g.Select(a => (Math.Round(a.Score, 9), a.WindowHash)).Distinct());
            }

            if (stack.Stack.Kafka is null)
            {
                // A real broker hides aborted transactions from read_committed: each alert exactly once.
                Assert.Equal(expected.Keys.Order(), ids.Order());
            }

            // (librdkafka's mock broker delivers aborted transactions to read_committed consumers too; see
            // KafkaMockCluster_Transactions. There, duplicates can only come from the killed, aborted transactions.)
        }
    }

    [Fact]
    public async Task TenThousandMalformed_AllInDlqWithReasons_EveryGoodEventScored()
    {
        using var scenario = ScorerScenario.Create("modes", seed: 71, cards: 200, events: 2000);
        var (_, live, expected) = scenario;
        using var bundle = scenario.LoadBundle(warmupBatch: 8);
        var (input, alerts, dlq) = (await stack.CreateTopicAsync("flood-tx", 2), await stack.CreateTopicAsync("flood-alerts", 2), await stack.CreateTopicAsync("flood-dlq", 1));
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var serializer = new AvroSerializer<Contracts.Transaction>(registry);
        var rng = new Random(3);
        var badByClass = new Dictionary<string, int>();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true, LingerMs = 20 }).Build())
        {
            var good = 0;
            for (var i = 0; i < 12_000; i++)
            {
                if (rng.Next(6) == 0 && good < live.Count || i >= 12_000 - (live.Count - good))
                {
                    var tx = live[good++];
                    producer.Produce(input, new Message<string, byte[]> { Key = tx.CardId, Value = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, input)) });
                    continue;
                }

                var (cls, value) = (i % 5) switch
                {
                    0 => (DlqErrorClass.Undecodable, Encoding.UTF8.GetBytes($"garbage {i}")),
                    1 => (DlqErrorClass.UnknownSchema, (byte[])[0, 0x7f, 0, 0, (byte)(i % 200), 1, 2]),
                    2 => (DlqErrorClass.InvalidValue, await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i % live.Count] with { TransactionId = $"nan-{i}", Amount = double.NaN }), new SerializationContext(MessageComponentType.Value, input))),
                    3 => (DlqErrorClass.InvalidValue, await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i % live.Count] with { TransactionId = $"future-{i}", EventTimeMs = DateTimeOffset.UtcNow.AddYears(5).ToUnixTimeMilliseconds() }), new SerializationContext(MessageComponentType.Value, input))),
                    _ => (DlqErrorClass.Undecodable, (await serializer.SerializeAsync(Contracts.Transaction.FromDomain(live[i % live.Count]), new SerializationContext(MessageComponentType.Value, input)))[..9]), // truncated body
                };
                badByClass[cls] = badByClass.GetValueOrDefault(cls) + 1;
                producer.Produce(input, new Message<string, byte[]> { Key = $"bad-{i}", Value = value });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
            Assert.Equal(live.Count, good);
        }

        // A schema the registry knows, but not a transaction: schema mismatch.
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka }).Build())
        {
            var otherId = await registry.RegisterSchemaAsync($"other-{Guid.NewGuid():N}-value",
                new Confluent.SchemaRegistry.Schema("""{"type":"record","name":"Other","namespace":"it","fields":[{"name":"x","type":"int"}]}""", Confluent.SchemaRegistry.SchemaType.Avro));
            for (var i = 0; i < 20; i++)
            {
                byte[] value = [0, (byte)(otherId >> 24), (byte)(otherId >> 16), (byte)(otherId >> 8), (byte)otherId, (byte)(i * 2)];
                producer.Produce(input, new Message<string, byte[]> { Key = $"other-{i}", Value = value });
                badByClass[DlqErrorClass.SchemaMismatch] = badByClass.GetValueOrDefault(DlqErrorClass.SchemaMismatch) + 1;
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        var bad = badByClass.Values.Sum();
        Assert.True(bad >= 10_000, $"{bad} malformed");
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        using var stop = new CancellationTokenSource();
        using var loop = Loop($"flood-{Guid.NewGuid():N}", input, alerts, dlq, registry,
            new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = $"flood:{Guid.NewGuid():N}:" }), bundle, exactlyOnce: false);
        var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        var dead = stack.ReadRaw(dlq, bad, TimeSpan.FromSeconds(120));
        var read = stack.ReadAlerts(alerts, registry, expected.Count, TimeSpan.FromSeconds(60));
        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(30));
        Assert.Equal(bad, dead.Count);
        var classes = dead.GroupBy(d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("error.class"))).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(badByClass.OrderBy(kv => kv.Key), classes.OrderBy(kv => kv.Key));
        Assert.Contains(dead, d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("error.reason")).Contains("amount NaN", StringComparison.Ordinal));
        Assert.Contains(dead, d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("error.reason")).Contains("event_time", StringComparison.Ordinal));
        Assert.Equal(expected.Keys.Order(), read.Select(a => a.AlertId).Distinct().Order());
    }

    private ScoringLoop Loop(string group, string input, string alerts, string dlq, ISchemaRegistryClient registry, IWindowStore store, ModelBundle bundle, bool exactlyOnce) =>
        new(
            new ScoringLoopClients(
                new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 500 },
                new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                registry, store, new FixedBundleSource(() => bundle), FeatureSpec.CardV1),
            new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = dlq, BatchSize = 200, ExactlyOnce = exactlyOnce },
            new ScoringOptions(), NullLogger.Instance, new ScorerMetrics());
}
