namespace StreamFraud.Core.Windows;

/// <summary>
/// Keeps each card's state (last 7 feature vectors plus running aggregates) and appends a batch of events to it.
/// Implementations: Redis (production, StreamFraud.Redis) and in-memory (replay, tests). Applying an event that was
/// already applied leaves the state unchanged (idempotent under redelivery) and still yields the window it had.
/// </summary>
public interface IWindowStore
{
    /// <summary>
    /// Applies every event of <paramref name="batch"/> in order (events of one card in batch order) and fills in
    /// each event's result and window. When this returns, the new states are durable in the store.
    /// </summary>
    Task ApplyAsync(WindowBatch batch, CancellationToken cancellationToken = default);
}
