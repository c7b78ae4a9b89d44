using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;

namespace StreamFraud.Replay;

/// <summary>The replay's command line: flags, help, and exit codes — 0 success, 2 wrong usage, 130 cancelled.</summary>
public static class ReplayApp
{
    /// <summary>Exit code of wrong usage (flags, or versions the registry does not have).</summary>
    public const int UsageExitCode = CliApp.UsageExitCode;

    /// <summary>Exit code after Ctrl+C.</summary>
    public const int CancelledExitCode = CliApp.CancelledExitCode;

    /// <summary>The app name in usage lines.</summary>
    public const string Name = "StreamFraud.Replay";

    private static readonly CliApp App = new CliApp(Name,
        "StreamFraud replay/backtest: runs a stretch of the transaction stream (or a CSV) through the scorer's own pipeline "
        + "with one or more bundles, isolated from live state and live topics, and writes a report.")
    {
        // Redis unreachable or refusing the credentials: the message names the setting to fix (never a password).
        ExitCodeOf = e => e is ReplayUsageException ? UsageExitCode : e is Clients.RedisConnectException ? CliApp.FailureExitCode : null,
    }
        .Default<Run>()
        .Example("--registry", "models", "--version", "V1", "--version", "V2", "--input", "tx.csv", "--out", "report-dir")
        .Example("--registry", "models", "--version", "V2", "--input", "tx.csv", "--labels", "labels.csv", "--from", "2026-02-18", "--to", "2026-03-02")
        .Example("--registry", "models", "--version", "V1", "--bootstrap", "127.0.0.1:9092", "--schema-registry", "http://127.0.0.1:8081",
            "--topic", "transactions", "--from", "2026-01-20", "--to", "2026-01-27", "--live-alerts-topic", "fraud-alerts")
        .Example("--registry", "models", "--version", "V1", "--input", "tx.csv", "--alerts-topic", "fraud-alerts.backtest",
            "--redis", "127.0.0.1:6379", "--redis-prefix", "bt:")
        .Example("--registry", "models", "--version", "V1", "--bootstrap", "kafka:9093", "--kafka-config", "security.protocol=SASL_SSL",
            "--kafka-config", "sasl.mechanism=SCRAM-SHA-512", "--kafka-config", "sasl.username=replay",
            "--kafka-config", "sasl.password=file:/run/secrets/kafka-password", "--kafka-config", "ssl.ca.location=/etc/kafka/ca.pem",
            "--schema-registry", "https://registry:8081", "--schema-registry-config", "basic.auth.user.info=file:/run/secrets/registry-user-info",
            "--topic", "transactions", "--from", "2026-01-20", "--to", "2026-01-27");

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help, progress and the summary (standard output).</param>
    /// <param name="error">Errors (standard error).</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, CancellationToken cancellationToken = default) =>
        App.RunAsync(args, output, error, _ => { }, cancellationToken);

    /// <summary>The replay as the app's only command.</summary>
    private sealed class Run(IAnsiConsole console) : AsyncCommand<ReplayArgs>
    {
        public override async Task<int> ExecuteAsync(CommandContext context, ReplayArgs settings, CancellationToken cancellationToken)
        {
            await ReplayCommand.RunAsync(settings, console, cancellationToken).ConfigureAwait(false);
            return 0;
        }
    }
}
