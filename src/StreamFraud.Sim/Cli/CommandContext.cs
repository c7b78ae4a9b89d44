using Spectre.Console;

namespace StreamFraud.Sim.Cli;

/// <summary>What a command may use of its environment: consoles for reports, raw standard output for data, and
/// cancellation (Ctrl+C).</summary>
public sealed class CommandContext
{
    /// <summary>Creates a context.</summary>
    public CommandContext(IAnsiConsole output, IAnsiConsole error, Func<Stream> openStandardOutput, CancellationToken cancellationToken)
    {
        Output = output;
        Error = error;
        OpenStandardOutput = openStandardOutput;
        CancellationToken = cancellationToken;
    }

    /// <summary>Console for reports (standard output).</summary>
    public IAnsiConsole Output { get; }

    /// <summary>Console for errors, and for reports when data goes to standard output.</summary>
    public IAnsiConsole Error { get; }

    /// <summary>Opens standard output as a byte stream (for <c>--out -</c>).</summary>
    public Func<Stream> OpenStandardOutput { get; }

    /// <summary>Signalled on Ctrl+C.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The process's own console and streams.</summary>
    public static CommandContext ForProcess(CancellationToken cancellationToken) => new(
        AnsiConsole.Console,
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }),
        Console.OpenStandardOutput,
        cancellationToken);
}
