using Confluent.Kafka;
using Confluent.SchemaRegistry;
using StreamFraud.Clients;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Kafka;

namespace StreamFraud.Replay;

/// <summary>One event to replay: scored and reported when <see cref="InRange"/>, else warm-up (builds window state only).</summary>
public readonly record struct ReplayEvent(Transaction Transaction, SourcePosition Position, bool InRange);

/// <summary>Where replayed events come from.</summary>
public interface IReplaySource
{
    /// <summary>Events in the order they apply (per card: event order).</summary>
    IEnumerable<ReplayEvent> Read(CancellationToken cancellationToken);

    /// <summary>Messages that could not be decoded (skipped, as the scorer would dead-letter them).</summary>
    long Undecodable { get; }
}

/// <summary>A canonical CSV in file order; rows before <c>from - warmup</c> are skipped, rows in [from - warmup, from) warm up.</summary>
public sealed class CsvReplaySource(string path, DateTimeOffset? from, DateTimeOffset? to, TimeSpan warmup) : IReplaySource
{
    /// <inheritdoc />
    public long Undecodable => 0;

    /// <inheritdoc />
    public IEnumerable<ReplayEvent> Read(CancellationToken cancellationToken)
    {
        var start = from?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var end = to?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        var warm = from is null ? long.MinValue : start - (long)warmup.TotalMilliseconds;
        long row = 0;
        foreach (var tx in CanonicalCsv.Read(path))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var position = SourcePosition.Offline(row++);
            if (tx.EventTimeMs < warm || tx.EventTimeMs >= end)
            {
                continue;
            }

            yield return new ReplayEvent(tx, position, tx.EventTimeMs >= start);
        }
    }
}

/// <summary>
/// A topic's time range read with a fresh consumer that never commits: partitions assigned explicitly, positioned by
/// timestamp at <c>from - warmup</c>, read up to the offset of <c>to</c> (or the end as of the start) on every partition,
/// and merged into one event-time order (each partition in offset order).
/// </summary>
public sealed class TopicReplaySource(KafkaClientSettings kafka, ISchemaRegistryClient registry, string topic, DateTimeOffset from, DateTimeOffset to, TimeSpan warmup) : IReplaySource
{
    /// <summary>Events buffered per partition before it is paused while the merge waits for a slower one.</summary>
    private const int MaxQueued = 20_000;

    /// <inheritdoc />
    public long Undecodable { get; private set; }

    /// <inheritdoc />
    public IEnumerable<ReplayEvent> Read(CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(ReplayClients.Reader(kafka, "streamfraud-replay"))
            .SetLogHandler((_, _) => { })
            .Build();
        using var admin = new AdminClientBuilder(ReplayClients.Admin(kafka)).SetLogHandler((_, _) => { }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single();
        if (metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            throw new InvalidOperationException($"Topic '{topic}' is not available on {kafka.BootstrapServers}: {metadata.Error.Reason}.");
        }

        var partitions = metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var startAt = from - warmup;
        var starts = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(startAt))), TimeSpan.FromSeconds(30));
        var ends = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(to))), TimeSpan.FromSeconds(30));
        var stopAt = new Dictionary<int, long>();
        var assignment = new List<TopicPartitionOffset>();
        foreach (var p in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10));
            var high = marks.High.Value;
            var end = ends.Single(e => e.Partition == p.Partition).Offset.Value;
            var stop = end < 0 ? high : Math.Min(end, high); // no message at/after `to`: read to the end as of now
            // A broker that cannot resolve the timestamp (librdkafka's mock cluster answers -1) costs a scan from
            // the beginning, never a wrong range: events are still filtered by event time below.
            var start = starts.Single(s => s.Partition == p.Partition).Offset.Value;
            if (start < 0)
            {
                start = marks.Low.Value;
            }

            if (start < 0 || start >= stop)
            {
                continue; // nothing in range on this partition
            }

            stopAt[p.Partition.Value] = stop;
            assignment.Add(new TopicPartitionOffset(p, start));
        }

        var decoder = new TransactionDecoder(registry, maxFutureSkew: TimeSpan.FromDays(36_500));
        var fromMs = from.ToUnixTimeMilliseconds();
        var toMs = to.ToUnixTimeMilliseconds();
        var warmMs = fromMs - (long)warmup.TotalMilliseconds;
        var source = SourcePosition.SourceHash(topic); // the scorer's identity of the topic without a Scorer:SourceId

        // Partitions are merged by event time (each kept in offset order, as the scorer applies it): one card's events
        // are in one partition, but entity risk (card v2) is shared across cards and partitions, so the replay applies
        // events in one time order — the order of the trainer — whatever pace librdkafka fetches each partition at.
        var queues = stopAt.Keys.ToDictionary(p => p, _ => new Queue<ReplayEvent>());
        var paused = new HashSet<int>();
        consumer.Assign(assignment);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (queues.All(q => q.Value.Count > 0 || !stopAt.ContainsKey(q.Key)))
            {
                // Every partition still being read has a head (or none is left): the earliest head is next.
                var next = queues.Where(q => q.Value.Count > 0)
                    .OrderBy(q => q.Value.Peek().Transaction.EventTimeMs).ThenBy(q => q.Key)
                    .Select(q => q.Key).Cast<int?>().FirstOrDefault();
                if (next is not { } partition)
                {
                    yield break;
                }

                var e = queues[partition].Dequeue();
                if (paused.Contains(partition) && queues[partition].Count < MaxQueued / 2)
                {
                    consumer.Resume([new TopicPartition(topic, partition)]);
                    paused.Remove(partition);
                }

                yield return e;
                continue;
            }

            var r = consumer.Consume(TimeSpan.FromSeconds(1));
            if (r is null || r.IsPartitionEOF)
            {
                ForgetFinished(consumer, topic, stopAt);
                continue;
            }

            var partitionNumber = r.Partition.Value;
            if (!stopAt.TryGetValue(partitionNumber, out var stop) || r.Offset.Value >= stop)
            {
                continue;
            }

            if (r.Offset.Value + 1 >= stop)
            {
                stopAt.Remove(partitionNumber);
            }

            var decoded = decoder.DecodeAsync(r.Message.Value, topic).GetAwaiter().GetResult();
            if (!decoded.Ok)
            {
                Undecodable++;
                continue;
            }

            var tx = decoded.Transaction!;
            if (tx.EventTimeMs < warmMs || tx.EventTimeMs >= toMs)
            {
                continue;
            }

            var queue = queues[partitionNumber];
            queue.Enqueue(new ReplayEvent(tx, new SourcePosition(partitionNumber, r.Offset.Value, source), tx.EventTimeMs >= fromMs));
            if (queue.Count >= MaxQueued && stopAt.ContainsKey(partitionNumber) && paused.Add(partitionNumber))
            {
                consumer.Pause([new TopicPartition(topic, partitionNumber)]); // bounded memory while another partition catches up
            }
        }
    }

    /// <summary>
    /// Removes from <paramref name="stopAt"/> every partition whose position reached its end offset. Control records
    /// (transaction markers) occupy offsets no message has, so the end is judged by position, not by the last message.
    /// </summary>
    internal static void ForgetFinished(IConsumer<byte[]?, byte[]?> consumer, string topic, Dictionary<int, long> stopAt)
    {
        foreach (var (p, last) in stopAt.ToList())
        {
            if (consumer.Position(new TopicPartition(topic, p)).Value >= last)
            {
                stopAt.Remove(p);
            }
        }
    }

}
