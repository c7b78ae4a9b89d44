using System.Collections.Concurrent;

namespace StreamFraud.Scorer.Loop;

/// <summary>
/// Runs an async loop on the current (dedicated) thread: a single-threaded synchronization context queues every
/// continuation back to this thread, so the batch protocol's awaits (Redis, the registry) never move the models or
/// the Kafka consumer onto thread-pool threads. Await with <c>ConfigureAwait(true)</c> (the default) in code that must
/// stay on it.
/// </summary>
internal static class ScoringThread
{
    /// <summary>Runs <paramref name="loop"/> to completion on the calling thread; rethrows its exception.</summary>
    public static void Run(Func<Task> loop)
    {
        var previous = SynchronizationContext.Current;
        using var context = new Context();
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            var task = loop();
            task.ContinueWith(_ => context.Complete(), TaskScheduler.Default);
            context.RunUntilComplete();
            task.GetAwaiter().GetResult();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private sealed class Context : SynchronizationContext, IDisposable
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        public override void Send(SendOrPostCallback d, object? state) =>
            throw new NotSupportedException("The scoring thread does not run synchronous cross-thread calls.");

        public override SynchronizationContext CreateCopy() => this;

        public void Complete() => _queue.CompleteAdding();

        public void RunUntilComplete()
        {
            foreach (var (callback, state) in _queue.GetConsumingEnumerable())
            {
                callback(state);
            }
        }

        public void Dispose() => _queue.Dispose();
    }
}
