using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using StreamFraud.Contracts;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Kafka;

/// <summary>
/// The Kafka scorer's consume → score → produce loop around <see cref="FraudPipeline"/>.
/// <para>At-least-once (default): auto offset store is off; a batch's offsets are stored only after its window
/// writes are durable (the pipeline returned) and its alerts and DLQ messages are acknowledged; the consumer's
/// auto-commit then commits stored offsets. A crash anywhere before that redelivers the batch: window appends are
/// idempotent and alerts carry deterministic ids, so a duplicate alert is recognisable.</para>
/// <para>Exactly-once (<see cref="ScorerOptions.ExactlyOnce"/>): alerts, DLQ messages and the consumer offsets go in
/// one Kafka transaction with the group metadata; on failure the transaction aborts and the batch is re-read.</para>
/// <para>Bad input goes to the DLQ, never stops the loop. Transient failures (Redis, broker, registry) pause the
/// assigned partitions and retry the same batch with jittered exponential backoff until they pass; nothing is skipped.</para>
/// Run it on a dedicated thread (<see cref="Run"/> blocks).
/// </summary>
public sealed class ScoringLoop : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly TransactionDecoder _decoder;
    private readonly AvroSerializer<FraudAlert> _alertSerializer;
    private readonly FraudPipeline _pipeline;
    private readonly WindowBatch _batch;
    private readonly ScorerOptions _options;
    private readonly ILogger _log;
    private readonly ScorerMetrics _metrics;
    private readonly ResiliencePipeline _retry;
    private readonly HashSet<TopicPartition> _assigned = [];
    private readonly List<ConsumeResult<byte[]?, byte[]?>> _collecting = [];
    private readonly TimeProvider _time;
    private readonly FraudPipeline? _challenger;
    private readonly IWindowStore _store;

    /// <summary>Creates the loop over a fixed bundle.</summary>
    public ScoringLoop(
        ConsumerConfig consumerConfig, ProducerConfig producerConfig, ISchemaRegistryClient registry, IWindowStore store, Func<ModelBundle> servingBundle,
        FeatureSpec spec, ScorerOptions options, ScoringOptions scoring, ILogger logger, ScorerMetrics metrics, TimeProvider? time = null)
        : this(consumerConfig, producerConfig, registry, store, new FixedBundleSource(servingBundle), spec, options, scoring, logger, metrics, time)
    {
    }

    /// <summary>Creates the loop; clients are built here from librdkafka-style configurations. Each batch leases the serving bundle from <paramref name="bundles"/>.</summary>
    public ScoringLoop(
        ConsumerConfig consumerConfig,
        ProducerConfig producerConfig,
        ISchemaRegistryClient registry,
        IWindowStore store,
        IBundleSource bundles,
        FeatureSpec spec,
        ScorerOptions options,
        ScoringOptions scoring,
        ILogger logger,
        ScorerMetrics metrics,
        TimeProvider? time = null,
        ModelBundle? challenger = null)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        ArgumentNullException.ThrowIfNull(producerConfig);
        _options = options;
        _log = logger;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;

        var consumer = new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            EnableAutoOffsetStore = false,
            EnableAutoCommit = !options.ExactlyOnce,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        consumer.PartitionAssignmentStrategy ??= PartitionAssignmentStrategy.CooperativeSticky;
        consumer.AutoOffsetReset ??= AutoOffsetReset.Earliest;
        var producer = new ProducerConfig(new Dictionary<string, string>(producerConfig))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
        };
        if (options.ExactlyOnce && string.IsNullOrEmpty(producer.TransactionalId))
        {
            producer.TransactionalId = $"{consumer.GroupId}-scorer-{Environment.MachineName}-{Environment.ProcessId}";
        }

        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(consumer)
            .SetPartitionsAssignedHandler((_, added) => OnAssigned(added))
            .SetPartitionsRevokedHandler((_, removed) => OnRevoked(removed.Select(p => p.TopicPartition)))
            .SetPartitionsLostHandler((_, lost) => OnRevoked(lost.Select(p => p.TopicPartition)))
            .SetErrorHandler((_, e) => _log.LogWarning("Kafka consumer: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => LogKafka("consumer", m))
            .Build();
        _producer = new ProducerBuilder<byte[]?, byte[]?>(producer)
            .SetErrorHandler((_, e) => _log.LogWarning("Kafka producer: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => LogKafka("producer", m))
            .Build();
        _decoder = new TransactionDecoder(registry, _time);
        _alertSerializer = new AvroSerializer<FraudAlert>(registry);
        // Exactly-once: an aborted transaction may drop alerts of events whose states were written, so redelivered
        // duplicates are scored again. At-least-once commits states only after alerts are acknowledged: no need.
        _pipeline = new FraudPipeline(store, bundles, scoring with { RescoreDuplicates = options.ExactlyOnce }, _time, options.BatchSize);
        _batch = new WindowBatch(spec, options.BatchSize);
        _store = store;
        if (challenger is not null)
        {
            // Same windows, second bundle: the challenger never writes state and never publishes live alerts.
            _challenger = new FraudPipeline(store, new FixedBundleSource(() => challenger), scoring with { RescoreDuplicates = options.ExactlyOnce }, _time, options.BatchSize);
        }
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    _metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", args.Context.OperationKey));
                    _log.LogWarning(args.Outcome.Exception, "{Stage} failed (attempt {Attempt}); partitions paused, retrying in {Delay}",
                        args.Context.OperationKey, args.AttemptNumber + 1, args.RetryDelay);
                    Pause();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Partitions currently assigned.</summary>
    public IReadOnlyCollection<TopicPartition> Assignment
    {
        get
        {
            lock (_assigned)
            {
                return [.. _assigned];
            }
        }
    }

    /// <summary>Batches completed (for readiness checks and tests).</summary>
    public long Batches { get; private set; }

    private bool Paused { get; set; }

    /// <summary>Consumes and scores until <paramref name="stop"/> is cancelled; finishes the batch in flight, then closes the consumer.</summary>
    public void Run(CancellationToken stop)
    {
        if (_options.ExactlyOnce)
        {
            _producer.InitTransactions(TimeSpan.FromSeconds(30));
        }

        _consumer.Subscribe(_options.InputTopic);
        var messages = _collecting;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                messages.Clear();

                var first = Consume(TimeSpan.FromMilliseconds(100));
                if (first is null)
                {
                    UpdateLag();
                    continue;
                }

                messages.Add(first);
                var deadline = Stopwatch.StartNew();
                while (messages.Count < _options.BatchSize && deadline.Elapsed < _options.BatchTimeout)
                {
                    var next = Consume(_options.BatchTimeout - deadline.Elapsed);
                    if (next is null)
                    {
                        break;
                    }

                    messages.Add(next);
                }

                if (messages.Count > 0)
                {
                    // The batch in flight finishes even when stop is requested (graceful shutdown).
                    ProcessBatch(messages);
                }

                UpdateLag();
            }
        }
        finally
        {
            try
            {
                _consumer.Close(); // commits stored offsets (at-least-once) and leaves the group
            }
            catch (KafkaException e)
            {
                _log.LogWarning(e, "Closing the consumer failed");
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _consumer.Dispose();
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    private ConsumeResult<byte[]?, byte[]?>? Consume(TimeSpan timeout)
    {
        try
        {
            return _consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            _log.LogWarning("Consume error at {Position}: {Reason}; continuing", e.ConsumerRecord?.TopicPartitionOffset, e.Error.Reason);
            return null;
        }
    }

    private void ProcessBatch(List<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        var clock = Stopwatch.StartNew();
        _metrics.EventsConsumed.Add(messages.Count);
        _metrics.BatchSize.Record(messages.Count);

        // Decode: bad input is a value (DLQ); a registry outage throws and is retried.
        var decoded = Execute("decode", () => DecodeAll(messages));
        Stage("decode", clock);
        _batch.Clear();
        var batchToMessage = new List<int>(messages.Count);
        var dlq = new List<(ConsumeResult<byte[]?, byte[]?> Message, string Class, string Reason)>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (decoded[i].Ok)
            {
                var m = messages[i];
                _batch.Add(decoded[i].Transaction!, new SourcePosition(m.Partition.Value, m.Offset.Value));
                batchToMessage.Add(i);
            }
            else
            {
                dlq.Add((messages[i], decoded[i].ErrorClass!, decoded[i].Reason!));
            }
        }

        BatchResult? result = null;
        BatchResult? shadow = null;
        if (_batch.Count > 0)
        {
            var prepared = Stopwatch.StartNew();
            Execute("redis", () => _pipeline.PrepareAsync(_batch).GetAwaiter().GetResult());
            var windowsTime = prepared.Elapsed;
            result = _pipeline.Score(_batch); // models run here, on the scoring thread
            result = result with { Timings = result.Timings with { Windows = windowsTime } };
            shadow = _challenger?.Score(_batch);
            if (shadow is not null)
            {
                RecordAgreement(result, shadow);
            }
            _metrics.StageDuration.Record(result.Timings.Windows.TotalSeconds, new KeyValuePair<string, object?>("stage", "redis"));
            _metrics.StageDuration.Record(result.Timings.Models.TotalSeconds, new KeyValuePair<string, object?>("stage", "models"));
            _metrics.StageDuration.Record(result.Timings.Explain.TotalSeconds, new KeyValuePair<string, object?>("stage", "explain"));
            for (var b = 0; b < result.Events.Count; b++)
            {
                var e = result.Events[b];
                switch (e.Outcome)
                {
                    case EventOutcome.Invalid:
                        dlq.Add((messages[batchToMessage[b]], DlqErrorClass.InvalidValue, e.Error ?? "invalid for the feature spec"));
                        break;
                    case EventOutcome.DuplicateRescored or EventOutcome.DuplicateSkipped:
                        _metrics.Duplicates.Add(1);
                        break;
                }

                if (!double.IsNaN(e.Score))
                {
                    _metrics.EventsScored.Add(1);
                    _metrics.Score.Record(e.Score);
                }
            }
        }

        clock.Restart();
        // Serialising alerts may call the Schema Registry (first use of a subject): retried like any outage.
        var records = Execute("registry", () =>
        {
            var built = BuildOutput(messages, batchToMessage, result, dlq);
            foreach (var alert in shadow?.Alerts ?? [])
            {
                built.Add((_options.ShadowTopic, AlertMessage(alert, _options.ShadowTopic)));
            }

            return built;
        });

        if (_options.ExactlyOnce)
        {
            if (!ProduceTransactionally(records, messages, batchToMessage, result))
            {
                Resume(); // a retry earlier in this batch may have paused the partitions; the rewound batch must flow again
                return; // aborted and rewound: the batch is read again
            }
        }
        else
        {
            // Alerts and DLQ acknowledged first, then the window states, then the offsets: whatever is durable in
            // Redis has had its alert delivered, and whatever is committed in Kafka is durable in Redis.
            Execute("produce", () => ProduceAndAwait(records));
            CommitWindows(messages, batchToMessage, result, ProduceAndAwait);
            StoreOffsets(messages);
        }

        Stage("produce", clock);
        Resume();
        _metrics.Alerts.Add(result?.Alerts.Count ?? 0);
        foreach (var d in dlq)
        {
            _metrics.Dlq.Add(1, new KeyValuePair<string, object?>("error.class", d.Class));
        }

        if (result is not null)
        {
            _metrics.SetModelVersion(result.ModelVersion);
        }

        Batches++;
        _metrics.BatchDuration.Record(clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Commits the prepared window states; cards changed meanwhile by another writer are processed again and their
    /// new alerts published through <paramref name="publish"/> before the next commit attempt.
    /// </summary>
    private void CommitWindows(
        List<ConsumeResult<byte[]?, byte[]?>> messages, List<int> batchToMessage, BatchResult? result,
        Action<List<(string Topic, Message<byte[]?, byte[]?> Message)>> publish)
    {
        if (result is null)
        {
            return;
        }

        while (Execute("redis", () => _pipeline.CommitAsync(_batch).GetAwaiter().GetResult()) > 0)
        {
            Execute("redis", () => _pipeline.PrepareAsync(_batch).GetAwaiter().GetResult());
            var again = _pipeline.Score(_batch);
            var fresh = again with { Alerts = again.Alerts.Where(a => _batch.Result(a.BatchIndex).IsApplied).ToList(), Events = [] };
            var records = Execute("registry", () => BuildOutput(messages, batchToMessage, fresh, []));
            Execute("produce", () => publish(records));
            _metrics.Alerts.Add(fresh.Alerts.Count);
        }
    }

    private Decoded[] DecodeAll(List<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        var tasks = new Task<Decoded>[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            tasks[i] = _decoder.DecodeAsync(messages[i].Message.Value, messages[i].Topic);
        }

        return Task.WhenAll(tasks).GetAwaiter().GetResult();
    }

    private List<(string Topic, Message<byte[]?, byte[]?> Message)> BuildOutput(
        List<ConsumeResult<byte[]?, byte[]?>> messages, List<int> batchToMessage, BatchResult? result,
        List<(ConsumeResult<byte[]?, byte[]?> Message, string Class, string Reason)> dlq)
    {
        var records = new List<(string, Message<byte[]?, byte[]?>)>();
        if (result is not null)
        {
            foreach (var alert in result.Alerts)
            {
                records.Add((_options.AlertsTopic, AlertMessage(alert, _options.AlertsTopic)));
            }

            if (_options.ScoresTopic is { } scores)
            {
                for (var b = 0; b < result.Events.Count; b++)
                {
                    var e = result.Events[b];
                    if (double.IsNaN(e.Score))
                    {
                        continue;
                    }

                    var tx = _batch.Event(b);
                    var json = JsonSerializer.SerializeToUtf8Bytes(new
                    {
                        transaction_id = tx.TransactionId, card_id = tx.CardId, event_time = tx.EventTimeMs, score = e.Score,
                        lstm_score = e.Lstm, xgb_score = e.Xgb, threshold = result.Threshold, alert = e.Score >= result.Threshold,
                        model_version = result.ModelVersion,
                    });
                    records.Add((scores, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(tx.CardId), Value = json }));
                }
            }
        }

        var now = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        foreach (var (m, errorClass, reason) in dlq)
        {
            var headers = new Headers
            {
                { "error.class", Encoding.UTF8.GetBytes(errorClass) },
                { "error.reason", Encoding.UTF8.GetBytes(reason) },
                { "source.topic", Encoding.UTF8.GetBytes(m.Topic) },
                { "source.partition", Encoding.UTF8.GetBytes(m.Partition.Value.ToString(CultureInfo.InvariantCulture)) },
                { "source.offset", Encoding.UTF8.GetBytes(m.Offset.Value.ToString(CultureInfo.InvariantCulture)) },
                { "error.time", Encoding.UTF8.GetBytes(now) },
            };
            records.Add((_options.DlqTopic, new Message<byte[]?, byte[]?> { Key = m.Message.Key, Value = m.Message.Value, Headers = headers, Timestamp = m.Message.Timestamp }));
            _log.LogInformation("DLQ {Class} at {Topic}/{Partition}@{Offset}: {Reason}", errorClass, m.Topic, m.Partition.Value, m.Offset.Value, reason);
        }

        return records;
    }

    private Message<byte[]?, byte[]?> AlertMessage(Alert alert, string topic) => new()
    {
        Key = Encoding.UTF8.GetBytes(alert.CardId),
        Value = _alertSerializer.SerializeAsync(AlertRecords.ToRecord(alert), new SerializationContext(MessageComponentType.Value, topic)).GetAwaiter().GetResult(),
    };

    /// <summary>Champion vs challenger decisions per scored event: both, champion only, challenger only.</summary>
    private void RecordAgreement(BatchResult champion, BatchResult challenger)
    {
        var champ = champion.Alerts.Select(a => a.BatchIndex).ToHashSet();
        var chall = challenger.Alerts.Select(a => a.BatchIndex).ToHashSet();
        var both = champ.Count(chall.Contains);
        _metrics.Agreement.Add(both, new KeyValuePair<string, object?>("outcome", "both"));
        _metrics.Agreement.Add(champ.Count - both, new KeyValuePair<string, object?>("outcome", "champion_only"));
        _metrics.Agreement.Add(chall.Count - both, new KeyValuePair<string, object?>("outcome", "challenger_only"));
    }


    /// <summary>Produces every record and waits for all acknowledgements; throws (retried) when any failed.</summary>
    private void ProduceAndAwait(List<(string Topic, Message<byte[]?, byte[]?> Message)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var failures = 0;
        Error? firstError = null;
        foreach (var (topic, message) in records)
        {
            ProduceOne(topic, message, r =>
            {
                if (r.Error.IsError)
                {
                    Interlocked.Increment(ref failures);
                    firstError ??= r.Error;
                }
            });
        }

        while (_producer.Flush(TimeSpan.FromSeconds(1)) > 0)
        {
            // deliveries still pending (the producer retries internally up to message.timeout.ms)
        }

        if (failures > 0)
        {
            throw new KafkaException(firstError!);
        }
    }

    private void ProduceOne(string topic, Message<byte[]?, byte[]?> message, Action<DeliveryReport<byte[]?, byte[]?>>? onDelivery)
    {
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private bool ProduceTransactionally(
        List<(string Topic, Message<byte[]?, byte[]?> Message)> records, List<ConsumeResult<byte[]?, byte[]?>> messages,
        List<int> batchToMessage, BatchResult? result)
    {
        try
        {
            _producer.BeginTransaction();
            foreach (var (topic, message) in records)
            {
                ProduceOne(topic, message, null);
            }

            CommitWindows(messages, batchToMessage, result, recs =>
            {
                foreach (var (topic, message) in recs)
                {
                    ProduceOne(topic, message, null);
                }
            });
            var offsets = NextOffsets(messages);
            RetryTransactional(() => _producer.SendOffsetsToTransaction(offsets, _consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(30)));
            RetryTransactional(() => _producer.CommitTransaction(TimeSpan.FromSeconds(30))); // a timed-out commit may have landed: retry it, never abort it
            return true;
        }
        catch (KafkaException e)
        {
            _log.LogWarning(e, "Transaction failed ({Reason}); aborting and re-reading the batch", e.Error.Reason);
            _metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", "transaction"));
            try
            {
                _producer.AbortTransaction(TimeSpan.FromSeconds(30));
            }
            catch (KafkaException abort) when (!abort.Error.IsFatal)
            {
                _log.LogWarning(abort, "Abort failed; the transaction times out on the broker");
            }

            Rewind(messages);
            _store.ForgetCachedState(); // the aborted batch's states may be written: read them (and their undo) again
            Thread.Sleep(_options.RetryBaseDelay);
            return false;
        }
    }

    /// <summary>Retries a transactional call while librdkafka says the error is retriable; anything else propagates (abort).</summary>
    private void RetryTransactional(Action call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                call();
                return;
            }
            catch (KafkaRetriableException e) when (attempt < 10)
            {
                _log.LogWarning("Transactional call failed ({Reason}); retrying the same call (attempt {Attempt})", e.Error.Reason, attempt);
                _metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", "transaction"));
                Thread.Sleep(_options.RetryBaseDelay * attempt);
            }
        }
    }

    private static List<TopicPartitionOffset> NextOffsets(List<ConsumeResult<byte[]?, byte[]?>> messages) =>
        messages.GroupBy(m => m.TopicPartition)
            .Select(g => new TopicPartitionOffset(g.Key, g.Max(m => m.Offset.Value) + 1))
            .ToList();

    private void StoreOffsets(List<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        foreach (var next in NextOffsets(messages))
        {
            try
            {
                _consumer.StoreOffset(next);
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_State)
            {
                // The partition was revoked meanwhile: its new owner reads from the committed offset (duplicates are recognised).
                _log.LogInformation("Not storing offset {Offset}: partition no longer assigned", next);
            }
        }
    }

    /// <summary>Seeks every partition of the batch back to its first message, so nothing in it is skipped.</summary>
    private void Rewind(List<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        foreach (var g in messages.GroupBy(m => m.TopicPartition))
        {
            try
            {
                _consumer.Seek(new TopicPartitionOffset(g.Key, g.Min(m => m.Offset.Value)));
            }
            catch (KafkaException e)
            {
                _log.LogInformation("Not rewinding {Partition}: {Reason}", g.Key, e.Error.Reason);
            }
        }
    }

    private T Execute<T>(string stage, Func<T> action)
    {
        var context = ResilienceContextPool.Shared.Get(stage);
        try
        {
            return _retry.Execute(_ => action(), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private void Execute(string stage, Action action) => Execute<bool>(stage, () =>
    {
        action();
        return true;
    });

    private void Pause()
    {
        if (Paused)
        {
            return;
        }

        var assigned = Assignment.ToList();
        if (assigned.Count > 0)
        {
            _consumer.Pause(assigned);
        }

        Paused = true;
    }

    private void Resume()
    {
        if (!Paused)
        {
            return;
        }

        var assigned = Assignment.ToList();
        if (assigned.Count > 0)
        {
            _consumer.Resume(assigned);
        }

        Paused = false;
        _log.LogInformation("Recovered; partitions resumed");
    }

    private void OnAssigned(List<TopicPartition> added)
    {
        lock (_assigned)
        {
            _assigned.UnionWith(added);
            _metrics.SetAssigned(_assigned.Count);
        }

        _log.LogInformation("Assigned {Partitions}", string.Join(", ", added));
    }

    private void OnRevoked(IEnumerable<TopicPartition> removed)
    {
        var list = removed.ToList();
        lock (_assigned)
        {
            _assigned.ExceptWith(list);
            _metrics.SetAssigned(_assigned.Count);
        }

        // Runs on the loop thread (inside Consume): drop the revoked partitions' messages collected so far, now, so
        // a re-assignment later in the same batch window starts cleanly from the committed offset; forget cached card
        // states, which the partitions' next owner may change.
        var revoked = list.ToHashSet();
        _collecting.RemoveAll(m => revoked.Contains(m.TopicPartition));
        _store.ForgetCachedState();

        _log.LogInformation("Revoked {Partitions}", string.Join(", ", list));
    }

    private void UpdateLag()
    {
        long lag = 0;
        foreach (var tp in Assignment)
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

    private void Stage(string name, Stopwatch clock) =>
        _metrics.StageDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", name));

    private void LogKafka(string client, LogMessage m)
    {
        var level = m.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Debug,
            _ => LogLevel.Trace,
        };
        _log.Log(level, "librdkafka {Client} {Facility}: {Message}", client, m.Facility, m.Message);
    }

    /// <summary>Infrastructure failures that pass with time; everything else is a bug and stops the host.</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        KafkaException k => !k.Error.IsFatal,
        SchemaRegistryException r => r.Status is System.Net.HttpStatusCode.InternalServerError or System.Net.HttpStatusCode.ServiceUnavailable or System.Net.HttpStatusCode.BadGateway,
        HttpRequestException or TimeoutException or TaskCanceledException or IOException => true,
        _ => e.GetType().FullName?.StartsWith("StackExchange.Redis.", StringComparison.Ordinal) == true || (e.InnerException is { } inner && IsTransient(inner)),
    };
}
