using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Core;

namespace StreamFraud.DevStack;

/// <summary>The DevStack app's flags.</summary>
public sealed class DevStackSettings : CommandSettings
{
    /// <summary><c>--kafka-port</c>.</summary>
    [CommandOption("--kafka-port <PORT>")]
    [Description("First fixed Kafka port (broker i listens on PORT+i-1); default: ephemeral ports.")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [Port]
    public int? KafkaPort { get; init; }

    /// <summary><c>--brokers</c>.</summary>
    [CommandOption("--brokers <N>")]
    [Description("Mock Kafka brokers (default 1).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 16)]
    public int Brokers { get; init; } = 1;

    /// <summary><c>--registry-port</c>.</summary>
    [CommandOption("--registry-port <PORT>")]
    [Description("Schema Registry port (default: a free port).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [Port]
    public int? RegistryPort { get; init; }

    /// <summary><c>--redis-port</c>.</summary>
    [CommandOption("--redis-port <PORT>")]
    [Description("Redis port (default: a free port).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [Port]
    public int? RedisPort { get; init; }

    /// <summary><c>--redis</c>.</summary>
    [CommandOption("--redis <KIND>")]
    [Description("garnet (in-process, default) or redis-server (needs the Debian package redis-server).")]
    [OneOf("garnet", "redis-server")]
    public string Redis { get; init; } = "garnet";

    /// <summary><c>--topics</c>.</summary>
    [CommandOption("--topics <LIST>")]
    [Description("Topics to create, name:partitions,... (default: the StreamFraud topics).")]
    public string? Topics { get; init; }

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        try
        {
            _ = ToOptions();
            return ValidationResult.Success();
        }
        catch (FormatException e)
        {
            return ValidationResult.Error($"--topics: {e.Message}");
        }
    }

    /// <summary>The stack the flags describe (never taken from the environment: the app is the stack).</summary>
    public LocalStackOptions ToOptions() => new()
    {
        UseEnvironment = false,
        KafkaPort = KafkaPort,
        KafkaBrokers = Brokers,
        RegistryPort = RegistryPort ?? 0,
        RedisPort = RedisPort ?? 0,
        Redis = string.Equals(Redis, "redis-server", StringComparison.OrdinalIgnoreCase) ? RedisKind.RedisServer : RedisKind.Garnet,
        Topics = Topics is null ? Core.Topics.Defaults : Core.Topics.ParseList(Topics),
    };
}

/// <summary>
/// The DevStack app's command line: starts the stack, prints one line per endpoint and then <c>ready</c>, and runs until
/// cancelled (SIGINT or SIGTERM). Exit codes: 0 stopped cleanly, 1 the stack could not start, 2 wrong usage.
/// </summary>
public static class DevStackApp
{
    /// <summary>Exit code when the stack could not start.</summary>
    public const int FailureExitCode = CliApp.FailureExitCode;

    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = CliApp.UsageExitCode;

    /// <summary>The app name in usage lines.</summary>
    public const string Name = "StreamFraud.DevStack";

    private static readonly CliApp App = new CliApp(Name,
        "StreamFraud DevStack: Kafka protocol (librdkafka mock cluster), a development Schema Registry and Redis, in one "
        + "process, for demos and for programs that expect a real broker (the scorer, kcat, a Python or Java client). "
        + "Prints one line per endpoint (kafka=..., schema-registry=..., redis=...), then \"ready\", and runs until SIGINT or "
        + "SIGTERM. Limits of the mock broker: about 5 MB kept per partition, slow fetch, no CreateTopics admin API (topics "
        + "are created here, or auto-created on first produce). Not for production: use docker-compose.yml.")
    {
        NoArgumentsIsUsage = false,
        ExitCodeOf = e => e is IOException or InvalidOperationException or DllNotFoundException ? FailureExitCode : null,
    }
        .Default<Run>()
        .Example("--kafka-port", "9092", "--registry-port", "8081", "--redis-port", "6379")
        .Example("--brokers", "3", "--redis", "redis-server", "--topics", "transactions:8,fraud-alerts:8");

    /// <summary>Runs the command line until <paramref name="cancellationToken"/> stops the stack.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help, and the endpoint lines (written unwrapped: programs read them).</param>
    /// <param name="error">Errors.</param>
    /// <param name="cancellationToken">SIGINT or SIGTERM.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, CancellationToken cancellationToken = default) =>
        App.RunAsync(args, output, error, _ => { }, cancellationToken);

    /// <summary>Starts the stack, prints its endpoints and <c>ready</c>, and stops it when cancelled.</summary>
    private sealed class Run(IAnsiConsole console) : AsyncCommand<DevStackSettings>
    {
        public override async Task<int> ExecuteAsync(CommandContext context, DevStackSettings settings, CancellationToken cancellationToken)
        {
            var options = settings.ToOptions();
            var output = console.Profile.Out.Writer;
            var stack = await LocalStack.StartAsync(options, cancellationToken).ConfigureAwait(false);
            await using (stack.ConfigureAwait(false))
            {
                await output.WriteLineAsync($"kafka={stack.KafkaBootstrap}").ConfigureAwait(false);
                await output.WriteLineAsync($"schema-registry={stack.SchemaRegistryUrl}").ConfigureAwait(false);
                await output.WriteLineAsync($"redis={stack.RedisEndpoint}").ConfigureAwait(false);
                await output.WriteLineAsync($"topics={string.Join(',', options.Topics)}").ConfigureAwait(false);
                await output.WriteLineAsync("ready (Ctrl+C or SIGTERM to stop)").ConfigureAwait(false);
                await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    await output.WriteLineAsync("stopping").ConfigureAwait(false);
                }
            }

            await output.WriteLineAsync("stopped").ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
    }
}
