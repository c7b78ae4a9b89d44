namespace StreamFraud.Trainer.Cli;

/// <summary>One flag of a command, for help text.</summary>
/// <param name="Name">Name without dashes (or a positional placeholder such as <c>VERSION</c>).</param>
/// <param name="Value">Value placeholder (empty for a switch).</param>
/// <param name="Description">What it does, with its default.</param>
public sealed record FlagHelp(string Name, string Value, string Description);
