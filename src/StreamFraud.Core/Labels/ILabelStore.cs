namespace StreamFraud.Core.Labels;

/// <summary>
/// Where labels change the entity risk state (<c>FEATURES.md</c> "Labels"): the Redis store (one Lua script per
/// batch of labels) and the in-memory store. Applying a label twice changes nothing the second time
/// (<see cref="LabelRules"/>), so a label consumer may redeliver.
/// </summary>
public interface ILabelStore
{
    /// <summary>
    /// Applies <paramref name="labels"/> in order and returns one decision per label (same order). Invalid and
    /// conflicting labels change nothing; their decisions carry the reason for the dead-letter queue.
    /// </summary>
    Task<IReadOnlyList<LabelDecision>> ApplyLabelsAsync(IReadOnlyList<TransactionLabel> labels, CancellationToken cancellationToken = default);
}
