using Spectre.Console;
using StreamFraud.Cli;
using StreamFraud.Inspect.Commands;

namespace StreamFraud.Inspect;

/// <summary>
/// The inspector's command line: <c>alerts</c>, <c>labels</c> and <c>dlq</c>, help, and exit codes — 0 success (a
/// follow stopped with Ctrl+C included), 1 failure (Kafka or the registry unreachable, a missing topic), 2 wrong usage,
/// 130 cancelled.
/// </summary>
public static class InspectApp
{
    /// <summary>Exit code when Kafka or the Schema Registry cannot be read, or the topic does not exist.</summary>
    public const int FailureExitCode = CliApp.FailureExitCode;

    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = CliApp.UsageExitCode;

    /// <summary>Exit code after Ctrl+C during a bounded read.</summary>
    public const int CancelledExitCode = CliApp.CancelledExitCode;

    /// <summary>The app name in usage lines.</summary>
    public const string Name = "StreamFraud.Inspect";

    private static readonly CliApp App = new CliApp(Name,
        "StreamFraud inspector: reads the Avro topics through the Schema Registry and prints one readable row (or, with --json, one JSON "
        + "object) per record — alerts with their scores and explanations, fraud labels, dead letters. It never joins a consumer group "
        + "and never commits offsets.")
    {
        ExitCodeOf = e => e is InspectException or Confluent.Kafka.KafkaException ? FailureExitCode : null,
    }
        .Command<AlertsCommand>("alerts", "Alerts (default topic fraud-alerts; --topic fraud-alerts.shadow for a challenger's): event time, card, transaction, its amount (the alert's own; looked up in the scorer's input topic for alerts of scorers that did not write it), score with its LSTM and XGBoost parts, threshold and policy, model version, the top XGBoost feature contributions and the earlier transaction that moved the LSTM most. With --from-beginning and without --follow the partitions are merged by event time, oldest first.",
            ["alerts", "--from-beginning", "--max", "20"],
            ["alerts", "--follow"],
            ["alerts", "--topic", "fraud-alerts.shadow", "--from-beginning", "--json"],
            ["alerts", "--bootstrap", "127.0.0.1:9092", "--schema-registry", "http://127.0.0.1:8081", "--from-beginning", "--follow"])
        .Command<LabelsCommand>("labels", "Fraud labels (default topic fraud-labels): label time, card, transaction, verdict, source, amount, the transaction's time and merchant; labels the scorer would refuse are marked with the reason.",
            ["labels", "--from-beginning", "--max", "50"],
            ["labels", "--follow", "--json"])
        .Command<DlqCommand>("dlq", "Dead letters (default topic transactions.dlq; --topic fraud-labels.dlq for labels): error time, class, source topic/partition/offset, the message's content (the transaction or label it decodes to, a reference record's size and SHA-256, or its first bytes) and the reason.",
            ["dlq", "--from-beginning"],
            ["dlq", "--topic", "fraud-labels.dlq", "--from-beginning", "--json"])
        .Example("alerts", "--from-beginning", "--max", "20")
        .Example("alerts", "--follow", "--json")
        .Example("dlq", "--from-beginning");

    /// <summary>The commands and their settings types.</summary>
    public static IReadOnlyDictionary<string, Type> Commands => App.Commands;

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help and records (standard output).</param>
    /// <param name="error">Warnings and errors (standard error).</param>
    /// <param name="cancellationToken">Ctrl+C: ends a follow (exit code 0) or cancels a bounded read (130).</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, CancellationToken cancellationToken = default) =>
        App.RunAsync(args, output, error, r => r.RegisterInstance(new InspectConsoles(output, error)), cancellationToken);
}
