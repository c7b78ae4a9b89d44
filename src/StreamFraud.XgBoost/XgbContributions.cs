namespace StreamFraud.XgBoost;

/// <summary>One feature's contribution to a row's margin (log-odds units).</summary>
/// <param name="Feature">0-based feature index.</param>
/// <param name="Value">Contribution to the margin; positive pushes towards fraud.</param>
public readonly record struct FeatureContribution(int Feature, float Value);

/// <summary>
/// Per-feature contributions (XGBoost's <c>pred_contribs</c>, exact TreeSHAP) for a batch of rows. Each row has
/// <see cref="Features"/> feature contributions followed by the bias; their sum is the row's margin.
/// </summary>
public sealed class XgbContributions
{
    private readonly float[] _values;

    /// <summary>Wraps row-major values, rows × (features + 1), bias last in each row.</summary>
    public XgbContributions(int rows, int features, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(features);
        if ((long)rows * (features + 1) != values.Length)
        {
            throw new ArgumentException($"{rows} rows × ({features} + 1) values expected, got {values.Length}.", nameof(values));
        }

        Rows = rows;
        Features = features;
        _values = values;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of features (each row also has a bias value).</summary>
    public int Features { get; }

    /// <summary>All values, row-major, rows × (features + 1).</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>The feature contributions of <paramref name="row"/> (without the bias).</summary>
    public ReadOnlySpan<float> Row(int row) => _values.AsSpan(RowStart(row), Features);

    /// <summary>The bias (expected margin) term of <paramref name="row"/>.</summary>
    public float Bias(int row) => _values[RowStart(row) + Features];

    /// <summary>The margin this row's contributions add up to (features + bias), summed in double precision.</summary>
    public double Margin(int row)
    {
        var sum = (double)Bias(row);
        foreach (var v in Row(row))
        {
            sum += v;
        }

        return sum;
    }

    /// <summary>The <paramref name="k"/> features of <paramref name="row"/> with the largest |contribution|; see <see cref="TopK"/>.</summary>
    public FeatureContribution[] Top(int row, int k) => TopK(Row(row), k);

    /// <summary>
    /// The <paramref name="k"/> entries with the largest absolute value, largest first, ties broken by the lower
    /// feature index. Exact zeros (features no tree used for this row) are never returned, so fewer than k may come
    /// back.
    /// </summary>
    public static FeatureContribution[] TopK(ReadOnlySpan<float> contributions, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var best = new FeatureContribution[Math.Min(k, contributions.Length)];
        var count = 0;
        for (var i = 0; i < contributions.Length; i++)
        {
            var v = contributions[i];
            var a = MathF.Abs(v);
            if (a == 0 || float.IsNaN(v))
            {
                continue;
            }

            // Insertion into the kept list, which stays sorted by |value| descending; k is small (explanations).
            var pos = count;
            while (pos > 0 && MathF.Abs(best[pos - 1].Value) < a)
            {
                pos--;
            }

            if (pos >= best.Length)
            {
                continue;
            }

            var last = Math.Min(count, best.Length - 1);
            for (var j = last; j > pos; j--)
            {
                best[j] = best[j - 1];
            }

            best[pos] = new FeatureContribution(i, v);
            count = Math.Min(count + 1, best.Length);
        }

        return count == best.Length ? best : best[..count];
    }

    private int RowStart(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        return row * (Features + 1);
    }
}
