namespace StreamFraud.Sim.Cli;

/// <summary>One flag of a command, for help text.</summary>
/// <param name="Name">Name without dashes.</param>
/// <param name="Value">Value placeholder (empty for a switch).</param>
/// <param name="Description">What it does, with its default.</param>
public sealed record FlagHelp(string Name, string Value, string Description);

/// <summary>A sub-command of the simulator (<c>generate</c>, later <c>produce</c>).</summary>
public interface ICommand
{
    /// <summary>The word that selects it.</summary>
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>Its flags, for <c>--help</c>.</summary>
    IReadOnlyList<FlagHelp> Flags { get; }

    /// <summary>Example command lines, for <c>--help</c>.</summary>
    IReadOnlyList<string> Examples { get; }

    /// <summary>Runs the command; returns the process exit code.</summary>
    /// <exception cref="UsageException">The flags are wrong.</exception>
    Task<int> RunAsync(CommandArgs args, CommandContext context);
}
