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
        var producer = Effective(config, exactlyOnce, groupId);
        Producer = new ProducerBuilder<byte[]?, byte[]?>(producer)
            .SetErrorHandler((_, e) => KafkaLog.Error(log, limiter, "producer", e))
            .SetLogHandler((_, m) => KafkaLog.Message(log, limiter, "producer", m))
            .Build();
    }

    public IProducer<byte[]?, byte[]?> Producer { get; }

    /// <summary>
    /// The producer's librdkafka settings: <paramref name="config"/> (<c>Kafka:Client:*</c> and <c>Kafka:Producer:*</c>)
    /// made idempotent with acks=all, and transactional in exactly-once mode.
    /// </summary>
    internal static ProducerConfig Effective(ProducerConfig config, bool exactlyOnce, string groupId)
    {
        var producer = new ProducerConfig(new Dictionary<string, string>(config)) { EnableIdempotence = true, Acks = Acks.All };
        if (exactlyOnce && string.IsNullOrEmpty(producer.TransactionalId))
        {
            producer.TransactionalId = $"{groupId}-scorer-{Environment.MachineName}-{Environment.ProcessId}";
        }

        return producer;
    }

    /// <summary>
    /// Enqueues one record, waiting for room when librdkafka's queue is full. Returns the error when librdkafka
    /// refuses the record itself (<see cref="IsRejection"/>, e.g. larger than <c>message.max.bytes</c>); other
    /// failures throw.
    /// </summary>
    public Error? Produce(OutputRecord record, Action<DeliveryReport<byte[]?, byte[]?>>? onDelivery)
    {
        while (true)
        {
            try
            {
                Producer.Produce(record.Topic, record.Message, onDelivery);
                return null;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                Producer.Poll(TimeSpan.FromMilliseconds(50));
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (IsRejection(e.Error.Code))
            {
                return e.Error;
            }
        }
    }

    /// <summary>
    /// Errors that refuse one record for good — retrying the same bytes can never succeed, so they must not block
    /// the partition: too large (client or broker limit), an invalid record, a batch over the broker's limit.
    /// </summary>
    public static bool IsRejection(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge
        or ErrorCode.InvalidRecord or ErrorCode.RecordListTooLarge or ErrorCode.Local_InvalidArg;

    /// <summary>A refusal or a missing permission: retrying the same record can never succeed (<see cref="Substitute"/> decides).</summary>
    public static bool IsPermanent(ErrorCode code) => IsRejection(code) || IsNotAuthorized(code);

    /// <summary>Errors that no retry fixes without an operator: the principal may not write to the topic.</summary>
    public static bool IsNotAuthorized(ErrorCode code) => code is ErrorCode.TopicAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed;

    /// <summary>
    /// What to do with a record librdkafka or the broker refused: a DLQ copy becomes a reference record (the input
    /// is still accounted for); anything else — an alert, a score, a reference — cannot be dropped silently, so the
    /// scorer stops with a message naming the topic and the cause.
    /// </summary>
    public static OutputRecord Substitute(OutputRecord record, Error error, OutputBuilder builder)
    {
        if (IsNotAuthorized(error.Code))
        {
            throw new OutputRejectedException(
                $"not authorized to write to topic '{record.Topic}' ({error.Code}: {error.Reason}); grant the scorer's principal WRITE (and DESCRIBE) on it", error);
        }

        if (record.DeadLetter is { ReferenceOnly: false } deadLetter)
        {
            return builder.Reference(deadLetter, error);
        }

        throw new OutputRejectedException(
            $"a record for topic '{record.Topic}' ({record.Message.Value?.Length ?? 0} bytes) was refused: {error.Code}: {error.Reason}; " +
            "check the topic's max.message.bytes and the producer's message.max.bytes", error);
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
/// that redelivers the batch: appends are idempotent and alerts carry deterministic ids. A retry after a transient
/// failure re-sends only the records not acknowledged yet; a DLQ copy the broker refuses (too large, invalid) is
/// replaced by a reference record, so no input can block its partition.
/// </summary>
internal sealed class AtLeastOnceCommitter(KafkaOutput output, KafkaInput input, Outages outages, OutputBuilder builder) : IBatchCommitter
{
    public void Begin()
    {
    }

    public Task PublishAsync(List<OutputRecord> records, CancellationToken stop)
    {
        var pending = new List<OutputRecord>(records); // shrinks to what is not acknowledged yet
        return outages.RunAsync(Dependency.Kafka, ErrorStages.Produce, () =>
        {
            ProduceAndAwait(pending, stop);
            return Task.CompletedTask;
        }, stop);
    }

    public bool Commit(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stop)
    {
        input.StoreOffsets(batch);
        return true;
    }

    public void Abandon(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        // Nothing stored: the batch is read again after a restart or by the partitions' next owner.
    }

    /// <summary>
    /// Produces the pending records and waits for their acknowledgements; acknowledged ones leave the list, refused
    /// DLQ copies are replaced by references and sent at once. Throws (retried by the caller) while any record failed
    /// transiently; <paramref name="pending"/> then holds exactly what is left to send.
    /// </summary>
    private void ProduceAndAwait(List<OutputRecord> pending, CancellationToken stop)
    {
        while (pending.Count > 0)
        {
            var errors = new Error?[pending.Count];
            var reported = new bool[pending.Count];
            var reports = 0;
            for (var i = 0; i < pending.Count; i++)
            {
                var index = i;
                if (output.Produce(pending[i], r =>
                    {
                        errors[index] = r.Error.IsError ? r.Error : null;
                        Volatile.Write(ref reported[index], true);
                        Interlocked.Increment(ref reports);
                    }) is { } refused)
                {
                    errors[i] = refused;
                    reported[i] = true;
                    Interlocked.Increment(ref reports);
                }
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

            // Delivery handlers run on the client's poll thread: let the last ones finish before reading them.
            var expected = pending.Count;
            SpinWait.SpinUntil(() => Volatile.Read(ref reports) == expected, TimeSpan.FromSeconds(5));
            var next = new List<OutputRecord>();
            var substitutes = 0;
            Error? transient = null;
            for (var i = 0; i < pending.Count; i++)
            {
                if (!Volatile.Read(ref reported[i]))
                {
                    next.Add(pending[i]); // no report (cannot happen after a complete flush): send again
                }
                else if (errors[i] is { } error)
                {
                    if (KafkaOutput.IsPermanent(error.Code))
                    {
                        next.Add(KafkaOutput.Substitute(pending[i], error, builder));
                        substitutes++;
                    }
                    else
                    {
                        next.Add(pending[i]);
                        transient ??= error;
                    }
                }
            }

            pending.Clear();
            pending.AddRange(next);
            if (transient is not null)
            {
                throw new KafkaException(transient);
            }

            if (pending.Count > substitutes)
            {
                throw new KafkaException(new Error(ErrorCode.Local_Fail, "a delivery report is missing"));
            }
        }
    }
}

/// <summary>
/// Exactly-once: alerts, DLQ messages and the consumer offsets go in one Kafka transaction with the group metadata;
/// window states are written inside it with an undo copy. A failed transaction is aborted, the batch rewound and read
/// again, and its states re-applied on their undo copies, so the observable result equals a single pass.
/// </summary>
internal sealed class TransactionalCommitter(
    KafkaOutput output, KafkaInput input, IWindowStore store, OutputBuilder builder, ScorerOptions options, ILogger log, ScorerMetrics metrics)
    : IBatchCommitter
{
    // Inputs whose DLQ copy the broker refused inside an aborted transaction: the re-read batch sends references.
    private readonly HashSet<(string Topic, int Partition, long Offset)> _refused = [];
    private readonly List<(OutputRecord Record, Error Error)> _failed = [];
    private bool _open;

    public void Init() => output.Producer.InitTransactions(TimeSpan.FromSeconds(30));

    public void Begin()
    {
        lock (_failed)
        {
            _failed.Clear();
        }

        output.Producer.BeginTransaction();
        _open = true;
    }

    public Task PublishAsync(List<OutputRecord> records, CancellationToken stop)
    {
        foreach (var original in records)
        {
            var record = original;
            if (record.DeadLetter is { ReferenceOnly: false } d && _refused.Contains(Key(d)))
            {
                record = builder.Reference(d, new Error(ErrorCode.MsgSizeTooLarge, "refused in an earlier attempt"));
            }

            // Acknowledged by the commit; a record the broker refuses fails the commit and is remembered then.
            if (Send(record) is { } refused)
            {
                var reference = KafkaOutput.Substitute(record, refused, builder);
                if (Send(reference) is { } again)
                {
                    KafkaOutput.Substitute(reference, again, builder); // throws: a reference is never replaced
                }
            }
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
            input.Committed(batch);
            return true;
        }
        catch (KafkaException e)
        {
            RememberRefused();
            Log.TransactionAborted(log, e.Error.Reason);
            metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", ErrorStages.Transaction));
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

    private Error? Send(OutputRecord record) => output.Produce(record, r =>
    {
        if (r.Error.IsError)
        {
            lock (_failed)
            {
                _failed.Add((record, r.Error));
            }
        }
    });

    private static (string, int, long) Key(DeadLetter d) => (d.Source.Topic, d.Source.Partition.Value, d.Source.Offset.Value);

    /// <summary>
    /// After a failed transaction: DLQ copies the broker refused for good are sent as references next time; any other
    /// record refused for good stops the scorer (<see cref="KafkaOutput.Substitute"/>).
    /// </summary>
    private void RememberRefused()
    {
        lock (_failed)
        {
            foreach (var (record, error) in _failed)
            {
                if (KafkaOutput.IsPermanent(error.Code))
                {
                    KafkaOutput.Substitute(record, error, builder); // throws unless it is a DLQ copy
                    _refused.Add(Key(record.DeadLetter!.Value));
                }
            }

            _failed.Clear();
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
                metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", ErrorStages.Transaction));
                input.KeepAlive(options.RetryBaseDelay * Math.Min(attempt, 50), stop);
            }
        }
    }
}

/// <summary>
/// A record the broker or librdkafka refused for good that cannot be replaced (an alert, a score, a reference
/// record) or a topic the scorer may not write to: fatal, the message says what to fix.
/// </summary>
public sealed class OutputRejectedException(string message, Error error) : Exception(message)
{
    /// <summary>The Kafka error.</summary>
    public Error Error { get; } = error;
}
