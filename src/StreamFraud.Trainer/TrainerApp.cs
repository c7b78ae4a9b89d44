using Spectre.Console;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Trainer.Cli;
using StreamFraud.Trainer.Commands;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer;

/// <summary>
/// The trainer's command line: dispatches <c>train</c>, <c>models list</c>, <c>models promote</c> and
/// <c>models rollback</c>, prints help, and turns failures into exit codes — 0 success, 1 failure (a message, never a
/// stack trace, for anything the user can fix), 2 wrong usage, 130 cancelled.
/// </summary>
public static class TrainerApp
{
    /// <summary>Exit code of a failure the user can fix (bad input, split without frauds, unknown version).</summary>
    public const int FailureExitCode = 1;

    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code after Ctrl+C.</summary>
    public const int CancelledExitCode = 130;

    private const string Invocation = "StreamFraud.Trainer";

    /// <summary>The commands.</summary>
    public static IReadOnlyList<ICommand> Commands { get; } =
        [new TrainCommand(), new ModelsListCommand(), new ModelsPromoteCommand(), new ModelsRollbackCommand()];

    /// <summary>Runs the command named by the first one or two words of <paramref name="args"/>.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        if (args.Count == 0)
        {
            WriteOverview(context.Error);
            return UsageExitCode;
        }

        if (args[0] is "help" or "--help" or "-h")
        {
            var topic = args.Count > 1 ? Find(args.Skip(1).ToList(), out _) : null;
            if (topic is null)
            {
                WriteOverview(context.Output);
            }
            else
            {
                WriteHelp(context.Output, topic);
            }

            return 0;
        }

        var command = Find(args, out var words);
        if (command is null)
        {
            var group = args[0] == "models" ? "models list, models promote, models rollback" : string.Join(", ", Commands.Select(c => c.Name));
            Fail(context.Error, args[0] == "models" && args.Count > 1
                ? $"unknown command 'models {args[1]}'; commands: {group}"
                : $"unknown command '{string.Join(' ', args.Take(args[0] == "models" ? 2 : 1))}'; commands: {group}");
            return UsageExitCode;
        }

        var rest = args.Skip(words).ToList();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            WriteHelp(context.Output, command);
            return 0;
        }

        try
        {
            return await command.RunAsync(CommandArgs.Parse(rest, command.Switches), context).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            Fail(context.Error, e.Message);
            context.Error.MarkupLine($"[grey]run '{Markup.Escape(Invocation)} {command.Name} --help' for usage[/]");
            return UsageExitCode;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            Fail(context.Error, "cancelled; nothing was published");
            return CancelledExitCode;
        }
        catch (TrainingException e)
        {
            Fail(context.Error, e.Message);
            return FailureExitCode;
        }
        catch (BundleRejectedException e)
        {
            Fail(context.Error, e.Message);
            return FailureExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException)
        {
            Fail(context.Error, e.Message);
            return FailureExitCode;
        }
    }

    private static ICommand? Find(IReadOnlyList<string> args, out int words)
    {
        foreach (var c in Commands)
        {
            var parts = c.Name.Split(' ');
            if (args.Count >= parts.Length && parts.Select((p, i) => p == args[i]).All(x => x))
            {
                words = parts.Length;
                return c;
            }
        }

        words = 0;
        return null;
    }

    private static void Fail(IAnsiConsole console, string message) =>
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");

    private static void WriteOverview(IAnsiConsole console)
    {
        console.WriteLine("StreamFraud trainer: builds the LSTM + XGBoost bundle from labelled history and manages the model registry.");
        console.WriteLine();
        console.MarkupLine($"[bold]usage:[/] {Markup.Escape(Invocation)} <command> [[arguments]]");
        console.WriteLine();
        var table = new Table().NoBorder().HideHeaders().AddColumn("command").AddColumn("summary");
        foreach (var c in Commands)
        {
            table.AddRow(new Markup($"[bold]{Markup.Escape(c.Name)}[/]"), new Text(c.Summary));
        }

        console.Write(table);
        console.WriteLine();
        console.WriteLine($"'{Invocation} <command> --help' describes a command's arguments.");
    }

    private static void WriteHelp(IAnsiConsole console, ICommand command)
    {
        console.MarkupLine($"[bold]{Markup.Escape(Invocation)} {Markup.Escape(command.Name)}[/] — {Markup.Escape(command.Summary)}");
        console.WriteLine();
        var table = new Table().NoBorder().HideHeaders().AddColumn("flag").AddColumn("description");
        foreach (var f in command.Flags)
        {
            var flag = f.Name.All(char.IsUpper) ? f.Name : f.Value.Length == 0 ? $"--{f.Name}" : $"--{f.Name} {f.Value}";
            table.AddRow(new Markup($"[bold]{Markup.Escape(flag)}[/]"), new Text(f.Description));
        }

        table.AddRow(new Markup("[bold]--help[/]"), new Text("Show this help."));
        console.Write(table);
        if (command.Examples.Count > 0)
        {
            console.WriteLine();
            console.MarkupLine("[bold]examples:[/]");
            foreach (var e in command.Examples)
            {
                console.WriteLine("  " + e);
            }
        }
    }
}
