using Confluent.Kafka;
using Confluent.SchemaRegistry;
using StackExchange.Redis;

namespace StreamFraud.Scorer.Loop;

/// <summary>The infrastructure the scoring loop depends on; failures are tracked and retried per dependency.</summary>
public enum Dependency
{
    /// <summary>Kafka brokers (consume, produce, transactions).</summary>
    Kafka,

    /// <summary>The window store.</summary>
    Redis,

    /// <summary>The Schema Registry (decoding new schema ids, serialising alerts).</summary>
    SchemaRegistry,
}

/// <summary>How an exception from a dependency is handled.</summary>
public enum FailureKind
{
    /// <summary>Passes with time (outage, timeout): pause, keep polling, retry.</summary>
    Transient,

    /// <summary>A bug or a fatal client state: stops the scorer (the orchestrator restarts it).</summary>
    Fatal,
}

/// <summary>Classifies failures by exception type and error code, never by message text.</summary>
public static class Failures
{
    /// <summary>Transient or fatal.</summary>
    public static FailureKind Classify(Exception e) => e switch
    {
        KafkaException k => k.Error.IsFatal ? FailureKind.Fatal : FailureKind.Transient,
        SchemaRegistryException r => (int)r.Status >= 500 || r.Status == System.Net.HttpStatusCode.TooManyRequests ? FailureKind.Transient : FailureKind.Fatal,
        RedisException => FailureKind.Transient, // connection, timeout, server busy/loading; script errors are bugs caught by tests
        HttpRequestException or TimeoutException or IOException => FailureKind.Transient,
        TaskCanceledException t when !t.CancellationToken.IsCancellationRequested => FailureKind.Transient, // an HTTP timeout
        AggregateException { InnerException: { } inner } => Classify(inner),
        _ when e.InnerException is { } inner => Classify(inner),
        _ => FailureKind.Fatal,
    };
}

/// <summary>
/// Which dependencies are failing and since when: readiness turns false once one has failed for longer than the
/// grace period; metrics and logs report each outage once, with its length and attempts.
/// </summary>
public sealed class DependencyHealth(TimeProvider time)
{
    private readonly DateTimeOffset?[] _failingSince = new DateTimeOffset?[Enum.GetValues<Dependency>().Length];

    /// <summary>Records a failed call; returns whether it starts an outage.</summary>
    public bool Failed(Dependency dependency)
    {
        lock (_failingSince)
        {
            if (_failingSince[(int)dependency] is not null)
            {
                return false;
            }

            _failingSince[(int)dependency] = time.GetUtcNow();
            return true;
        }
    }

    /// <summary>Records a successful call; returns how long the outage it ends lasted, or null when there was none.</summary>
    public TimeSpan? Succeeded(Dependency dependency)
    {
        lock (_failingSince)
        {
            if (_failingSince[(int)dependency] is not { } since)
            {
                return null;
            }

            _failingSince[(int)dependency] = null;
            return time.GetUtcNow() - since;
        }
    }

    /// <summary>The dependency failing for longest, if any has failed for longer than <paramref name="grace"/>.</summary>
    public (Dependency Dependency, TimeSpan For)? FailingLongerThan(TimeSpan grace)
    {
        lock (_failingSince)
        {
            var now = time.GetUtcNow();
            (Dependency, TimeSpan)? worst = null;
            for (var d = 0; d < _failingSince.Length; d++)
            {
                if (_failingSince[d] is { } since && now - since > grace && (worst is null || now - since > worst.Value.Item2))
                {
                    worst = ((Dependency)d, now - since);
                }
            }

            return worst;
        }
    }
}

/// <summary>
/// Retry as a state of the loop: a transient failure pauses the input, and while it waits out a jittered exponential
/// backoff the loop keeps polling the consumer (so the group never evicts it, however long the outage) and watches
/// the stop token (so SIGTERM ends it at once). One log line when an outage starts, one summary a minute while it
/// lasts, one when it ends.
/// </summary>
internal sealed class Outages(ScorerOptions options, ILogger log, ScorerMetrics metrics, DependencyHealth health, TimeProvider time)
{
    private static readonly TimeSpan SummaryEvery = TimeSpan.FromSeconds(60);

    /// <summary>Waits out a delay while keeping the consumer alive (set by the loop: pause partitions and poll).</summary>
    public Action<TimeSpan, CancellationToken> KeepAlive { get; set; } = (delay, stop) => stop.WaitHandle.WaitOne(delay);

    /// <summary>Called once when the first retry of an outage starts (the loop pauses its partitions).</summary>
    public Action? Stalled { get; set; }

    /// <summary>Whether the loop is waiting out an outage.</summary>
    public bool Waiting { get; private set; }

    /// <summary>
    /// Put before every stage name in metrics and log lines (the label consumer's <c>labels.</c>), so its retries are
    /// told apart from the scoring loop's.
    /// </summary>
    public string StagePrefix { get; init; } = "";

    /// <summary>
    /// Runs <paramref name="call"/> until it succeeds; transient failures are retried, fatal ones propagate.
    /// <paramref name="stop"/> cancelled during a wait ends it with <see cref="OperationCanceledException"/> (the
    /// batch is abandoned; nothing of it was committed, so it is redelivered).
    /// </summary>
    public async Task<T> RunAsync<T>(Dependency dependency, string stage, Func<Task<T>> call, CancellationToken stop)
    {
        stage = StagePrefix + stage;
        var attempt = 0;
        var started = time.GetTimestamp();
        var lastSummary = started;
        while (true)
        {
            try
            {
                var result = await call().ConfigureAwait(true);
                if (health.Succeeded(dependency) is { } lasted)
                {
                    Log.OutageEnded(log, dependency, stage, lasted.TotalSeconds, attempt);
                }

                return result;
            }
            catch (Exception e) when (Failures.Classify(e) == FailureKind.Transient && e is not OperationCanceledException { CancellationToken.IsCancellationRequested: true })
            {
                attempt++;
                metrics.Errors.Add(1, new KeyValuePair<string, object?>("stage", stage));
                if (health.Failed(dependency))
                {
                    Log.OutageStarted(log, dependency, stage, e.GetType().Name, FirstLine(e.Message));
                }
                else if (time.GetElapsedTime(lastSummary) >= SummaryEvery)
                {
                    lastSummary = time.GetTimestamp();
                    Log.OutageContinues(log, dependency, stage, time.GetElapsedTime(started).TotalSeconds, attempt, FirstLine(e.Message));
                }

                stop.ThrowIfCancellationRequested();
                if (!Waiting)
                {
                    Waiting = true;
                    Stalled?.Invoke();
                }

                KeepAlive(Backoff(attempt), stop);
                stop.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>Runs a call without a result.</summary>
    public Task RunAsync(Dependency dependency, string stage, Func<Task> call, CancellationToken stop) =>
        RunAsync(dependency, stage, async () =>
        {
            await call().ConfigureAwait(true);
            return true;
        }, stop);

    /// <summary>The loop resumed its input: the next failure starts a new wait.</summary>
    public void Resumed() => Waiting = false;

    private TimeSpan Backoff(int attempt)
    {
        var exponential = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16));
        var capped = Math.Min(exponential, options.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2))); // jitter: 50–100 %
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
