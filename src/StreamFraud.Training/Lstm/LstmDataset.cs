namespace StreamFraud.Training.Lstm;

/// <summary>
/// Labelled windows for the LSTM: <see cref="Windows"/> is [count, sequenceLength, featureCount] row-major (oldest
/// step first; shorter histories left-padded with zero steps), <see cref="Labels"/> holds 1 for fraud and 0 otherwise.
/// The arrays are used as given, not copied.
/// </summary>
public sealed class LstmDataset
{
    /// <summary>Wraps windows and labels after checking their shapes.</summary>
    /// <exception cref="ArgumentException">The lengths disagree or a label is not 0 or 1.</exception>
    public LstmDataset(float[] windows, byte[] labels, int sequenceLength, int featureCount)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        if ((long)labels.Length * sequenceLength * featureCount != windows.Length)
        {
            throw new ArgumentException(
                $"{labels.Length} labels need {(long)labels.Length * sequenceLength * featureCount} window floats " +
                $"({sequenceLength} × {featureCount} each); got {windows.Length}.",
                nameof(windows));
        }

        var positives = 0;
        foreach (var label in labels)
        {
            if (label > 1)
            {
                throw new ArgumentException("Labels must be 0 or 1.", nameof(labels));
            }

            positives += label;
        }

        Windows = windows;
        Labels = labels;
        SequenceLength = sequenceLength;
        FeatureCount = featureCount;
        Positives = positives;
    }

    /// <summary>Windows, [Count, SequenceLength, FeatureCount] row-major.</summary>
    public float[] Windows { get; }

    /// <summary>Labels, 1 = fraud.</summary>
    public byte[] Labels { get; }

    /// <summary>Steps per window.</summary>
    public int SequenceLength { get; }

    /// <summary>Features per step.</summary>
    public int FeatureCount { get; }

    /// <summary>Number of windows.</summary>
    public int Count => Labels.Length;

    /// <summary>Number of positive (fraud) windows.</summary>
    public int Positives { get; }
}
