using Confluent.Kafka;
using Confluent.SchemaRegistry;
using StreamFraud.Clients;
using StreamFraud.Kafka;

namespace StreamFraud.Inspect;

/// <summary>What a lookup found: the transaction, or why there is none.</summary>
/// <param name="Transaction">The scored transaction, when found.</param>
/// <param name="Problem">Why not (null when found).</param>
public sealed record LookupResult(Core.Transaction? Transaction, string? Problem);

/// <summary>
/// Finds the transaction an alert scored. An alert does not carry the amount, merchant or currency
/// (<c>schemas/fraud-alert.avsc</c>), but it names its source <c>partition</c> and <c>offset</c> in the input topic: the
/// lookup reads that one record (its own consumer, no group, no commit), decodes it through the registry and accepts
/// it only when its <c>transaction_id</c> is the alert's. Alerts of another input (a scorer with another
/// <c>Scorer:InputTopic</c>, a replay of a CSV, a re-created topic) or of a record retention has deleted get a
/// reason instead.
/// </summary>
public sealed class TransactionLookup : IDisposable
{
    private const int MaxCached = 10_000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly TransactionDecoder _decoder;
    private readonly string _topic;
    private readonly Dictionary<(int, long), LookupResult> _cache = [];

    /// <summary>Creates a lookup in <paramref name="topic"/>.</summary>
    public TransactionLookup(KafkaClientSettings kafka, ISchemaRegistryClient registry, string topic)
    {
        var config = TopicReader.ConsumerConfig(kafka);
        config.EnablePartitionEof = true;
        config.AutoOffsetReset = AutoOffsetReset.Latest; // an offset retention removed: straight to the end, reported as missing
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        // Any event time: an old alert's transaction is not "from the past" for this purpose.
        _decoder = new TransactionDecoder(registry, maxFutureSkew: TimeSpan.FromDays(36_500), minEventTime: DateTimeOffset.UnixEpoch);
        _topic = topic;
    }

    /// <summary>The topic looked in.</summary>
    public string Topic => _topic;

    /// <summary>The transaction at <paramref name="partition"/>/<paramref name="offset"/>, when it is <paramref name="transactionId"/>.</summary>
    public LookupResult Find(int partition, long offset, string transactionId)
    {
        ArgumentNullException.ThrowIfNull(transactionId);
        if (!_cache.TryGetValue((partition, offset), out var result))
        {
            result = Read(partition, offset);
            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }

            _cache[(partition, offset)] = result;
        }

        return result.Transaction is { } t && t.TransactionId != transactionId
            ? new LookupResult(null, $"{_topic} partition {partition} offset {offset} holds transaction '{t.TransactionId}', not this alert's: the alert came from another input (another Scorer:InputTopic, a replay, a re-created topic); see --transactions-topic")
            : result;
    }

    private LookupResult Read(int partition, long offset)
    {
        var where = $"{_topic} partition {partition} offset {offset}";
        if (partition < 0 || offset < 0)
        {
            return new(null, $"the alert names no source position ({partition}/{offset})");
        }

        _consumer.Assign([new TopicPartitionOffset(_topic, partition, offset)]);
        try
        {
            var deadline = DateTime.UtcNow + Patience;
            while (DateTime.UtcNow < deadline)
            {
                ConsumeResult<byte[]?, byte[]?>? r;
                try
                {
                    r = _consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    if (e.Error.Code == ErrorCode.UnknownTopicOrPart)
                    {
                        return new(null, $"{_topic} partition {partition} does not exist; see --transactions-topic");
                    }

                    continue;
                }

                if (r is null)
                {
                    continue;
                }

                if (r.IsPartitionEOF || r.Offset.Value > offset)
                {
                    return new(null, $"{where} is not there (deleted by retention, or never written)");
                }

                if (r.Offset.Value < offset)
                {
                    continue;
                }

                var decoded = _decoder.DecodeAsync(r.Message.Value, _topic).GetAwaiter().GetResult();
                return decoded.Ok ? new(decoded.Transaction, null) : new(null, $"{where} does not decode as a transaction ({decoded.ErrorClass}: {decoded.Reason})");
            }

            return new(null, $"{where}: no answer within {Patience.TotalSeconds:0} s");
        }
        finally
        {
            _consumer.Unassign();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
    }
}
