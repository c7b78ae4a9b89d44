using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Quality;
using StreamFraud.Kafka;
using StreamFraud.Scorer.Loop;

namespace StreamFraud.Scorer.Labels;

/// <summary>What the label consumer reads, writes and applies labels to.</summary>
/// <param name="Consumer">The scorer's librdkafka consumer settings; the label consumer uses them with its own group.</param>
/// <param name="Producer">The scorer's librdkafka producer settings (for the labels DLQ; never transactional).</param>
/// <param name="Registry">Schema Registry client (decoding).</param>
/// <param name="Store">Where labels change the entity risk state.</param>
public sealed record LabelLoopClients(ConsumerConfig Consumer, ProducerConfig Producer, ISchemaRegistryClient Registry, ILabelStore Store)
{
    /// <summary>The scorer's decision records, joined with labels for live quality (null: no join).</summary>
    public IDecisionLog? Decisions { get; init; }

    /// <summary>The version serving now (attributed labelled transactions without alert).</summary>
    public Func<string> ServingVersion { get; init; } = () => "unknown";

    /// <summary>Clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// The scorer's second consumer: labels from <c>fraud-labels</c> → the label store, bad labels → <c>fraud-labels.dlq</c>,
/// verdict changes → live quality. It shares the scoring loop's parts (<see cref="KafkaInput"/>,
/// <see cref="AtLeastOnceCommitter"/>, <see cref="OutputBuilder"/>, <see cref="Outages"/>) but none of its instances:
/// its own consumer group, producer, thread, outage state and gauges, so nothing it meets reaches the transaction path.
/// At-least-once: offsets are stored only after the store applied the batch and its DLQ records are acknowledged; a
/// redelivered label is a duplicate for the store. Outages of Redis, Kafka or the registry are retried with backoff
/// while the paused input is polled; an unexpected error ends the consumer, which is rebuilt after a backoff (never the
/// process: scoring goes on). <see cref="Run"/> blocks: give it a thread.
/// </summary>
public sealed class LabelLoop
{
    private readonly LabelLoopClients _clients;
    private readonly LabelOptions _options;
    private readonly ScorerOptions _scorer;
    private readonly ILogger _log;
    private readonly ScorerMetrics _metrics;
    private Session? _session;

    /// <summary>Creates the loop (no client is built before <see cref="Run"/>).</summary>
    public LabelLoop(LabelLoopClients clients, LabelOptions options, ScorerOptions scorer, ILogger logger, ScorerMetrics metrics, LabelStatus? status = null)
    {
        ArgumentNullException.ThrowIfNull(clients);
        _clients = clients;
        _options = options;
        _scorer = scorer;
        _log = logger;
        _metrics = metrics;
        Status = status ?? new LabelStatus(clients.Time);
        Group = options.Group(clients.Consumer.GroupId ?? "streamfraud-scorer");
    }

    /// <summary>How the consumer is doing (readiness details).</summary>
    public LabelStatus Status { get; }

    /// <summary>The label consumer's group.</summary>
    public string Group { get; }

    /// <summary>Batches of labels finished since start.</summary>
    public long Batches => Status.Batches;

    /// <summary>Consumers rebuilt after an unexpected error.</summary>
    public int Restarts { get; private set; }

    /// <summary>Partitions of the labels topic currently assigned.</summary>
    public IReadOnlyCollection<TopicPartition> Assignment => Volatile.Read(ref _session)?.Input.Assignment ?? [];

    /// <summary>
    /// Consumes labels until <paramref name="stop"/> is cancelled. A batch waiting out an outage is abandoned
    /// uncommitted at stop (redelivered later); an unexpected error is logged, counted and answered by a new consumer
    /// after a backoff. Never throws but on a cancelled stop.
    /// </summary>
    public void Run(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            var batchesBefore = Batches;
            try
            {
                using var session = new Session(this);
                Volatile.Write(ref _session, session);
                ScoringThread.Run(() => session.RunAsync(stop));
                return;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return; // stopped while a call waited: nothing of the batch was stored
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                failures = Batches > batchesBefore ? 1 : failures + 1;
                Restarts++;
                var delay = Backoff(failures);
                Status.Failed(e);
                _metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", ErrorStages.LabelsPrefix + ErrorStages.Loop));
                Log.LabelConsumerFailed(_log, e, delay.TotalSeconds);
                stop.WaitHandle.WaitOne(delay);
            }
            finally
            {
                Volatile.Write(ref _session, null);
                _metrics.LabelInput.SetAssigned(0);
                Status.Assigned(0);
            }
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var max = Math.Max(_scorer.RetryMaxDelay.TotalMilliseconds, 60_000);
        var exponential = _scorer.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        return TimeSpan.FromMilliseconds(Math.Min(exponential, max) * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>
    /// The label consumer's and producer's settings before their roles' own (<see cref="KafkaInput.Effective"/>,
    /// <see cref="KafkaOutput.Effective"/>): the scoring loop's — every client's <c>Kafka:Client:*</c> settings with
    /// <c>Kafka:Consumer:*</c> / <c>Kafka:Producer:*</c> — in the labels' own group, never transactional.
    /// </summary>
    internal static (ConsumerConfig Consumer, ProducerConfig Producer) ClientConfigs(LabelLoopClients clients, string group)
    {
        var consumer = new ConsumerConfig(new Dictionary<string, string>(clients.Consumer)) { GroupId = group };
        if (consumer.GroupInstanceId is { Length: > 0 } instance)
        {
            consumer.GroupInstanceId = $"{instance}-labels"; // static membership is per group and member
        }

        var producer = new Dictionary<string, string>(clients.Producer);
        producer.Remove("transactional.id"); // the labels DLQ is at-least-once, never in the scorer's transactions
        return (consumer, new ProducerConfig(producer));
    }

    /// <summary>One consumer's life: its clients, built at start and disposed at its end.</summary>
    private sealed class Session : IDisposable
    {
        private readonly LabelLoop _loop;
        private readonly KafkaOutput _output;
        private readonly Outages _outages;
        private readonly AtLeastOnceCommitter _committer;
        private readonly LabelBatchProcessor _processor;
        private readonly List<ConsumeResult<byte[]?, byte[]?>> _messages = [];

        public Session(LabelLoop loop)
        {
            _loop = loop;
            var clients = loop._clients;
            var limiter = new RepeatLimiter(clients.Time, TimeSpan.FromMinutes(1));
            var (consumer, producer) = ClientConfigs(clients, loop.Group);
            Input = new KafkaInput(consumer, exactlyOnce: false, loop._log, loop._metrics.LabelInput, limiter, () => { }, "labels consumer")
            {
                ErrorSeen = loop.Status.KafkaError,
            };
            try
            {
                _output = new KafkaOutput(producer, exactlyOnce: false, loop.Group, loop._log, limiter);
                var options = loop._scorer with { DlqTopic = loop._options.DlqTopic };
                _outages = new Outages(options, loop._log, loop._metrics, loop.Status.Health, clients.Time)
                {
                    KeepAlive = Input.KeepAlive,
                    Stalled = Input.Pause,
                    StagePrefix = ErrorStages.LabelsPrefix,
                };
                var builder = new OutputBuilder(options, new AvroSerializer<FraudAlert>(clients.Registry), clients.Time);
                _committer = new AtLeastOnceCommitter(_output, Input, _outages, builder);
                _processor = new LabelBatchProcessor(new LabelDecoder(clients.Registry), clients.Store, builder, loop._metrics, _outages, loop._log, limiter)
                {
                    Decisions = clients.Decisions,
                    ServingVersion = clients.ServingVersion,
                    Time = clients.Time,
                };
            }
            catch
            {
                Input.Dispose();
                _output?.Dispose();
                throw;
            }
        }

        public KafkaInput Input { get; }

        public async Task RunAsync(CancellationToken stop)
        {
            var options = _loop._options;
            Input.Subscribe(options.Topic);
            Log.LabelConsumerStarted(_loop._log, options.Topic, _loop.Group, options.BatchSize);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    Input.Collect(_messages, options.BatchSize, options.BatchTimeout);
                    _loop.Status.Assigned(Input.Assignment.Count);
                    if (_messages.Count > 0)
                    {
                        try
                        {
                            await _processor.ProcessAsync(_messages, records => _committer.PublishAsync(records, stop), stop).ConfigureAwait(true);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                            Input.Finished();
                            Log.AbandonedOnStop(_loop._log);
                            break;
                        }

                        _committer.Commit(_messages, stop); // stores the offsets: auto-commit and Close commit them
                        Input.Resume();
                        _outages.Resumed();
                        Input.Finished();
                        _loop.Status.BatchDone();
                    }

                    Input.UpdateLag();
                }
            }
            finally
            {
                Input.Close();
                Log.LabelConsumerStopped(_loop._log, _loop.Batches);
            }
        }

        public void Dispose()
        {
            Input.Dispose();
            _output.Dispose();
        }
    }
}
