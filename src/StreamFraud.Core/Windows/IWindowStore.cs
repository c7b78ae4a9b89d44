namespace StreamFraud.Core.Windows;

/// <summary>
/// Keeps each card's state (last 7 feature vectors plus running aggregates) and appends batches of events to it.
/// Implementations: Redis (production, StreamFraud.Redis) and in-memory (replay, tests). Applying an event that was
/// already applied leaves the state unchanged (idempotent under redelivery) and yields the window it had when its
/// older steps are still kept.
/// </summary>
/// <remarks>
/// Two phases, with nothing hidden between them: <see cref="PrepareAsync"/> computes every event's window from the
/// current states, writes nothing and returns the <see cref="PreparedWrites"/>; the caller scores and publishes;
/// <see cref="CommitAsync"/> writes exactly those states. An event whose state is durable has therefore had its alert
/// acknowledged, so a redelivered duplicate never needs its alert re-emitted. The batch protocol that drives both
/// phases lives in one place, <c>FraudPipeline.RunBatchAsync</c> (docs/ARCHITECTURE.md); tests of a store alone use
/// <see cref="WindowStoreExtensions.ApplyAsync"/>. One batch at a time per instance.
/// </remarks>
public interface IWindowStore
{
    /// <summary>
    /// Fills in each event's result and window of <paramref name="batch"/> (events of one card in batch order) from
    /// the stored states, and returns the new states to write. Nothing is written.
    /// </summary>
    Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="writes"/> (from this store's <see cref="PrepareAsync"/>). Returns the number of cards NOT
    /// written because their state changed since it was prepared (another writer): prepare the batch again and commit
    /// that (cards already written then show their events as duplicates). A commit whose outcome is unknown throws
    /// and may be retried with the same <paramref name="writes"/>.
    /// </summary>
    Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default);

    /// <summary>Drops any state cached in this process (after an aborted transaction, so the next batch reads the store).</summary>
    void ForgetCachedState()
    {
    }

    /// <summary>Whether <see cref="PrepareOnPendingAsync"/> is supported (a store that can overlap one batch's commit with the next batch's reads).</summary>
    bool CanPrepareOnPending => false;

    /// <summary>
    /// Prepares <paramref name="batch"/> as if <paramref name="pending"/> — this store's writes of the previous batch,
    /// not committed yet — were committed: cards it writes start from its states, and (spec <c>card</c> v2) the
    /// rings read count its transactions. Whatever the batch reads is sent before this method returns its task, so the
    /// caller then sends the commit of <paramref name="pending"/> and awaits both; the reads never see that commit. The
    /// result is valid only when that commit writes every card (no conflict, no error); otherwise discard it and
    /// prepare again with <see cref="PrepareAsync"/>. Nothing is written and nothing is cached from it.
    /// </summary>
    Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} cannot prepare a batch on uncommitted writes.");
}

/// <summary>
/// The card states a <see cref="IWindowStore.PrepareAsync"/> computed, to be written by the same store's
/// <see cref="IWindowStore.CommitAsync"/>. Each store derives its own type; committing another store's writes is an
/// error.
/// </summary>
public abstract class PreparedWrites
{
    /// <summary>Cards whose state changes.</summary>
    public abstract int Cards { get; }

    /// <summary>Whether a commit has written them (a second commit of the same writes writes nothing).</summary>
    public bool Committed { get; protected set; }
}

/// <summary>Store-level helpers.</summary>
public static class WindowStoreExtensions
{
    /// <summary>
    /// Prepares and commits <paramref name="batch"/> until no card conflicts (a store used alone: tests, state
    /// rebuilds). Scoring paths use <c>FraudPipeline.RunBatchAsync</c>, which publishes between the two phases.
    /// </summary>
    /// <exception cref="WindowConflictException">Cards kept changing under this writer for <paramref name="maxAttempts"/> commits.</exception>
    public static async Task ApplyAsync(this IWindowStore store, WindowBatch batch, CancellationToken cancellationToken = default, int maxAttempts = 5)
    {
        ArgumentNullException.ThrowIfNull(store);
        for (var attempt = 1; ; attempt++)
        {
            var writes = await store.PrepareAsync(batch, cancellationToken).ConfigureAwait(false);
            var conflicts = await store.CommitAsync(writes, cancellationToken).ConfigureAwait(false);
            if (conflicts == 0)
            {
                return;
            }

            WindowConflictException.ThrowIfExhausted(attempt, maxAttempts, conflicts);
        }
    }
}

/// <summary>Card states kept changing under this writer: another consumer writes the same cards.</summary>
public sealed class WindowConflictException(string message) : Exception(message)
{
    /// <summary>Throws once <paramref name="attempt"/> reached <paramref name="maxAttempts"/>.</summary>
    public static void ThrowIfExhausted(int attempt, int maxAttempts, int cards)
    {
        if (attempt >= maxAttempts)
        {
            throw new WindowConflictException(
                $"{cards} card state(s) kept changing under this scorer ({maxAttempts} commit attempts). Another consumer is writing the " +
                "same cards: check that only one scorer group consumes the topic with this key prefix.");
        }
    }
}
