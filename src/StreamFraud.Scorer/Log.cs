using Confluent.Kafka;
using StreamFraud.Scorer.Loop;

namespace StreamFraud.Scorer;

/// <summary>
/// The scorer's log lines, source-generated with stable event ids. Paths that repeat (outages, librdkafka errors,
/// DLQ) log once per occurrence class and then summarise; stack traces only for the unexpected.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "{Dependency} unavailable at {Stage} ({Error}: {Reason}); partitions paused, retrying with backoff while polling")]
    public static partial void OutageStarted(ILogger logger, Dependency dependency, string stage, string error, string reason);

    [LoggerMessage(2, LogLevel.Warning, "{Dependency} still unavailable at {Stage} after {Seconds:0} s and {Attempts} attempts: {Reason}")]
    public static partial void OutageContinues(ILogger logger, Dependency dependency, string stage, double seconds, int attempts, string reason);

    [LoggerMessage(3, LogLevel.Information, "{Dependency} recovered at {Stage} after {Seconds:0.0} s ({Attempts} retries)")]
    public static partial void OutageEnded(ILogger logger, Dependency dependency, string stage, double seconds, int attempts);

    [LoggerMessage(4, LogLevel.Information, "Partitions resumed")]
    public static partial void Resumed(ILogger logger);

    [LoggerMessage(5, LogLevel.Information, "Assigned {Partitions}")]
    public static partial void Assigned(ILogger logger, string partitions);

    [LoggerMessage(6, LogLevel.Information, "Revoked {Partitions}")]
    public static partial void Revoked(ILogger logger, string partitions);

    [LoggerMessage(7, LogLevel.Warning, "Kafka {Client}: {Reason} ({Code}){Suppressed}")]
    public static partial void KafkaError(ILogger logger, string client, string reason, ErrorCode code, string suppressed);

    [LoggerMessage(8, LogLevel.Warning, "Transaction failed ({Reason}); aborted, re-reading the batch")]
    public static partial void TransactionAborted(ILogger logger, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Aborting the transaction failed ({Reason}); it times out on the broker")]
    public static partial void AbortFailed(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Warning, "{Count} message(s) dead-lettered in this batch ({Suppressed} more batches with DLQ messages since the last report), e.g. {Class} at {Topic}/{Partition}@{Offset}: {Reason}")]
    public static partial void DeadLettered(ILogger logger, int count, int suppressed, string @class, string topic, int partition, long offset, string reason);

    [LoggerMessage(11, LogLevel.Debug, "Not storing offset {Offset}: partition no longer assigned")]
    public static partial void OffsetNotStored(ILogger logger, string offset);

    [LoggerMessage(12, LogLevel.Information, "Stop requested during an outage: the batch in flight is abandoned uncommitted and redelivered after restart")]
    public static partial void AbandonedOnStop(ILogger logger);

    [LoggerMessage(13, LogLevel.Warning, "Closing the consumer failed: {Reason}")]
    public static partial void CloseFailed(ILogger logger, string reason);

    [LoggerMessage(14, LogLevel.Critical, "Scoring loop stopped")]
    public static partial void LoopCrashed(ILogger logger, Exception exception);

    [LoggerMessage(15, LogLevel.Warning, "CUDA unavailable, the LSTM runs on CPU: {Reason}")]
    public static partial void CudaUnavailable(ILogger logger, string reason);

    [LoggerMessage(16, LogLevel.Information, "Challenger {Version} scores every batch into {Topic} (shadow only; trees on {Trees}: {TreesReason}; explanations on {Explainer})")]
    public static partial void ChallengerServing(ILogger logger, string version, string topic, string trees, string treesReason, string explainer);

    [LoggerMessage(17, LogLevel.Debug, "librdkafka {Client} {Facility}: {Message}")]
    public static partial void LibRdKafka(ILogger logger, string client, string facility, string message);

    [LoggerMessage(18, LogLevel.Information, "Scoring loop started: input {Topic}, {Mode}, batches of up to {BatchSize}")]
    public static partial void LoopStarted(ILogger logger, string topic, string mode, int batchSize);

    [LoggerMessage(19, LogLevel.Information, "Scoring loop stopped after {Batches} batches")]
    public static partial void LoopStopped(ILogger logger, long batches);

    [LoggerMessage(20, LogLevel.Information, "Configuration (credentials masked): {Summary}")]
    public static partial void Configuration(ILogger logger, string summary);

    [LoggerMessage(25, LogLevel.Warning, "Configuration: {Warning}")]
    public static partial void ConfigurationWarning(ILogger logger, string warning);

    [LoggerMessage(21, LogLevel.Information, "Label consumer started: topic {Topic}, group {Group}, batches of up to {BatchSize}")]
    public static partial void LabelConsumerStarted(ILogger logger, string topic, string group, int batchSize);

    [LoggerMessage(22, LogLevel.Information, "Label consumer stopped after {Batches} batches")]
    public static partial void LabelConsumerStopped(ILogger logger, long batches);

    [LoggerMessage(23, LogLevel.Error, "Label consumer failed; scoring goes on, a new label consumer starts in {Seconds:0.0} s")]
    public static partial void LabelConsumerFailed(ILogger logger, Exception exception, double seconds);

    [LoggerMessage(24, LogLevel.Critical, "Label consumer stopped for good; scoring goes on without labels until the scorer restarts")]
    public static partial void LabelConsumerStoppedForGood(ILogger logger, Exception exception);

    [LoggerMessage(26, LogLevel.Warning, "The next batch's reads or scoring, run alongside the previous batch's write, failed; the batch is read and scored again on its own once that write has settled, unless it fails or is stopped first ({Suppressed} such warnings suppressed since the last one)")]
    public static partial void OverlapRetried(ILogger logger, Exception exception, int suppressed);

    [LoggerMessage(27, LogLevel.Warning, "A written batch's positions could not be stored while the next batch failed ({Reason}); it is read again after the restart, where its events are recognised as duplicates")]
    public static partial void WrittenBatchNotStored(ILogger logger, string reason);

    [LoggerMessage(30, LogLevel.Information, "Window store on {Layout}: {Endpoints}")]
    public static partial void StoreLayout(ILogger logger, string layout, string endpoints);
}

/// <summary>
/// Lets the first occurrence of a repeating message through and then at most one per <paramref name="window"/>,
/// with the number suppressed in between (librdkafka reports a down broker every second, per client).
/// </summary>
internal sealed class RepeatLimiter(TimeProvider time, TimeSpan window)
{
    private readonly Dictionary<string, (long LastLogged, int Suppressed)> _seen = new(StringComparer.Ordinal);

    /// <summary>Whether to log this occurrence of <paramref name="key"/>; <paramref name="suppressed"/> says how many were skipped before it.</summary>
    public bool ShouldLog(string key, out int suppressed)
    {
        lock (_seen)
        {
            var now = time.GetTimestamp();
            if (_seen.TryGetValue(key, out var entry) && time.GetElapsedTime(entry.LastLogged, now) < window)
            {
                _seen[key] = (entry.LastLogged, entry.Suppressed + 1);
                suppressed = 0;
                return false;
            }

            suppressed = entry.Suppressed;
            _seen[key] = (now, 0);
            return true;
        }
    }
}

/// <summary>librdkafka's own reports, rate-limited: a down broker is reported every second by every client.</summary>
internal static class KafkaLog
{
    /// <summary>Logs a client error once per code and minute, with the count suppressed meanwhile.</summary>
    public static void Error(ILogger log, RepeatLimiter limiter, string client, Error e)
    {
        if (limiter.ShouldLog($"{client}/{e.Code}", out var suppressed))
        {
            Log.KafkaError(log, client, e.Reason, e.Code, suppressed > 0 ? $" [{suppressed} similar suppressed]" : "");
        }
    }

    /// <summary>librdkafka's log lines: debug, except errors, which go through <see cref="Error"/>'s limiter.</summary>
    public static void Message(ILogger log, RepeatLimiter limiter, string client, LogMessage m)
    {
        if (m.Level <= SyslogLevel.Error)
        {
            if (limiter.ShouldLog($"{client}/log/{m.Facility}", out var suppressed))
            {
                Log.KafkaError(log, client, m.Message, ErrorCode.Unknown, suppressed > 0 ? $" [{suppressed} similar suppressed]" : "");
            }

            return;
        }

        Log.LibRdKafka(log, client, m.Facility, m.Message);
    }
}
