using Spectre.Console;

namespace StreamFraud.Sim.Cli;

/// <summary>
/// Dispatches <c>&lt;command&gt; [--flags]</c> to a registered <see cref="ICommand"/>, prints help, and turns failures
/// into exit codes: 0 success, 1 failure, 2 wrong usage, 130 cancelled.
/// </summary>
public sealed class CommandLineApp
{
    /// <summary>Exit code of wrong usage.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code after Ctrl+C.</summary>
    public const int CancelledExitCode = 130;

    private readonly string _invocation;
    private readonly string _description;
    private readonly IReadOnlyList<ICommand> _commands;

    /// <summary>Creates the app.</summary>
    /// <param name="invocation">How users start it, for help text.</param>
    /// <param name="description">One paragraph about it.</param>
    /// <param name="commands">Its commands.</param>
    public CommandLineApp(string invocation, string description, IReadOnlyList<ICommand> commands)
    {
        _invocation = invocation;
        _description = description;
        _commands = commands;
    }

    /// <summary>Runs the command named by <paramref name="args"/>[0].</summary>
    public async Task<int> RunAsync(IReadOnlyList<string> args, CommandContext context)
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
            var topic = args.Count > 1 ? Find(args[1]) : null;
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

        var command = Find(args[0]);
        if (command is null)
        {
            Fail(context.Error, $"unknown command '{args[0]}'; commands: {string.Join(", ", _commands.Select(c => c.Name))}");
            return UsageExitCode;
        }

        var rest = args.Skip(1).ToList();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            WriteHelp(context.Output, command);
            return 0;
        }

        try
        {
            return await command.RunAsync(CommandArgs.Parse(rest), context).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            Fail(context.Error, e.Message);
            context.Error.MarkupLine($"[grey]run '{Markup.Escape(_invocation)} {command.Name} --help' for usage[/]");
            return UsageExitCode;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            Fail(context.Error, "cancelled");
            return CancelledExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(context.Error, e.Message);
            return 1;
        }
    }

    private ICommand? Find(string name) => _commands.FirstOrDefault(c => c.Name == name);

    private static void Fail(IAnsiConsole console, string message) =>
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");

    private void WriteOverview(IAnsiConsole console)
    {
        console.WriteLine(_description);
        console.WriteLine();
        console.MarkupLine($"[bold]usage:[/] {Markup.Escape(_invocation)} <command> [[--flags]]");
        console.WriteLine();
        var table = new Table().NoBorder().HideHeaders().AddColumn("command").AddColumn("summary");
        foreach (var c in _commands)
        {
            table.AddRow(new Markup($"[bold]{Markup.Escape(c.Name)}[/]"), new Text(c.Summary));
        }

        console.Write(table);
        console.WriteLine();
        console.WriteLine($"'{_invocation} <command> --help' describes a command's flags.");
    }

    private void WriteHelp(IAnsiConsole console, ICommand command)
    {
        console.MarkupLine($"[bold]{Markup.Escape(_invocation)} {Markup.Escape(command.Name)}[/] — {Markup.Escape(command.Summary)}");
        console.WriteLine();
        var table = new Table().NoBorder().HideHeaders().AddColumn("flag").AddColumn("description");
        foreach (var f in command.Flags)
        {
            var flag = f.Value.Length == 0 ? $"--{f.Name}" : $"--{f.Name} {f.Value}";
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
