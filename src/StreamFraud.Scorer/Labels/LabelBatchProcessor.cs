using Confluent.Kafka;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Quality;
using StreamFraud.Kafka;
using StreamFraud.Scorer.Loop;

namespace StreamFraud.Scorer.Labels;

/// <summary>What one batch of label messages did.</summary>
/// <param name="Labels">Labels offered to the store.</param>
/// <param name="DeadLetters">Messages dead-lettered.</param>
/// <param name="Joined">Labels joined with decision records (live quality).</param>
internal readonly record struct LabelBatchResult(int Labels, int DeadLetters, int Joined);

/// <summary>
/// The Kafka-free middle of the label consumer: raw messages → decoded labels (bad ones become DLQ records) → one
/// <see cref="ILabelStore.ApplyLabelsAsync"/> call → invalid and conflicting decisions become DLQ records → the
/// decisions that changed a verdict are joined with the scorer's decision records (<see cref="LiveQuality"/>) → the
/// DLQ records handed to a publisher. Each dependency call goes through the loop's <see cref="Outages"/> (retried
/// while the input is paused and polled). Tests drive it with hand-made messages and a list as publisher.
/// </summary>
internal sealed class LabelBatchProcessor(
    LabelDecoder decoder, ILabelStore store, OutputBuilder output, ScorerMetrics metrics, Outages outages, ILogger log, RepeatLimiter limiter)
{
    private readonly List<TransactionLabel> _labels = [];
    private readonly List<int> _messageOf = [];

    /// <summary>The scorer's decision records, joined with labels for live quality (null: no join).</summary>
    public IDecisionLog? Decisions { get; init; }

    /// <summary>The version serving now: a labelled transaction without alert is attributed to it.</summary>
    public Func<string> ServingVersion { get; init; } = () => "unknown";

    /// <summary>Clock of new attribution records.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Processes one batch. The store has applied its labels and <paramref name="publish"/> made its DLQ records
    /// durable when this returns: the caller may then store the batch's offsets. A redelivered batch changes nothing
    /// in the store (its labels are duplicates), and its DLQ records are sent again.
    /// </summary>
    public async Task<LabelBatchResult> ProcessAsync(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> messages, Func<List<OutputRecord>, Task> publish, CancellationToken stop)
    {
        metrics.LabelsConsumed.Add(messages.Count);
        var decoded = await outages.RunAsync(Dependency.SchemaRegistry, ErrorStages.Decode, () => DecodeAll(messages), stop).ConfigureAwait(true);
        _labels.Clear();
        _messageOf.Clear();
        var deadLetters = new List<DeadLetter>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (decoded[i].Label is { } label)
            {
                _labels.Add(label);
                _messageOf.Add(i);
            }
            else
            {
                var errorClass = decoded[i].ErrorClass!;
                deadLetters.Add(new DeadLetter(messages[i], errorClass, decoded[i].Reason!, ReferenceOnly: errorClass == DlqErrorClass.TooLarge));
            }
        }

        var joined = 0;
        if (_labels.Count > 0)
        {
            var labels = _labels.ToArray(); // the store may keep the list while a retried call is in flight
            var decisions = await outages.RunAsync(Dependency.Redis, ErrorStages.Apply, () => store.ApplyLabelsAsync(labels, CancellationToken.None), stop).ConfigureAwait(true);
            if (decisions.Count != labels.Length)
            {
                throw new InvalidOperationException($"The label store returned {decisions.Count} decisions for {labels.Length} labels.");
            }

            for (var i = 0; i < labels.Length; i++)
            {
                var d = decisions[i];
                metrics.LabelOutcomes.Add(1, new KeyValuePair<string, object?>("outcome", ScorerMetrics.OutcomeName(d.Outcome)));
                if (d.Outcome is LabelOutcome.Invalid or LabelOutcome.Conflicting)
                {
                    deadLetters.Add(new DeadLetter(
                        messages[_messageOf[i]], d.Outcome == LabelOutcome.Invalid ? DlqErrorClass.InvalidValue : DlqErrorClass.ConflictingLabel,
                        d.Reason ?? (d.Outcome == LabelOutcome.Invalid ? "invalid label" : "the transaction was labelled before with other facts")));
                }
            }

            if (Decisions is { } decisionLog)
            {
                joined = await JoinAsync(decisionLog, labels, decisions, stop).ConfigureAwait(true);
            }
        }

        if (deadLetters.Count > 0)
        {
            await publish([.. output.DeadLetters(deadLetters)]).ConfigureAwait(true);
            CountDeadLetters(deadLetters);
        }

        return new LabelBatchResult(_labels.Count, deadLetters.Count, joined);
    }

    /// <summary>
    /// Joins the labels whose decision changed a verdict with their decision records: one read for the batch, one
    /// write of the attributions of transactions without alert, then the counts. Returns the labels joined.
    /// </summary>
    private async Task<int> JoinAsync(IDecisionLog decisionLog, TransactionLabel[] labels, IReadOnlyList<LabelDecision> decisions, CancellationToken stop)
    {
        var joining = new List<int>();
        for (var i = 0; i < labels.Length; i++)
        {
            if (LiveQuality.Joins(decisions[i].Outcome))
            {
                joining.Add(i);
            }
        }

        if (joining.Count == 0)
        {
            return 0;
        }

        var ids = joining.Select(i => labels[i].TransactionId).ToArray();
        var records = await outages.RunAsync(Dependency.Redis, ErrorStages.Quality, () => decisionLog.ReadAsync(ids, CancellationToken.None), stop).ConfigureAwait(true);
        var serving = ServingVersion();
        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        var changes = new List<QualityChange>(joining.Count * 2);
        var attributions = new Dictionary<string, DecisionRecord>(StringComparer.Ordinal);
        for (var k = 0; k < joining.Count; k++)
        {
            var i = joining[k];
            var join = LiveQuality.Join(labels[i], decisions[i], records[k], serving, now);
            if (join.Retracted is { } retracted)
            {
                changes.Add(retracted);
            }

            if (join.Counted is { } counted)
            {
                changes.Add(counted);
            }

            if (join.Attribution is { } attribution)
            {
                attributions.TryAdd(attribution.TransactionId, attribution); // a second label of the batch keeps the first's
            }
        }

        if (attributions.Count > 0)
        {
            var pending = attributions.Values.ToArray();
            await outages.RunAsync(Dependency.Redis, ErrorStages.Quality, () => decisionLog.WriteAsync(pending, onlyIfAbsent: true, CancellationToken.None), stop).ConfigureAwait(true);
        }

        foreach (var change in changes)
        {
            metrics.Record(change);
        }

        return joining.Count;
    }

    private async Task<DecodedLabel[]> DecodeAll(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> messages)
    {
        var tasks = new Task<DecodedLabel>[messages.Count];
        var limit = output.Options.MaxInputBytes;
        for (var i = 0; i < messages.Count; i++)
        {
            // Checked before decoding, as for transactions: an oversized input is never parsed.
            var size = OutputBuilder.SizeOf(messages[i].Message);
            tasks[i] = size > limit
                ? Task.FromResult(new DecodedLabel(null, DlqErrorClass.TooLarge, $"{size} bytes (key, value and headers) exceed Scorer:MaxInputBytes={limit}"))
                : decoder.DecodeAsync(messages[i].Message.Value, messages[i].Topic);
        }

        return await Task.WhenAll(tasks).ConfigureAwait(true);
    }

    private void CountDeadLetters(List<DeadLetter> deadLetters)
    {
        foreach (var d in deadLetters)
        {
            metrics.LabelsDlq.Add(1, new KeyValuePair<string, object?>("error.class", d.Class));
        }

        if (limiter.ShouldLog("labels.dlq", out var suppressed))
        {
            var e = deadLetters[0];
            Log.DeadLettered(log, deadLetters.Count, suppressed, e.Class, e.Source.Topic, e.Source.Partition.Value, e.Source.Offset.Value, e.Reason);
        }
    }
}
