using RecordSchema = Avro.RecordSchema;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>Confluent's real registry client and Avro serdes against the development registry (or a real one).</summary>
[Collection(StackCollection.Name)]
public sealed class SchemaRegistry_AvroSerdes(StackFixture stack)
{
    private const string V1 = """
        {"type":"record","name":"Payment","namespace":"it.registry","fields":[
          {"name":"id","type":"string"},
          {"name":"amount","type":"double"}]}
        """;

    private const string V2AddedWithDefault = """
        {"type":"record","name":"Payment","namespace":"it.registry","fields":[
          {"name":"id","type":"string"},
          {"name":"amount","type":"double"},
          {"name":"country","type":["null","string"],"default":null}]}
        """;

    private const string AddedWithoutDefault = """
        {"type":"record","name":"Payment","namespace":"it.registry","fields":[
          {"name":"id","type":"string"},
          {"name":"amount","type":"double"},
          {"name":"mcc","type":"string"}]}
        """;

    private const string TypeChanged = """
        {"type":"record","name":"Payment","namespace":"it.registry","fields":[
          {"name":"id","type":"string"},
          {"name":"amount","type":"string"}]}
        """;

    private const string AmountRemoved = """
        {"type":"record","name":"Payment","namespace":"it.registry","fields":[
          {"name":"id","type":"string"}]}
        """;

    [Fact]
    public async Task AvroSerializer_RegistersSchema_DeserializerReadsRecordBack()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var topic = $"payments-{Guid.NewGuid():N}";
        var schema = (RecordSchema)Avro.Schema.Parse(V1);
        var record = new GenericRecord(schema);
        record.Add("id", "tx-1");
        record.Add("amount", 12.5);

        var serializer = new AvroSerializer<GenericRecord>(registry);
        var context = new SerializationContext(MessageComponentType.Value, topic);
        var bytes = await serializer.SerializeAsync(record, context);

        // Confluent wire format: magic byte 0, then the big-endian schema id the registry assigned.
        Assert.Equal(0, bytes[0]);
        var id = (bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4];
        var registered = await registry.GetLatestSchemaAsync($"{topic}-value");
        Assert.Equal(registered.Id, id);
        Assert.Equal(1, registered.Version);

        // A fresh client (no cache) must fetch the schema by id from the registry to decode.
        using var readerRegistry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var back = await new AvroDeserializer<GenericRecord>(readerRegistry).DeserializeAsync(bytes, isNull: false, context);
        Assert.Equal("tx-1", back["id"]);
        Assert.Equal(12.5, back["amount"]);
        Assert.Equal(V1.Replace(" ", "").Replace("\n", "").Replace("\r", ""), (await readerRegistry.GetSchemaAsync(id)).SchemaString.Replace(" ", "").Replace("\n", "").Replace("\r", ""));
    }

    [Fact]
    public async Task Register_SameSchema_SameIdAcrossSubjects_AndLookupFindsIt()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var a = $"same-a-{Guid.NewGuid():N}";
        var b = $"same-b-{Guid.NewGuid():N}";
        var id1 = await registry.RegisterSchemaAsync(a, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro));
        var id2 = await registry.RegisterSchemaAsync(a, new Confluent.SchemaRegistry.Schema(V1.Replace("\n", " "), SchemaType.Avro)); // whitespace only
        var id3 = await registry.RegisterSchemaAsync(b, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro));
        Assert.Equal(id1, id2);
        Assert.Equal(id1, id3);
        Assert.Equal([1], await registry.GetSubjectVersionsAsync(a));

        var found = await registry.LookupSchemaAsync(a, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro), ignoreDeletedSchemas: true, normalize: false);
        Assert.Equal(id1, found.Id);
        Assert.Equal(1, found.Version);
        var subjects = await registry.GetAllSubjectsAsync();
        Assert.Contains(a, subjects);
        Assert.Contains(b, subjects);

        var missing = await Assert.ThrowsAsync<SchemaRegistryException>(() =>
            registry.LookupSchemaAsync(a, new Confluent.SchemaRegistry.Schema(V2AddedWithDefault, SchemaType.Avro), ignoreDeletedSchemas: true, normalize: false));
        Assert.Equal(40403, missing.ErrorCode);
    }

    [Fact]
    public async Task Backward_AddedFieldWithDefault_Accepted_AddedWithoutDefaultOrTypeChange_Rejected409()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var subject = $"evolve-{Guid.NewGuid():N}-value";
        Assert.Equal(Compatibility.Backward, await registry.GetCompatibilityAsync(subject));

        var v1 = await registry.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro));
        Assert.True(await registry.IsCompatibleAsync(subject, new Confluent.SchemaRegistry.Schema(V2AddedWithDefault, SchemaType.Avro)));
        var v2 = await registry.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(V2AddedWithDefault, SchemaType.Avro));
        Assert.NotEqual(v1, v2);
        Assert.Equal([1, 2], await registry.GetSubjectVersionsAsync(subject));

        foreach (var incompatible in new[] { AddedWithoutDefault, TypeChanged })
        {
            Assert.False(await registry.IsCompatibleAsync(subject, new Confluent.SchemaRegistry.Schema(incompatible, SchemaType.Avro)));
            var e = await Assert.ThrowsAsync<SchemaRegistryException>(() => registry.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(incompatible, SchemaType.Avro)));
            Assert.Equal(409, e.ErrorCode);
        }

        Assert.Equal([1, 2], await registry.GetSubjectVersionsAsync(subject));
    }

    [Fact]
    public async Task Full_RemovedFieldWithoutDefault_Rejected409_ButBackwardAcceptsIt()
    {
        // Avro resolution: a reader ignores writer fields it lacks, so removing a field is BACKWARD compatible (the
        // real registry agrees). Old readers cannot fill the removed field when it had no default, so FORWARD/FULL reject it.
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var full = $"full-{Guid.NewGuid():N}-value";
        Assert.Equal(Compatibility.Full, await registry.UpdateCompatibilityAsync(Compatibility.Full, full));
        Assert.Equal(Compatibility.Full, await registry.GetCompatibilityAsync(full));
        await registry.RegisterSchemaAsync(full, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro));
        var e = await Assert.ThrowsAsync<SchemaRegistryException>(() => registry.RegisterSchemaAsync(full, new Confluent.SchemaRegistry.Schema(AmountRemoved, SchemaType.Avro)));
        Assert.Equal(409, e.ErrorCode);

        var backward = $"backward-{Guid.NewGuid():N}-value";
        await registry.RegisterSchemaAsync(backward, new Confluent.SchemaRegistry.Schema(V1, SchemaType.Avro));
        await registry.RegisterSchemaAsync(backward, new Confluent.SchemaRegistry.Schema(AmountRemoved, SchemaType.Avro));
        Assert.Equal([1, 2], await registry.GetSubjectVersionsAsync(backward));
    }

    [Fact]
    public async Task UnknownSubjectAndId_ReturnRegistryErrorCodes()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = stack.Registry });
        var subject = await Assert.ThrowsAsync<SchemaRegistryException>(() => registry.GetLatestSchemaAsync($"nope-{Guid.NewGuid():N}"));
        Assert.Equal(40401, subject.ErrorCode);
        var id = await Assert.ThrowsAsync<SchemaRegistryException>(() => registry.GetSchemaAsync(987_654));
        Assert.Equal(40403, id.ErrorCode);
    }
}
