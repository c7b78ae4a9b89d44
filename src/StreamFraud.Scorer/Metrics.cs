using System.Diagnostics.Metrics;

namespace StreamFraud.Scorer;

/// <summary>
/// The scorer's instruments (OpenTelemetry picks up the <c>StreamFraud.Scorer</c> meter): created once, with units and
/// descriptions; names follow <c>streamfraud.*</c>.
/// </summary>
public sealed class ScorerMetrics : IDisposable
{
    /// <summary>Meter name.</summary>
    public const string MeterName = "StreamFraud.Scorer";

    private readonly Meter _meter;
    private long _lag;
    private string _modelVersion = "";
    private int _assigned;
    private long _oldestUnprocessedMs = long.MinValue;

    /// <summary>Creates the instruments on a meter from <paramref name="factory"/> (or a standalone meter).</summary>
    public ScorerMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        EventsConsumed = _meter.CreateCounter<long>("streamfraud.events.consumed", "{event}", "Messages read from the input topic.");
        EventsScored = _meter.CreateCounter<long>("streamfraud.events.scored", "{event}", "Events scored (duplicates re-scored included).");
        Duplicates = _meter.CreateCounter<long>("streamfraud.events.duplicates", "{event}", "Redelivered events recognised by the window store.");
        Alerts = _meter.CreateCounter<long>("streamfraud.alerts.emitted", "{alert}", "Alerts produced to the alerts topic.");
        Dlq = _meter.CreateCounter<long>("streamfraud.dlq.messages", "{message}", "Messages sent to the dead-letter topic, by error class.");
        Errors = _meter.CreateCounter<long>("streamfraud.errors", "{error}", "Transient failures retried (Redis, broker, registry), by stage.");
        BatchSize = _meter.CreateHistogram<int>("streamfraud.batch.size", "{event}", "Events per batch.");
        BatchDuration = _meter.CreateHistogram<double>("streamfraud.batch.duration", "s", "Wall time of a batch from decode to stored offsets.");
        StageDuration = _meter.CreateHistogram<double>("streamfraud.stage.duration", "s", "Time per batch stage: decode, redis, models, explain, produce.");
        Score = _meter.CreateHistogram<double>("streamfraud.score", "1", "Ensemble scores.");
        Agreement = _meter.CreateCounter<long>("streamfraud.challenger.decisions", "{event}", "Alert decisions of champion and challenger on the same windows: both, champion_only, challenger_only.");
        _meter.CreateObservableGauge("streamfraud.consumer.lag", () => Interlocked.Read(ref _lag), "{message}",
            "High watermark minus the next offset to process (after the last finished batch, else the group's committed offset), summed over assigned partitions; updated while paused.");
        _meter.CreateObservableGauge("streamfraud.consumer.oldest_unprocessed_age", OldestUnprocessedAge, "s",
            "Age (by Kafka timestamp) of the oldest message read but not yet finished; 0 when no batch is in flight. Grows while the scorer is stuck.");
        _meter.CreateObservableGauge("streamfraud.partitions.assigned", () => Volatile.Read(ref _assigned), "{partition}", "Partitions assigned to this scorer.");
        _meter.CreateObservableGauge("streamfraud.model.serving", () => new Measurement<int>(1, new KeyValuePair<string, object?>("model.version", _modelVersion)), "1", "The serving model version (as a tag).");
    }

    /// <summary>Messages read.</summary>
    public Counter<long> EventsConsumed { get; }

    /// <summary>Events scored.</summary>
    public Counter<long> EventsScored { get; }

    /// <summary>Duplicates recognised.</summary>
    public Counter<long> Duplicates { get; }

    /// <summary>Alerts produced.</summary>
    public Counter<long> Alerts { get; }

    /// <summary>DLQ messages.</summary>
    public Counter<long> Dlq { get; }

    /// <summary>Retried transient errors.</summary>
    public Counter<long> Errors { get; }

    /// <summary>Batch sizes.</summary>
    public Histogram<int> BatchSize { get; }

    /// <summary>Batch durations.</summary>
    public Histogram<double> BatchDuration { get; }

    /// <summary>Stage durations (tag <c>stage</c>).</summary>
    public Histogram<double> StageDuration { get; }

    /// <summary>Score distribution.</summary>
    public Histogram<double> Score { get; }

    /// <summary>Champion/challenger agreement (tag <c>outcome</c>).</summary>
    public Counter<long> Agreement { get; }

    /// <summary>The lag gauge's value.</summary>
    public long Lag => Interlocked.Read(ref _lag);

    /// <summary>Updates the lag gauge.</summary>
    public void SetLag(long lag) => Interlocked.Exchange(ref _lag, lag);

    /// <summary>Sets the Kafka timestamp (Unix ms) of the oldest message in flight; null when none is.</summary>
    public void SetOldestUnprocessed(long? unixMs) => Interlocked.Exchange(ref _oldestUnprocessedMs, unixMs ?? long.MinValue);

    /// <summary>Seconds since the oldest message in flight was written (0 when none is).</summary>
    public double OldestUnprocessedAge()
    {
        var ms = Interlocked.Read(ref _oldestUnprocessedMs);
        return ms == long.MinValue ? 0 : Math.Max(0, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ms) / 1000.0);
    }

    /// <summary>Updates the assigned-partitions gauge.</summary>
    public void SetAssigned(int count) => Volatile.Write(ref _assigned, count);

    /// <summary>Updates the serving-version gauge.</summary>
    public void SetModelVersion(string version) => _modelVersion = version;

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
