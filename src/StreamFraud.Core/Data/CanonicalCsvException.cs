namespace StreamFraud.Core.Data;

/// <summary>
/// A canonical CSV (or labels CSV, <see cref="LabelCsv"/>) input that cannot be read: the message names the line
/// (1-based, the header is line 1) and, for a bad value, the column, e.g.
/// <c>line 1234, column amount: 'abc' is not a number</c>.
/// </summary>
public sealed class CanonicalCsvException : FormatException
{
    /// <summary>Creates the exception; <paramref name="message"/> already names line and column.</summary>
    /// <param name="message">Full message.</param>
    /// <param name="lineNumber">1-based line where the offending record starts.</param>
    /// <param name="column">Column name, when the problem is one value.</param>
    public CanonicalCsvException(string message, long lineNumber, string? column = null)
        : base(message)
    {
        LineNumber = lineNumber;
        Column = column;
    }

    /// <summary>1-based physical line where the offending record starts (the header is line 1).</summary>
    public long LineNumber { get; }

    /// <summary>Column name of the bad value; <see langword="null"/> for structural problems.</summary>
    public string? Column { get; }
}
