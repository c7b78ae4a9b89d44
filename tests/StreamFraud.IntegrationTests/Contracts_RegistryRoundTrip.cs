using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;
using StreamFraud.IntegrationTests.Infrastructure;
using AvroSchema = Avro.Schema;
using RecordSchema = Avro.RecordSchema;

namespace StreamFraud.IntegrationTests;

/// <summary>The contract records through the registry with Confluent's Avro serdes, and schema evolution both ways.</summary>
[Collection(StackCollection.Name)]
public sealed class Contracts_RegistryRoundTrip(StackFixture stack)
{
    [Fact]
    public async Task SpecificRecords_SerializeThroughRegistry_DeserializeEqual()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var suffix = Guid.NewGuid().ToString("N");

        var tx = Transaction.FromDomain(new Core.Transaction("t-1", "card-9", "m-1", 19.99, "EUR", 1_767_225_600_000, "5411", "DE", "pos", [0.25f, 3f], false, null));
        var txBack = await RoundTrip(registry, $"transactions-{suffix}", tx);
        Assert.Equal(tx.ToDomain() with { Features = null }, txBack.ToDomain() with { Features = null });
        Assert.Equal(tx.Features, txBack.Features);

        var alert = new FraudAlert
        {
            AlertId = "a-1", TransactionId = "t-1", CardId = "card-9", EventTimeMs = 1_767_225_600_000, ScoredAtMs = 1_767_225_600_250,
            Score = 0.71, LstmScore = 0.6, XgbScore = 0.82, Threshold = 0.4, ThresholdPolicy = "cost_min", ModelVersion = "v1",
            WindowHash = "deadbeef", WindowLength = 7, Partition = 2, Offset = 1234,
            TopFeatures = [new FeatureContribution { Name = "amount_z", Value = 4.2, Contribution = 0.9 }],
        };
        var alertBack = await RoundTrip(registry, $"fraud-alerts-{suffix}", alert);
        Assert.Equal((alert.AlertId, alert.ScoredAtMs, alert.Offset, alert.WindowLength, alert.InfluentialStepsBack),
            (alertBack.AlertId, alertBack.ScoredAtMs, alertBack.Offset, alertBack.WindowLength, alertBack.InfluentialStepsBack));
        Assert.Equal("amount_z", Assert.Single(alertBack.TopFeatures).Name);

        var update = new ModelUpdate
        {
            ModelName = "card-fraud", Version = "v2", PreviousVersion = "v1", CreatedAtMs = 1, BundleUri = "registry/v2", ManifestSha256 = "aa",
            FeatureSpec = "v1", FeatureSpecHash = "h", DefaultPolicy = "cost_min", Thresholds = new Dictionary<string, double> { ["cost_min"] = 0.4 },
        };
        var updateBack = await RoundTrip(registry, $"model-updates-{suffix}", update);
        Assert.Equal(update.PreviousVersion, updateBack.PreviousVersion);
        Assert.Equal(update.Thresholds, updateBack.Thresholds);
        Assert.Empty(updateBack.Metrics);

        var label = new FraudLabel
        {
            TransactionId = "t-1", CardId = "card-9", MerchantId = "m-1", EventTimeMs = 1_767_225_600_000, LabelTimeMs = 1_767_830_400_000,
            IsFraud = true, Source = LabelSource.chargeback, Amount = 19.99,
        };
        var labelBack = await RoundTrip(registry, $"fraud-labels-{suffix}", label);
        Assert.Equal((label.TransactionId, label.CardId, label.MerchantId, label.EventTimeMs, label.LabelTimeMs, label.IsFraud, label.Source, label.Amount),
            (labelBack.TransactionId, labelBack.CardId, labelBack.MerchantId, labelBack.EventTimeMs, labelBack.LabelTimeMs, labelBack.IsFraud, labelBack.Source, labelBack.Amount));

        // A generic reader (any language's client) sees the enum symbol and the registered schema is the .avsc's.
        var subject = $"fraud-labels-{suffix}-value";
        var registered = await registry.GetLatestSchemaAsync(subject);
        Assert.Equal(AvroSchema.Parse(AvroSchemas.Text("fraud-label.avsc")).ToString(), AvroSchema.Parse(registered.SchemaString).ToString());
        var bytes = await new AvroSerializer<FraudLabel>(registry).SerializeAsync(label, new SerializationContext(MessageComponentType.Value, $"fraud-labels-{suffix}"));
        var generic = await new AvroDeserializer<GenericRecord>(registry).DeserializeAsync(bytes, false, new SerializationContext(MessageComponentType.Value, $"fraud-labels-{suffix}"));
        Assert.Equal("chargeback", ((GenericEnum)generic["source"]).Value);
    }

    [Fact]
    public async Task NewWriterWithAddedDefaultedField_OldReaderReads_AndOldWriter_NewReaderFillsDefault()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"transactions-evolve-{Guid.NewGuid():N}";
        var subject = $"{topic}-value";
        var context = new SerializationContext(MessageComponentType.Value, topic);

        // v1: the contract as it is today, written by the specific class.
        var oldRecord = Transaction.FromDomain(new Core.Transaction("t-old", "c", "m", 5, "EUR", 1000));
        var oldBytes = await new AvroSerializer<Transaction>(registry).SerializeAsync(oldRecord, context);

        // v2: a newer producer adds a defaulted field; the registry accepts it under BACKWARD.
        var v2 = (RecordSchema)AvroSchema.Parse(AvroSchemas.Text("transaction.avsc").Replace(
            "\"fields\": [",
            "\"fields\": [{\"name\": \"device_id\", \"type\": [\"null\", \"string\"], \"default\": null, \"doc\": \"added in v2\"},",
            StringComparison.Ordinal));
        var newRecord = new GenericRecord(v2);
        foreach (var f in v2.Fields)
        {
            newRecord.Add(f.Name, null);
        }

        newRecord.Add("transaction_id", "t-new");
        newRecord.Add("card_id", "c");
        newRecord.Add("merchant_id", "m");
        newRecord.Add("amount", 7.5);
        newRecord.Add("currency", "EUR");
        newRecord.Add("event_time", DateTime.UnixEpoch.AddSeconds(2));
        newRecord.Add("device_id", "phone-1");
        var newBytes = await new AvroSerializer<GenericRecord>(registry).SerializeAsync(newRecord, context);
        Assert.Equal([1, 2], await registry.GetSubjectVersionsAsync(subject));

        // Old reader (the specific class) reads the new writer's bytes: the extra field is skipped.
        var oldReader = new AvroDeserializer<Transaction>(registry);
        var readByOld = await oldReader.DeserializeAsync(newBytes, false, context);
        Assert.Equal(("t-new", 7.5, 2000L), (readByOld.TransactionId, readByOld.Amount, readByOld.EventTimeMs));

        // New reader (reader schema = latest registered version) reads the old writer's bytes: the default fills in.
        var newReader = new AvroDeserializer<GenericRecord>(registry, new AvroDeserializerConfig { UseLatestVersion = true });
        var readByNew = await newReader.DeserializeAsync(oldBytes, false, context);
        Assert.Equal("t-old", readByNew["transaction_id"]);
        Assert.True(readByNew.TryGetValue("device_id", out var device));
        Assert.Null(device);
        Assert.Equal(v2.Fields.Count, readByNew.Schema.Fields.Count);
    }

    private async Task<T> RoundTrip<T>(ISchemaRegistryClient registry, string topic, T record)
    {
        var context = new SerializationContext(MessageComponentType.Value, topic);
        var bytes = await new AvroSerializer<T>(registry).SerializeAsync(record, context);
        using var fresh = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry }); // no cached schemas: fetch by id
        return await new AvroDeserializer<T>(fresh).DeserializeAsync(bytes, false, context);
    }
}
