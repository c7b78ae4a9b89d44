using System.Diagnostics;
using Confluent.Kafka;
using StreamFraud.Core.Features;
using StreamFraud.Core.Quality;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Scoring;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// The Kafka-free middle of the scorer: raw messages → decoded transactions (bad input becomes DLQ records) → the
/// pipeline's batch protocol (<see cref="FraudPipeline.RunBatchAsync"/>, or <see cref="FraudPipeline.RunOverlappedAsync"/>
/// with <see cref="Overlap"/>) → output records handed to a publisher. It needs no broker: tests drive it with
/// hand-made messages and a list as publisher.
/// </summary>
internal sealed class BatchProcessor(
    TransactionDecoder decoder, FraudPipeline pipeline, WindowBatch batch, OutputBuilder output, ScorerMetrics metrics, Outages outages,
    ILogger log, RepeatLimiter limiter)
{
    private static readonly KeyValuePair<string, object?> DecodeStage = new("stage", "decode");
    private static readonly KeyValuePair<string, object?> PublishStage = new("stage", "publish");
    private static readonly KeyValuePair<string, object?> WritesStage = new("stage", "writes");
    // Two of each, used in turn: with Overlap the previous batch stays in flight (and may be settled) during the next.
    private readonly WindowBatch[] _batches = [batch, new WindowBatch(batch.Spec, batch.Capacity)];
    private readonly List<int>[] _messageOf = [[], []];
    private readonly HashSet<int>[] _rejected = [[], []]; // batch indices dead-lettered by the store's results in that batch
    private int _turn;
    private string? _lastTopic;
    private uint _lastSource;

    /// <summary>
    /// <c>Scorer:SourceId</c>: combined with each message's topic into the source identity of its position
    /// (<see cref="SourceIdentity"/>); null or empty: the topic alone.
    /// </summary>
    public string? SourceId { get; init; }

    /// <summary>
    /// Where a decision record of every published alert is written (live quality joins labels with them), after the
    /// alerts are durable and before the window states are: a record therefore means a published alert. Null: none.
    /// </summary>
    public IDecisionLog? Decisions { get; init; }

    /// <summary>
    /// At-least-once only: run the pipeline one batch deep (<see cref="FraudPipeline.RunOverlappedAsync"/>), so the
    /// previous batch's window states are written while this batch is prepared and scored. A processed batch is then
    /// left in flight (<see cref="LastInFlight"/>) until the next batch or <see cref="FlushAsync"/>. Ignored when the
    /// store cannot (Redis Cluster).
    /// </summary>
    public bool Overlap { get; init; }

    /// <summary>
    /// Whether the batch last processed is published but its states are not written yet (the batch before it is then
    /// durable). False: it is durable, and so is every batch before it.
    /// </summary>
    public bool LastInFlight => pipeline.InFlightBatch is not null;

    /// <summary>Batches left in flight that have been written since (see <see cref="FraudPipeline.SettledInFlight"/>).</summary>
    public long SettledInFlight => pipeline.SettledInFlight;

    /// <summary>Writes the states of the batch left in flight (no-op when none); afterwards every processed batch is durable.</summary>
    public Task FlushAsync(CancellationToken stop) => pipeline.FlushAsync(stop);

    /// <summary>Forgets the batch left in flight (the caller abandons it; it is read again).</summary>
    public void DropInFlight() => pipeline.DropInFlight();

    /// <summary>
    /// The source identity of messages of <paramref name="topic"/>: the topic name, or <c>topic#sourceId</c> when a
    /// source id is configured. Its <see cref="SourcePosition.SourceHash"/> is part of every position, so events of
    /// another topic (or of the same topic under another source id) are never taken for redeliveries.
    /// </summary>
    public static string SourceIdentity(string topic, string? sourceId) =>
        string.IsNullOrEmpty(sourceId) ? topic : $"{topic}#{sourceId}";

    /// <summary>
    /// Processes one batch. <paramref name="publish"/> must make its records durable (acknowledged, or in the caller's
    /// transaction) before it returns; the batch's window states are written after it. Returns the alerts published.
    /// </summary>
    public async Task<int> ProcessAsync(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> messages, Func<List<OutputRecord>, Task> publish, CancellationToken stop)
    {
        metrics.EventsConsumed.Add(messages.Count);
        metrics.BatchSize.Record(messages.Count);
        var clock = Stopwatch.StartNew();
        var decoded = await outages.RunAsync(Dependency.SchemaRegistry, ErrorStages.Decode, () => DecodeAll(messages), stop).ConfigureAwait(true);
        metrics.StageDuration.Record(clock.Elapsed.TotalSeconds, DecodeStage);

        var slot = _turn++ % 2;
        var batch = _batches[slot];
        var messageOf = _messageOf[slot];
        var rejected = _rejected[slot];
        if (ReferenceEquals(pipeline.InFlightBatch, batch))
        {
            slot = _turn++ % 2; // the other one is in flight after a batch without events
            (batch, messageOf, rejected) = (_batches[slot], _messageOf[slot], _rejected[slot]);
        }

        batch.Clear();
        messageOf.Clear();
        rejected.Clear();
        var deadLetters = new List<DeadLetter>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (decoded[i].Transaction is { } tx)
            {
                batch.Add(tx, new SourcePosition(messages[i].Partition.Value, messages[i].Offset.Value, Source(messages[i].Topic)));
                messageOf.Add(i);
            }
            else
            {
                var errorClass = decoded[i].ErrorClass!;
                deadLetters.Add(new DeadLetter(messages[i], errorClass, decoded[i].Reason!, ReferenceOnly: errorClass == DlqErrorClass.TooLarge));
            }
        }

        var alerts = 0;
        if (batch.Count == 0)
        {
            // Nothing to write: the batch in flight (if any) is made durable first, so positions are taken in order.
            await pipeline.FlushAsync(stop).ConfigureAwait(true);
            await PublishAsync(publish, [.. output.DeadLetters(deadLetters)]).ConfigureAwait(true);
        }
        else
        {
            var first = true;
            var published = TimeSpan.Zero;
            var running = Stopwatch.StartNew();
            PublishBatch publishBatch = async (b, r, _) =>
            {
                // The first publish carries the DLQ and the scores; re-publishes after a store conflict the alerts of
                // events applied then and the rejections seen only then (e.g. another writer applied a transaction
                // with the same id and other content in between), so no event is silently dropped.
                var letters = first ? deadLetters : [];
                AddRejected(messages, messageOf, rejected, r, letters);
                var records = await outages.RunAsync(Dependency.SchemaRegistry, ErrorStages.Registry,
                    () => output.BuildAsync(b, first ? r : r with { Events = [] }, letters), stop).ConfigureAwait(true);
                var publishing = Stopwatch.StartNew();
                await PublishAsync(publish, records).ConfigureAwait(true);
                published += publishing.Elapsed;
                metrics.StageDuration.Record(publishing.Elapsed.TotalSeconds, PublishStage);
                if (Decisions is { } decisions && r.Alerts.Count > 0)
                {
                    var made = r.Alerts.Select(a => new DecisionRecord(a.TransactionId, a.CardId, a.ModelVersion, Alerted: true, a.Score, a.Threshold, a.ScoredAtMs)).ToList();
                    await outages.RunAsync(Dependency.Redis, ErrorStages.Decisions, () => decisions.WriteAsync(made, onlyIfAbsent: false, CancellationToken.None), stop).ConfigureAwait(true);
                }

                // Counted per publish: a re-publish after a conflict may come after this method returned (Overlap).
                metrics.Alerts.Add(r.Alerts.Count, new KeyValuePair<string, object?>("model.version", r.ModelVersion));
                if (!first)
                {
                    CountDeadLetters(letters);
                }

                first = false;
                alerts += r.Alerts.Count;
            };
            var failuresBefore = pipeline.OverlapFailures;
            BatchResult result;
            try
            {
                result = Overlap
                    ? await pipeline.RunOverlappedAsync(batch, publishBatch, stop).ConfigureAwait(true)
                    : await pipeline.RunBatchAsync(batch, publishBatch, stop).ConfigureAwait(true);
            }
            catch
            {
                // Also when the batch then fails or is stopped (e.g. its serial retry waits out an outage until SIGTERM);
                // reporting never replaces the error on its way out.
                try
                {
                    ReportOverlapFailures(failuresBefore);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                }

                throw;
            }

            ReportOverlapFailures(failuresBefore);

            // What the batch protocol spent outside its timed stages and the publish: writing the window states (with
            // Overlap: waiting for the previous batch's write, which ran alongside this batch's stages).
            var writes = running.Elapsed - published - result.Timings.Windows - result.Timings.Models - result.Timings.Explain;
            metrics.StageDuration.Record(Math.Max(0, writes.TotalSeconds), WritesStage);
            Record(result);
        }

        CountDeadLetters(deadLetters);
        return alerts;
    }

    /// <summary>Counts (<c>streamfraud.errors{stage="overlap"}</c>) and logs, rate-limited, the overlapped reads or scoring that failed since <paramref name="before"/>.</summary>
    private void ReportOverlapFailures(long before)
    {
        var failed = pipeline.OverlapFailures - before;
        if (failed <= 0)
        {
            return;
        }

        metrics.Errors.Add(failed, new KeyValuePair<string, object?>("stage", ErrorStages.Overlap));
        if (pipeline.LastOverlapFailure is { } failure && limiter.ShouldLog("overlap", out var suppressed))
        {
            Log.OverlapRetried(log, failure, suppressed);
        }
    }

    private uint Source(string topic)
    {
        if (!string.Equals(topic, _lastTopic, StringComparison.Ordinal))
        {
            _lastSource = SourcePosition.SourceHash(SourceIdentity(topic, SourceId));
            _lastTopic = topic;
        }

        return _lastSource;
    }

    private static async Task PublishAsync(Func<List<OutputRecord>, Task> publish, List<OutputRecord> records)
    {
        if (records.Count > 0)
        {
            await publish(records).ConfigureAwait(true);
        }
    }

    private async Task<Decoded[]> DecodeAll(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        var decoded = new Decoded[messages.Count];
        List<(int Index, Task<Decoded> Task)>? slow = null;
        var limit = output.Options.MaxInputBytes;
        for (var i = 0; i < messages.Count; i++)
        {
            // Checked before decoding: an oversized input is never parsed, and the DLQ gets a reference record to it.
            var size = OutputBuilder.SizeOf(messages[i].Message);
            if (size > limit)
            {
                decoded[i] = new Decoded(null, DlqErrorClass.TooLarge, $"{size} bytes (key, value and headers) exceed Scorer:MaxInputBytes={limit}");
            }
            else if (!decoder.TryDecode(messages[i].Message.Value, out decoded[i]))
            {
                (slow ??= []).Add((i, decoder.DecodeAsync(messages[i].Message.Value, messages[i].Topic)));
            }
        }

        foreach (var (i, task) in slow ?? [])
        {
            decoded[i] = await task.ConfigureAwait(true);
        }

        return decoded;
    }

    private static void AddRejected(
        IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> messages, List<int> messageOf, HashSet<int> rejected, BatchResult result, List<DeadLetter> deadLetters)
    {
        for (var b = 0; b < result.Events.Count; b++)
        {
            if (result.Events[b].Outcome is not (EventOutcome.Invalid or EventOutcome.ReusedTransactionId) || !rejected.Add(b))
            {
                continue;
            }

            switch (result.Events[b].Outcome)
            {
                case EventOutcome.Invalid:
                    deadLetters.Add(new DeadLetter(messages[messageOf[b]], DlqErrorClass.InvalidValue, result.Events[b].Error ?? "invalid for the feature spec"));
                    break;
                case EventOutcome.ReusedTransactionId:
                    deadLetters.Add(new DeadLetter(messages[messageOf[b]], DlqErrorClass.ReusedTransactionId,
                        result.Events[b].Error ?? "transaction id already applied to this card with different content"));
                    break;
            }
        }
    }

    private void Record(BatchResult result)
    {
        foreach (var e in result.Events)
        {
            if (e.Outcome is EventOutcome.DuplicateRescored or EventOutcome.DuplicateSkipped)
            {
                metrics.Duplicates.Add(1);
            }

            if (!double.IsNaN(e.Score))
            {
                metrics.EventsScored.Add(1);
                metrics.Score.Record(e.Score);
            }
        }

        metrics.StageDuration.Record(result.Timings.Windows.TotalSeconds, new KeyValuePair<string, object?>("stage", "redis"));
        metrics.StageDuration.Record(result.Timings.Models.TotalSeconds, new KeyValuePair<string, object?>("stage", "models"));
        metrics.StageDuration.Record(result.Timings.Explain.TotalSeconds, new KeyValuePair<string, object?>("stage", "explain"));
        metrics.SetModelVersion(result.ModelVersion, result.LstmPath);
        if (result.Shadows is [var challenger, ..])
        {
            // Champion vs challenger decisions per scored event: both, champion only, challenger only.
            var champ = result.Alerts.Select(a => a.BatchIndex).ToHashSet();
            var chall = challenger.Alerts.Select(a => a.BatchIndex).ToHashSet();
            var both = champ.Count(chall.Contains);
            metrics.Agreement.Add(both, new KeyValuePair<string, object?>("outcome", "both"));
            metrics.Agreement.Add(champ.Count - both, new KeyValuePair<string, object?>("outcome", "champion_only"));
            metrics.Agreement.Add(chall.Count - both, new KeyValuePair<string, object?>("outcome", "challenger_only"));
        }
    }

    private void CountDeadLetters(List<DeadLetter> deadLetters)
    {
        if (deadLetters.Count == 0)
        {
            return;
        }

        foreach (var d in deadLetters)
        {
            metrics.Dlq.Add(1, new KeyValuePair<string, object?>("error.class", d.Class));
        }

        if (limiter.ShouldLog("dlq", out var suppressed))
        {
            var e = deadLetters[0];
            Log.DeadLettered(log, deadLetters.Count, suppressed, e.Class, e.Source.Topic, e.Source.Partition.Value, e.Source.Offset.Value, e.Reason);
        }
    }
}
