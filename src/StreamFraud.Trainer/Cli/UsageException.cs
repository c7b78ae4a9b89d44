namespace StreamFraud.Trainer.Cli;

/// <summary>Wrong command-line usage; the message says what is wrong and how to fix it. Exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
