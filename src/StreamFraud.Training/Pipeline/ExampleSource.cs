using StreamFraud.Core.Features;
using StreamFraud.Training.Data;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// The candidate examples of a run, whatever the input: each has a 7-step window, a newest vector (the window's last
/// step, what XGBoost sees), a label and, when the input has them, event time, card, transaction id and fraud scenario.
/// </summary>
public abstract class ExampleSource
{
    /// <summary>The feature spec of the vectors.</summary>
    public abstract FeatureSpec Spec { get; }

    /// <summary>Candidate examples.</summary>
    public abstract int Count { get; }

    /// <summary>Whether examples carry event times (and so card ids and days).</summary>
    public abstract bool HasEventTimes { get; }

    /// <summary>Whether examples may carry a fraud scenario.</summary>
    public abstract bool HasScenarios { get; }

    /// <summary>1 = fraud, 0 = legitimate, -1 = unlabelled (never an example).</summary>
    public abstract sbyte Label(int example);

    /// <summary>Real (non-padding) steps of the example's window, 1..7.</summary>
    public abstract int RealSteps(int example);

    /// <summary>Writes the example's window (7 × dimension floats, oldest step first, zero left-padding).</summary>
    public abstract void CopyWindow(int example, Span<float> destination);

    /// <summary>The newest step's vector.</summary>
    public abstract ReadOnlySpan<float> Newest(int example);

    /// <summary>Event time in Unix ms (0 when <see cref="HasEventTimes"/> is false).</summary>
    public abstract long EventTimeMs(int example);

    /// <summary>Card id (a synthetic one when the input has none).</summary>
    public abstract string CardId(int example);

    /// <summary>Fraud scenario, when known.</summary>
    public abstract string? Scenario(int example);
}

/// <summary>Examples of a canonical CSV: one per applied transaction, its card's window as the scorer would build it.</summary>
public sealed class TransactionExamples(TrainingSet set) : ExampleSource
{
    /// <summary>The featurised history.</summary>
    public TrainingSet Set { get; } = set ?? throw new ArgumentNullException(nameof(set));

    /// <inheritdoc/>
    public override FeatureSpec Spec => Set.Spec;

    /// <inheritdoc/>
    public override int Count => Set.Count;

    /// <inheritdoc/>
    public override bool HasEventTimes => true;

    /// <inheritdoc/>
    public override bool HasScenarios => true;

    /// <inheritdoc/>
    public override sbyte Label(int example) => Set.Labels[example];

    /// <inheritdoc/>
    public override int RealSteps(int example) => Set.RealSteps[example];

    /// <inheritdoc/>
    public override void CopyWindow(int example, Span<float> destination) => Set.CopyWindow(example, destination);

    /// <inheritdoc/>
    public override ReadOnlySpan<float> Newest(int example) => Set.Vector(example);

    /// <inheritdoc/>
    public override long EventTimeMs(int example) => Set.EventTimesMs[example];

    /// <inheritdoc/>
    public override string CardId(int example) => Set.CardIds[example];

    /// <inheritdoc/>
    public override string? Scenario(int example) => Set.Scenarios[example];
}

/// <summary>
/// Examples of a notebook <c>.npz</c>: the non-overlapping 7-row chunks of consecutive rows, each labelled by its last
/// row (the notebook's sequences; every window is full). No times, cards or scenarios.
/// </summary>
public sealed class ChunkExamples : ExampleSource
{
    private readonly int _length;

    /// <summary>Wraps <paramref name="data"/>; trailing rows that do not fill a chunk are not examples.</summary>
    public ChunkExamples(NpzDataset data, int chunkLength = FeatureSpec.WindowLength)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNotEqual(chunkLength, FeatureSpec.WindowLength);
        Data = data;
        _length = chunkLength;
    }

    /// <summary>The arrays.</summary>
    public NpzDataset Data { get; }

    /// <inheritdoc/>
    public override FeatureSpec Spec => Data.Spec;

    /// <inheritdoc/>
    public override int Count => Data.Rows / _length;

    /// <inheritdoc/>
    public override bool HasEventTimes => false;

    /// <inheritdoc/>
    public override bool HasScenarios => false;

    /// <inheritdoc/>
    public override sbyte Label(int example) => Data.Labels.Span[LastRow(example)] ? (sbyte)1 : (sbyte)0;

    /// <inheritdoc/>
    public override int RealSteps(int example) => _length;

    /// <inheritdoc/>
    public override void CopyWindow(int example, Span<float> destination) =>
        Data.RowRange(example * _length, _length).CopyTo(destination);

    /// <inheritdoc/>
    public override ReadOnlySpan<float> Newest(int example) => Data.Row(LastRow(example));

    /// <inheritdoc/>
    public override long EventTimeMs(int example) => 0;

    /// <inheritdoc/>
    public override string CardId(int example) => "chunk-" + example.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string? Scenario(int example) => null;

    private int LastRow(int example) => (example * _length) + _length - 1;
}
