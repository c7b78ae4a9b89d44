namespace StreamFraud.Sim.Cli;

/// <summary>The command line is wrong; the message names the flag and says what to do. Exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
