using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Quality;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Labels;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 12: the scorer's label consumer on the mock cluster, the in-process registry and a real redis-server. Labels
/// change the label store; bad and conflicting ones reach <c>fraud-labels.dlq</c> with the transaction DLQ's headers; a
/// redelivered label changes nothing; a labels outage never stops scoring; live-quality counts equal a hand count of a
/// scripted set of alerts and labels. The label store is the Redis store (records and rings read back from Redis) and,
/// for comparison, the in-memory one; decision records are in the real Redis.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_Labels(StackFixture stack)
{
    private const long Day = 86_400_000;
    private const long T0 = 1_767_225_600_000; // 2026-01-01

    [Theory]
    [InlineData("redis")]
    [InlineData("memory")]
    public async Task Labels_AppliedThroughTheStore_BadOnesDeadLetteredWithHeaders_RedeliveryChangesNothing(string storeKind)
    {
        var topic = await stack.CreateTopicAsync("labels", 1); // one partition: the conflicting label comes after the one it conflicts with
        var dlq = await stack.CreateTopicAsync("labels-dlq", 1);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });

        var a = new TransactionLabel("tx-a", "card-1", "m-1", T0, T0 + (2 * Day), IsFraud: true, LabelOrigin.Chargeback, 120);
        var b = new TransactionLabel("tx-b", "card-2", "m-1", T0 + 3_600_000, T0 + (3 * Day), IsFraud: true, LabelOrigin.Analyst);
        var c = new TransactionLabel("tx-c", "card-1", "m-2", T0 + 7_200_000, T0 + Day, IsFraud: false, LabelOrigin.CustomerClaim);
        var labels = new (string Name, TransactionLabel Label)[]
        {
            ("a", a),
            ("b", b),
            ("c", c),
            ("a again", a with { LabelTimeMs = a.LabelTimeMs + Day, Origin = LabelOrigin.Analyst }), // duplicate: same verdict, another source
            ("b flipped", b with { LabelTimeMs = b.LabelTimeMs + Day, IsFraud = false }),
            ("a, other card", a with { CardId = "card-9", LabelTimeMs = a.LabelTimeMs + (2 * Day) }), // conflicting
            ("label before its transaction", new TransactionLabel("tx-d", "card-3", "m-1", T0, T0 - 1000, IsFraud: true)), // invalid
            ("stale", new TransactionLabel("tx-e", "card-3", "m-3", T0, T0 + (31 * Day), IsFraud: true)),
        };
        var serializer = new AvroSerializer<Contracts.FraudLabel>(registry);
        var messages = new List<(string Name, byte[]? Key, byte[] Value)>();
        foreach (var (name, label) in labels)
        {
            var value = await serializer.SerializeAsync(LabelRecords.ToRecord(label), new SerializationContext(MessageComponentType.Value, topic));
            messages.Add((name, Encoding.UTF8.GetBytes(label.CardId), value));
        }

        messages.Add(("not avro", [1, 2], Encoding.UTF8.GetBytes("not a label")));
        messages.Add(("trailing byte", Encoding.UTF8.GetBytes("card-1"), [.. messages[0].Value, 0x02]));
        var offsets = await ProduceAsync(topic, messages.Select(m => (m.Key, m.Value)));

        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var redis = new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = $"labels:{Guid.NewGuid():N}:" });
        var memory = new InMemoryWindowStore(FeatureSpec.CardV1);
        ILabelStore store = storeKind == "redis" ? redis : memory;
        LabelRecord? Record(string tx) => storeKind == "redis"
            ? RedisWindowStore.ParseRecord(mux.GetDatabase().StringGet(redis.Key(tx, KeyKind.Label)))
            : memory.Risk.FindLabel(tx);
        uint? Frauds(RiskEntity entity, string id, uint day)
        {
            if (storeKind == "memory")
            {
                return memory.Risk.Find(entity, id)?.Frauds(day);
            }

            var bytes = (byte[]?)mux.GetDatabase().StringGet(redis.Key(id, entity == RiskEntity.Merchant ? KeyKind.MerchantRisk : KeyKind.CardRisk));
            var ring = new RiskRing();
            return bytes is null ? null : ring.Load(bytes) ? ring.Frauds(day) : throw new InvalidDataException($"ring of {id} does not load");
        }

        using var metrics = new ScorerMetrics();
        using var recorder = new Recorder(metrics.LabelOutcomes, metrics.LabelsDlq);
        var group = $"labels-{Guid.NewGuid():N}";
        await RunLabelsAsync(topic, dlq, group, store, metrics, until: loop => Committed(loop.Group, topic) == messages.Count);

        // The store holds what the valid labels say, each counted once: tx-a fraud (its duplicate and the
        // conflicting label changed nothing), tx-b flipped back to legitimate, tx-c legitimate, the stale one ignored.
        Assert.Equal(new LabelRecord(true, a.LabelTimeMs + Day, LabelRules.ContentHash(a)), Record("tx-a"));
        Assert.Equal(new LabelRecord(false, b.LabelTimeMs + Day, LabelRules.ContentHash(b)), Record("tx-b"));
        Assert.False(Record("tx-c")!.Value.IsFraud);
        Assert.Null(Record("tx-d"));
        Assert.Null(Record("tx-e"));
        var day = RiskRing.Stamp(T0);
        Assert.Equal(1u, Frauds(RiskEntity.Merchant, "m-1", day)); // a (b flipped back)
        Assert.Equal(1u, Frauds(RiskEntity.Card, "card-1", day));
        Assert.Equal(0u, Frauds(RiskEntity.Card, "card-2", day) ?? 0);
        Assert.Null(Frauds(RiskEntity.Card, "card-9", day));
        Assert.Equal(1, recorder.Sum(metrics.LabelOutcomes, "duplicate"));
        Assert.Equal(3, recorder.Sum(metrics.LabelOutcomes, "applied"));
        Assert.Equal(1, recorder.Sum(metrics.LabelOutcomes, "flipped"));
        Assert.Equal(1, recorder.Sum(metrics.LabelOutcomes, "conflicting"));
        Assert.Equal(1, recorder.Sum(metrics.LabelOutcomes, "stale"));
        Assert.Equal(2, recorder.Sum(metrics.LabelsDlq, DlqErrorClass.Undecodable));
        Assert.Equal(1, recorder.Sum(metrics.LabelsDlq, DlqErrorClass.InvalidValue));
        Assert.Equal(1, recorder.Sum(metrics.LabelsDlq, DlqErrorClass.ConflictingLabel));

        // Four dead letters: the original key and value, and the transaction DLQ's headers naming the source.
        var dead = stack.ReadRaw(dlq, 4, TimeSpan.FromSeconds(30));
        Assert.Equal(4, dead.Count);
        var expectedClasses = new Dictionary<string, string>
        {
            ["a, other card"] = DlqErrorClass.ConflictingLabel,
            ["label before its transaction"] = DlqErrorClass.InvalidValue,
            ["not avro"] = DlqErrorClass.Undecodable,
            ["trailing byte"] = DlqErrorClass.Undecodable,
        };
        foreach (var (name, errorClass) in expectedClasses)
        {
            var i = messages.FindIndex(m => m.Name == name);
            var d = Assert.Single(dead, r => Header(r, "source.offset") == offsets[i].ToString(CultureInfo.InvariantCulture));
            Assert.Equal(errorClass, Header(d, "error.class"));
            Assert.Equal(topic, Header(d, "source.topic"));
            Assert.Equal("0", Header(d, "source.partition"));
            Assert.False(string.IsNullOrWhiteSpace(Header(d, "error.reason")));
            Assert.True(DateTimeOffset.TryParse(Header(d, "error.time"), CultureInfo.InvariantCulture, out var at) && at > DateTimeOffset.UtcNow.AddMinutes(-5));
            Assert.Equal(messages[i].Value, d.Message.Value);
            Assert.Equal(messages[i].Key, d.Message.Key);
        }

        Assert.Contains("before event_time", Header(dead.Single(r => Header(r, "error.class") == DlqErrorClass.InvalidValue), "error.reason"), StringComparison.Ordinal);
        Assert.Contains("'tx-a'", Header(dead.Single(r => Header(r, "error.class") == DlqErrorClass.ConflictingLabel), "error.reason"), StringComparison.Ordinal);

        // Everything again (a new group reads from the start, as after a crash before the offsets were committed):
        // the store's counts do not move.
        var again = $"labels-again-{Guid.NewGuid():N}";
        await RunLabelsAsync(topic, dlq, again, store, metrics, until: loop => Committed(loop.Group, topic) == messages.Count);
        Assert.Equal(1u, Frauds(RiskEntity.Merchant, "m-1", day));
        Assert.Equal(1u, Frauds(RiskEntity.Card, "card-1", day));
        Assert.Equal(0u, Frauds(RiskEntity.Card, "card-2", day) ?? 0);
        Assert.Equal(new LabelRecord(true, a.LabelTimeMs + Day, LabelRules.ContentHash(a)), Record("tx-a"));
        Assert.Equal(3, recorder.Sum(metrics.LabelOutcomes, "applied"));
        Assert.Equal(1, recorder.Sum(metrics.LabelOutcomes, "flipped"));
    }

    /// <summary>
    /// A scripted set of alerts and labels: the scorer scores a stream (decision records of its alerts in Redis), then
    /// labels arrive — confirmed frauds and legitimate verdicts on alerted and not alerted transactions, flips both
    /// ways, a redelivered batch. The per-version counts equal a hand count.
    /// </summary>
    [Fact]
    public async Task LiveQuality_ScriptedAlertsAndLabels_CountsEqualAHandCount()
    {
        using var scenario = ScorerScenario.Create("quality", seed: 121, cards: 60, events: 1200);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var input = await stack.CreateTopicAsync("quality-tx", 2);
        var alertsTopic = await stack.CreateTopicAsync("quality-alerts", 2);
        var labelsTopic = await stack.CreateTopicAsync("quality-labels", 2);
        var labelsDlq = await stack.CreateTopicAsync("quality-labels-dlq", 1);
        await stack.ProduceAsync(input, scenario.Live, registry);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"quality:{Guid.NewGuid():N}:";
        var decisions = new RedisDecisionLog(mux.GetDatabase(), new RedisDecisionLogOptions { KeyPrefix = prefix });
        using var metrics = new ScorerMetrics();

        using (var scoring = StartScoring(input, alertsTopic, prefix, bundle, registry, mux, metrics, decisions))
        {
            var read = stack.ReadAlerts(alertsTopic, registry, scenario.Expected.Count, TimeSpan.FromSeconds(90));
            Assert.Equal(scenario.Expected.Keys.Order(), read.Select(x => x.AlertId).Distinct().Order());
        }

        // Every alert has its decision record, with the alert's version, score and threshold, kept 40 days.
        var byTx = scenario.Live.ToDictionary(t => t.TransactionId);
        var alerted = scenario.Expected.Values.Select(e => e.TransactionId).Order(StringComparer.Ordinal).ToList();
        Assert.True(alerted.Count >= 10, $"{alerted.Count} alerts: too few for the script");
        var records = await decisions.ReadAsync(alerted);
        for (var i = 0; i < alerted.Count; i++)
        {
            var r = records[i];
            Assert.NotNull(r);
            Assert.True(r.Alerted);
            Assert.Equal(("v1", byTx[alerted[i]].CardId), (r.ModelVersion, r.CardId));
            Assert.Equal(scenario.Expected.Values.Single(e => e.TransactionId == alerted[i]).Score, r.Score, 1e-5);
            Assert.Equal(ScorerScenario.Threshold, r.Threshold, 1e-9);
        }

        var ttl = await mux.GetDatabase().KeyTimeToLiveAsync(decisions.Key(alerted[0]));
        Assert.InRange(ttl!.Value, TimeSpan.FromDays(39.9), TimeSpan.FromDays(40));

        // The script. Alerted: 5 confirmed frauds (TP), 3 confirmed legitimate (FP), 2 frauds flipped to legitimate
        // (TP retracted, FP). Not alerted: 4 frauds (FN), 2 legitimate (TN), 1 fraud flipped to legitimate (FN
        // retracted, TN). Then the 5 TP labels again (a redelivery): nothing moves.
        var quiet = scenario.Live.Select(t => t.TransactionId).Where(id => !alerted.Contains(id)).Take(7).ToList();
        TransactionLabel Label(string tx, bool fraud, long after = Day) =>
            new(tx, byTx[tx].CardId, byTx[tx].MerchantId, byTx[tx].EventTimeMs, byTx[tx].EventTimeMs + after, fraud, LabelOrigin.Chargeback);
        var script = new List<TransactionLabel>();
        script.AddRange(alerted.Take(5).Select(tx => Label(tx, true)));
        script.AddRange(alerted.Skip(5).Take(3).Select(tx => Label(tx, false)));
        script.AddRange(alerted.Skip(8).Take(2).SelectMany(tx => new[] { Label(tx, true), Label(tx, false, 2 * Day) }));
        script.AddRange(quiet.Take(4).Select(tx => Label(tx, true)));
        script.AddRange(quiet.Skip(4).Take(2).Select(tx => Label(tx, false)));
        script.Add(Label(quiet[6], true));
        script.Add(Label(quiet[6], false, 2 * Day));
        script.AddRange(alerted.Take(5).Select(tx => Label(tx, true)));
        var serializer = new AvroSerializer<Contracts.FraudLabel>(registry);
        var values = new List<(byte[]?, byte[])>();
        foreach (var label in script)
        {
            values.Add((Encoding.UTF8.GetBytes(label.CardId),
                await serializer.SerializeAsync(LabelRecords.ToRecord(label), new SerializationContext(MessageComponentType.Value, labelsTopic))));
        }

        await ProduceAsync(labelsTopic, values);
        using var recorder = new Recorder(metrics.QualityResults, metrics.QualityRetractions);
        var group = $"quality-labels-{Guid.NewGuid():N}";
        var labelStore = new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = prefix });
        await RunLabelsAsync(labelsTopic, labelsDlq, group, labelStore, metrics, decisions, until: loop => Committed(loop.Group, labelsTopic, 2) == script.Count);

        var v1 = Assert.Single(metrics.QualityTally.Snapshot());
        Assert.Equal(new QualityCounts("v1", TruePositives: 5, FalsePositives: 5, FalseNegatives: 4, TrueNegatives: 3), v1);
        Assert.Equal(0.5, v1.Precision, 12);
        Assert.Equal(5.0 / 9, v1.Recall, 12);
        Assert.Equal(45, v1.Cost); // 10 x 4 FN + 5 FP
        Assert.Equal(7, recorder.Sum(metrics.QualityResults, "v1", "true_positive"));
        Assert.Equal(5, recorder.Sum(metrics.QualityResults, "v1", "false_positive"));
        Assert.Equal(5, recorder.Sum(metrics.QualityResults, "v1", "false_negative"));
        Assert.Equal(3, recorder.Sum(metrics.QualityResults, "v1", "true_negative"));
        Assert.Equal(2, recorder.Sum(metrics.QualityRetractions, "v1", "true_positive"));
        Assert.Equal(1, recorder.Sum(metrics.QualityRetractions, "v1", "false_negative"));
        Assert.Equal(0, recorder.Sum(metrics.QualityRetractions, "v1", "false_positive") + recorder.Sum(metrics.QualityRetractions, "v1", "true_negative"));

        // Transactions without alert got an attribution record when first labelled (the version a flip retracts from).
        var attributions = await decisions.ReadAsync(quiet);
        Assert.All(attributions, r => Assert.Equal((false, "v1"), (r!.Alerted, r.ModelVersion)));
    }

    /// <summary>
    /// Labels in trouble — their topic absent, their store failing with Redis errors, their store throwing an
    /// unexpected error — while transactions flow: every expected alert is produced, the scoring loop sees no failing
    /// dependency (readiness stays green), and the label consumer reports itself degraded.
    /// </summary>
    [Theory]
    [InlineData("topic absent")]
    [InlineData("store: redis errors")]
    [InlineData("store: unexpected error")]
    public async Task LabelsOutage_TransactionsStillScored_AlertsProduced(string outage)
    {
        using var scenario = ScorerScenario.Create("labels-outage", seed: 131, cards: 80, events: 1500);
        using var bundle = scenario.LoadBundle();
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var input = await stack.CreateTopicAsync("lo-tx", 2);
        var alertsTopic = await stack.CreateTopicAsync("lo-alerts", 2);
        var labelsDlq = await stack.CreateTopicAsync("lo-labels-dlq", 1);
        var labelsTopic = outage == "topic absent" ? $"lo-labels-absent-{Guid.NewGuid():N}" : await stack.CreateTopicAsync("lo-labels", 2);
        if (outage != "topic absent")
        {
            var serializer = new AvroSerializer<Contracts.FraudLabel>(registry);
            var tx = scenario.Live[0];
            var label = new TransactionLabel(tx.TransactionId, tx.CardId, tx.MerchantId, tx.EventTimeMs, tx.EventTimeMs + Day, true);
            await ProduceAsync(labelsTopic, [(Encoding.UTF8.GetBytes(tx.CardId),
                await serializer.SerializeAsync(LabelRecords.ToRecord(label), new SerializationContext(MessageComponentType.Value, labelsTopic)))]);
        }

        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"lo:{Guid.NewGuid():N}:";
        ILabelStore store = outage switch
        {
            "store: redis errors" => new FailingLabelStore(() => new RedisConnectionException(ConnectionFailureType.SocketFailure, CommandFlags.None, "label store down (test)", null, CommandStatus.Unknown)),
            "store: unexpected error" => new FailingLabelStore(() => new InvalidOperationException("label store bug (test)")),
            _ => new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = prefix }),
        };

        using var metrics = new ScorerMetrics();
        var group = $"lo-{Guid.NewGuid():N}";
        using var stop = new CancellationTokenSource();
        var labelLoop = new LabelLoop(
            new LabelLoopClients(Consumer(group), new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, registry, store)
            {
                Decisions = new RedisDecisionLog(mux.GetDatabase(), new RedisDecisionLogOptions { KeyPrefix = prefix }),
                ServingVersion = () => "v1",
            },
            new LabelOptions { Topic = labelsTopic, DlqTopic = labelsDlq },
            new ScorerOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromMilliseconds(500) },
            NullLogger.Instance, metrics);
        var labelThread = new Thread(() => labelLoop.Run(stop.Token)) { IsBackground = true };
        labelThread.Start();
        try
        {
            await stack.ProduceAsync(input, scenario.Live, registry);
            using var scoring = StartScoring(input, alertsTopic, prefix, bundle, registry, mux, metrics, decisions: null, group);
            var read = stack.ReadAlerts(alertsTopic, registry, scenario.Expected.Count, TimeSpan.FromSeconds(90));
            Assert.Equal(scenario.Expected.Keys.Order(), read.Select(x => x.AlertId).Distinct().Order());
            Assert.True(await ScorerRuns.WaitForCommitted(stack.Kafka, group, input, 2, scenario.Live.Count, TimeSpan.FromSeconds(30)), "the scorer did not commit the whole input");
            Assert.Null(scoring.Loop.Health.FailingLongerThan(TimeSpan.Zero)); // readiness sees no failing dependency
            Assert.Equal(0, labelLoop.Batches);

            switch (outage)
            {
                case "topic absent":
                    Assert.Empty(labelLoop.Assignment);
                    await WaitUntil(() => labelLoop.Status.State().State == "degraded", "the label consumer reports the missing topic", 20,
                        () => $"{labelLoop.Status.State()}");
                    Assert.Contains("Kafka:", labelLoop.Status.State().Reason, StringComparison.Ordinal);
                    break;
                case "store: redis errors":
                    await WaitUntil(() => labelLoop.Status.State().State == "degraded", "the label consumer reports the outage");
                    Assert.Contains("Redis unavailable", labelLoop.Status.State().Reason, StringComparison.Ordinal);
                    break;
                default:
                    await WaitUntil(() => labelLoop.Restarts >= 1 && labelLoop.Status.State().State == "degraded", "the label consumer restarts");
                    Assert.Contains("label store bug", labelLoop.Status.State().Reason, StringComparison.Ordinal);
                    break;
            }
        }
        finally
        {
            stop.Cancel();
            Assert.True(labelThread.Join(TimeSpan.FromSeconds(30)), "the label consumer did not stop");
        }
    }

    /// <summary>
    /// The scorer process end to end: transactions scored, then labels on its topic — the label consumer of the host
    /// applies them to the Redis store (records read back), dead-letters a bad one, and the quality counters on
    /// <c>/metrics</c> show the hand-counted results; <c>/readyz</c> reports it consuming; SIGTERM stops both loops.
    /// </summary>
    [Fact]
    public async Task ScorerProcess_LabelsAppliedToRedis_QualityOnMetrics_ReadyzDetails()
    {
        using var scenario = ScorerScenario.Create("labels-process", seed: 141, cards: 60, events: 1000, promote: true);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var input = await stack.CreateTopicAsync("lp-tx", 2);
        var alertsTopic = await stack.CreateTopicAsync("lp-alerts", 2);
        var labelsTopic = await stack.CreateTopicAsync("lp-labels", 2);
        var labelsDlq = await stack.CreateTopicAsync("lp-labels-dlq", 1);
        var prefix = $"lp:{Guid.NewGuid():N}:";
        var port = FreePort();
        await stack.ProduceAsync(input, scenario.Live, registry);
        using var scorer = ChildProcess.Start("StreamFraud.Scorer",
        [
            "--Kafka:BootstrapServers", stack.Kafka, "--Kafka:Consumer:group.id", $"lp-{Guid.NewGuid():N}", "--Kafka:Consumer:fetch.wait.max.ms", "20",
            "--Kafka:Consumer:auto.commit.interval.ms", "200", "--SchemaRegistry:Url", stack.Registry, "--Redis:Configuration", stack.Redis,
            "--Redis:KeyPrefix", prefix, "--Models:Registry", scenario.Registry, "--Models:ListenAnnouncements", "false",
            "--Scorer:InputTopic", input, "--Scorer:AlertsTopic", alertsTopic, "--Scorer:Labels:Topic", labelsTopic, "--Scorer:Labels:DlqTopic", labelsDlq,
            "--urls", $"http://127.0.0.1:{port}",
        ]);
        var read = stack.ReadAlerts(alertsTopic, registry, scenario.Expected.Count, TimeSpan.FromSeconds(120));
        Assert.True(scenario.Expected.Count == read.Select(x => x.AlertId).Distinct().Count(), scorer.Output);

        // Two alerted transactions confirmed fraud (TP), one alerted confirmed legitimate (FP), one without alert
        // confirmed fraud (FN), and a message that is not a label.
        var byTx = scenario.Live.ToDictionary(t => t.TransactionId);
        var alerted = scenario.Expected.Values.Select(e => e.TransactionId).Order(StringComparer.Ordinal).Take(3).ToList();
        var quiet = scenario.Live.First(t => !scenario.Expected.Values.Any(e => e.TransactionId == t.TransactionId)).TransactionId;
        TransactionLabel Label(string tx, bool fraud) =>
            new(tx, byTx[tx].CardId, byTx[tx].MerchantId, byTx[tx].EventTimeMs, byTx[tx].EventTimeMs + Day, fraud, LabelOrigin.Chargeback);
        TransactionLabel[] script = [Label(alerted[0], true), Label(alerted[1], true), Label(alerted[2], false), Label(quiet, true)];
        var serializer = new AvroSerializer<Contracts.FraudLabel>(registry);
        var messages = new List<(byte[]?, byte[])>();
        foreach (var label in script)
        {
            messages.Add((Encoding.UTF8.GetBytes(label.CardId),
                await serializer.SerializeAsync(LabelRecords.ToRecord(label), new SerializationContext(MessageComponentType.Value, labelsTopic))));
        }

        messages.Add((null, [0, 1, 2]));
        await ProduceAsync(labelsTopic, messages);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        string[] expected =
        [
            "result=\"true_positive\"} 2", "result=\"false_positive\"} 1", "result=\"false_negative\"} 1",
        ];
        var metricsText = "";
        await WaitUntil(
            () =>
            {
                metricsText = http.GetStringAsync("/metrics").GetAwaiter().GetResult();
                var quality = metricsText.Split('\n').Where(l => l.StartsWith("streamfraud_quality_results", StringComparison.Ordinal) && l.Contains("model_version=\"v1\"", StringComparison.Ordinal)).ToList();
                return expected.All(e => quality.Any(l => l.Contains(e.Split("} ")[0], StringComparison.Ordinal) && l.EndsWith("} " + e.Split("} ")[1], StringComparison.Ordinal)));
            },
            "quality counters on /metrics", 90, () => scorer.Output + "\n" + string.Join('\n', metricsText.Split('\n').Where(l => l.Contains("streamfraud_quality", StringComparison.Ordinal) || l.Contains("streamfraud_labels", StringComparison.Ordinal))));
        Assert.Contains(metricsText.Split('\n'), l => l.StartsWith("streamfraud_labels_outcomes", StringComparison.Ordinal) && l.Contains("outcome=\"applied\"", StringComparison.Ordinal) && l.EndsWith(" 4", StringComparison.Ordinal));
        Assert.Contains(metricsText.Split('\n'), l => l.StartsWith("streamfraud_labels_dlq", StringComparison.Ordinal) && l.Contains("error_class=\"undecodable\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));

        // The labels are in the Redis store, under the scorer's prefix.
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var store = new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = prefix });
        foreach (var label in script)
        {
            var record = RedisWindowStore.ParseRecord(await mux.GetDatabase().StringGetAsync(store.Key(label.TransactionId, KeyKind.Label)));
            Assert.Equal(new LabelRecord(label.IsFraud, label.LabelTimeMs, LabelRules.ContentHash(label)), record);
        }

        var dead = Assert.Single(stack.ReadRaw(labelsDlq, 1, TimeSpan.FromSeconds(30)));
        Assert.Equal(DlqErrorClass.Undecodable, Header(dead, "error.class"));
        var readiness = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/readyz")).RootElement;
        var labels = readiness.GetProperty("ready").GetProperty("details").GetProperty("labels");
        Assert.Equal("consuming", labels.GetProperty("state").GetString());
        Assert.True(labels.GetProperty("partitions").GetInt32() > 0);

        scorer.Terminate();
        Assert.True(scorer.WaitForExit(TimeSpan.FromSeconds(30)), scorer.Output);
        Assert.Equal(0, scorer.ExitCode);
        Assert.Contains("Label consumer stopped", scorer.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_LabelKeys_DefaultsAndEveryProblemNamed()
    {
        static Settings Read(Dictionary<string, string?> values) => Settings.Read(
            new ConfigurationBuilder().AddInMemoryCollection(values).Build());

        var registry = Directory.CreateTempSubdirectory("sf-labels-settings-").FullName;
        try
        {
            var defaults = Read(new() { ["Models:Registry"] = registry, ["Kafka:Consumer:group.id"] = "scorer-a" });
            Assert.Equal(new LabelOptions(), defaults.Labels);
            Assert.True(defaults.Labels.Enabled);
            Assert.Equal(("fraud-labels", "fraud-labels.dlq", "scorer-a-labels", 500), (defaults.Labels.Topic, defaults.Labels.DlqTopic, defaults.Labels.Group("scorer-a"), defaults.Labels.BatchSize));
            Assert.Equal(TimeSpan.FromDays(40), defaults.Labels.DecisionTtl);
            Assert.Contains("labels=fraud-labels labelsDlq=fraud-labels.dlq labelsGroup=scorer-a-labels", defaults.Describe(), StringComparison.Ordinal);
            Assert.Contains("labels=off", Read(new() { ["Models:Registry"] = registry, ["Scorer:Labels:Enabled"] = "false" }).Describe(), StringComparison.Ordinal);

            var e = Assert.Throws<ScorerConfigurationException>(() => Read(new()
            {
                ["Models:Registry"] = registry, ["Kafka:Consumer:group.id"] = "scorer-a", ["Scorer:Labels:Topic"] = "transactions",
                ["Scorer:Labels:GroupId"] = "scorer-a", ["Scorer:Labels:BatchSize"] = "0", ["Scorer:Labels:DecisionTtl"] = "01:00:00",
                ["Scorer:Labels:BatchTimeout"] = "soon", ["Scorer:Labels:Enabled"] = "yes",
            }));
            foreach (var expected in new[]
            {
                "Scorer:Labels:Enabled 'yes'", "Scorer:Labels:Topic 'transactions' equals Scorer:InputTopic", "Scorer:Labels:GroupId 'scorer-a'",
                "Scorer:Labels:BatchSize=0", "Scorer:Labels:DecisionTtl=01:00:00", "Scorer:Labels:BatchTimeout 'soon'",
            })
            {
                Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(registry);
        }
    }

    private ConsumerConfig Consumer(string group) => new()
    {
        BootstrapServers = stack.Kafka, GroupId = group, FetchWaitMaxMs = 20, SessionTimeoutMs = 6000, AutoCommitIntervalMs = 200,
        TopicMetadataRefreshIntervalMs = 1000,
    };

    private ScoringRun StartScoring(
        string input, string alerts, string prefix, ModelBundle bundle, ISchemaRegistryClient registry, ConnectionMultiplexer mux, ScorerMetrics metrics,
        IDecisionLog? decisions, string? group = null)
    {
        var loop = new ScoringLoop(
            new ScoringLoopClients(
                Consumer(group ?? $"scoring-{Guid.NewGuid():N}"), new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 }, registry,
                new RedisWindowStore(mux.GetDatabase(), FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = prefix }),
                new FixedBundleSource(() => bundle), FeatureSpec.CardV1)
            {
                Decisions = decisions,
            },
            new ScorerOptions { InputTopic = input, AlertsTopic = alerts, DlqTopic = alerts + "-dlq", BatchSize = 200 },
            new ScoringOptions(), NullLogger.Instance, metrics);
        return new ScoringRun(loop);
    }

    /// <summary>Runs a label consumer until <paramref name="until"/> holds (checked every 200 ms, at most 60 s), then stops it.</summary>
    private async Task RunLabelsAsync(
        string topic, string dlq, string group, ILabelStore store, ScorerMetrics metrics, IDecisionLog? decisions = null, Func<LabelLoop, bool>? until = null)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var loop = new LabelLoop(
            new LabelLoopClients(Consumer(group), new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                registry, store)
            {
                Decisions = decisions,
                ServingVersion = () => "v1",
            },
            new LabelOptions { Topic = topic, DlqTopic = dlq, BatchSize = 4 },
            new ScorerOptions(), NullLogger.Instance, metrics);
        Assert.Equal($"{group}-labels", loop.Group); // its own group: never the transaction consumers'
        using var stop = new CancellationTokenSource();
        Exception? crash = null;
        var thread = new Thread(() =>
        {
            try
            {
                loop.Run(stop.Token);
            }
            catch (Exception e)
            {
                crash = e;
            }
        }) { IsBackground = true };
        thread.Start();
        try
        {
            await WaitUntil(() => until!(loop), $"label consumer of group {group} done", details: () =>
                $"{string.Join(", ", loop.Status.Report().Select(kv => $"{kv.Key}={kv.Value}"))}, restarts {loop.Restarts}, committed {Probe(loop.Group, topic)}");
        }
        finally
        {
            stop.Cancel();
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the label consumer did not stop");
        }

        Assert.Null(crash);
        Assert.Equal(0, loop.Restarts);
    }

    private string Probe(string group, string topic)
    {
        using var probe = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = group, EnableAutoCommit = false }).Build();
        try
        {
            return string.Join(",", probe.Committed([new TopicPartition(topic, 0)], TimeSpan.FromSeconds(5)));
        }
        catch (KafkaException e)
        {
            return e.Message;
        }
    }

    private long Committed(string group, string topic, int partitions = 1) =>
        ScorerRuns.Committed(stack.Kafka, group, topic, partitions).GetAwaiter().GetResult();

    private async Task<List<long>> ProduceAsync(string topic, IEnumerable<(byte[]? Key, byte[] Value)> messages)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true }).Build();
        var offsets = new List<long>();
        foreach (var (key, value) in messages)
        {
            var report = await producer.ProduceAsync(topic, new Message<byte[]?, byte[]> { Key = key, Value = value });
            offsets.Add(report.Offset.Value);
        }

        return offsets;
    }

    private static async Task WaitUntil(Func<bool> condition, string what, int seconds = 60, Func<string>? details = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out: {what} {details?.Invoke()}");
            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Header(ConsumeResult<byte[]?, byte[]> r, string name) => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));

    /// <summary>A scoring loop on its own thread, stopped and joined on dispose.</summary>
    private sealed class ScoringRun : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;

        public ScoringRun(ScoringLoop loop)
        {
            Loop = loop;
            _thread = new Thread(() => loop.Run(_stop.Token)) { IsBackground = true };
            _thread.Start();
        }

        public ScoringLoop Loop { get; }

        public void Dispose()
        {
            _stop.Cancel();
            Assert.True(_thread.Join(TimeSpan.FromSeconds(30)), "the scoring loop did not stop");
            Loop.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>A label store that always fails with the given error.</summary>
    private sealed class FailingLabelStore(Func<Exception> error) : ILabelStore
    {
        public Task<IReadOnlyList<LabelDecision>> ApplyLabelsAsync(IReadOnlyList<TransactionLabel> labels, CancellationToken cancellationToken = default) =>
            Task.FromException<IReadOnlyList<LabelDecision>>(error());
    }

    /// <summary>Sums of the given counters' measurements by their tag values (joined with '/').</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<(Instrument, string), long> _sums = new();

        public Recorder(params Instrument[] instruments)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instruments.Contains(instrument))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var key = string.Join('/', tags.ToArray().Select(t => t.Value?.ToString()));
                _sums.AddOrUpdate((instrument, key), value, (_, sum) => sum + value);
            });
            _listener.Start();
        }

        public long Sum(Instrument instrument, params string[] tagValues) => _sums.GetValueOrDefault((instrument, string.Join('/', tagValues)));

        public void Dispose() => _listener.Dispose();
    }
}
