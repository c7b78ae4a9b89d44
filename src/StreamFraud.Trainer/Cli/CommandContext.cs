using Spectre.Console;

namespace StreamFraud.Trainer.Cli;

/// <summary>What a command may use of its environment: consoles and cancellation (Ctrl+C).</summary>
/// <param name="Output">Console for results and progress (standard output).</param>
/// <param name="Error">Console for errors (standard error).</param>
/// <param name="CancellationToken">Signalled on Ctrl+C.</param>
public sealed record CommandContext(IAnsiConsole Output, IAnsiConsole Error, CancellationToken CancellationToken)
{
    /// <summary>Width used when output goes to a file or pipe (Spectre assumes 80, which wraps the metric tables).</summary>
    public const int RedirectedWidth = 160;

    /// <summary>The process's own console.</summary>
    public static CommandContext ForProcess(CancellationToken cancellationToken)
    {
        var output = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            output.Profile.Width = RedirectedWidth;
        }

        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
        {
            error.Profile.Width = RedirectedWidth;
        }

        return new CommandContext(output, error, cancellationToken);
    }
}
