namespace StreamFraud.Training.Lstm;

/// <summary>
/// Shapes of the two-layer LSTM and where each tensor sits in the flat parameter vector.
/// </summary>
/// <remarks>
/// Weight matrices are stored input-major like Keras kernels: W is [in, 4H] row-major, U is [H, 4H], so a layer
/// computes z = x·W + h·U + b. The four gate blocks of every 4H row are ordered <b>i, f, o, g</b> (input, forget,
/// output, cell candidate) so that one sigmoid call covers the first 3H values and one tanh call the last H; the ONNX
/// exporter reorders to ONNX's i, o, f, c. Order of tensors: W1, U1, b1, W2, U2, b2, dense weight wd [H2], dense bias.
/// </remarks>
internal readonly record struct LstmLayout(int Features, int Steps, int Hidden1, int Hidden2)
{
    /// <summary>Gate rows of layer 1 (4·H1).</summary>
    public int Gates1 => 4 * Hidden1;

    /// <summary>Gate rows of layer 2 (4·H2).</summary>
    public int Gates2 => 4 * Hidden2;

    public int W1 => 0;

    public int U1 => W1 + (Features * Gates1);

    public int B1 => U1 + (Hidden1 * Gates1);

    public int W2 => B1 + Gates1;

    public int U2 => W2 + (Hidden1 * Gates2);

    public int B2 => U2 + (Hidden2 * Gates2);

    public int Wd => B2 + Gates2;

    public int Bd => Wd + Hidden2;

    public int ParameterCount => Bd + 1;

    /// <summary>Floats in one window (Steps × Features).</summary>
    public int WindowSize => Steps * Features;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Features, 1, nameof(Features));
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Hidden1, 1, nameof(Hidden1));
        ArgumentOutOfRangeException.ThrowIfLessThan(Hidden2, 1, nameof(Hidden2));
        if ((long)Features * Gates1 + ((long)Hidden1 * Gates1) + ((long)Hidden1 * Gates2) + ((long)Hidden2 * Gates2) > int.MaxValue / 4)
        {
            throw new ArgumentException("The LSTM is too large for one parameter array.");
        }
    }
}
