using System.Numerics;
using System.Runtime.InteropServices;
using StreamFraud.Scoring.Lstm;

namespace StreamFraud.Training.Lstm;

/// <summary>Weight matrices a product can use as its right operand (the "T" ones are transposed).</summary>
internal enum WeightMatrix
{
    W1,
    U1,
    W2,
    U2,
    U1Transposed,
    W2Transposed,
    U2Transposed,
}

/// <summary>
/// Parameters of the two-layer LSTM plus, for single precision, the weights pre-packed for <see cref="Sgemm"/>.
/// </summary>
/// <remarks>
/// Generic over the element type so that the exact training code also runs in double precision, which the
/// finite-difference gradient check needs. Single precision multiplies through the packed AVX kernels; double
/// precision through a plain reference loop (tests only, tiny nets). Call <see cref="Refresh"/> after changing
/// <see cref="Parameters"/>.
/// </remarks>
internal sealed class LstmNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly WeightMatrix[] AllMatrices = Enum.GetValues<WeightMatrix>();
    private readonly float[][]? _packed;

    public LstmNetwork(LstmLayout layout, T[] parameters, float dropout1, float dropout2)
    {
        layout.Validate();
        if (parameters.Length != layout.ParameterCount)
        {
            throw new ArgumentException($"Expected {layout.ParameterCount} parameters, got {parameters.Length}.", nameof(parameters));
        }

        Layout = layout;
        Parameters = parameters;
        Dropout1 = dropout1;
        Dropout2 = dropout2;
        if (typeof(T) == typeof(float))
        {
            _packed = new float[AllMatrices.Length][];
            foreach (var m in AllMatrices)
            {
                var (_, k, n, _, _) = Describe(m);
                _packed[(int)m] = new float[Sgemm.PackedBLength(k, n)];
            }
        }

        Refresh();
    }

    public LstmLayout Layout { get; }

    public T[] Parameters { get; }

    public float Dropout1 { get; }

    public float Dropout2 { get; }

    /// <summary>Re-packs the weights after <see cref="Parameters"/> changed.</summary>
    public void Refresh(ParallelOptions? parallel = null)
    {
        if (_packed is null)
        {
            return;
        }

        var source = (float[])(object)Parameters;
        void Pack(int i)
        {
            var (offset, k, n, ld, transpose) = Describe(AllMatrices[i]);
            Sgemm.PackB(source.AsSpan(offset), ld, transpose, k, n, _packed[i]);
        }

        if (parallel is null)
        {
            for (var i = 0; i < AllMatrices.Length; i++)
            {
                Pack(i);
            }
        }
        else
        {
            Parallel.For(0, AllMatrices.Length, parallel, Pack);
        }
    }

    /// <summary>Offset of the source matrix, the product's k and n, the source row stride, and whether it is read transposed.</summary>
    private (int Offset, int K, int N, int Ld, bool Transpose) Describe(WeightMatrix m)
    {
        var l = Layout;
        return m switch
        {
            WeightMatrix.W1 => (l.W1, l.Features, l.Gates1, l.Gates1, false),
            WeightMatrix.U1 => (l.U1, l.Hidden1, l.Gates1, l.Gates1, false),
            WeightMatrix.W2 => (l.W2, l.Hidden1, l.Gates2, l.Gates2, false),
            WeightMatrix.U2 => (l.U2, l.Hidden2, l.Gates2, l.Gates2, false),
            WeightMatrix.U1Transposed => (l.U1, l.Gates1, l.Hidden1, l.Gates1, true),
            WeightMatrix.W2Transposed => (l.W2, l.Gates2, l.Hidden1, l.Gates2, true),
            WeightMatrix.U2Transposed => (l.U2, l.Gates2, l.Hidden2, l.Gates2, true),
            _ => throw new ArgumentOutOfRangeException(nameof(m)),
        };
    }

    /// <summary>C[m×n] = A[m×k]·Wop (or C += when <paramref name="accumulate"/>); A row stride <paramref name="lda"/>.</summary>
    public void MultiplyWeight(
        WeightMatrix matrix, ReadOnlySpan<T> a, int m, int lda, Span<T> c, int ldc, bool accumulate, Span<float> scratchA)
    {
        var (offset, k, n, ld, transpose) = Describe(matrix);
        if (_packed is not null)
        {
            var packedA = scratchA[..Sgemm.PackedALength(m, k)];
            Sgemm.PackA(MemoryMarshal.Cast<T, float>(a), lda, false, m, k, packedA);
            Sgemm.Multiply(packedA, _packed[(int)matrix], m, n, k, MemoryMarshal.Cast<T, float>(c), ldc, accumulate);
            return;
        }

        ReferenceGemm(a, lda, false, Parameters.AsSpan(offset), ld, transpose, m, n, k, c, ldc, accumulate);
    }

    /// <summary>
    /// C[m×n] (+)= Aᵀ·B where A is stored k×m (row stride <paramref name="lda"/>) and B is k×n (row stride
    /// <paramref name="ldb"/>): the weight-gradient products, summing over batch rows in order.
    /// </summary>
    public static void MultiplyTransposedA(
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, int m, int n, int k, Span<T> c, int ldc, bool accumulate,
        Span<float> scratchA, Span<float> scratchB)
    {
        if (typeof(T) == typeof(float))
        {
            var packedA = scratchA[..Sgemm.PackedALength(m, k)];
            var packedB = scratchB[..Sgemm.PackedBLength(k, n)];
            Sgemm.PackA(MemoryMarshal.Cast<T, float>(a), lda, true, m, k, packedA);
            Sgemm.PackB(MemoryMarshal.Cast<T, float>(b), ldb, false, k, n, packedB);
            Sgemm.Multiply(packedA, packedB, m, n, k, MemoryMarshal.Cast<T, float>(c), ldc, accumulate);
            return;
        }

        ReferenceGemm(a, lda, true, b, ldb, false, m, n, k, c, ldc, accumulate);
    }

    /// <summary>Straightforward C (+)= op(A)·op(B); the double-precision path.</summary>
    internal static void ReferenceGemm(
        ReadOnlySpan<T> a, int lda, bool transposeA, ReadOnlySpan<T> b, int ldb, bool transposeB, int m, int n, int k,
        Span<T> c, int ldc, bool accumulate)
    {
        for (var i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (!accumulate)
            {
                row.Clear();
            }

            for (var p = 0; p < k; p++)
            {
                var av = transposeA ? a[(p * lda) + i] : a[(i * lda) + p];
                if (!transposeB)
                {
                    var bRow = b.Slice(p * ldb, n);
                    for (var j = 0; j < n; j++)
                    {
                        row[j] += av * bRow[j];
                    }
                }
                else
                {
                    for (var j = 0; j < n; j++)
                    {
                        row[j] += av * b[(j * ldb) + p];
                    }
                }
            }
        }
    }

    /// <summary>Scratch floats a workspace needs for packing the A operand of any product over up to <paramref name="rows"/> rows.</summary>
    public static int ScratchALength(LstmLayout l, int rows)
    {
        var n = rows * l.Steps;
        var forWeights = Sgemm.PackedALength(n, Math.Max(Math.Max(l.Features, l.Gates1), Math.Max(l.Hidden1, l.Gates2)));
        var forGradients = Sgemm.PackedALength(Math.Max(Math.Max(l.Features, l.Hidden1), l.Hidden2), n);
        return Math.Max(forWeights, forGradients);
    }

    /// <summary>Scratch floats for packing the B operand of the weight-gradient products.</summary>
    public static int ScratchBLength(LstmLayout l, int rows) => Sgemm.PackedBLength(rows * l.Steps, Math.Max(l.Gates1, l.Gates2));
}
