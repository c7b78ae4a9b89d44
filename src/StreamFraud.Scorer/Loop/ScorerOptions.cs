using StreamFraud.Core;

namespace StreamFraud.Scorer.Loop;

/// <summary>Topics and batching of the Kafka scorer (configuration section <c>Scorer</c>).</summary>
public sealed record ScorerOptions
{
    /// <summary>Input topic.</summary>
    public string InputTopic { get; init; } = Topics.Transactions;

    /// <summary>
    /// Extra source identity, combined with the input topic name into the identity of every event's position
    /// (<c>topic#SourceId</c>; empty: the topic name alone). Positions of another identity never count as
    /// redeliveries, so set a new value when the input topic is deleted and re-created under the same name, or when
    /// the scorer fails over to another cluster whose topic has the same name (offsets there are unrelated).
    /// </summary>
    public string? SourceId { get; init; }

    /// <summary>Alerts topic.</summary>
    public string AlertsTopic { get; init; } = Topics.FraudAlerts;

    /// <summary>Dead-letter topic.</summary>
    public string DlqTopic { get; init; } = Topics.TransactionsDlq;

    /// <summary>Optional topic receiving every score (null: off).</summary>
    public string? ScoresTopic { get; init; }

    /// <summary>Topic of the challenger's alerts (shadow scoring); never the live alerts topic.</summary>
    public string ShadowTopic { get; init; } = Topics.FraudAlertsShadow;

    /// <summary>Most events per batch.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>
    /// Longest wait for a batch to fill after its first event. Under full load batches fill at once whatever it is;
    /// below that it is latency (measured: 10 ms instead of 50 halved p50, see README "Performance").
    /// </summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Consume-score-produce in Kafka transactions (alerts, DLQ and offsets commit together).</summary>
    public bool ExactlyOnce { get; init; }

    /// <summary>First retry delay after a transient failure (Redis, broker, registry); jittered, doubling.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest retry delay.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a dependency (Kafka, Redis, Schema Registry) may fail before <c>/readyz</c> turns false.</summary>
    public TimeSpan ReadinessGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Largest input message (key, value and headers) that is decoded; a larger one goes to the DLQ as a reference
    /// record (position, sizes, SHA-256) without being parsed. Transactions are a few hundred bytes.
    /// </summary>
    public int MaxInputBytes { get; init; } = 256 * 1024;

    /// <summary>Validates; returns problems naming the configuration key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(InputTopic))
        {
            problems.Add("Scorer:InputTopic is empty.");
        }

        if (SourceId is { Length: > 0 } id && (string.IsNullOrWhiteSpace(id) || id.Length > 128))
        {
            problems.Add($"Scorer:SourceId='{id}': use up to 128 characters, not only white space (or leave it empty for the topic name alone).");
        }

        if (string.IsNullOrWhiteSpace(AlertsTopic))
        {
            problems.Add("Scorer:AlertsTopic is empty.");
        }

        if (string.IsNullOrWhiteSpace(DlqTopic))
        {
            problems.Add("Scorer:DlqTopic is empty.");
        }

        if (ShadowTopic == AlertsTopic)
        {
            problems.Add("Scorer:ShadowTopic equals Scorer:AlertsTopic: the challenger must never publish to the live alerts topic.");
        }

        if (BatchSize is < 1 or > 100_000)
        {
            problems.Add($"Scorer:BatchSize={BatchSize}: use 1..100000.");
        }

        if (BatchTimeout <= TimeSpan.Zero || BatchTimeout > TimeSpan.FromMinutes(1))
        {
            problems.Add($"Scorer:BatchTimeout={BatchTimeout}: use a positive duration up to 00:01:00.");
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            problems.Add($"Scorer:RetryBaseDelay={RetryBaseDelay}, Scorer:RetryMaxDelay={RetryMaxDelay}: use a positive base delay no longer than the maximum.");
        }

        if (MaxInputBytes is < 1024 or > 64 * 1024 * 1024)
        {
            problems.Add($"Scorer:MaxInputBytes={MaxInputBytes}: use 1024..67108864 (transactions are a few hundred bytes).");
        }

        if (ReadinessGrace < TimeSpan.Zero)
        {
            problems.Add($"Scorer:ReadinessGrace={ReadinessGrace}: use a non-negative duration.");
        }

        return problems;
    }
}
