using StreamFraud.Core.Features;

namespace StreamFraud.Training.Data;

/// <summary>
/// The arrays of a notebook-style <c>.npz</c>: <c>X</c> (rows × features, held as float32, row-major) and <c>y</c>
/// (one 0/1 label per row). Rows are consecutive transactions; the notebook's sequences are non-overlapping runs of
/// 7 consecutive rows (see <see cref="RandomSplit"/>), and the feature spec is <c>precomputed:F</c>.
/// </summary>
public sealed class NpzDataset
{
    private readonly float[] _features;
    private readonly bool[] _labels;

    internal NpzDataset(string source, float[] features, bool[] labels, int featureCount, string featureDtype, string labelDtype)
    {
        Source = source;
        _features = features;
        _labels = labels;
        FeatureCount = featureCount;
        FeatureDtype = featureDtype;
        LabelDtype = labelDtype;
        var positives = 0;
        foreach (var label in labels)
        {
            if (label)
            {
                positives++;
            }
        }

        Positives = positives;
    }

    /// <summary>The file (or stream name) the arrays were read from.</summary>
    public string Source { get; }

    /// <summary>Rows (transactions).</summary>
    public int Rows => _labels.Length;

    /// <summary>Features per row (F of <c>precomputed:F</c>).</summary>
    public int FeatureCount { get; }

    /// <summary>Rows labelled 1 (fraud).</summary>
    public int Positives { get; }

    /// <summary><c>X</c>'s dtype in the file (<c>&lt;f4</c> or <c>&lt;f8</c>; float64 is narrowed to float32 on read).</summary>
    public string FeatureDtype { get; }

    /// <summary><c>y</c>'s dtype in the file, e.g. <c>&lt;i8</c>, <c>|u1</c>, <c>|b1</c>, <c>&lt;f8</c>.</summary>
    public string LabelDtype { get; }

    /// <summary>The spec these vectors are: <c>precomputed:F</c>.</summary>
    public PrecomputedFeatureSpec Spec => PrecomputedFeatureSpec.Create(FeatureCount);

    /// <summary><see cref="Rows"/> × <see cref="FeatureCount"/> floats, row-major (C order); all finite.</summary>
    public ReadOnlyMemory<float> Features => _features;

    /// <summary>Per row, <see langword="true"/> = fraud.</summary>
    public ReadOnlyMemory<bool> Labels => _labels;

    /// <summary>The features of one row.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="row"/> is outside 0..Rows-1.</exception>
    public ReadOnlySpan<float> Row(int row) => RowRange(row, 1);

    /// <summary>
    /// <paramref name="count"/> consecutive rows starting at <paramref name="firstRow"/>, contiguous
    /// (<paramref name="count"/> × F floats): a notebook sequence is <c>RowRange(7 · chunk, 7)</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the data.</exception>
    public ReadOnlySpan<float> RowRange(int firstRow, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)firstRow + count, Rows, nameof(count));
        return _features.AsSpan(firstRow * FeatureCount, count * FeatureCount);
    }
}
