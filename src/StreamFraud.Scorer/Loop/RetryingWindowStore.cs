using StreamFraud.Core.Windows;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// The window store as the scoring loop sees it: each call is retried through the loop's outage state, which keeps
/// the consumer polled and observes the stop token while it waits. The calls themselves are not cancelled at stop
/// (a healthy batch finishes; a hung one times out on the Redis client's own timeouts).
/// </summary>
internal sealed class RetryingWindowStore(IWindowStore inner, Outages outages) : IWindowStore
{
    /// <inheritdoc />
    public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) =>
        outages.RunAsync(Dependency.Redis, ErrorStages.Redis, () => inner.PrepareAsync(batch, CancellationToken.None), cancellationToken);

    /// <inheritdoc />
    public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default) =>
        outages.RunAsync(Dependency.Redis, ErrorStages.Redis, () => inner.CommitAsync(writes, CancellationToken.None), cancellationToken);

    /// <inheritdoc />
    public void ForgetCachedState() => inner.ForgetCachedState();

    /// <inheritdoc />
    public bool CanPrepareOnPending => inner.CanPrepareOnPending;

    /// <summary>
    /// Not retried: a retry would read after the pending commit was sent. The pipeline falls back to committing the
    /// pending writes and preparing again through <see cref="PrepareAsync"/>, which is.
    /// </summary>
    public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
        inner.PrepareOnPendingAsync(batch, pending, CancellationToken.None);
}
