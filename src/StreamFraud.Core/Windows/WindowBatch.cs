using StreamFraud.Core.Features;

namespace StreamFraud.Core.Windows;

/// <summary>
/// A batch of events on its way through a window store: the events with their source positions in, and per event
/// the apply result and its window out. Windows are written into one contiguous buffer
/// (<c>[capacity, 7, dimension]</c>, row-major) that the LSTM consumes directly; the newest vector of each window
/// (its last step) is what XGBoost scores. One instance is reused per worker.
/// </summary>
public sealed class WindowBatch
{
    private readonly Transaction[] _events;
    private readonly SourcePosition[] _positions;
    private readonly ApplyResult[] _results;

    /// <summary>Creates a batch for up to <paramref name="capacity"/> events of <paramref name="spec"/>.</summary>
    public WindowBatch(FeatureSpec spec, int capacity)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Spec = spec;
        Capacity = capacity;
        _events = new Transaction[capacity];
        _positions = new SourcePosition[capacity];
        _results = new ApplyResult[capacity];
        Windows = new float[capacity * spec.WindowSize];
        _times = new long[capacity * FeatureSpec.WindowLength];
    }

    private readonly long[] _times;

    /// <summary>The feature spec the windows follow.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>Maximum events.</summary>
    public int Capacity { get; }

    /// <summary>Events in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>All windows, <c>[Capacity, 7, Dimension]</c>; the first <see cref="Count"/> are meaningful.</summary>
    public float[] Windows { get; }

    /// <summary>Empties the batch (buffers are kept).</summary>
    public void Clear() => Count = 0;

    /// <summary>Appends an event read at <paramref name="position"/>.</summary>
    /// <exception cref="InvalidOperationException">The batch is full.</exception>
    public void Add(Transaction transaction, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The window batch is full ({Capacity} events).");
        }

        _events[Count] = transaction;
        _positions[Count] = position;
        _results[Count] = default;
        Count++;
    }

    /// <summary>Event <paramref name="index"/>.</summary>
    public Transaction Event(int index) => _events[Check(index)];

    /// <summary>Source position of event <paramref name="index"/>.</summary>
    public SourcePosition Position(int index) => _positions[Check(index)];

    /// <summary>What the store did with event <paramref name="index"/>.</summary>
    public ApplyResult Result(int index) => _results[Check(index)];

    /// <summary>The window of event <paramref name="index"/> (7 × dimension floats).</summary>
    public Span<float> Window(int index) => Windows.AsSpan(Check(index) * Spec.WindowSize, Spec.WindowSize);

    /// <summary>The newest vector of event <paramref name="index"/>'s window: the event's own features.</summary>
    public ReadOnlySpan<float> Newest(int index) => Window(index)[(Spec.WindowSize - Spec.Dimension)..];

    /// <summary>
    /// Event times (epoch ms) of the transactions in event <paramref name="index"/>'s window, aligned with its steps
    /// (0 for padding), as filled in by the store.
    /// </summary>
    public Span<long> WindowEventTimes(int index) =>
        _times.AsSpan(Check(index) * FeatureSpec.WindowLength, FeatureSpec.WindowLength);

    /// <summary>Records the store's result for event <paramref name="index"/>.</summary>
    public void SetResult(int index, ApplyResult result) => _results[Check(index)] = result;

    private int Check(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} events.");
        }

        return index;
    }
}
