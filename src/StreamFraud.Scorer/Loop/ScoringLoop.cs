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
    private readonly List<ConsumeResult<byte[]?, byte[]?>> _messages = [];

    /// <summary>Creates the loop and its Kafka clients.</summary>
    public ScoringLoop(ScoringLoopClients clients, ScorerOptions options, ScoringOptions scoring, ILogger logger, ScorerMetrics metrics, DependencyHealth? health = null)
    {
        ArgumentNullException.ThrowIfNull(clients);
        _options = options;
        _log = logger;
        _metrics = metrics;
        Health = health ?? new DependencyHealth(clients.Time);
        var limiter = new RepeatLimiter(clients.Time, TimeSpan.FromMinutes(1));
        _input = new KafkaInput(clients.Consumer, options.ExactlyOnce, logger, metrics.Input, limiter, () => clients.Store.ForgetCachedState());
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
        };
    }

    /// <summary>Partitions currently assigned.</summary>
    public IReadOnlyCollection<TopicPartition> Assignment => _input.Assignment;

    /// <summary>Batches completed (for readiness checks and tests).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Dependency outages seen by this loop (readiness).</summary>
    public DependencyHealth Health { get; }

    private static readonly KeyValuePair<string, object?> PollStage = new("stage", "poll");
    private long _batches;

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
                var polling = Stopwatch.StartNew();
                _input.Collect(_messages, _options.BatchSize, _options.BatchTimeout);
                if (_messages.Count > 0)
                {
                    _metrics.StageDuration.Record(polling.Elapsed.TotalSeconds, PollStage);
                }

                if (_messages.Count > 0)
                {
                    try
                    {
                        await ProcessBatchAsync(stop).ConfigureAwait(true);
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        _committer.Abandon(_messages);
                        _input.Finished();
                        Log.AbandonedOnStop(_log);
                        break;
                    }
                }

                _input.UpdateLag();
            }
        }
        finally
        {
            _input.Close(); // commits stored offsets (at-least-once) and leaves the group
            Log.LoopStopped(_log, Batches);
        }
    }

    private async Task ProcessBatchAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        _committer.Begin();
        try
        {
            await _processor.ProcessAsync(_messages, records => _committer.PublishAsync(records, stop), stop).ConfigureAwait(true);
        }
        catch
        {
            _committer.Abandon(_messages);
            throw;
        }

        var produce = Stopwatch.StartNew();
        var committed = _committer.Commit(_messages, stop);
        _input.Resume(); // partitions paused by an outage wait, a slow produce or a rewind flow again (no-op otherwise)
        _outages.Resumed();

        _metrics.StageDuration.Record(produce.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", "commit"));
        if (committed)
        {
            _input.Finished();
            Interlocked.Increment(ref _batches);
            _metrics.BatchDuration.Record(clock.Elapsed.TotalSeconds);
        }
    }
}
