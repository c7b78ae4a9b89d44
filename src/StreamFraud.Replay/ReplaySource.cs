using Confluent.Kafka;
using Confluent.SchemaRegistry;
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
/// timestamp at <c>from - warmup</c>, read up to the offset of <c>to</c> (or the end as of the start) on every partition.
/// </summary>
public sealed class TopicReplaySource(string bootstrap, ISchemaRegistryClient registry, string topic, DateTimeOffset from, DateTimeOffset to, TimeSpan warmup) : IReplaySource
{
    /// <inheritdoc />
    public long Undecodable { get; private set; }

    /// <inheritdoc />
    public IEnumerable<ReplayEvent> Read(CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = $"streamfraud-replay-{Guid.NewGuid():N}", // never used for commits
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                IsolationLevel = IsolationLevel.ReadCommitted,
                FetchWaitMaxMs = 50,
            })
            .SetLogHandler((_, _) => { })
            .Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single();
        if (metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            throw new InvalidOperationException($"Topic '{topic}' is not available on {bootstrap}: {metadata.Error.Reason}.");
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
        consumer.Assign(assignment);
        while (stopAt.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromSeconds(1));
            if (r is null || r.IsPartitionEOF)
            {
                // Control records (transaction markers) occupy offsets no message has: judge by position too.
                foreach (var (p, last) in stopAt.ToList())
                {
                    if (consumer.Position(new TopicPartition(topic, p)).Value >= last)
                    {
                        stopAt.Remove(p);
                    }
                }

                continue;
            }

            var partition = r.Partition.Value;
            if (!stopAt.TryGetValue(partition, out var stop) || r.Offset.Value >= stop)
            {
                continue;
            }

            if (r.Offset.Value + 1 >= stop)
            {
                stopAt.Remove(partition);
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

            yield return new ReplayEvent(tx, new SourcePosition(partition, r.Offset.Value, source), tx.EventTimeMs >= fromMs);
        }
    }
}
