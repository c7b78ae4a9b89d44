using System.Diagnostics;
using Confluent.Kafka;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// The consumer side of the scoring loop: subscription and rebalances, collecting batches, pausing the input while a
/// batch waits out an outage <em>while still polling</em> (so the member is never evicted for exceeding
/// <c>max.poll.interval.ms</c>), offsets, rewinds and lag. Used only from the scoring thread.
/// </summary>
internal sealed class KafkaInput : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly ILogger _log;
    private readonly ScorerMetrics _metrics;
    private readonly HashSet<TopicPartition> _assigned = [];
    private readonly Dictionary<TopicPartition, long> _rewindOnResume = [];
    private List<ConsumeResult<byte[]?, byte[]?>>? _collecting;
    private bool _paused;

    /// <summary>Builds the consumer: manual offset store, read_committed, cooperative-sticky by default.</summary>
    public KafkaInput(ConsumerConfig config, bool exactlyOnce, ILogger log, ScorerMetrics metrics, RepeatLimiter limiter, Action onRevoked)
    {
        _log = log;
        _metrics = metrics;
        var consumer = new ConsumerConfig(new Dictionary<string, string>(config))
        {
            EnableAutoOffsetStore = false,
            EnableAutoCommit = !exactlyOnce,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        consumer.PartitionAssignmentStrategy ??= PartitionAssignmentStrategy.CooperativeSticky;
        consumer.AutoOffsetReset ??= AutoOffsetReset.Earliest;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(consumer)
            .SetPartitionsAssignedHandler((_, added) => OnAssigned(added))
            .SetPartitionsRevokedHandler((_, removed) => OnRevoked(removed.Select(p => p.TopicPartition), onRevoked))
            .SetPartitionsLostHandler((_, lost) => OnRevoked(lost.Select(p => p.TopicPartition), onRevoked))
            .SetErrorHandler((_, e) => KafkaLog.Error(_log, limiter, "consumer", e))
            .SetLogHandler((_, m) => KafkaLog.Message(_log, limiter, "consumer", m))
            .Build();
    }

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
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_State)
            {
                // Revoked meanwhile: its new owner reads from the committed offset (duplicates are recognised).
                Log.OffsetNotStored(_log, next.ToString());
            }
        }
    }

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

    /// <summary>Updates the lag gauge: high watermark minus position, summed over assigned partitions.</summary>
    public void UpdateLag()
    {
        long lag = 0;
        foreach (var tp in _assigned)
        {
            try
            {
                var w = _consumer.GetWatermarkOffsets(tp);
                var position = _consumer.Position(tp);
                if (w.High.Value >= 0 && position.Value >= 0)
                {
                    lag += Math.Max(0, w.High.Value - position.Value);
                }
            }
            catch (KafkaException)
            {
                // no cached watermarks yet
            }
        }

        _metrics.SetLag(lag);
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

    private ConsumeResult<byte[]?, byte[]?>? Poll(TimeSpan timeout)
    {
        try
        {
            return _consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            // A consume error names a partition problem (e.g. a broker-side error); the next poll retries it.
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
        }

        // Runs on the scoring thread (inside Consume): drop the revoked partitions' messages collected so far, and
        // let the loop forget cached card states, which the partitions' next owner may change.
        _collecting?.RemoveAll(m => revoked.Contains(m.TopicPartition));
        onRevoked();
        Log.Revoked(_log, string.Join(", ", revoked));
    }
}
