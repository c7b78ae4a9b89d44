using Confluent.Kafka;
using StreamFraud.Scorer.Loop;

namespace StreamFraud.Scorer.Labels;

/// <summary>
/// How the label consumer is doing, for <c>/readyz</c>'s details and tests. It never makes the scorer unready: labels
/// only feed features and live quality, so a labels outage degrades them while scoring goes on. Thread-safe.
/// </summary>
public sealed class LabelStatus(TimeProvider time)
{
    private static readonly TimeSpan RecentError = TimeSpan.FromSeconds(60);
    private readonly Lock _lock = new();
    private string? _disabled;
    private (string Reason, DateTimeOffset At)? _kafkaError;
    private (string Reason, DateTimeOffset At)? _failure;
    private DateTimeOffset? _lastBatch;
    private long _batches;
    private int _assigned;

    /// <summary>The label consumer's dependency outages (its own: they never reach the scorer's readiness).</summary>
    public DependencyHealth Health { get; } = new(time);

    /// <summary>Batches of labels finished since start.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Labels are not consumed, and why (set once at start).</summary>
    public void Disable(string reason)
    {
        lock (_lock)
        {
            _disabled = reason;
        }
    }

    /// <summary>A librdkafka error of the label consumer (a missing topic, a broker down).</summary>
    public void KafkaError(Error error)
    {
        ArgumentNullException.ThrowIfNull(error);
        lock (_lock)
        {
            _kafkaError = ($"{error.Reason} ({error.Code})", time.GetUtcNow());
        }
    }

    /// <summary>The consumer stopped on an unexpected error and will be restarted.</summary>
    public void Failed(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        lock (_lock)
        {
            _failure = ($"{error.GetType().Name}: {error.Message.Split('\n', 2)[0].Trim()}", time.GetUtcNow());
        }
    }

    /// <summary>The consumer's assigned partitions changed.</summary>
    public void Assigned(int count) => Volatile.Write(ref _assigned, count);

    /// <summary>A batch of labels finished (applied, DLQ acknowledged, offsets stored).</summary>
    public void BatchDone()
    {
        Interlocked.Increment(ref _batches);
        lock (_lock)
        {
            _lastBatch = time.GetUtcNow();
        }
    }

    /// <summary>
    /// <c>disabled</c>, <c>degraded</c> (a dependency failing; since the last finished batch, a failure, or a Kafka
    /// error that is recent or left no partition assigned) or <c>consuming</c>, with the reasons.
    /// </summary>
    public (string State, string? Reason) State()
    {
        lock (_lock)
        {
            if (_disabled is { } disabled)
            {
                return ("disabled", disabled);
            }

            var now = time.GetUtcNow();
            var reasons = new List<string>();
            if (Health.FailingLongerThan(TimeSpan.Zero) is { } failing)
            {
                reasons.Add($"{failing.Dependency} unavailable for {failing.For.TotalSeconds:0} s");
            }

            if (_failure is { } f && (_lastBatch is null || _lastBatch < f.At))
            {
                reasons.Add($"restarting after {f.Reason}");
            }

            // A Kafka error since the last batch: recent, or still unanswered by an assignment (a missing topic is
            // reported once per metadata refresh, every few minutes).
            if (_kafkaError is { } k && (_lastBatch is null || _lastBatch < k.At) && (now - k.At < RecentError || Volatile.Read(ref _assigned) == 0))
            {
                reasons.Add($"Kafka: {k.Reason}");
            }

            return reasons.Count == 0 ? ("consuming", null) : ("degraded", string.Join("; ", reasons));
        }
    }

    /// <summary>The details <c>/readyz</c> reports under <c>labels</c>.</summary>
    public IReadOnlyDictionary<string, object?> Report()
    {
        var (state, reason) = State();
        return new Dictionary<string, object?>
        {
            ["state"] = state,
            ["reason"] = reason,
            ["partitions"] = Volatile.Read(ref _assigned),
            ["batches"] = Batches,
        };
    }
}
