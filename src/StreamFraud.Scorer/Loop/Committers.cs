using System.Diagnostics;
using Confluent.Kafka;
using StreamFraud.Core.Windows;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// How a batch becomes durable: its output records published, then its input positions committed. Two
/// implementations behind one interface, as confluent-kafka-dotnet's ExactlyOnce example keeps the transaction
/// machinery apart from processing.
/// </summary>
internal interface IBatchCommitter
{
    /// <summary>Opens a batch (a transaction in exactly-once mode).</summary>
    void Begin();

    /// <summary>Makes <paramref name="records"/> durable before the batch's window states are written.</summary>
    Task PublishAsync(List<OutputRecord> records, CancellationToken stop);

    /// <summary>Commits the batch's input positions. False: the batch was aborted and rewound, and is read again.</summary>
    bool Commit(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stop);

    /// <summary>Gives up an open batch (stop requested, or a failure): nothing of it is committed.</summary>
    void Abandon(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch);
}

/// <summary>The scorer's producer: idempotent, acks=all, transactional in exactly-once mode.</summary>
internal sealed class KafkaOutput : IDisposable
{
    public KafkaOutput(ProducerConfig config, bool exactlyOnce, string groupId, ILogger log, RepeatLimiter limiter)
    {
        var producer = new ProducerConfig(new Dictionary<string, string>(config)) { EnableIdempotence = true, Acks = Acks.All };
        if (exactlyOnce && string.IsNullOrEmpty(producer.TransactionalId))
        {
            producer.TransactionalId = $"{groupId}-scorer-{Environment.MachineName}-{Environment.ProcessId}";
        }

        Producer = new ProducerBuilder<byte[]?, byte[]?>(producer)
            .SetErrorHandler((_, e) => KafkaLog.Error(log, limiter, "producer", e))
            .SetLogHandler((_, m) => KafkaLog.Message(log, limiter, "producer", m))
            .Build();
    }

    public IProducer<byte[]?, byte[]?> Producer { get; }

    /// <summary>Enqueues one record, waiting for room when librdkafka's queue is full.</summary>
    public void Produce(OutputRecord record, Action<DeliveryReport<byte[]?, byte[]?>>? onDelivery)
    {
        while (true)
        {
            try
            {
                Producer.Produce(record.Topic, record.Message, onDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                Producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    public void Dispose()
    {
        Producer.Flush(TimeSpan.FromSeconds(10));
        Producer.Dispose();
    }
}

/// <summary>
/// At-least-once: records are produced and every acknowledgement awaited (the input kept polled meanwhile), the
/// pipeline then writes the window states, then the offsets are stored for auto-commit. A crash anywhere before
/// that redelivers the batch: appends are idempotent and alerts carry deterministic ids.
/// </summary>
internal sealed class AtLeastOnceCommitter(KafkaOutput output, KafkaInput input, Outages outages) : IBatchCommitter
{
    public void Begin()
    {
    }

    public Task PublishAsync(List<OutputRecord> records, CancellationToken stop) =>
        outages.RunAsync(Dependency.Kafka, "produce", () =>
        {
            ProduceAndAwait(records, stop);
            return Task.CompletedTask;
        }, stop);

    public bool Commit(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stop)
    {
        input.StoreOffsets(batch);
        return true;
    }

    public void Abandon(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        // Nothing stored: the batch is read again after a restart or by the partitions' next owner.
    }

    /// <summary>Produces every record and waits for all acknowledgements; throws (retried) when any failed.</summary>
    private void ProduceAndAwait(List<OutputRecord> records, CancellationToken stop)
    {
        var failures = 0;
        Error? firstError = null;
        foreach (var record in records)
        {
            output.Produce(record, r =>
            {
                if (r.Error.IsError)
                {
                    Interlocked.Increment(ref failures);
                    firstError ??= r.Error;
                }
            });
        }

        // librdkafka retries internally up to message.timeout.ms; past a second the broker is likely down, so the
        // input is kept alive (paused, polled) and a stop request abandons the batch.
        var waiting = Stopwatch.StartNew();
        while (output.Producer.Flush(TimeSpan.FromMilliseconds(100)) > 0)
        {
            if (waiting.Elapsed > TimeSpan.FromSeconds(1))
            {
                input.KeepAlive(TimeSpan.FromMilliseconds(100), stop);
                stop.ThrowIfCancellationRequested();
            }
        }

        if (failures > 0)
        {
            throw new KafkaException(firstError!);
        }
    }
}

/// <summary>
/// Exactly-once: alerts, DLQ messages and the consumer offsets go in one Kafka transaction with the group metadata;
/// window states are written inside it with an undo copy. A failed transaction is aborted, the batch rewound and read
/// again, and its states re-applied on their undo copies, so the observable result equals a single pass.
/// </summary>
internal sealed class TransactionalCommitter(KafkaOutput output, KafkaInput input, IWindowStore store, ScorerOptions options, ILogger log, ScorerMetrics metrics)
    : IBatchCommitter
{
    private bool _open;

    public void Init() => output.Producer.InitTransactions(TimeSpan.FromSeconds(30));

    public void Begin()
    {
        output.Producer.BeginTransaction();
        _open = true;
    }

    public Task PublishAsync(List<OutputRecord> records, CancellationToken stop)
    {
        foreach (var record in records)
        {
            output.Produce(record, null); // acknowledged by the commit
        }

        return Task.CompletedTask;
    }

    public bool Commit(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stop)
    {
        try
        {
            var offsets = KafkaInput.NextOffsets(batch);
            RetryTransactional(() => output.Producer.SendOffsetsToTransaction(offsets, input.Consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(30)), stop);
            RetryTransactional(() => output.Producer.CommitTransaction(TimeSpan.FromSeconds(30)), stop); // a timed-out commit may have landed: retry it, never abort it
            _open = false;
            return true;
        }
        catch (KafkaException e)
        {
            Log.TransactionAborted(log, e.Error.Reason);
            metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", "transaction"));
            Abandon(batch);
            input.Rewind(batch);
            store.ForgetCachedState(); // the aborted batch's states may be written: read them (and their undo) again
            input.KeepAlive(options.RetryBaseDelay, stop);
            return false;
        }
    }

    public void Abandon(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        if (!_open)
        {
            return;
        }

        _open = false;
        try
        {
            output.Producer.AbortTransaction(TimeSpan.FromSeconds(30));
        }
        catch (KafkaException abort) when (!abort.Error.IsFatal)
        {
            Log.AbortFailed(log, abort.Error.Reason);
        }
    }

    /// <summary>Retries a transactional call while librdkafka says it is retriable, polling the input between attempts.</summary>
    private void RetryTransactional(Action call, CancellationToken stop)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                call();
                return;
            }
            catch (KafkaRetriableException) when (!stop.IsCancellationRequested)
            {
                metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", "transaction"));
                input.KeepAlive(options.RetryBaseDelay * Math.Min(attempt, 50), stop);
            }
        }
    }
}
