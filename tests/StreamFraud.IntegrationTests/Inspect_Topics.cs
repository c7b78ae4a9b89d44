using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamFraud.Contracts;
using StreamFraud.Core.Features;
using StreamFraud.Inspect;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scorer;
using StreamFraud.Scorer.Loop;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// <c>StreamFraud.Inspect</c> against the real registry and the mock cluster: alerts written by the scoring loop,
/// dead letters it wrote, and fraud labels, read back in the table and as JSON and compared field by field with what
/// an independent reader (Confluent's Avro deserializer in a plain consumer) and the produced transactions say.
/// </summary>
[Collection(StackCollection.Name)]
public sealed partial class Inspect_Topics(StackFixture stack)
{
    [Fact]
    public async Task Alerts_WrittenByTheScorer_JsonCarriesEveryFieldAndTheLookedUpTransaction()
    {
        var run = await ScoredRun.Get(stack);
        var (code, output, error) = await Inspect("alerts", "--topic", run.AlertsTopic, "--transactions-topic", run.InputTopic, "--from-beginning", "--json");

        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(run.Alerts.Count, lines.Length);
        var previousEventTime = long.MinValue;
        foreach (var line in lines)
        {
            var j = JsonDocument.Parse(line).RootElement;
            var kafka = j.GetProperty("kafka");
            Assert.Equal(run.AlertsTopic, kafka.GetProperty("topic").GetString());
            Assert.True(DateTimeOffset.TryParse(kafka.GetProperty("timestamp").GetString(), CultureInfo.InvariantCulture, out _));
            var eventTime = Ms(j.GetProperty("event_time"));
            Assert.True(eventTime >= previousEventTime, "a bounded read prints the partitions merged by the alerts' event time");
            previousEventTime = eventTime;

            // Every Avro field equals what Confluent's deserializer read from the same record.
            var a = run.Alerts[j.GetProperty("alert_id").GetString()!];
            Assert.Equal(a.CardId, kafka.GetProperty("key").GetString());
            Assert.Equal(a.TransactionId, j.GetProperty("transaction_id").GetString());
            Assert.Equal(a.CardId, j.GetProperty("card_id").GetString());
            Assert.Equal(a.EventTimeMs, Ms(j.GetProperty("event_time")));
            Assert.Equal(a.ScoredAtMs, Ms(j.GetProperty("scored_at")));
            Assert.Equal(a.Score, j.GetProperty("score").GetDouble());
            Assert.Equal(a.LstmScore, j.GetProperty("lstm_score").GetDouble());
            Assert.Equal(a.XgbScore, j.GetProperty("xgb_score").GetDouble());
            Assert.Equal(a.Threshold, j.GetProperty("threshold").GetDouble());
            Assert.Equal(a.ThresholdPolicy, j.GetProperty("threshold_policy").GetString());
            Assert.Equal(a.ModelVersion, j.GetProperty("model_version").GetString());
            Assert.Equal(a.WindowHash, j.GetProperty("window_hash").GetString());
            Assert.Equal(a.WindowLength, j.GetProperty("window_length").GetInt32());
            Assert.Equal(a.Partition, j.GetProperty("partition").GetInt32());
            Assert.Equal(a.Offset, j.GetProperty("offset").GetInt64());
            var features = j.GetProperty("top_features").EnumerateArray().ToList();
            Assert.Equal(a.TopFeatures.Count, features.Count);
            for (var k = 0; k < features.Count; k++)
            {
                Assert.Equal(a.TopFeatures[k].Name, features[k].GetProperty("name").GetString());
                Assert.Equal(a.TopFeatures[k].Value, features[k].GetProperty("value").GetDouble());
                Assert.Equal(a.TopFeatures[k].Contribution, features[k].GetProperty("contribution").GetDouble());
            }

            Assert.Equal(a.InfluentialStepsBack, j.GetProperty("influential_steps_back") is { ValueKind: JsonValueKind.Number } s ? s.GetInt32() : null);
            Assert.Equal(a.InfluentialEventTimeMs, j.GetProperty("influential_event_time") is { ValueKind: JsonValueKind.String } t ? Ms(t) : null);
            Assert.Equal(a.InfluentialScoreDelta, j.GetProperty("influential_score_delta") is { ValueKind: JsonValueKind.Number } d ? d.GetDouble() : null);

            // The decision itself against the independent offline computation of the scenario.
            var (score, hash, transactionId) = run.Expected[a.AlertId];
            Assert.Equal(score, j.GetProperty("score").GetDouble(), 1e-5);
            Assert.Equal(hash, j.GetProperty("window_hash").GetString());
            Assert.Equal(transactionId, j.GetProperty("transaction_id").GetString());

            // The alert's own merchant and amount, and the rest of the scored transaction: the transaction that was produced.
            var tx = run.Produced[a.TransactionId];
            Assert.Equal((tx.MerchantId, tx.Amount, tx.Currency), (a.MerchantId, a.Amount, a.Currency));
            Assert.Equal(tx.MerchantId, j.GetProperty("merchant_id").GetString());
            Assert.Equal(tx.Amount, j.GetProperty("amount").GetDouble());
            Assert.Equal(tx.Currency, j.GetProperty("currency").GetString());
            Assert.Equal("found", j.GetProperty("transaction_lookup").GetString());
            var found = j.GetProperty("transaction");
            Assert.Equal(run.InputTopic, found.GetProperty("topic").GetString());
            Assert.Equal(tx.Amount, found.GetProperty("amount").GetDouble());
            Assert.Equal(tx.Currency, found.GetProperty("currency").GetString());
            Assert.Equal(tx.MerchantId, found.GetProperty("merchant_id").GetString());
            Assert.Equal(tx.EventTimeMs, Ms(found.GetProperty("event_time")));
            Assert.Equal(tx.Mcc, found.GetProperty("mcc").GetString());
            Assert.Equal(tx.Country, found.GetProperty("country").GetString());
            Assert.Equal(tx.Channel, found.GetProperty("channel").GetString());
        }

        Assert.Contains(run.Alerts.Values, a => a.InfluentialStepsBack is not null);
        Assert.All(run.Alerts.Values, a => Assert.NotEmpty(a.TopFeatures));
    }

    [Fact]
    public async Task Alerts_Table_OneRowPerAlertShowingItsFieldsAndExplanation()
    {
        var run = await ScoredRun.Get(stack);
        var (code, output, error) = await Inspect("alerts", "--topic", run.AlertsTopic, "--transactions-topic", run.InputTopic, "--from-beginning");

        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("EVENT TIME (UTC)", lines[0]);
        Assert.Equal(run.Alerts.Count, lines.Length - 1);
        var seen = new HashSet<string>();
        foreach (var line in lines.Skip(1))
        {
            var c = Columns().Split(line);
            Assert.Equal(11, c.Length);
            var a = run.Alerts.Values.Single(x => x.TransactionId == c[2]);
            Assert.True(seen.Add(a.AlertId));
            var tx = run.Produced[a.TransactionId];
            Assert.Equal(a.EventTimeMs / 1000, DateTimeOffset.Parse(c[0] + "Z", CultureInfo.InvariantCulture).ToUnixTimeSeconds()); // to the second
            Assert.Equal(a.CardId, c[1]);
            var amount = c[3].Split(' ');
            Assert.Equal(tx.Amount, double.Parse(amount[0], NumberStyles.Number, CultureInfo.InvariantCulture), 0.005);
            Assert.Equal(tx.Currency, amount[1]);
            Assert.Equal(a.Score, Number(c[4]), 5e-5);
            Assert.Equal(a.LstmScore, Number(c[5]), 5e-5);
            Assert.Equal(a.XgbScore, Number(c[6]), 5e-5);
            Assert.Equal(a.Threshold, Number(c[7]), 5e-7);
            Assert.Equal(a.ThresholdPolicy, c[8]);
            Assert.Equal(a.ModelVersion, c[9]);

            // WHY: each top feature as name=value (contribution), then the influential earlier transaction.
            var why = c[10];
            var shown = Feature().Matches(why).ToList();
            Assert.Equal(a.TopFeatures.Select(f => f.Name), shown.Select(m => m.Groups[1].Value));
            for (var k = 0; k < shown.Count; k++)
            {
                Assert.Equal(a.TopFeatures[k].Value, Number(shown[k].Groups[2].Value), Math.Max(5e-4, Math.Abs(a.TopFeatures[k].Value) * 5e-3));
                Assert.Equal(a.TopFeatures[k].Contribution, Number(shown[k].Groups[3].Value), 5e-4);
            }

            if (a.InfluentialStepsBack is { } back)
            {
                var m = Influential().Match(why);
                Assert.True(m.Success, why);
                Assert.Equal(back, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
                Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(a.InfluentialEventTimeMs!.Value).UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture), m.Groups[2].Value[^8..]);
                Assert.Equal(a.InfluentialScoreDelta!.Value, Number(m.Groups[3].Value), 5e-4);
            }
            else
            {
                Assert.EndsWith("first transaction of its window", why);
            }
        }

        // --max and --no-lookup: the first rows, their amounts the alerts' own (nothing looked up).
        (code, output, error) = await Inspect("alerts", "--topic", run.AlertsTopic, "--from-beginning", "--max", "3", "--no-lookup");
        Assert.True(code == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => Columns().Split(l)).ToList();
        Assert.Equal(lines.Skip(1).Take(3).Select(l => Columns().Split(l)[2]), rows.Select(r => r[2]));
        Assert.All(rows, r => Assert.Equal(run.Produced[r[2]].Amount, double.Parse(r[3].Split(' ')[0], NumberStyles.Number, CultureInfo.InvariantCulture), 0.005));
    }

    [Fact]
    public async Task Alerts_SourcePositionHoldingAnotherTransaction_AmountUnknownWithTheReason()
    {
        var run = await ScoredRun.Get(stack);
        // Another input topic whose offsets hold other transactions: the lookup must refuse them, not show their amounts.
        var other = await stack.CreateTopicAsync("inspect-other-tx", partitions: 4);
        using (var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry }))
        {
            await stack.ProduceAsync(other, run.Produced.Values.Select(t => t with { TransactionId = "other-" + t.TransactionId }), registry);
        }

        var (code, output, error) = await Inspect("alerts", "--topic", run.AlertsTopic, "--transactions-topic", other, "--from-beginning", "--json", "--max", "5");

        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        foreach (var j in lines.Select(l => JsonDocument.Parse(l).RootElement))
        {
            Assert.Equal(JsonValueKind.Null, j.GetProperty("transaction").ValueKind);
            var reason = j.GetProperty("transaction_lookup").GetString()!;
            Assert.True(reason.Contains("not this alert's", StringComparison.Ordinal) || reason.Contains("is not there", StringComparison.Ordinal), reason);
        }

        // The table shows the alerts' own amounts and needs no lookup.
        (code, output, error) = await Inspect("alerts", "--topic", run.AlertsTopic, "--transactions-topic", other, "--from-beginning", "--max", "2");
        Assert.True(code == 0, error);
        Assert.All(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1), l => Assert.NotEqual("?", Columns().Split(l)[3]));
        Assert.DoesNotContain("amount unknown for alert", error);

        // Alerts as a scorer before merchant and amount were added wrote them: the table looks the amount up, and a
        // position holding another transaction gives '?' with the reason; the right input topic gives the amounts.
        var earlier = await stack.CreateTopicAsync("inspect-earlier-alerts", partitions: 1);
        var schema = EarlierAlertSchema();
        var item = (Avro.RecordSchema)((Avro.ArraySchema)schema["top_features"].Schema).ItemSchema;
        using (var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry }))
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka }).Build())
        {
            // Registered under the earlier schema, read through the registry by the current class (Avro resolution).
            var serializer = new AvroSerializer<Avro.Generic.GenericRecord>(registry);
            foreach (var a in run.Alerts.Values.OrderBy(a => a.EventTimeMs).Take(3))
            {
                var record = new Avro.Generic.GenericRecord(schema);
                foreach (var (name, value) in new (string, object?)[]
                {
                    ("alert_id", a.AlertId), ("transaction_id", a.TransactionId), ("card_id", a.CardId),
                    ("event_time", DateTime.UnixEpoch.AddMilliseconds(a.EventTimeMs)), ("scored_at", DateTime.UnixEpoch.AddMilliseconds(a.ScoredAtMs)),
                    ("score", a.Score), ("lstm_score", a.LstmScore), ("xgb_score", a.XgbScore), ("threshold", a.Threshold),
                    ("threshold_policy", a.ThresholdPolicy), ("model_version", a.ModelVersion), ("window_hash", a.WindowHash),
                    ("window_length", a.WindowLength), ("partition", a.Partition), ("offset", a.Offset),
                    ("top_features", a.TopFeatures.Select(f =>
                    {
                        var c = new Avro.Generic.GenericRecord(item);
                        c.Add("name", f.Name);
                        c.Add("value", f.Value);
                        c.Add("contribution", f.Contribution);
                        return (object)c;
                    }).ToArray()),
                    ("influential_steps_back", null), ("influential_event_time", null), ("influential_score_delta", null),
                })
                {
                    record.Add(name, value);
                }

                var value2 = await serializer.SerializeAsync(record, new SerializationContext(MessageComponentType.Value, earlier));
                await producer.ProduceAsync(earlier, new Message<string, byte[]> { Key = a.CardId, Value = value2 });
            }
        }

        (code, output, error) = await Inspect("alerts", "--topic", earlier, "--transactions-topic", other, "--from-beginning");
        Assert.True(code == 0, error);
        Assert.All(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1), l => Assert.Equal("?", Columns().Split(l)[3]));
        Assert.Contains("amount unknown for alert", error);
        (code, output, error) = await Inspect("alerts", "--topic", earlier, "--transactions-topic", run.InputTopic, "--from-beginning");
        Assert.True(code == 0, error);
        var found = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => Columns().Split(l)).ToList();
        Assert.Equal(3, found.Count);
        Assert.All(found, r => Assert.Equal(run.Produced[r[2]].Amount, double.Parse(r[3].Split(' ')[0], NumberStyles.Number, CultureInfo.InvariantCulture), 0.005));
    }

    /// <summary>The alert schema before <c>merchant_id</c>, <c>amount</c> and <c>currency</c> were added (its last three fields).</summary>
    private static Avro.RecordSchema EarlierAlertSchema()
    {
        var current = System.Text.Json.Nodes.JsonNode.Parse(AvroSchemas.Text("fraud-alert.avsc"))!.AsObject();
        var fields = current["fields"]!.AsArray();
        Assert.Equal(["merchant_id", "amount", "currency"], fields.Skip(fields.Count - 3).Select(f => (string)f!["name"]!));
        for (var k = 0; k < 3; k++)
        {
            fields.RemoveAt(fields.Count - 1);
        }

        return (Avro.RecordSchema)Avro.Schema.Parse(current.ToJsonString());
    }

    [Fact]
    public async Task Dlq_DeadLettersOfTheScorer_ClassSourceAndContent()
    {
        var run = await ScoredRun.Get(stack);
        var (code, output, error) = await Inspect("dlq", "--topic", run.DlqTopic, "--from-beginning", "--json");

        Assert.True(code == 0, error);
        var records = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var raw = stack.ReadRaw(run.DlqTopic, run.Malformed.Count, TimeSpan.FromSeconds(30));
        Assert.Equal(run.Malformed.Count, records.Count);
        Assert.Equal(raw.Count, records.Count);
        foreach (var j in records)
        {
            var r = raw.Single(x => x.Offset.Value == j.GetProperty("kafka").GetProperty("offset").GetInt64());
            string Header(string name) => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
            Assert.Equal(Header("error.class"), j.GetProperty("error_class").GetString());
            Assert.Equal(Header("error.reason"), j.GetProperty("error_reason").GetString());
            Assert.Equal(run.InputTopic, j.GetProperty("source_topic").GetString());
            Assert.Equal(long.Parse(Header("source.offset"), CultureInfo.InvariantCulture), j.GetProperty("source_offset").GetInt64());
            Assert.Equal(DateTimeOffset.Parse(Header("error.time"), CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), Ms(j.GetProperty("error_time")));
            Assert.Equal(r.Message.Value.Length, j.GetProperty("value_bytes").GetInt32());
            var bad = run.Malformed.Single(m => m.Value.AsSpan().SequenceEqual(r.Message.Value));
            if (bad.TransactionId is { } id)
            {
                var value = j.GetProperty("value");
                Assert.Equal("transaction", value.GetProperty("kind").GetString());
                Assert.Equal(id, value.GetProperty("transaction_id").GetString());
                Assert.Equal(-5, value.GetProperty("amount").GetDouble());
                Assert.Equal(DlqErrorClass.InvalidValue, j.GetProperty("error_class").GetString());
            }
            else
            {
                Assert.Equal(JsonValueKind.Null, j.GetProperty("value").ValueKind);
                Assert.Equal("text: " + Encoding.UTF8.GetString(bad.Value), j.GetProperty("value_preview").GetString());
                Assert.Equal(DlqErrorClass.Undecodable, j.GetProperty("error_class").GetString());
            }
        }

        (code, output, error) = await Inspect("dlq", "--topic", run.DlqTopic, "--from-beginning");
        Assert.True(code == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ERROR TIME (UTC)", rows[0]);
        Assert.Equal(run.Malformed.Count, rows.Length - 1);
        Assert.Contains(rows, l => l.Contains(DlqErrorClass.InvalidValue, StringComparison.Ordinal) && l.Contains("tx neg-", StringComparison.Ordinal) && l.Contains("-5.00", StringComparison.Ordinal));
        Assert.Contains(rows, l => l.Contains(DlqErrorClass.Undecodable, StringComparison.Ordinal) && l.Contains("text: {\"json\"", StringComparison.Ordinal));
        Assert.All(rows.Skip(1), l => Assert.Contains($"{run.InputTopic}[", l));
    }

    [Fact]
    public async Task Labels_ProducedAsAvro_EveryFieldInJsonAndTable()
    {
        var topic = await stack.CreateTopicAsync("inspect-labels", partitions: 2);
        var t0 = new DateTimeOffset(2026, 1, 20, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var labels = new List<Core.Labels.TransactionLabel>
        {
            new("tx-1", "card-1", "m-1", t0, t0 + 86_400_000, true, Core.Labels.LabelOrigin.Chargeback, 120.5),
            new("tx-2", "card-2", "m-2", t0 + 1000, t0 + 2 * 86_400_000, false, Core.Labels.LabelOrigin.Analyst),
            new("tx-3", "card-1", "m-3", t0 + 2000, t0 - 1000, true, Core.Labels.LabelOrigin.CustomerClaim, 7), // before its transaction: invalid
        };
        using (var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry }))
        using (var producer = new ProducerBuilder<string, FraudLabel>(new ProducerConfig { BootstrapServers = stack.Kafka })
                   .SetValueSerializer(new AvroSerializer<FraudLabel>(registry)).Build())
        {
            foreach (var l in labels)
            {
                await producer.ProduceAsync(topic, new Message<string, FraudLabel> { Key = l.CardId, Value = LabelRecords.ToRecord(l) });
            }
        }

        var (code, output, error) = await Inspect("labels", "--topic", topic, "--from-beginning", "--json");

        Assert.True(code == 0, error);
        var read = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(labels.Count, read.Count);
        foreach (var l in labels)
        {
            var j = read.Single(x => x.GetProperty("transaction_id").GetString() == l.TransactionId);
            Assert.Equal(l.CardId, j.GetProperty("card_id").GetString());
            Assert.Equal(l.MerchantId, j.GetProperty("merchant_id").GetString());
            Assert.Equal(l.EventTimeMs, Ms(j.GetProperty("event_time")));
            Assert.Equal(l.LabelTimeMs, Ms(j.GetProperty("label_time")));
            Assert.Equal(l.IsFraud, j.GetProperty("is_fraud").GetBoolean());
            Assert.Equal(Core.Labels.TransactionLabel.OriginSymbol(l.Origin), j.GetProperty("source").GetString());
            Assert.Equal(l.Amount, j.GetProperty("amount") is { ValueKind: JsonValueKind.Number } a ? a.GetDouble() : null);
            Assert.Equal(Core.Labels.LabelRules.Validate(l), j.GetProperty("invalid").GetString());
        }

        Assert.NotNull(read.Single(x => x.GetProperty("transaction_id").GetString() == "tx-3").GetProperty("invalid").GetString());

        (code, output, error) = await Inspect("labels", "--topic", topic, "--from-beginning");
        Assert.True(code == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("LABEL TIME (UTC)", rows[0]);
        var row1 = Columns().Split(rows.Single(r => r.Contains("tx-1", StringComparison.Ordinal)));
        Assert.Equal(["2026-01-21 10:00:00", "card-1", "tx-1", "fraud", "chargeback", "120.50", "2026-01-20 10:00:00", "m-1"], row1);
        var row2 = Columns().Split(rows.Single(r => r.Contains("tx-2", StringComparison.Ordinal)));
        Assert.Equal(["2026-01-22 10:00:00", "card-2", "tx-2", "legitimate", "analyst", "-", "2026-01-20 10:00:01", "m-2"], row2);
        Assert.Contains("(invalid: ", rows.Single(r => r.Contains("tx-3", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Follow_StartsAtTheEnd_PrintsNewAlertsUntilMax_AndCtrlCEndsItWithExitZero()
    {
        var topic = await stack.CreateTopicAsync("inspect-follow", partitions: 2);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        using var producer = new ProducerBuilder<string, FraudAlert>(new ProducerConfig { BootstrapServers = stack.Kafka })
            .SetValueSerializer(new AvroSerializer<FraudAlert>(registry)).Build();
        FraudAlert Alert(string id) => new()
        {
            AlertId = id, TransactionId = "tx-" + id, CardId = "card-" + id, EventTimeMs = 1_768_000_000_000, ScoredAtMs = 1_768_000_000_500,
            Score = 0.9, LstmScore = 0.8, XgbScore = 1.0, Threshold = 0.5, ThresholdPolicy = "cost_min", ModelVersion = "v1", WindowHash = "ab",
            WindowLength = 1, Partition = 0, Offset = 0,
        };
        await producer.ProduceAsync(topic, new Message<string, FraudAlert> { Key = "card-old", Value = Alert("old") });

        // Started after "old": it must print only alerts that arrive later, and stop by itself at --max.
        var follow = Inspect("alerts", "--topic", topic, "--follow", "--max", "2", "--json", "--no-lookup");
        var sent = 0;
        while (!follow.IsCompleted && sent < 200)
        {
            await producer.ProduceAsync(topic, new Message<string, FraudAlert> { Key = "card", Value = Alert($"new-{sent++}") });
            await Task.WhenAny(follow, Task.Delay(200));
        }

        var (code, output, error) = await follow;
        Assert.True(code == 0, error);
        var ids = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("alert_id").GetString()).ToList();
        Assert.Equal(2, ids.Count);
        Assert.All(ids, id => Assert.StartsWith("new-", id));

        // Without --max a follow runs until Ctrl+C, which ends it normally.
        using var ctrlC = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var (stopped, _, stopError) = await Inspect(ctrlC.Token, "alerts", "--topic", topic, "--no-lookup");
        Assert.True(stopped == 0, stopError);
    }

    [Fact]
    public async Task Usage_And_Failures_ExitCodesAndMessages()
    {
        var (code, _, error) = await Inspect("alerts", "--max", "0");
        Assert.Equal(InspectApp.UsageExitCode, code);
        Assert.Contains("--max must be", error);

        (code, _, error) = await Inspect("alerts", "--no-lookup", "--transactions-topic", "tx2");
        Assert.Equal(InspectApp.UsageExitCode, code);
        Assert.Contains("--no-lookup", error);

        (code, _, error) = await Inspect("alerts", "--kafka-config", "nonsense");
        Assert.Equal(InspectApp.UsageExitCode, code);
        Assert.Contains("--kafka-config", error);

        (code, _, error) = await Inspect("alerts", "--topic", $"no-such-topic-{Guid.NewGuid():N}", "--from-beginning");
        Assert.Equal(InspectApp.FailureExitCode, code);
        Assert.Contains("does not exist", error);

        (code, _, error) = await Inspect("--bootstrap", stack.Kafka, "alerts");
        Assert.Equal(InspectApp.UsageExitCode, code);
    }

    [Fact]
    public async Task Help_EveryCommand_DescribesEveryFlag()
    {
        var (code, output, _) = await Inspect("--help");
        Assert.Equal(0, code);
        Assert.All(InspectApp.Commands.Keys, command => Assert.Contains(command, output));
        foreach (var (command, settings) in InspectApp.Commands)
        {
            (code, output, var error) = await Inspect(command, "--help");
            Assert.True(code == 0, error);
            Assert.Contains("EXAMPLES:", output);
            Assert.All(Flags(settings), flag => Assert.Contains(flag, output));
        }
    }

    private Task<(int Code, string Output, string Error)> Inspect(params string[] args) => Inspect(CancellationToken.None, args);

    private async Task<(int Code, string Output, string Error)> Inspect(CancellationToken cancellationToken, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string[] endpoints = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) && !args.Contains("--help") ? ["--bootstrap", stack.Kafka, "--schema-registry", stack.Registry] : [];
        var code = await Task.Run(() => InspectApp.RunAsync([.. args, .. endpoints], Console(output), Console(error), cancellationToken));
        return (code, output.ToString(), error.ToString());
    }

    private static long Ms(JsonElement iso) => DateTimeOffset.Parse(iso.GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(" {2,}")]
    private static partial Regex Columns();

    [GeneratedRegex(@"([A-Za-z0-9_]+)=(-?[0-9.E+-]+|n/a) \(([+-]?[0-9.]+)\)")]
    private static partial Regex Feature();

    [GeneratedRegex(@"earlier tx (\d+) back at ([0-9: -]+) moved LSTM ([+-]?[0-9.]+)")]
    private static partial Regex Influential();

    /// <summary>
    /// One scoring-loop run shared by the tests: a real bundle scores a live stream with malformed messages mixed in;
    /// its alerts are read once with Confluent's deserializer (the independent reader) and the DLQ holds the bad input.
    /// </summary>
    public sealed class ScoredRun
    {
        private static readonly SemaphoreSlim Gate = new(1, 1);
        private static ScoredRun? _instance;

        public string InputTopic { get; private set; } = "";

        public string AlertsTopic { get; private set; } = "";

        public string DlqTopic { get; private set; } = "";

        /// <summary>Alerts by id, as Confluent's Avro deserializer reads them.</summary>
        public Dictionary<string, FraudAlert> Alerts { get; private set; } = [];

        /// <summary>The offline expectation (score, window hash, transaction id) per alert id.</summary>
        public Dictionary<string, (double Score, string Hash, string TransactionId)> Expected { get; private set; } = [];

        /// <summary>The produced good transactions by id.</summary>
        public Dictionary<string, Core.Transaction> Produced { get; private set; } = [];

        /// <summary>The malformed values produced (with the transaction id of the well-formed invalid ones).</summary>
        public List<(string? TransactionId, byte[] Value)> Malformed { get; } = [];

        public static async Task<ScoredRun> Get(StackFixture stack)
        {
            await Gate.WaitAsync();
            try
            {
                if (_instance is null)
                {
                    var run = new ScoredRun();
                    await run.ScoreAsync(stack);
                    _instance = run;
                }

                return _instance;
            }
            finally
            {
                Gate.Release();
            }
        }

        private async Task ScoreAsync(StackFixture stack)
        {
            var spec = FeatureSpec.CardV1;
            using var scenario = ScorerScenario.Create("inspect", seed: 31, cards: 40, events: 700);
            var (_, live, expected) = scenario;
            using var bundle = scenario.LoadBundle();
            Expected = expected;
            Produced = live.ToDictionary(t => t.TransactionId);
            InputTopic = await stack.CreateTopicAsync("inspect-tx", partitions: 4);
            AlertsTopic = await stack.CreateTopicAsync("inspect-alerts", partitions: 4);
            DlqTopic = await stack.CreateTopicAsync("inspect-dlq", partitions: 1);
            using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
            var serializer = new AvroSerializer<Transaction>(registry);
            using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Kafka, EnableIdempotence = true }).Build())
            {
                for (var i = 0; i < live.Count; i++)
                {
                    var bytes = await serializer.SerializeAsync(Transaction.FromDomain(live[i]), new SerializationContext(MessageComponentType.Value, InputTopic));
                    producer.Produce(InputTopic, new Message<string, byte[]> { Key = live[i].CardId, Value = bytes });
                    if (i % 200 == 100)
                    {
                        var invalid = live[i] with { TransactionId = $"neg-{i}", Amount = -5 };
                        (string?, byte[]) bad = i % 400 == 100
                            ? (invalid.TransactionId, await serializer.SerializeAsync(Transaction.FromDomain(invalid), new SerializationContext(MessageComponentType.Value, InputTopic)))
                            : (null, Encoding.UTF8.GetBytes($"{{\"json\": \"not avro {i}\"}}"));
                        Malformed.Add(bad);
                        producer.Produce(InputTopic, new Message<string, byte[]> { Key = live[i].CardId, Value = bad.Item2 });
                    }
                }

                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
            }

            Assert.InRange(expected.Count, 10, live.Count - 10);
            await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
            var store = new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = $"inspect:{Guid.NewGuid():N}:" });
            using var metrics = new ScorerMetrics();
            using var loop = new ScoringLoop(
                new ScoringLoopClients(
                    new ConsumerConfig { BootstrapServers = stack.Kafka, GroupId = $"scorer-{Guid.NewGuid():N}", FetchWaitMaxMs = 20, SessionTimeoutMs = 6000 },
                    new ProducerConfig { BootstrapServers = stack.Kafka, LingerMs = 5 },
                    registry, store, new FixedBundleSource(() => bundle), spec),
                new ScorerOptions { InputTopic = InputTopic, AlertsTopic = AlertsTopic, DlqTopic = DlqTopic, BatchSize = 200 },
                new ScoringOptions(), NullLogger.Instance, metrics);
            using var stop = new CancellationTokenSource();
            var thread = new Thread(() => loop.Run(stop.Token)) { IsBackground = true };
            thread.Start();
            var alerts = stack.ReadAlerts(AlertsTopic, registry, expected.Count, TimeSpan.FromSeconds(120));
            var dlq = stack.ReadRaw(DlqTopic, Malformed.Count, TimeSpan.FromSeconds(60));
            stop.Cancel();
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the scoring loop did not stop");
            Assert.Equal(Malformed.Count, dlq.Count);
            Alerts = alerts.GroupBy(a => a.AlertId).ToDictionary(g => g.Key, g => g.First());
            Assert.Equal(expected.Keys.Order(), Alerts.Keys.Order());
            Assert.Equal(alerts.Count, Alerts.Count); // no duplicates in an uninterrupted run: one row per alert
        }
    }
}
