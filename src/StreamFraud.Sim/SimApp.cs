using Spectre.Console;
using StreamFraud.Cli;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Commands;

namespace StreamFraud.Sim;

/// <summary>The simulator's command line: <c>generate</c> and <c>produce</c>, help, and exit codes — 0 success,
/// 1 failure, 2 wrong usage, 130 cancelled.</summary>
public static class SimApp
{
    /// <summary>Exit code of an I/O failure, an unreadable input CSV or undelivered messages.</summary>
    public const int FailureExitCode = CliApp.FailureExitCode;

    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = CliApp.UsageExitCode;

    /// <summary>Exit code after Ctrl+C.</summary>
    public const int CancelledExitCode = CliApp.CancelledExitCode;

    /// <summary>The app name in usage lines.</summary>
    public const string Name = "StreamFraud.Sim";

    private static readonly CliApp App = new CliApp(Name, "StreamFraud transaction simulator: a deterministic card portfolio with labelled fraud scenarios.")
    {
        ExitCodeOf = e => e is IOException or UnauthorizedAccessException or CanonicalCsvException ? FailureExitCode : null,
    }
        .Command<GenerateCommand>("generate", "Simulate a card portfolio with labelled fraud and write canonical CSV sorted by event time (and, with --labels-out, the fraud labels that come back later, sorted by label time).",
            ["generate", "--cards", "20000", "--days", "30", "--seed", "1", "--out", "transactions.csv"],
            ["generate", "--cards", "8000", "--days", "60", "--out", "transactions.csv", "--labels-out", "labels.csv"],
            ["generate", "--cards", "2000", "--days", "14", "--fraud-rate", "card_testing=0.003,large_amount=0", "--out", "small.csv"],
            ["generate", "--cards", "500", "--days", "7", "--no-fraud", "--out=-"])
        .Command<ProduceCommand>("produce", "Send transactions (from a CSV or simulated) to Kafka as Avro, keyed by card id; with --labels, their fraud labels too, interleaved by time.",
            ["produce", "--bootstrap", "127.0.0.1:9092", "--schema-registry", "http://127.0.0.1:8081", "--topic", "transactions", "--input", "transactions.csv"],
            ["produce", "--cards", "2000", "--days", "14", "--labels"],
            ["produce", "--input", "transactions.csv", "--labels-input", "labels.csv", "--labels-topic", "fraud-labels"],
            ["produce", "--cards", "2000", "--days", "7", "--rate", "5000"],
            ["produce", "--input", "transactions.csv", "--realtime", "--speed", "3600"])
        .Example("generate", "--cards", "20000", "--days", "30", "--seed", "1", "--out", "transactions.csv")
        .Example("produce", "--cards", "2000", "--days", "7", "--rate", "5000");

    /// <summary>The commands and their settings types.</summary>
    public static IReadOnlyDictionary<string, Type> Commands => App.Commands;

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help and reports (standard output).</param>
    /// <param name="error">Errors, and reports when data goes to standard output.</param>
    /// <param name="openStandardOutput">Opens standard output as a byte stream (for <c>--out -</c>).</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(
        IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, Func<Stream> openStandardOutput, CancellationToken cancellationToken = default) =>
        App.RunAsync(args, output, error, r => r.RegisterInstance(new CommandConsoles(output, error, openStandardOutput)), cancellationToken);
}
