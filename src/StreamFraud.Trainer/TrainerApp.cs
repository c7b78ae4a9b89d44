using Spectre.Console;
using StreamFraud.Cli;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Trainer.Commands;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer;

/// <summary>
/// The trainer's command line: <c>train</c>, <c>models list</c>, <c>models promote</c> and <c>models rollback</c>, help,
/// and exit codes — 0 success, 1 failure (a message, never a stack trace, for anything the user can fix), 2 wrong usage,
/// 130 cancelled.
/// </summary>
public static class TrainerApp
{
    /// <summary>Exit code of a failure the user can fix (bad input, split without frauds, unknown version).</summary>
    public const int FailureExitCode = CliApp.FailureExitCode;

    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = CliApp.UsageExitCode;

    /// <summary>Exit code after Ctrl+C.</summary>
    public const int CancelledExitCode = CliApp.CancelledExitCode;

    /// <summary>The app name in usage lines.</summary>
    public const string Name = "StreamFraud.Trainer";

    private static readonly CliApp App = new CliApp(Name, "StreamFraud trainer: builds the LSTM + XGBoost bundle from labelled history and manages the model registry.")
    {
        CancelledMessage = "cancelled; nothing was published",
        ExitCodeOf = e => e is TrainingException or BundleRejectedException
            or IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException
            ? FailureExitCode
            : null,
    }
        .Command<TrainCommand>("train", "Train the LSTM and XGBoost on labelled history and publish a bundle to the registry.",
            ["train", "--input", "history.csv", "--registry", "models"],
            ["train", "--input", "history.csv", "--labels", "labels.csv", "--registry", "models"],
            ["train", "--input", "history.csv", "--label-delay", "exp:3d", "--registry", "models"],
            ["train", "--input", "history.csv", "--spec", "v1", "--registry", "models"],
            ["train", "--input", "history.csv", "--registry", "models", "--train-from", "2026-01-08", "--train-to", "2026-02-01",
                "--val-from", "2026-02-01", "--val-to", "2026-02-08", "--test-from", "2026-02-10", "--test-to", "2026-02-17", "--promote"],
            ["train", "--input", "notebook.npz", "--registry", "models", "--split", "random", "--epochs", "10"])
        .Group("models", "List, promote and roll back the registry's bundles.")
        .Command<ModelsListCommand>("models list", "List the registry's bundles with their test metrics; marks the current and previous one.",
            ["models", "list", "--registry", "models"])
        .Command<ModelsPromoteCommand>("models promote", "Verify a published bundle (every manifest field, files, checksums, spec, golden windows) and make it current, recording its manifest SHA-256 in current.json.",
            ["models", "promote", "20261129-074512-3fa2c1", "--registry", "models"])
        .Command<ModelsRollbackCommand>("models rollback", "Make the previous version current again (atomically replaces current.json).",
            ["models", "rollback", "--registry", "models"])
        .Example("train", "--input", "history.csv", "--registry", "models", "--promote")
        .Example("models", "list", "--registry", "models");

    /// <summary>The commands (as typed after the app name) and their settings types.</summary>
    public static IReadOnlyDictionary<string, Type> Commands => App.Commands;

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help, results and progress (standard output).</param>
    /// <param name="error">Errors (standard error).</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, CancellationToken cancellationToken = default) =>
        App.RunAsync(args, output, error, _ => { }, cancellationToken);
}
