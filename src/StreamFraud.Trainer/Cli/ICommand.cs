namespace StreamFraud.Trainer.Cli;

/// <summary>A command of the trainer (<c>train</c>, <c>models list</c>, …).</summary>
public interface ICommand
{
    /// <summary>The words that select it, e.g. <c>models promote</c>.</summary>
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>Positional arguments and flags, for <c>--help</c>.</summary>
    IReadOnlyList<FlagHelp> Flags { get; }

    /// <summary>Flags that take no value.</summary>
    IReadOnlySet<string> Switches { get; }

    /// <summary>Example command lines, for <c>--help</c>.</summary>
    IReadOnlyList<string> Examples { get; }

    /// <summary>Runs the command; returns the process exit code.</summary>
    /// <exception cref="UsageException">The arguments are wrong.</exception>
    Task<int> RunAsync(CommandArgs args, CommandContext context);
}
