using System.Diagnostics;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;
using StreamFraud.Core.Features;
using StreamFraud.Core.Quality;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scorer.Loop;

/// <summary>What the scoring loop reads, writes and scores with.</summary>
/// <param name="Consumer">librdkafka consumer settings (group, bootstrap, …); delivery settings are set by the loop.</param>
/// <param name="Producer">librdkafka producer settings.</param>
/// <param name="Registry">Schema Registry client (decoding, alert serialisation).</param>
/// <param name="Store">The window store.</param>
/// <param name="Bundles">The serving bundle (hot-reloaded); each batch leases one.</param>
/// <param name="Spec">The feature spec the windows use.</param>
public sealed record ScoringLoopClients(
    ConsumerConfig Consumer, ProducerConfig Producer, ISchemaRegistryClient Registry, IWindowStore Store, IBundleSource Bundles, FeatureSpec Spec)
{
    /// <summary>A second bundle scoring the same windows into the shadow topic only.</summary>
    public ModelBundle? Challenger { get; init; }

    /// <summary>Clock (decoding's future-skew rule, alert timestamps).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where each alert's decision record is written for live quality (null: not written).</summary>
    public IDecisionLog? Decisions { get; init; }
}

/// <summary>
/// The Kafka scorer's consume → score → produce loop, composed of its parts: <see cref="KafkaInput"/> (batching,
/// rebalances, pause while polling, lag), <see cref="BatchProcessor"/> (decode → <see cref="FraudPipeline"/> →
/// output records; no broker), <see cref="OutputBuilder"/> (alerts, scores, DLQ) and an <see cref="IBatchCommitter"/>
/// (at-least-once or exactly-once). Transient failures are a state of the loop (<see cref="Outages"/>): the input is
/// paused and still polled, the stop token is observed. Bad input goes to the DLQ and never stops the loop. See
/// docs/ARCHITECTURE.md for the data path and delivery semantics. <see cref="Run"/> blocks: give it a thread.
/// </summary>
public sealed class ScoringLoop : IDisposable
{
    private readonly ScorerOptions _options;
    private readonly ILogger _log;
    private readonly ScorerMetrics _metrics;
    private readonly KafkaInput _input;
    private readonly KafkaOutput _output;
    private readonly IBatchCommitter _committer;
    private readonly BatchProcessor _processor;
    private readonly Outages _outages;
    private readonly List<ConsumeResult<byte[]?, byte[]?>>[] _lists = [[], []]; // used in turn: one may be in flight
    private List<ConsumeResult<byte[]?, byte[]?>>? _inFlight; // published, states being written, positions not stored yet
    private bool _revoked;
    private long _revokedInFlight;

    /// <summary>Creates the loop and its Kafka clients.</summary>
    public ScoringLoop(ScoringLoopClients clients, ScorerOptions options, ScoringOptions scoring, ILogger logger, ScorerMetrics metrics, DependencyHealth? health = null)
    {
        ArgumentNullException.ThrowIfNull(clients);
        _options = options;
        _log = logger;
        _metrics = metrics;
        Health = health ?? new DependencyHealth(clients.Time);
        var limiter = new RepeatLimiter(clients.Time, TimeSpan.FromMinutes(1));
        _input = new KafkaInput(clients.Consumer, options.ExactlyOnce, logger, metrics.Input, limiter, () =>
        {
            clients.Store.ForgetCachedState();
            _revoked = true;
            if (_inFlight is not null) // on the loop's thread, inside any poll (Collect, an outage's keep-alive, a slow produce)
            {
                Interlocked.Increment(ref _revokedInFlight);
            }
        });
        _output = new KafkaOutput(clients.Producer, options.ExactlyOnce, clients.Consumer.GroupId ?? "streamfraud-scorer", logger, limiter);
        _outages = new Outages(options, logger, metrics, Health, clients.Time)
        {
            KeepAlive = _input.KeepAlive,
            Stalled = _input.Pause,
        };
        var output = new OutputBuilder(options, new AvroSerializer<FraudAlert>(clients.Registry), clients.Time);
        _committer = options.ExactlyOnce
            ? new TransactionalCommitter(_output, _input, clients.Store, output, options, logger, metrics)
            : new AtLeastOnceCommitter(_output, _input, _outages, output);

        // Exactly-once: an aborted transaction may drop alerts of events whose states were written, so redelivered
        // duplicates are scored again. At-least-once commits states only after alerts are acknowledged: no need.
        var pipeline = new FraudPipeline(
            new RetryingWindowStore(clients.Store, _outages), clients.Bundles, scoring with { RescoreDuplicates = options.ExactlyOnce }, clients.Time,
            options.BatchSize, clients.Challenger is { } challenger ? [new FixedBundleSource(() => challenger)] : null);
        _processor = new BatchProcessor(
            new TransactionDecoder(clients.Registry, clients.Time), pipeline, new WindowBatch(clients.Spec, options.BatchSize), output, metrics, _outages, logger, limiter)
        {
            SourceId = options.SourceId,
            Decisions = clients.Decisions,
            Overlap = !options.ExactlyOnce, // a transaction cannot commit before its batch's states are written
        };
    }

    /// <summary>Partitions currently assigned.</summary>
    public IReadOnlyCollection<TopicPartition> Assignment => _input.Assignment;

    /// <summary>Batches completed (for readiness checks and tests).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Batches prepared and scored while the previous batch's window states were being written (at-least-once under load).</summary>
    public long OverlappedBatches => Interlocked.Read(ref _overlapped);

    /// <summary>
    /// Polls during which partitions were revoked or lost while a batch was in flight (published, its states being
    /// written). That batch settles and its positions are stored as usual; a position of a partition no longer
    /// assigned is not committed, so its new owner reads those events again and the store recognises them.
    /// </summary>
    public long RevokedWithBatchInFlight => Interlocked.Read(ref _revokedInFlight);

    /// <summary>Dependency outages seen by this loop (readiness).</summary>
    public DependencyHealth Health { get; }

    private static readonly KeyValuePair<string, object?> PollStage = new("stage", "poll");
    private long _batches;
    private long _overlapped;

    /// <summary>
    /// Consumes and scores until <paramref name="stop"/> is cancelled. A healthy batch in flight finishes; a batch
    /// waiting out an outage is abandoned uncommitted (redelivered later). Closes the consumer at the end.
    /// </summary>
    public void Run(CancellationToken stop) => ScoringThread.Run(() => RunAsync(stop));

    /// <inheritdoc />
    public void Dispose()
    {
        _input.Dispose();
        _output.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        if (_committer is TransactionalCommitter transactional)
        {
            transactional.Init();
        }

        _input.Subscribe(_options.InputTopic);
        Log.LoopStarted(_log, _options.InputTopic, _options.ExactlyOnce ? "exactly-once" : "at-least-once", _options.BatchSize);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var messages = ReferenceEquals(_inFlight, _lists[0]) ? _lists[1] : _lists[0];
                var polling = Stopwatch.StartNew();
                _revoked = false;
                _input.Collect(messages, _options.BatchSize, _options.BatchTimeout);
                if (messages.Count > 0)
                {
                    _metrics.StageDuration.Record(polling.Elapsed.TotalSeconds, PollStage);
                }

                try
                {
                    if (messages.Count > 0)
                    {
                        await ProcessBatchAsync(messages, stop).ConfigureAwait(true);
                    }

                    // Not under full load, or partitions moved: nothing to overlap with, so the batch in flight is written now.
                    if (_inFlight is not null && (messages.Count < _options.BatchSize || _revoked))
                    {
                        await FlushAsync(stop).ConfigureAwait(true);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    Abandon(messages);
                    _input.Finished();
                    Log.AbandonedOnStop(_log);
                    break;
                }

                _input.UpdateLag();
            }

            if (_inFlight is not null)
            {
                // Stopping: a healthy write finishes; one that has to wait out an outage is abandoned (read again).
                try
                {
                    await FlushAsync(stop).ConfigureAwait(true);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    Log.AbandonedOnStop(_log);
                }
            }
        }
        finally
        {
            _input.Close(); // commits stored offsets (at-least-once) and leaves the group
            Log.LoopStopped(_log, Batches);
        }
    }

    private async Task ProcessBatchAsync(List<ConsumeResult<byte[]?, byte[]?>> messages, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        _committer.Begin();
        var settled = _processor.SettledInFlight;
        try
        {
            await _processor.ProcessAsync(messages, records => _committer.PublishAsync(records, stop), stop).ConfigureAwait(true);
        }
        catch
        {
            if (_inFlight is { } written && _processor.SettledInFlight != settled)
            {
                // The batch in flight was written before this one failed or was stopped: its positions are stored, and
                // only this batch is read again (abandoning both would redeliver a written batch: duplicates). Only the
                // offsets: the input stays paused while this batch's failure unwinds, and nothing here may replace it.
                Debug.Assert(!_options.ExactlyOnce, "exactly-once never leaves a batch in flight");
                _inFlight = null;
                try
                {
                    _committer.Commit(written, stop);
                    Interlocked.Increment(ref _batches);
                }
                catch (KafkaException e)
                {
                    Log.WrittenBatchNotStored(_log, e.Error.Reason);
                }
            }

            Abandon(messages);
            throw;
        }

        _metrics.BatchDuration.Record(clock.Elapsed.TotalSeconds);

        // The batch in flight before this one is durable now; this one is either durable too or left in flight.
        if (_inFlight is { } previous)
        {
            _inFlight = null;
            Done(previous, stop);
            Interlocked.Increment(ref _overlapped);
        }

        if (_processor.LastInFlight)
        {
            _inFlight = messages;
            return;
        }

        Done(messages, stop);
    }

    /// <summary>Writes the states of the batch left in flight and takes its positions as done.</summary>
    private async Task FlushAsync(CancellationToken stop)
    {
        try
        {
            await _processor.FlushAsync(stop).ConfigureAwait(true);
        }
        catch
        {
            Abandon([]);
            throw;
        }

        if (_inFlight is { } inFlight)
        {
            _inFlight = null;
            Done(inFlight, stop);
        }
    }

    /// <summary>Gives up <paramref name="messages"/> and the batch in flight: none of their positions is stored (read again).</summary>
    private void Abandon(List<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        _processor.DropInFlight();
        if (_inFlight is { } inFlight)
        {
            _inFlight = null;
            _committer.Abandon(inFlight);
        }

        _committer.Abandon(messages);
    }

    /// <summary>A batch whose states are written: its positions are committed (stored for auto-commit in at-least-once mode).</summary>
    private void Done(List<ConsumeResult<byte[]?, byte[]?>> messages, CancellationToken stop)
    {
        var produce = Stopwatch.StartNew();
        var committed = _committer.Commit(messages, stop);
        _input.Resume(); // partitions paused by an outage wait, a slow produce or a rewind flow again (no-op otherwise)
        _outages.Resumed();

        _metrics.StageDuration.Record(produce.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", "commit"));
        if (committed)
        {
            _input.Finished();
            Interlocked.Increment(ref _batches);
        }
    }
}
