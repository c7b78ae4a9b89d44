namespace StreamFraud.Training.Data;

/// <summary>
/// An <c>.npz</c> input that cannot be read. The message names the file, the array (<c>X.npy</c>, <c>y.npy</c>) and
/// what is wrong, and where there is one, how to fix it, e.g.
/// <c>data.npz: X.npy: fortran_order=True is not supported; save with np.ascontiguousarray(X)</c>.
/// </summary>
public sealed class NpzFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Full message, already naming file and array.</param>
    /// <param name="arrayName">The array concerned (<c>X</c> or <c>y</c>), when the problem is in one array.</param>
    /// <param name="innerException">The underlying error (a zip or I/O failure), if any.</param>
    public NpzFormatException(string message, string? arrayName = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ArrayName = arrayName;
    }

    /// <summary>The array concerned (<c>X</c> or <c>y</c>); <see langword="null"/> for archive-level problems.</summary>
    public string? ArrayName { get; }
}
