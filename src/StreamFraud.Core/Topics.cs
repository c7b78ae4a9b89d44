namespace StreamFraud.Core;

/// <summary>
/// The Kafka topics of StreamFraud (docs/ARCHITECTURE.md "Topics and contracts") with the partition counts a fresh deployment
/// creates. docker-compose's init service, the DevStack and the tests all read this one list.
/// </summary>
public static class Topics
{
    /// <summary>Input: transaction events keyed by card id.</summary>
    public const string Transactions = "transactions";

    /// <summary>Output: one alert per event whose ensemble score reaches the threshold.</summary>
    public const string FraudAlerts = "fraud-alerts";

    /// <summary>Dead-letter queue: original key and value bytes with error headers.</summary>
    public const string TransactionsDlq = "transactions.dlq";

    /// <summary>Compacted: the trainer announces published model bundles, keyed by model name.</summary>
    public const string ModelUpdates = "model-updates";

    /// <summary>Alerts of a challenger bundle scoring in shadow (never the live alerts topic).</summary>
    public const string FraudAlertsShadow = "fraud-alerts.shadow";

    /// <summary>Input: confirmed verdicts on earlier transactions (chargebacks, analysts, claims), keyed by card id.</summary>
    public const string FraudLabels = "fraud-labels";

    /// <summary>Dead-letter queue of labels: original key and value bytes with the same error headers as the transaction DLQ.</summary>
    public const string FraudLabelsDlq = "fraud-labels.dlq";

    /// <summary>Optional: every score, for monitoring and shadow comparison.</summary>
    public const string FraudScores = "fraud-scores";

    /// <summary>A topic to create at deployment time.</summary>
    /// <param name="Name">Topic name.</param>
    /// <param name="Partitions">Partition count.</param>
    /// <param name="Compacted">Whether <c>cleanup.policy=compact</c>.</param>
    public sealed record Definition(string Name, int Partitions, bool Compacted = false)
    {
        /// <summary>The <c>name:partitions</c> form used by command lines.</summary>
        public override string ToString() => $"{Name}:{Partitions}";
    }

    /// <summary>Default topic set. Input and output share a partition count so keys (card ids) co-partition.</summary>
    public static IReadOnlyList<Definition> Defaults { get; } =
    [
        new(Transactions, 8),
        new(FraudAlerts, 8),
        new(TransactionsDlq, 1),
        new(ModelUpdates, 1, Compacted: true),
        new(FraudScores, 8),
        new(FraudAlertsShadow, 8),
        new(FraudLabels, 8),
        new(FraudLabelsDlq, 1),
    ];

    /// <summary>
    /// Parses <c>name:partitions[,name:partitions...]</c>; a name without <c>:N</c> gets one partition.
    /// </summary>
    /// <exception cref="FormatException">An entry is empty or its partition count is not a positive integer.</exception>
    public static IReadOnlyList<Definition> ParseList(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var result = new List<Definition>();
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = raw.LastIndexOf(':');
            var name = colon < 0 ? raw : raw[..colon];
            var partitions = 1;
            if (colon >= 0 && (!int.TryParse(raw[(colon + 1)..], out partitions) || partitions <= 0))
            {
                throw new FormatException(
                    $"Topic entry '{raw}': the partition count after ':' must be a positive integer (e.g. transactions:8).");
            }

            if (name.Length == 0)
            {
                throw new FormatException($"Topic entry '{raw}' has no topic name (expected name:partitions).");
            }

            var compacted = Defaults.FirstOrDefault(d => d.Name == name)?.Compacted ?? false;
            result.Add(new Definition(name, partitions, compacted));
        }

        return result;
    }
}
