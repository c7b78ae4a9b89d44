using System.Numerics;
using StreamFraud.Core;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// Keras's default LSTM initialisation: Glorot-uniform input kernels, orthogonal recurrent kernels, zero biases with
/// the forget gate's bias at 1 (unit_forget_bias), Glorot-uniform dense kernel and zero dense bias.
/// </summary>
internal static class LstmInitializer
{
    public static void Initialize<T>(LstmLayout l, Span<T> parameters, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (parameters.Length != l.ParameterCount)
        {
            throw new ArgumentException("Parameter vector has the wrong length.", nameof(parameters));
        }

        var rng = Xoshiro256.ForStream((ulong)(uint)seed, 0x1757);
        parameters.Clear();
        GlorotUniform(ref rng, parameters.Slice(l.W1, l.Features * l.Gates1), l.Features, l.Gates1);
        Orthogonal(ref rng, parameters.Slice(l.U1, l.Hidden1 * l.Gates1), l.Hidden1, l.Gates1);
        parameters.Slice(l.B1 + l.Hidden1, l.Hidden1).Fill(T.One);
        GlorotUniform(ref rng, parameters.Slice(l.W2, l.Hidden1 * l.Gates2), l.Hidden1, l.Gates2);
        Orthogonal(ref rng, parameters.Slice(l.U2, l.Hidden2 * l.Gates2), l.Hidden2, l.Gates2);
        parameters.Slice(l.B2 + l.Hidden2, l.Hidden2).Fill(T.One);
        GlorotUniform(ref rng, parameters.Slice(l.Wd, l.Hidden2), l.Hidden2, 1);
    }

    private static void GlorotUniform<T>(ref Xoshiro256 rng, Span<T> weights, int fanIn, int fanOut)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var limit = Math.Sqrt(6.0 / (fanIn + fanOut));
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = T.CreateChecked(((2.0 * rng.NextDouble()) - 1.0) * limit);
        }
    }

    /// <summary>
    /// A rows×cols matrix (rows ≤ cols, as for [H, 4H]) with orthonormal rows: Gram–Schmidt (twice, for accuracy)
    /// on Gaussian rows, which gives the same Haar distribution as Keras's sign-corrected QR.
    /// </summary>
    private static void Orthogonal<T>(ref Xoshiro256 rng, Span<T> weights, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = new double[rows * cols];
        for (var i = 0; i < m.Length; i++)
        {
            m[i] = rng.NormalRedrawingZero();
        }

        for (var i = 0; i < rows; i++)
        {
            var row = m.AsSpan(i * cols, cols);
            for (var pass = 0; pass < 2; pass++)
            {
                for (var j = 0; j < i; j++)
                {
                    var prev = m.AsSpan(j * cols, cols);
                    double dot = 0;
                    for (var k = 0; k < cols; k++)
                    {
                        dot += row[k] * prev[k];
                    }

                    for (var k = 0; k < cols; k++)
                    {
                        row[k] -= dot * prev[k];
                    }
                }
            }

            double norm = 0;
            for (var k = 0; k < cols; k++)
            {
                norm += row[k] * row[k];
            }

            norm = Math.Sqrt(norm);
            for (var k = 0; k < cols; k++)
            {
                row[k] /= norm;
            }
        }

        for (var i = 0; i < m.Length; i++)
        {
            weights[i] = T.CreateChecked(m[i]);
        }
    }
}
