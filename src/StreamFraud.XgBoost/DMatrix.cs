namespace StreamFraud.XgBoost;

/// <summary>
/// XGBoost's data matrix, built from a dense row-major <c>float</c> matrix. libxgboost copies the values (into its
/// sparse page and, once a <c>hist</c> booster trains on it, its quantised form), so the caller's buffer may be reused
/// as soon as <see cref="FromDense"/> returns. Not thread-safe for mutation (labels, weights); read-only use from
/// several threads is fine.
/// </summary>
public sealed unsafe class DMatrix : IDisposable
{
    private readonly DMatrixHandle _handle;

    private DMatrix(DMatrixHandle handle, int rows, int columns)
    {
        _handle = handle;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of feature columns.</summary>
    public int Columns { get; }

    internal DMatrixHandle Handle => _handle;

    /// <summary>
    /// Creates a matrix from <paramref name="values"/>, <paramref name="rows"/> × <paramref name="columns"/> in row-major
    /// order. Entries equal to <paramref name="missing"/> (NaN by default, which matches every NaN) are missing: trees
    /// send them down each split's learned default direction.
    /// </summary>
    /// <param name="values">Row-major values; length must be rows × columns.</param>
    /// <param name="rows">Number of rows (may be 0 only when columns is 0 too).</param>
    /// <param name="columns">Number of feature columns.</param>
    /// <param name="labels">Optional labels, one per row (0/1 for <c>binary:logistic</c>).</param>
    /// <param name="weights">Optional instance weights, one per row.</param>
    /// <param name="missing">Value that marks a missing entry.</param>
    /// <param name="threads">Threads used to build the matrix; 0 = all cores.</param>
    public static DMatrix FromDense(
        ReadOnlySpan<float> values,
        int rows,
        int columns,
        ReadOnlySpan<float> labels = default,
        ReadOnlySpan<float> weights = default,
        float missing = float.NaN,
        int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        if ((long)rows * columns != values.Length)
        {
            throw new ArgumentException(
                $"values has {values.Length} entries; {rows} rows × {columns} columns needs {(long)rows * columns}.",
                nameof(values));
        }

        var api = XgbLibrary.Api;
        var handle = new DMatrixHandle();
        nint raw;
        int rc;
        fixed (float* data = values)
        {
            rc = api.DMatrixCreateFromMatOmp(data, (ulong)rows, (ulong)columns, missing, &raw, threads);
        }

        XgbNative.Check(rc, "XGDMatrixCreateFromMat_omp");
        handle.Set(raw);
        var matrix = new DMatrix(handle, rows, columns);
        try
        {
            if (!labels.IsEmpty)
            {
                matrix.SetLabels(labels);
            }

            if (!weights.IsEmpty)
            {
                matrix.SetWeights(weights);
            }
        }
        catch
        {
            matrix.Dispose();
            throw;
        }

        return matrix;
    }

    /// <summary>Sets the labels (one per row).</summary>
    public void SetLabels(ReadOnlySpan<float> labels) => SetFloatInfo("label"u8, labels);

    /// <summary>Sets instance weights (one per row).</summary>
    public void SetWeights(ReadOnlySpan<float> weights) => SetFloatInfo("weight"u8, weights);

    /// <summary>Labels as libxgboost stores them (empty when none were set).</summary>
    public float[] GetLabels() => GetFloatInfo("label"u8);

    /// <summary>Instance weights as libxgboost stores them (empty when none were set).</summary>
    public float[] GetWeights() => GetFloatInfo("weight"u8);

    /// <summary>Frees the native matrix. Boosters created with it as a cache keep working (they hold a weak reference).</summary>
    public void Dispose() => _handle.Dispose();

    private void SetFloatInfo(ReadOnlySpan<byte> field, ReadOnlySpan<float> values)
    {
        if (values.Length != Rows)
        {
            throw new ArgumentException($"Expected {Rows} values (one per row), got {values.Length}.", nameof(values));
        }

        using var lease = _handle.Acquire();
        int rc;
        fixed (byte* name = field)
        fixed (float* data = values)
        {
            rc = XgbLibrary.Api.DMatrixSetFloatInfo(lease.Pointer, name, data, (ulong)values.Length);
        }

        XgbNative.Check(rc, "XGDMatrixSetFloatInfo");
    }

    private float[] GetFloatInfo(ReadOnlySpan<byte> field)
    {
        using var lease = _handle.Acquire();
        ulong length;
        float* data;
        int rc;
        fixed (byte* name = field)
        {
            rc = XgbLibrary.Api.DMatrixGetFloatInfo(lease.Pointer, name, &length, &data);
        }

        XgbNative.Check(rc, "XGDMatrixGetFloatInfo");
        return length == 0 ? [] : new ReadOnlySpan<float>(data, checked((int)length)).ToArray();
    }
}
