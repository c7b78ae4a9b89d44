using Confluent.Kafka;
using StreamFraud.Clients;
using StreamFraud.Inspect.Commands;

namespace StreamFraud.Inspect;

/// <summary>Something the user can fix outside the command line: Kafka unreachable, a topic that does not exist. Exit code 1.</summary>
public sealed class InspectException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads one topic with a consumer that never joins a group and never commits (every partition assigned
/// explicitly), so looking at a topic never moves anybody's offsets. <c>read_committed</c>: what the scorer's
/// consumers see, never an aborted exactly-once batch.
/// </summary>
/// <remarks>
/// Bounded reads (no <see cref="ReadMode.Follow"/>) stop at the high watermark each partition had at the start and
/// print the partitions merged by <paramref name="orderKey"/> (each partition in offset order), so the first records
/// printed are the oldest. A follow prints records as they arrive.
/// </remarks>
/// <param name="kafka">Client settings (<c>--bootstrap</c>, <c>--kafka-config</c>, environment).</param>
/// <param name="topic">Topic.</param>
/// <param name="mode">Start and stop.</param>
/// <param name="warn">Where a warning goes (standard error).</param>
/// <param name="orderKey">The merge order of a bounded read, in Unix ms (default: the message timestamp; alerts use their event time).</param>
public sealed class TopicReader(KafkaClientSettings kafka, string topic, ReadMode mode, Action<string> warn, Func<ConsumeResult<byte[]?, byte[]?>, long>? orderKey = null)
{
    private readonly Func<ConsumeResult<byte[]?, byte[]?>, long> _orderKey = orderKey ?? (r => r.Message.Timestamp.UnixTimestampMs);

    /// <summary>How long a bounded read waits without progress before it gives up on the partitions left (an
    /// exactly-once producer's open transaction holds <c>read_committed</c> readers back).</summary>
    public static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(15);

    /// <summary>Records held per partition before it is paused while the merge waits for a slower one.</summary>
    private const int MaxQueued = 10_000;

    /// <summary>The consumer's configuration: the shared client settings, a throwaway group id (never used to
    /// commit), no auto commit, <c>read_committed</c>, short fetch waits.</summary>
    public static ConsumerConfig ConsumerConfig(KafkaClientSettings kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ConsumerConfig(kafka.Client().ToDictionary(kv => kv.Key, kv => kv.Value))
        {
            GroupId = $"streamfraud-inspect-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 100,
        };
    }

    /// <summary>The topic's records; a follow ends (without error) when <paramref name="cancellationToken"/> fires.</summary>
    /// <exception cref="InspectException">Kafka cannot be reached or the topic does not exist.</exception>
    /// <exception cref="OperationCanceledException">A bounded read was cancelled.</exception>
    public IEnumerable<ConsumeResult<byte[]?, byte[]?>> Read(CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(ConsumerConfig(kafka)).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        var partitions = Partitions();
        var stopAt = new Dictionary<int, long>();
        var assignment = new List<TopicPartitionOffset>();
        foreach (var p in partitions)
        {
            WatermarkOffsets marks;
            try
            {
                marks = consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10));
            }
            catch (KafkaException e)
            {
                throw new InspectException($"cannot read the offsets of {p.Topic} partition {p.Partition.Value} from {kafka.BootstrapServers}: {e.Error.Reason}", e);
            }

            var start = mode.FromBeginning ? marks.Low.Value : marks.High.Value;
            if (!mode.Follow)
            {
                if (start >= marks.High.Value)
                {
                    continue; // nothing on this partition
                }

                stopAt[p.Partition.Value] = marks.High.Value;
            }

            assignment.Add(new TopicPartitionOffset(p, start));
        }

        if (assignment.Count == 0)
        {
            yield break;
        }

        consumer.Assign(assignment);
        var records = mode.Follow ? Follow(consumer, cancellationToken) : Merged(consumer, stopAt, cancellationToken);
        foreach (var r in records)
        {
            yield return r;
        }

        consumer.Close();
    }

    /// <summary>The topic's partitions, from the brokers' metadata.</summary>
    private List<TopicPartition> Partitions()
    {
        var config = kafka.Admin();
        config.Set("allow.auto.create.topics", "false"); // asking about a topic must not create it (librdkafka's producer-side default is true)
        using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        Metadata metadata;
        try
        {
            metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        }
        catch (KafkaException e)
        {
            throw new InspectException($"cannot reach Kafka at {kafka.BootstrapServers} ({e.Error.Reason}); check --bootstrap and --kafka-config", e);
        }

        var t = metadata.Topics.SingleOrDefault(x => x.Topic == topic);
        if (t is null || t.Error.Code == ErrorCode.UnknownTopicOrPart || (t.Error.IsError && t.Partitions.Count == 0))
        {
            throw new InspectException($"topic '{topic}' does not exist on {kafka.BootstrapServers}{(t is { Error.IsError: true } ? $" ({t.Error.Reason})" : "")}; check --topic");
        }

        return [.. t.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(p => p.Partition.Value)];
    }

    private static IEnumerable<ConsumeResult<byte[]?, byte[]?>> Follow(IConsumer<byte[]?, byte[]?> consumer, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var r = Consume(consumer, TimeSpan.FromMilliseconds(250));
            if (r is { IsPartitionEOF: false })
            {
                yield return r;
            }
        }
    }

    /// <summary>
    /// Reads every partition up to its stop offset and yields the records in order of the merge key (ties by
    /// partition): a record is released once every partition still being read has one waiting, so none of them can
    /// hold an earlier one (each partition taken in offset order).
    /// </summary>
    private IEnumerable<ConsumeResult<byte[]?, byte[]?>> Merged(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, long> stopAt, CancellationToken cancellationToken)
    {
        var queues = stopAt.Keys.ToDictionary(p => p, _ => new Queue<(long Key, ConsumeResult<byte[]?, byte[]?> Record)>());
        var paused = new HashSet<int>();
        var lastProgress = DateTime.UtcNow;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (queues.All(q => q.Value.Count > 0 || !stopAt.ContainsKey(q.Key)))
            {
                var next = queues.Where(q => q.Value.Count > 0)
                    .OrderBy(q => q.Value.Peek().Key).ThenBy(q => q.Key)
                    .Select(q => q.Key).Cast<int?>().FirstOrDefault();
                if (next is not { } partition)
                {
                    yield break;
                }

                var record = queues[partition].Dequeue().Record;
                if (paused.Contains(partition) && queues[partition].Count < MaxQueued / 2)
                {
                    consumer.Resume([new TopicPartition(topic, partition)]);
                    paused.Remove(partition);
                }

                yield return record;
                continue;
            }

            var r = Consume(consumer, TimeSpan.FromMilliseconds(250));
            if (r is null || r.IsPartitionEOF)
            {
                // The end is judged by position: transaction markers occupy offsets no record has.
                var before = stopAt.Count;
                foreach (var (p, stop) in stopAt.ToList())
                {
                    if (consumer.Position(new TopicPartition(topic, p)).Value >= stop)
                    {
                        stopAt.Remove(p);
                    }
                }

                if (stopAt.Count < before)
                {
                    lastProgress = DateTime.UtcNow;
                }
                else if (DateTime.UtcNow - lastProgress > StallLimit)
                {
                    foreach (var (p, stop) in stopAt)
                    {
                        warn($"{topic} partition {p}: no progress for {StallLimit.TotalSeconds:0} s at offset {consumer.Position(new TopicPartition(topic, p)).Value} " +
                             $"of {stop} (an open exactly-once transaction holds read_committed readers back); stopped there");
                    }

                    stopAt.Clear();
                }

                continue;
            }

            lastProgress = DateTime.UtcNow;
            var partitionNumber = r.Partition.Value;
            if (!stopAt.TryGetValue(partitionNumber, out var end) || r.Offset.Value >= end)
            {
                continue;
            }

            if (r.Offset.Value + 1 >= end)
            {
                stopAt.Remove(partitionNumber);
            }

            var queue = queues[partitionNumber];
            queue.Enqueue((_orderKey(r), r));
            if (queue.Count >= MaxQueued && stopAt.ContainsKey(partitionNumber) && paused.Add(partitionNumber))
            {
                consumer.Pause([new TopicPartition(topic, partitionNumber)]); // bounded memory while a slower partition catches up
            }
        }
    }

    private static ConsumeResult<byte[]?, byte[]?>? Consume(IConsumer<byte[]?, byte[]?> consumer, TimeSpan timeout)
    {
        try
        {
            return consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            return null; // a transient broker error: librdkafka retries
        }
    }
}
