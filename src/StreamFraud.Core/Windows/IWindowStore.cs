namespace StreamFraud.Core.Windows;

/// <summary>
/// Keeps each card's state (last 7 feature vectors plus running aggregates) and appends batches of events to it.
/// Implementations: Redis (production, StreamFraud.Redis) and in-memory (replay, tests). Applying an event that was
/// already applied leaves the state unchanged (idempotent under redelivery) and yields the window it had when its
/// older steps are still kept. One batch at a time per instance.
/// </summary>
/// <remarks>
/// Two-phase use (the scorer): <see cref="PrepareAsync"/> computes every event's window from the current states and
/// writes nothing; the caller scores and publishes; then <see cref="CommitAsync"/> writes the new states. An event
/// whose state is durable has therefore had its alert acknowledged, so a redelivered duplicate never needs its alert
/// re-emitted. <see cref="ApplyAsync"/> does both at once (replay, tests).
/// </remarks>
public interface IWindowStore
{
    /// <summary>
    /// Applies every event of <paramref name="batch"/> in order (events of one card in batch order) and fills in
    /// each event's result and window. When this returns, the new states are durable in the store.
    /// </summary>
    Task ApplyAsync(WindowBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Fills in each event's result and window as <see cref="ApplyAsync"/> would, writing nothing yet.</summary>
    Task PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes the states prepared for <paramref name="batch"/>. Returns the number of cards NOT written because their
    /// state changed since <see cref="PrepareAsync"/> (another writer); prepare and commit the batch again for them
    /// (cards already written then show their events as duplicates).
    /// </summary>
    Task<int> CommitAsync(WindowBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Drops any state cached in this process (after an aborted transaction, so the next batch reads the store).</summary>
    void ForgetCachedState()
    {
    }
}
