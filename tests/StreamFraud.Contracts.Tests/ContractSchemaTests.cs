using Avro;
using Avro.Generic;
using Avro.IO;
using Avro.Specific;
using StreamFraud.Contracts;

namespace StreamFraud.Contracts.Tests;

public class ContractSchemaTests
{
    public static TheoryData<string, string> Files => new()
    {
        { "transaction.avsc", nameof(Transaction) },
        { "fraud-alert.avsc", nameof(FraudAlert) },
        { "model-update.avsc", nameof(ModelUpdate) },
        { "fraud-label.avsc", nameof(FraudLabel) },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void ClassSchema_EqualsAvscFileInRepository(string file, string className)
    {
        var fromFile = Schema.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "schemas", file)));
        var fromClass = className switch
        {
            nameof(Transaction) => Transaction._SCHEMA,
            nameof(FraudAlert) => FraudAlert._SCHEMA,
            nameof(FraudLabel) => FraudLabel._SCHEMA,
            _ => ModelUpdate._SCHEMA,
        };
        Assert.Equal(fromFile.ToString(), fromClass.ToString());
        Assert.Equal($"StreamFraud.Contracts.{className}", ((RecordSchema)fromClass).Fullname);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryField_HasADoc(string file, string className)
    {
        var schema = (RecordSchema)Schema.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "schemas", file)));
        Assert.False(string.IsNullOrWhiteSpace(schema.Documentation), className);
        Assert.All(schema.Fields, f => Assert.False(string.IsNullOrWhiteSpace(f.Documentation), $"{className}.{f.Name}"));
    }

    [Fact]
    public void Transaction_EveryField_WritesUnderItsAvroName_AndReadsBack()
    {
        var record = new Transaction
        {
            TransactionId = "t-1", CardId = "c-2", MerchantId = "m-3", Amount = 42.25, Currency = "EUR", EventTimeMs = 1_767_225_600_123,
            Mcc = "5411", Country = "DE", Channel = "ecom", Features = [1.5f, -2f], IsFraud = true, FraudScenario = "card_testing",
        };
        // Expected values keyed by the Avro field names of the .avsc, written independently of the class's Get/Put.
        var expected = new Dictionary<string, object?>
        {
            ["transaction_id"] = "t-1", ["card_id"] = "c-2", ["merchant_id"] = "m-3", ["amount"] = 42.25, ["currency"] = "EUR",
            ["event_time"] = new DateTime(2026, 1, 1, 0, 0, 0, 123, DateTimeKind.Utc), ["mcc"] = "5411", ["country"] = "DE",
            ["channel"] = "ecom", ["features"] = new[] { 1.5f, -2f }, ["is_fraud"] = true, ["fraud_scenario"] = "card_testing",
        };
        var generic = ReadGeneric(Write(record), AvroSchemas.Transaction);
        Assert.Equal(expected.Keys.Order(), AvroSchemas.Transaction.Fields.Select(f => f.Name).Order());
        foreach (var (name, value) in expected)
        {
            var actual = generic[name];
            if (value is float[] floats)
            {
                Assert.Equal(floats, ((IEnumerable<object>)actual).Cast<float>());
            }
            else
            {
                Assert.Equal(value, actual);
            }
        }

        var back = ReadSpecific<Transaction>(Write(record));
        Assert.Equal(record.ToDomain() with { Features = null }, back.ToDomain() with { Features = null });
        Assert.Equal(record.Features, back.Features);
    }

    [Fact]
    public void Transaction_OptionalFieldsNull_RoundTrip()
    {
        var record = new Transaction { TransactionId = "t", CardId = "c", MerchantId = "m", Amount = 0, Currency = "USD", EventTimeMs = 0 };
        var back = ReadSpecific<Transaction>(Write(record));
        Assert.Null(back.Mcc);
        Assert.Null(back.Features);
        Assert.Null(back.IsFraud);
        Assert.Equal(record.ToDomain(), back.ToDomain());
    }

    [Fact]
    public void FraudAlert_EveryField_WritesUnderItsAvroName_AndReadsBack()
    {
        var alert = new FraudAlert
        {
            AlertId = "a", TransactionId = "t", CardId = "c", EventTimeMs = 1000, ScoredAtMs = 2000, Score = 0.9, LstmScore = 0.8, XgbScore = 1.0,
            Threshold = 0.31, ThresholdPolicy = "cost_min", ModelVersion = "v7", WindowHash = "ab", WindowLength = 5, Partition = 3, Offset = 99,
            TopFeatures = [new FeatureContribution { Name = "amount_log", Value = 7.1, Contribution = 1.25 }],
            InfluentialStepsBack = 2, InfluentialEventTimeMs = 500, InfluentialScoreDelta = 0.2,
            MerchantId = "m-9", Amount = 42.5, Currency = "EUR",
        };
        var generic = ReadGeneric(Write(alert), AvroSchemas.FraudAlert);
        Assert.Equal("m-9", generic["merchant_id"]);
        Assert.Equal(42.5, generic["amount"]);
        Assert.Equal("EUR", generic["currency"]);
        Assert.Equal("a", generic["alert_id"]);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(2), generic["scored_at"]);
        Assert.Equal(0.31, generic["threshold"]);
        Assert.Equal("cost_min", generic["threshold_policy"]);
        Assert.Equal(5, generic["window_length"]);
        Assert.Equal(3, generic["partition"]);
        Assert.Equal(99L, generic["offset"]);
        Assert.Equal(2, generic["influential_steps_back"]);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(500), generic["influential_event_time"]);
        Assert.Equal(0.2, generic["influential_score_delta"]);
        var top = (GenericRecord)((object[])generic["top_features"])[0];
        Assert.Equal("amount_log", top["name"]);
        Assert.Equal(1.25, top["contribution"]);

        var back = ReadSpecific<FraudAlert>(Write(alert));
        Assert.Equal(alert.ScoredAtMs, back.ScoredAtMs);
        Assert.Equal(alert.Offset, back.Offset);
        Assert.Equal(7.1, Assert.Single(back.TopFeatures).Value);
        Assert.Equal(alert.InfluentialScoreDelta, back.InfluentialScoreDelta);
        Assert.Equal((2, 500L), (back.InfluentialStepsBack, back.InfluentialEventTimeMs));
        Assert.Equal(("m-9", 42.5, "EUR"), (back.MerchantId, back.Amount, back.Currency));
    }

    [Fact]
    public void FraudAlert_WrittenByAnEarlierScorer_ReadsWithoutMerchantAndAmount()
    {
        // The schema before merchant_id, amount and currency were added (the same fields up to influential_score_delta):
        // an alert an earlier scorer wrote must still read, the new fields null (their defaults).
        var added = new[] { "merchant_id", "amount", "currency" };
        var current = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "schemas", "fraud-alert.avsc")))!.AsObject();
        var fields = current["fields"]!.AsArray();
        Assert.Equal(added, fields.Skip(fields.Count - 3).Select(f => (string)f!["name"]!));
        foreach (var field in fields.Where(f => added.Contains((string)f!["name"]!)).ToList())
        {
            fields.Remove(field);
        }

        var earlier = (RecordSchema)Schema.Parse(current.ToJsonString());
        var old = new GenericRecord(earlier);
        foreach (var f in earlier.Fields)
        {
            old.Add(f.Name, f.Name switch
            {
                "event_time" or "scored_at" => DateTime.UnixEpoch.AddSeconds(1),
                "score" or "lstm_score" or "xgb_score" or "threshold" => 0.5,
                "window_length" or "partition" => 1,
                "offset" => 7L,
                "top_features" => Array.Empty<object>(),
                "influential_steps_back" or "influential_event_time" or "influential_score_delta" => null,
                _ => "x",
            });
        }

        using var stream = new MemoryStream();
        new GenericDatumWriter<GenericRecord>(earlier).Write(old, new BinaryEncoder(stream));
        stream.Position = 0;
        var back = new SpecificDatumReader<FraudAlert>(earlier, AvroSchemas.FraudAlert).Read(null!, new BinaryDecoder(stream));

        Assert.Equal((7L, "x"), (back.Offset, back.AlertId));
        Assert.Null(back.MerchantId);
        Assert.Null(back.Amount);
        Assert.Null(back.Currency);
    }

    [Fact]
    public void ModelUpdate_MapsAndOptional_RoundTrip()
    {
        var update = new ModelUpdate
        {
            ModelName = "card-fraud", Version = "20260101-1", PreviousVersion = null, CreatedAtMs = 5, BundleUri = "registry/20260101-1",
            ManifestSha256 = "00ff", FeatureSpec = "v1", FeatureSpecHash = "h", DefaultPolicy = "cost_min",
            Thresholds = new Dictionary<string, double> { ["cost_min"] = 0.3, ["best_f1"] = 0.5 },
            Metrics = new Dictionary<string, double> { ["test.ensemble.average_precision"] = 0.42 },
        };
        var generic = ReadGeneric(Write(update), AvroSchemas.ModelUpdate);
        Assert.Equal(0.3, ((IDictionary<string, object>)generic["thresholds"])["cost_min"]);
        Assert.Null(generic["previous_version"]);
        var back = ReadSpecific<ModelUpdate>(Write(update));
        Assert.Equal(update.Thresholds, back.Thresholds);
        Assert.Equal(update.Metrics, back.Metrics);
        Assert.Null(back.PreviousVersion);
    }

    [Fact]
    public void FraudLabel_EveryField_WritesUnderItsAvroName_AndReadsBack()
    {
        var label = new FraudLabel
        {
            TransactionId = "t-9", CardId = "c-8", MerchantId = "m-7", EventTimeMs = 1_767_225_600_000, LabelTimeMs = 1_767_830_400_250,
            IsFraud = true, Source = LabelSource.customer_claim, Amount = 99.5,
        };
        var expected = new Dictionary<string, object?>
        {
            ["transaction_id"] = "t-9", ["card_id"] = "c-8", ["merchant_id"] = "m-7",
            ["event_time"] = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), ["label_time"] = new DateTime(2026, 1, 8, 0, 0, 0, 250, DateTimeKind.Utc),
            ["is_fraud"] = true, ["amount"] = 99.5,
        };
        var generic = ReadGeneric(Write(label), AvroSchemas.FraudLabel);
        Assert.Equal(expected.Keys.Append("source").Order(), AvroSchemas.FraudLabel.Fields.Select(f => f.Name).Order());
        foreach (var (name, value) in expected)
        {
            Assert.Equal(value, generic[name]);
        }

        Assert.Equal("customer_claim", ((GenericEnum)generic["source"]).Value); // the Avro symbol, not a number

        foreach (var source in Enum.GetValues<LabelSource>())
        {
            var back = ReadSpecific<FraudLabel>(Write(new FraudLabel { TransactionId = "t", CardId = "c", MerchantId = "", Source = source, Amount = null }));
            Assert.Equal(source, back.Source);
            Assert.Null(back.Amount);
        }

        var full = ReadSpecific<FraudLabel>(Write(label));
        Assert.Equal((label.TransactionId, label.CardId, label.MerchantId, label.EventTimeMs, label.LabelTimeMs, label.IsFraud, label.Source, label.Amount),
            (full.TransactionId, full.CardId, full.MerchantId, full.EventTimeMs, full.LabelTimeMs, full.IsFraud, full.Source, full.Amount));
    }

    [Fact]
    public void FraudLabel_DomainRoundTripThroughAvro_IsIdentityAndSourceIsTheOriginsSymbol()
    {
        foreach (var origin in Enum.GetValues<Core.Labels.LabelOrigin>())
        {
            var label = new Core.Labels.TransactionLabel("t", "c", "m", 1_767_225_600_000, 1_767_830_400_250, origin != Core.Labels.LabelOrigin.Other, origin,
                origin == Core.Labels.LabelOrigin.Analyst ? null : 12.5);
            var wire = FraudLabel.FromDomain(label);
            Assert.Equal(Core.Labels.TransactionLabel.OriginSymbol(origin), wire.Source.ToString());
            Assert.Equal(label, ReadSpecific<FraudLabel>(Write(wire)).ToDomain());
        }
    }

    [Fact]
    public void Domain_RoundTripThroughWireRecord_IsIdentity()
    {
        var t = new Core.Transaction("t", "c", "m", 1.5, "EUR", 77, "5999", "FR", "pos", [0.5f], false, null);
        var back = Transaction.FromDomain(t).ToDomain();
        Assert.Equal(t with { Features = null }, back with { Features = null });
        Assert.Equal(t.Features, back.Features);
    }

    private static byte[] Write<T>(T record) where T : ISpecificRecord
    {
        using var ms = new MemoryStream();
        new SpecificDatumWriter<T>(record.Schema).Write(record, new BinaryEncoder(ms));
        return ms.ToArray();
    }

    private static T ReadSpecific<T>(byte[] bytes) where T : ISpecificRecord, new()
    {
        var schema = new T().Schema;
        return new SpecificDatumReader<T>(schema, schema).Read(default!, new BinaryDecoder(new MemoryStream(bytes)));
    }

    private static GenericRecord ReadGeneric(byte[] bytes, Schema schema) =>
        new GenericDatumReader<GenericRecord>(schema, schema).Read(null!, new BinaryDecoder(new MemoryStream(bytes)));

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamFraud.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("StreamFraud.sln not found above the test binaries");
    }
}
