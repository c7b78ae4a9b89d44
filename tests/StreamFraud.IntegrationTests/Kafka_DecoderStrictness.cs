using System.Buffers.Binary;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 11: the decoder's framing and value classes, through the real Schema Registry client and Confluent's Avro
/// serdes. Trailing bytes after a valid body are refused; a timestamp no date can hold is a bad value
/// (<c>invalid_value</c>), not undecodable bytes; over-long ids are bad values.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Kafka_DecoderStrictness(StackFixture stack) : IDisposable
{
    private const long T = 1_767_225_600_000;
    private readonly CachedSchemaRegistryClient _registry = new(new SchemaRegistryConfig { Url = stack.Registry });

    public void Dispose() => _registry.Dispose();

    [Fact]
    public async Task TrailingBytes_Undecodable_WithTheirCount_ValidBodyStillDecodes()
    {
        var (decoder, valid) = await SetupAsync();
        Assert.True((await decoder.DecodeAsync(valid, "t")).Ok);

        foreach (var extra in new[] { 1, 17 })
        {
            var value = valid.Concat(Enumerable.Repeat((byte)0x02, extra)).ToArray();
            var decoded = await decoder.DecodeAsync(value, "t");
            Assert.False(decoded.Ok);
            Assert.Equal(DlqErrorClass.Undecodable, decoded.ErrorClass);
            Assert.Contains($"{extra} trailing byte(s) after the {valid.Length - 5}-byte Avro body", decoded.Reason, StringComparison.Ordinal);
        }

        // Two records in one value (a producer concatenating messages) is not one record either.
        var twice = await decoder.DecodeAsync([.. valid, .. valid[5..]], "t");
        Assert.Equal(DlqErrorClass.Undecodable, twice.ErrorClass);
        Assert.Contains("trailing byte(s)", twice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EventTime_OutsideEveryDate_InvalidValue_NotUndecodable()
    {
        var (decoder, valid) = await SetupAsync();
        var header = valid[..5];

        // The hand encoder writes exactly what Confluent's serializer writes for a valid record...
        Assert.Equal(valid, (byte[])[.. header, .. Body("tx-1", "card-1", T)]);

        // ...so the same record with event_time = long.MaxValue (which the serializer refuses to write) is well-formed.
        foreach (var time in new[] { long.MaxValue, long.MinValue, 253_402_300_800_000 })
        {
            var decoded = await decoder.DecodeAsync([.. header, .. Body("tx-1", "card-1", time)], "t");
            Assert.False(decoded.Ok);
            Assert.Equal(DlqErrorClass.InvalidValue, decoded.ErrorClass);
            Assert.Contains($"event_time = {time} (timestamp-millis) is outside every representable date", decoded.Reason, StringComparison.Ordinal);
        }

        // A representable but absurd time stays a range violation of the same class.
        var old = await decoder.DecodeAsync([.. header, .. Body("tx-1", "card-1", 0)], "t");
        Assert.Equal(DlqErrorClass.InvalidValue, old.ErrorClass);
        Assert.Contains("event_time 1970-01-01", old.Reason, StringComparison.Ordinal);

        // A truncated body is still undecodable (the bytes, not a value, are wrong).
        var truncated = await decoder.DecodeAsync(valid[..^3], "t");
        Assert.Equal(DlqErrorClass.Undecodable, truncated.ErrorClass);
    }

    [Fact]
    public async Task OverLongOrControlCharacterIds_InvalidValue()
    {
        var (decoder, valid) = await SetupAsync();
        var header = valid[..5];
        Assert.True((await decoder.DecodeAsync([.. header, .. Body("tx-1", new string('c', 128), T)], "t")).Ok);

        var longCard = await decoder.DecodeAsync([.. header, .. Body("tx-1", new string('c', 129), T)], "t");
        Assert.Equal(DlqErrorClass.InvalidValue, longCard.ErrorClass);
        Assert.Contains("card_id is 129 UTF-8 bytes long; the limit is 128", longCard.Reason, StringComparison.Ordinal);

        var longTx = await decoder.DecodeAsync([.. header, .. Body(new string('t', 200), "card-1", T)], "t");
        Assert.Equal(DlqErrorClass.InvalidValue, longTx.ErrorClass);
        Assert.Contains("transaction_id is 200 UTF-8 bytes long", longTx.Reason, StringComparison.Ordinal);

        var control = await decoder.DecodeAsync([.. header, .. Body("tx-1", "card\n1", T)], "t");
        Assert.Equal(DlqErrorClass.InvalidValue, control.ErrorClass);
        Assert.Contains("card_id contains control character U+000A", control.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// The label decoder keeps the same framing and classes: a round trip through the registry, trailing bytes
    /// refused, a timestamp no date holds and a label before its transaction are bad values, a transaction is not a
    /// label (schema_mismatch).
    /// </summary>
    [Fact]
    public async Task LabelDecoder_SameFramingAndClasses_LabelRulesAsInvalidValue()
    {
        var serializer = new AvroSerializer<Contracts.FraudLabel>(_registry);
        var label = new Core.Labels.TransactionLabel("tx-1", "card-1", "m-1", T, T + 86_400_000, IsFraud: true, Core.Labels.LabelOrigin.CustomerClaim, 99.5);
        var valid = await serializer.SerializeAsync(LabelRecords.ToRecord(label), new SerializationContext(MessageComponentType.Value, "labels"));
        var decoder = new LabelDecoder(_registry);
        Assert.Equal(label, (await decoder.DecodeAsync(valid, "labels")).Label);

        var header = valid[..5];
        Assert.Equal(valid, (byte[])[.. header, .. LabelBody(T, T + 86_400_000)]); // the hand encoder writes what the serializer writes

        var trailing = await decoder.DecodeAsync([.. valid, 0x02], "labels");
        Assert.Equal(DlqErrorClass.Undecodable, trailing.ErrorClass);
        Assert.Contains("1 trailing byte(s)", trailing.Reason, StringComparison.Ordinal);

        var never = await decoder.DecodeAsync([.. header, .. LabelBody(T, long.MaxValue)], "labels");
        Assert.Equal(DlqErrorClass.InvalidValue, never.ErrorClass);
        Assert.Contains($"label_time = {long.MaxValue} (timestamp-millis) is outside every representable date", never.Reason, StringComparison.Ordinal);

        var early = await decoder.DecodeAsync([.. header, .. LabelBody(T, T - 1)], "labels");
        Assert.Equal(DlqErrorClass.InvalidValue, early.ErrorClass);
        Assert.Contains("a verdict cannot precede its transaction", early.Reason, StringComparison.Ordinal);

        var (_, transaction) = await SetupAsync();
        var mismatch = await decoder.DecodeAsync(transaction, "labels");
        Assert.Equal(DlqErrorClass.SchemaMismatch, mismatch.ErrorClass);
        Assert.Contains("cannot be read as a fraud label", mismatch.Reason, StringComparison.Ordinal);
    }

    /// <summary>The Avro binary body of the label tx-1/card-1/m-1, fraud, customer_claim, amount 99.5, written by hand.</summary>
    private static byte[] LabelBody(long eventTime, long labelTime)
    {
        var b = new List<byte>();
        String(b, "tx-1");
        String(b, "card-1");
        String(b, "m-1");
        Long(b, eventTime);
        Long(b, labelTime);
        b.Add(1);            // is_fraud
        Long(b, 2);          // source: customer_claim
        Long(b, 1);          // amount: union branch 1 (double)
        var d = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(d, 99.5);
        b.AddRange(d);
        return [.. b];
    }

    [Fact]
    public async Task FastPath_DecodesExactlyAsConfluentsDeserializer_AndDefersEverythingElse()
    {
        var serializer = new AvroSerializer<Contracts.Transaction>(_registry);
        var fast = new TransactionDecoder(_registry, new FixedTime(T + 1000));
        var general = new TransactionDecoder(_registry, new FixedTime(T + 1000)) { FastPath = false };
        var rng = new Random(91);
        string Text(int max) => new([.. Enumerable.Range(0, rng.Next(max)).Select(_ => rng.Next(10) switch
        {
            0 => 'é', 1 => '€', 2 => '字', 3 => (char)rng.Next(0x20, 0x7F), 4 => '\uD83D', _ => (char)rng.Next('a', 'z' + 1),
        })]);
        string? Maybe(int max) => rng.Next(3) == 0 ? null : Text(max);
        var values = new List<byte[]>();
        for (var i = 0; i < 400; i++)
        {
            double[] amounts = [0, -0.0, 12.5, double.Epsilon, 1e300, rng.NextDouble() * 1e4, double.NaN, -3];
            float[]? features = rng.Next(3) switch
            {
                0 => null,
                1 => [],
                _ => [.. Enumerable.Range(0, rng.Next(1, 90)).Select(_ => rng.Next(40) == 0 ? float.NaN : (float)(rng.NextDouble() * 200 - 100))],
            };
            var tx = new Core.Transaction(
                "tx-" + Text(rng.Next(2) == 0 ? 12 : 220), "card-" + Text(rng.Next(2) == 0 ? 10 : 140), rng.Next(8) == 0 ? "" : "m-" + Text(8),
                amounts[rng.Next(amounts.Length)], Text(4), rng.Next(6) == 0 ? rng.NextInt64(-62_135_596_800_000, 253_402_300_799_999) : T - rng.NextInt64(0, 86_400_000L * 400),
                Maybe(5), Maybe(3), Maybe(12), features, rng.Next(3) switch { 0 => null, 1 => true, _ => false }, Maybe(20));
            values.Add(await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, "t")));
        }

        var taken = 0;
        foreach (var value in values)
        {
            var expected = await general.DecodeAsync(value, "t");
            var got = await fast.DecodeAsync(value, "t");
            AssertSame(expected, got, value);
            taken += fast.TryDecode(value, out _) ? 1 : 0;
        }

        Assert.Equal(values.Count, taken); // every well-formed value took the fast path

        // A writer schema equal to the contract's but for logical types (same Parsing Canonical Form: event_time a plain
        // long) is not the contract's: the fast path leaves it to the general path.
        var contract = Contracts.AvroSchemas.Transaction.ToString();
        foreach (var variant in new[] { contract.Replace("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\"", StringComparison.Ordinal) })
        {
            Assert.NotEqual(contract, variant);
            var id = await _registry.RegisterSchemaAsync($"fast-{Guid.NewGuid():N}-value", new Schema(variant, SchemaType.Avro));
            byte[] value = [0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id, .. values[0][5..]];
            var expected = await general.DecodeAsync(value, "t");
            AssertSame(expected, await fast.DecodeAsync(value, "t"), value);
            Assert.False(fast.TryDecode(value, out _), variant);
        }

        // Damaged values: every truncation, trailing bytes, random byte changes — the fast path either decodes them
        // exactly as the general path does or leaves them to it (same DLQ class and reason).
        foreach (var value in values.Take(60))
        {
            for (var cut = 0; cut < value.Length; cut += Math.Max(1, value.Length / 25))
            {
                AssertSame(await general.DecodeAsync(value[..cut], "t"), await fast.DecodeAsync(value[..cut], "t"), value[..cut]);
            }

            byte[] longer = [.. value, (byte)rng.Next(256)];
            AssertSame(await general.DecodeAsync(longer, "t"), await fast.DecodeAsync(longer, "t"), longer);
            for (var k = 0; k < 20; k++)
            {
                var damaged = (byte[])value.Clone();
                damaged[5 + rng.Next(damaged.Length - 5)] = (byte)rng.Next(256);
                AssertSame(await general.DecodeAsync(damaged, "t"), await fast.DecodeAsync(damaged, "t"), damaged);
            }
        }

        static void AssertSame(Decoded expected, Decoded actual, byte[] value)
        {
            var what = Convert.ToHexString(value);
            Assert.True(expected.ErrorClass == actual.ErrorClass && expected.Reason == actual.Reason, $"{what}: {expected.ErrorClass} {expected.Reason} vs {actual.ErrorClass} {actual.Reason}");
            Assert.Equal(expected.Transaction is null, actual.Transaction is null);
            if (expected.Transaction is { } e && actual.Transaction is { } a)
            {
                Assert.True(e with { Features = null } == a with { Features = null }, $"{what}: {e} vs {a}");
                Assert.Equal(e.Amount.ToString("R"), a.Amount.ToString("R")); // -0.0 stays -0.0
                Assert.Equal(e.Features is null, a.Features is null);
                Assert.True(e.Features is null || e.Features.AsSpan().SequenceEqual(a.Features), what);
            }
        }
    }

    private async Task<(TransactionDecoder Decoder, byte[] Valid)> SetupAsync()
    {
        var serializer = new AvroSerializer<Contracts.Transaction>(_registry);
        var tx = new Core.Transaction("tx-1", "card-1", "m-1", 12.5, "EUR", T, "5411", null, "pos");
        var valid = await serializer.SerializeAsync(Contracts.Transaction.FromDomain(tx), new SerializationContext(MessageComponentType.Value, "t"));
        var decoder = new TransactionDecoder(_registry, new FixedTime(T + 1000));
        return (decoder, valid);
    }

    /// <summary>The Avro binary body of a transaction (fields in schema order), written by hand.</summary>
    private static byte[] Body(string id, string card, long time)
    {
        var b = new List<byte>();
        String(b, id);
        String(b, card);
        String(b, "m-1");
        var d = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(d, 12.5);
        b.AddRange(d);
        String(b, "EUR");
        Long(b, time);
        Long(b, 1);          // mcc: union branch 1 (string)
        String(b, "5411");
        Long(b, 0);          // country: null
        Long(b, 1);          // channel
        String(b, "pos");
        Long(b, 0);          // features: null
        Long(b, 0);          // is_fraud: null
        Long(b, 0);          // fraud_scenario: null
        return [.. b];
    }

    private static void String(List<byte> b, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Long(b, bytes.Length);
        b.AddRange(bytes);
    }

    private static void Long(List<byte> b, long v)
    {
        var z = (ulong)((v << 1) ^ (v >> 63));
        while (z >= 0x80)
        {
            b.Add((byte)(z | 0x80));
            z >>= 7;
        }

        b.Add((byte)z);
    }

    private sealed class FixedTime(long ms) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }
}
