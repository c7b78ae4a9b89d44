namespace StreamFraud.Training.Pipeline;

/// <summary>
/// A problem with the trainer's input or options that the user can fix (missing file, bad date range, a split
/// without frauds, …). The message says what is wrong and what to do; hosts print it without a stack trace.
/// </summary>
public sealed class TrainingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public TrainingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
