using System.Diagnostics;
using Confluent.Kafka;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// The consumer side of the scoring loop: subscription and rebalances, collecting batches, pausing the input while a
/// batch waits out an outage <em>while still polling</em> (so the member is never evicted for exceeding
/// <c>max.poll.interval.ms</c>), offsets, rewinds and lag. Used only from its loop's thread: the scoring thread, or the
/// label consumer's (each loop has its own instance, consumer group and gauges).
/// </summary>
internal sealed class KafkaInput : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly ILogger _log;
    private readonly InputGauges _metrics;
    private readonly HashSet<TopicPartition> _assigned = [];
    private readonly Dictionary<TopicPartition, long> _rewindOnResume = [];
    // The next offset to process per partition: after the last finished batch, else the group's committed offset.
    private readonly Dictionary<TopicPartition, long> _done = [];
    private readonly Dictionary<TopicPartition, long> _queriedHigh = [];
    private readonly List<PartitionLag> _partitionLags = [];
    private readonly Stopwatch _sinceCommittedQuery = Stopwatch.StartNew();
    private readonly Stopwatch _sinceWatermarkQuery = Stopwatch.StartNew();
    private List<ConsumeResult<byte[]?, byte[]?>>? _collecting;
    private readonly bool _fromEarliest;
    private bool _paused;

    /// <summary>Builds the consumer: manual offset store, read_committed, cooperative-sticky by default.</summary>
    /// <param name="config">librdkafka settings (group, bootstrap...).</param>
    /// <param name="exactlyOnce">Offsets committed by transactions (no auto-commit).</param>
    /// <param name="log">Logger.</param>
    /// <param name="metrics">The consumer's gauges (lag, assigned partitions, oldest message in flight).</param>
    /// <param name="limiter">Rate limit of librdkafka's repeated errors.</param>
    /// <param name="onRevoked">Called on the loop's thread after partitions were revoked or lost.</param>
    /// <param name="client">The client's name in log lines.</param>
    public KafkaInput(ConsumerConfig config, bool exactlyOnce, ILogger log, InputGauges metrics, RepeatLimiter limiter, Action onRevoked, string client = "consumer")
    {
        _log = log;
        _metrics = metrics;
        var consumer = Effective(config, exactlyOnce);
        _fromEarliest = consumer.AutoOffsetReset == AutoOffsetReset.Earliest;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(consumer)
            .SetPartitionsAssignedHandler((_, added) => OnAssigned(added))
            .SetPartitionsRevokedHandler((_, removed) => OnRevoked(removed.Select(p => p.TopicPartition), onRevoked))
            .SetPartitionsLostHandler((_, lost) => OnRevoked(lost.Select(p => p.TopicPartition), onRevoked))
            .SetErrorHandler((_, e) =>
            {
                KafkaLog.Error(_log, limiter, client, e);
                ErrorSeen?.Invoke(e);
            })
            .SetLogHandler((_, m) => KafkaLog.Message(_log, limiter, client, m))
            .Build();
    }

    /// <summary>
    /// The consumer's librdkafka settings: <paramref name="config"/> (every client's <c>Kafka:Client:*</c> settings and
    /// <c>Kafka:Consumer:*</c>) with what this consumer's protocol needs on top — manual offset store, read_committed,
    /// cooperative-sticky and earliest unless configured.
    /// </summary>
    internal static ConsumerConfig Effective(ConsumerConfig config, bool exactlyOnce)
    {
        var consumer = new ConsumerConfig(new Dictionary<string, string>(config))
        {
            EnableAutoOffsetStore = false,
            EnableAutoCommit = !exactlyOnce,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        consumer.PartitionAssignmentStrategy ??= PartitionAssignmentStrategy.CooperativeSticky;
        consumer.AutoOffsetReset ??= AutoOffsetReset.Earliest;
        return consumer;
    }

    /// <summary>
    /// Called with every client error and non-fatal consume error (a missing topic, a broker down); the loop goes on
    /// either way. May run on librdkafka's threads.
    /// </summary>
    public Action<Error>? ErrorSeen { get; set; }

    /// <summary>The underlying consumer (group metadata for transactions).</summary>
    public IConsumer<byte[]?, byte[]?> Consumer => _consumer;

    /// <summary>Partitions currently assigned.</summary>
    public IReadOnlyCollection<TopicPartition> Assignment
    {
        get
        {
            lock (_assigned)
            {
                return [.. _assigned]; // read by readiness checks on other threads
            }
        }
    }

    /// <summary>Subscribes to the input topic.</summary>
    public void Subscribe(string topic) => _consumer.Subscribe(topic);

    /// <summary>
    /// Collects up to <paramref name="max"/> messages into <paramref name="batch"/>: waits up to 100 ms for the first,
    /// then up to <paramref name="timeout"/> for the batch to fill. A revocation meanwhile drops the revoked
    /// partitions' messages, so a later re-assignment starts cleanly from the committed offset.
    /// </summary>
    public void Collect(List<ConsumeResult<byte[]?, byte[]?>> batch, int max, TimeSpan timeout)
    {
        batch.Clear();
        _collecting = batch;
        try
        {
            var first = Poll(TimeSpan.FromMilliseconds(100));
            if (first is null)
            {
                return;
            }

            batch.Add(first);
            var deadline = Stopwatch.StartNew();
            while (batch.Count < max && deadline.Elapsed < timeout && Poll(timeout - deadline.Elapsed) is { } next)
            {
                batch.Add(next);
            }

            TrackOldest(batch);
        }
        finally
        {
            _collecting = null;
        }
    }

    /// <summary>
    /// Waits <paramref name="delay"/> (or until <paramref name="stop"/>) with every assigned partition paused, polling
    /// the consumer all along: heartbeats and <c>max.poll.interval.ms</c> stay satisfied and rebalances are served. A
    /// message that still arrives (fetched before the pause, or from a partition assigned meanwhile) is not lost: its
    /// partition is paused and rewound to it on <see cref="Resume"/>.
    /// </summary>
    public void KeepAlive(TimeSpan delay, CancellationToken stop)
    {
        Pause();
        var clock = Stopwatch.StartNew();
        do
        {
            var slice = TimeSpan.FromMilliseconds(Math.Clamp((delay - clock.Elapsed).TotalMilliseconds, 1, 100));
            if (Poll(slice) is { } early)
            {
                var tp = early.TopicPartition;
                _rewindOnResume[tp] = Math.Min(_rewindOnResume.GetValueOrDefault(tp, long.MaxValue), early.Offset.Value);
                _consumer.Pause([tp]);
            }
        }
        while (clock.Elapsed < delay && !stop.IsCancellationRequested);

        UpdateLag();
    }

    /// <summary>Pauses every assigned partition (idempotent).</summary>
    public void Pause()
    {
        if (!_paused && _assigned.Count > 0)
        {
            _consumer.Pause(_assigned);
        }

        _paused = true;
    }

    /// <summary>Resumes after a pause, rewinding partitions whose messages arrived while paused.</summary>
    public void Resume()
    {
        if (!_paused && _rewindOnResume.Count == 0)
        {
            return;
        }

        _consumer.Resume(Assignment); // includes the partitions paused one by one in KeepAlive
        foreach (var (tp, offset) in _rewindOnResume)
        {
            if (_assigned.Contains(tp))
            {
                TrySeek(new TopicPartitionOffset(tp, offset));
            }
        }

        _rewindOnResume.Clear();
        _paused = false;
        Log.Resumed(_log);
    }

    /// <summary>At-least-once: stores the offsets after the batch (committed by auto-commit and on close).</summary>
    public void StoreOffsets(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        foreach (var next in NextOffsets(batch))
        {
            try
            {
                _consumer.StoreOffset(next);
                _done[next.TopicPartition] = next.Offset.Value;
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_State)
            {
                // Revoked meanwhile: its new owner reads from the committed offset (duplicates are recognised).
                Log.OffsetNotStored(_log, next.ToString());
            }
        }
    }

    /// <summary>Exactly-once: the batch's offsets were committed with its transaction.</summary>
    public void Committed(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        foreach (var next in NextOffsets(batch))
        {
            if (_assigned.Contains(next.TopicPartition))
            {
                _done[next.TopicPartition] = next.Offset.Value;
            }
        }
    }

    /// <summary>The batch is finished (committed, or abandoned on stop): nothing read is waiting any more.</summary>
    public void Finished() => _metrics.SetOldestUnprocessed(null);

    /// <summary>The offsets that follow the batch, per partition.</summary>
    public static List<TopicPartitionOffset> NextOffsets(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch) =>
        [.. batch.GroupBy(m => m.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(m => m.Offset.Value) + 1))];

    /// <summary>Seeks every partition of the batch back to its first message, so nothing in it is skipped.</summary>
    public void Rewind(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        foreach (var g in batch.GroupBy(m => m.TopicPartition))
        {
            TrySeek(new TopicPartitionOffset(g.Key, g.Min(m => m.Offset.Value)));
        }
    }

    /// <summary>
    /// Updates the lag gauge: per assigned partition, the high watermark minus the next offset to process — after the
    /// last finished batch, or the group's committed offset before this scorer finished one there (so a stuck scorer
    /// shows its whole backlog, fetched or not). While the input is paused librdkafka stops fetching and its cached
    /// watermarks go stale, so they are queried from the broker (at most every 5 s).
    /// </summary>
    public void UpdateLag()
    {
        RefreshUnknownCommitted();
        var query = _paused && _sinceWatermarkQuery.Elapsed > TimeSpan.FromSeconds(5);
        if (query)
        {
            _sinceWatermarkQuery.Restart();
        }

        long lag = 0;
        _partitionLags.Clear();
        foreach (var tp in _assigned)
        {
            try
            {
                var high = _consumer.GetWatermarkOffsets(tp).High.Value;
                if (query)
                {
                    _queriedHigh[tp] = _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromMilliseconds(500)).High.Value;
                }

                high = Math.Max(high, _queriedHigh.GetValueOrDefault(tp, -1));
                var done = _done.TryGetValue(tp, out var d) ? d : _consumer.Position(tp).Value;
                if (high >= 0 && done >= 0)
                {
                    var partitionLag = Math.Max(0, high - done);
                    lag += partitionLag;
                    _partitionLags.Add(new PartitionLag(tp.Topic, tp.Partition.Value, partitionLag));
                }
            }
            catch (KafkaException)
            {
                query = false; // broker unreachable: keep the cached watermarks, try again later
            }
        }

        _metrics.SetLag(lag);
        _metrics.SetPartitionLags(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partitionLags));
    }

    /// <summary>Leaves the group; at-least-once commits the stored offsets.</summary>
    public void Close()
    {
        try
        {
            _consumer.Close();
        }
        catch (KafkaException e)
        {
            Log.CloseFailed(_log, e.Error.Reason);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _consumer.Dispose();

    /// <summary>The age gauge follows the oldest message of the batch in flight until it is finished.</summary>
    private void TrackOldest(List<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        var oldest = long.MaxValue;
        foreach (var m in batch)
        {
            if (m.Message.Timestamp.Type != TimestampType.NotAvailable)
            {
                oldest = Math.Min(oldest, m.Message.Timestamp.UnixTimestampMs);
            }
        }

        _metrics.SetOldestUnprocessed(oldest == long.MaxValue ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : oldest);
    }

    /// <summary>Fetches the group's committed offsets of assigned partitions this scorer has not finished a batch on.</summary>
    private void RefreshUnknownCommitted()
    {
        if (_sinceCommittedQuery.Elapsed < TimeSpan.FromSeconds(5))
        {
            return;
        }

        _sinceCommittedQuery.Restart();
        var unknown = _assigned.Where(tp => !_done.ContainsKey(tp)).ToList();
        if (unknown.Count == 0)
        {
            return;
        }

        try
        {
            foreach (var c in _consumer.Committed(unknown, TimeSpan.FromSeconds(1)))
            {
                if (c.Offset.Value >= 0)
                {
                    _done[c.TopicPartition] = c.Offset.Value;
                }
                else if (_fromEarliest && _consumer.GetWatermarkOffsets(c.TopicPartition).Low.Value is >= 0 and var low)
                {
                    _done[c.TopicPartition] = low; // nothing committed: the group starts at the partition's beginning
                }
            }
        }
        catch (KafkaException)
        {
            // coordinator unreachable: the position stands in until the next try
        }
    }

    private ConsumeResult<byte[]?, byte[]?>? Poll(TimeSpan timeout)
    {
        try
        {
            return _consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            // A consume error names a partition problem (e.g. a broker-side error, a topic that does not exist); the
            // next poll retries it.
            ErrorSeen?.Invoke(e.Error);
            return null;
        }
    }

    private void TrySeek(TopicPartitionOffset position)
    {
        try
        {
            _consumer.Seek(position);
        }
        catch (KafkaException e)
        {
            Log.OffsetNotStored(_log, $"{position} (seek: {e.Error.Reason})");
        }
    }

    private void OnAssigned(List<TopicPartition> added)
    {
        lock (_assigned)
        {
            _assigned.UnionWith(added);
            _metrics.SetAssigned(_assigned.Count);
        }

        Log.Assigned(_log, string.Join(", ", added));
    }

    private void OnRevoked(IEnumerable<TopicPartition> removed, Action onRevoked)
    {
        var revoked = removed.ToHashSet();
        lock (_assigned)
        {
            _assigned.ExceptWith(revoked);
            _metrics.SetAssigned(_assigned.Count);
        }

        foreach (var tp in revoked)
        {
            _rewindOnResume.Remove(tp);
            _done.Remove(tp);
            _queriedHigh.Remove(tp);
        }

        // Runs on the scoring thread (inside Consume): drop the revoked partitions' messages collected so far, and
        // let the loop forget cached card states, which the partitions' next owner may change.
        _collecting?.RemoveAll(m => revoked.Contains(m.TopicPartition));
        onRevoked();
        Log.Revoked(_log, string.Join(", ", revoked));
    }
}
