using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// Training matrices for one spec: per applied transaction its vector, its 7-step window (as the row numbers of the
/// vectors it is made of), the count of real steps, label, scenario, card id, transaction id and event time.
/// </summary>
/// <remarks>
/// Windows are stored as indices into <see cref="Vectors"/> (7 ints per row, -1 for padding) rather than copied:
/// 28 bytes per row instead of 7 × dimension floats. <see cref="CopyWindow"/> / <see cref="CopyWindows"/> gather the
/// exact window the scorer would have built (the parity test checks this bit for bit). Duplicate and invalid
/// source rows are skipped and counted.
/// </remarks>
public sealed class TrainingSet
{
    private const int W = FeatureSpec.WindowLength;
    private const int MaxRejectedKept = 1000;

    private float[] _vectors;
    private int[] _windowRows;
    private byte[] _realSteps;
    private sbyte[] _labels;
    private long[] _eventTimes;
    private string[] _cardIds;
    private string[] _transactionIds;
    private string?[] _scenarios;
    private readonly List<RejectedRow> _rejected = [];

    private TrainingSet(FeatureSpec spec, int capacity)
    {
        Spec = spec;
        Dimension = spec.Dimension;
        capacity = Math.Max(capacity, 16);
        _vectors = new float[capacity * Dimension];
        _windowRows = new int[capacity * W];
        _realSteps = new byte[capacity];
        _labels = new sbyte[capacity];
        _eventTimes = new long[capacity];
        _cardIds = new string[capacity];
        _transactionIds = new string[capacity];
        _scenarios = new string?[capacity];
    }

    /// <summary>The spec the vectors were computed with.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>Floats per vector.</summary>
    public int Dimension { get; }

    /// <summary>Rows (applied transactions).</summary>
    public int Count { get; private set; }

    /// <summary>Source transactions read, including skipped ones.</summary>
    public long SourceRows { get; private set; }

    /// <summary>Source transactions skipped as duplicates (same transaction id within the card's window).</summary>
    public long Duplicates { get; private set; }

    /// <summary>Source transactions skipped as invalid.</summary>
    public long InvalidCount { get; private set; }

    /// <summary>The first 1,000 invalid source rows with their reasons.</summary>
    public IReadOnlyList<RejectedRow> Rejected => _rejected;

    /// <summary>What the labels did while the set was built (null when built without labels).</summary>
    public LabelSummary? LabelStats { get; private set; }

    /// <summary>Distinct cards.</summary>
    public int CardCount { get; private set; }

    /// <summary>Row-major vectors, <see cref="Count"/> × <see cref="Dimension"/> (row i is the last step of its window).</summary>
    public ReadOnlySpan<float> Vectors => _vectors.AsSpan(0, Count * Dimension);

    /// <summary>Per row, 7 row numbers (oldest step first) into <see cref="Vectors"/>; -1 marks left padding.</summary>
    public ReadOnlySpan<int> WindowRows => _windowRows.AsSpan(0, Count * W);

    /// <summary>Per row, the count of real steps in its window (1..7).</summary>
    public ReadOnlySpan<byte> RealSteps => _realSteps.AsSpan(0, Count);

    /// <summary>Per row, 1 = fraud, 0 = legitimate, -1 = unlabelled.</summary>
    public ReadOnlySpan<sbyte> Labels => _labels.AsSpan(0, Count);

    /// <summary>Per row, event time in Unix ms.</summary>
    public ReadOnlySpan<long> EventTimesMs => _eventTimes.AsSpan(0, Count);

    /// <summary>Per row, card id.</summary>
    public ReadOnlySpan<string> CardIds => _cardIds.AsSpan(0, Count);

    /// <summary>Per row, transaction id.</summary>
    public ReadOnlySpan<string> TransactionIds => _transactionIds.AsSpan(0, Count);

    /// <summary>Per row, fraud scenario (null when none).</summary>
    public ReadOnlySpan<string?> Scenarios => _scenarios.AsSpan(0, Count);

    /// <summary>The vector of <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Vector(int row) => _vectors.AsSpan(CheckRow(row) * Dimension, Dimension);

    /// <summary>Writes the window of <paramref name="row"/> (7 × dimension floats, left-padded with zeros).</summary>
    public void CopyWindow(int row, Span<float> destination)
    {
        CheckRow(row);
        var d = Dimension;
        if (destination.Length < W * d)
        {
            throw new ArgumentException($"The destination holds {destination.Length} floats; a window is {W * d}.", nameof(destination));
        }

        for (var k = 0; k < W; k++)
        {
            var source = _windowRows[(row * W) + k];
            var step = destination.Slice(k * d, d);
            if (source < 0)
            {
                step.Clear();
            }
            else
            {
                _vectors.AsSpan(source * d, d).CopyTo(step);
            }
        }
    }

    /// <summary>Writes the windows of rows <paramref name="start"/> .. start+count-1 back to back (a batch tensor).</summary>
    public void CopyWindows(int start, int count, Span<float> destination)
    {
        var size = W * Dimension;
        if (count < 0 || destination.Length < count * size)
        {
            throw new ArgumentException($"The destination must hold {count} windows of {size} floats.", nameof(destination));
        }

        for (var i = 0; i < count; i++)
        {
            CopyWindow(start + i, destination.Slice(i * size, size));
        }
    }

    /// <summary>
    /// Streams <paramref name="transactions"/> (arrival / event-time order) through an <see cref="OfflineFeaturizer"/>
    /// and collects every applied row. <paramref name="capacity"/> pre-sizes the arrays (e.g. the row count).
    /// </summary>
    public static TrainingSet Build(FeatureSpec spec, IEnumerable<Transaction> transactions, int capacity = 0) =>
        Build(spec, transactions, null, capacity);

    /// <summary>
    /// As <see cref="Build(FeatureSpec, IEnumerable{Transaction}, int)"/>, with labels: before each transaction every
    /// label of <paramref name="labels"/> whose label time is before its event time is applied (the scorer's label
    /// rules), so each row sees exactly the labels known when it happened — never its own, never one from its future.
    /// A simulated feed labels each applied fraud after its delay.
    /// </summary>
    public static TrainingSet Build(FeatureSpec spec, IEnumerable<Transaction> transactions, LabelFeed? labels, int capacity = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(transactions);
        var set = new TrainingSet(spec, capacity);
        var featurizer = new OfflineFeaturizer(spec);
        var window = new float[spec.WindowSize];
        Span<int> rows = stackalloc int[W];
        var d = spec.Dimension;
        foreach (var tx in transactions)
        {
            if (labels is not null)
            {
                while (labels.TryTakeDue(tx.EventTimeMs, out var label))
                {
                    featurizer.ApplyLabel(label);
                }
            }

            var result = featurizer.Apply(tx, window, rows);
            if (result.IsApplied)
            {
                labels?.Observe(tx);
            }

            if (result.IsRejected)
            {
                if (set._rejected.Count < MaxRejectedKept)
                {
                    set._rejected.Add(new RejectedRow(featurizer.Seen - 1, tx.TransactionId, tx.CardId, result.Error!));
                }

                continue;
            }

            if (!result.IsApplied)
            {
                continue;
            }

            var i = set.Count;
            set.EnsureCapacity(i + 1);
            window.AsSpan((W - 1) * d, d).CopyTo(set._vectors.AsSpan(i * d, d));
            rows.CopyTo(set._windowRows.AsSpan(i * W, W));
            set._realSteps[i] = (byte)result.RealSteps;
            set._labels[i] = tx.IsFraud switch { true => 1, false => 0, null => -1 };
            set._eventTimes[i] = tx.EventTimeMs;
            set._cardIds[i] = tx.CardId;
            set._transactionIds[i] = tx.TransactionId;
            set._scenarios[i] = tx.FraudScenario;
            set.Count = i + 1;
        }

        set.SourceRows = featurizer.Seen;
        set.Duplicates = featurizer.Duplicates;
        set.InvalidCount = featurizer.Invalid;
        set.CardCount = featurizer.CardCount;
        set.LabelStats = labels is null ? null : LabelSummary.From(featurizer.Risk, labels);
        return set;
    }

    private int CheckRow(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        return row;
    }

    private void EnsureCapacity(int rows)
    {
        if (rows <= _realSteps.Length)
        {
            return;
        }

        var n = (int)Math.Min(Math.Max((long)_realSteps.Length * 2, rows), Array.MaxLength / Math.Max(W, Dimension));
        Array.Resize(ref _vectors, n * Dimension);
        Array.Resize(ref _windowRows, n * W);
        Array.Resize(ref _realSteps, n);
        Array.Resize(ref _labels, n);
        Array.Resize(ref _eventTimes, n);
        Array.Resize(ref _cardIds, n);
        Array.Resize(ref _transactionIds, n);
        Array.Resize(ref _scenarios, n);
    }
}

/// <summary>A source row the featurizer rejected.</summary>
/// <param name="SourceIndex">0-based index of the row in the source stream.</param>
/// <param name="TransactionId">Its transaction id.</param>
/// <param name="CardId">Its card id.</param>
/// <param name="Reason">Why it is invalid.</param>
public sealed record RejectedRow(long SourceIndex, string TransactionId, string CardId, string Reason);

/// <summary>What the labels of a training replay did.</summary>
/// <param name="Source">Where they came from: a file, or the simulated delay's description.</param>
/// <param name="Offered">Labels handed to the featurizer (label time before the last transaction).</param>
/// <param name="NotReached">Labels whose label time is after the last transaction (they changed no row).</param>
/// <param name="Applied">First verdicts.</param>
/// <param name="Flipped">Verdicts that changed.</param>
/// <param name="Duplicates">The recorded verdict again.</param>
/// <param name="Superseded">Older than the recorded verdict.</param>
/// <param name="Stale">For transactions more than 30 days older than the label.</param>
/// <param name="Conflicting">Same transaction id with another card, merchant or event time.</param>
/// <param name="Invalid">Bad labels.</param>
public sealed record LabelSummary(
    string Source, long Offered, long NotReached, long Applied, long Flipped, long Duplicates, long Superseded, long Stale, long Conflicting, long Invalid)
{
    internal static LabelSummary From(RiskBook risk, LabelFeed feed) => new(
        feed.Delay is { } delay ? $"simulated: {delay.Description} (--label-delay {delay.Text})" : "file",
        feed.Delivered,
        feed.Pending,
        risk.Count(LabelOutcome.Applied),
        risk.Count(LabelOutcome.Flipped),
        risk.Count(LabelOutcome.Duplicate),
        risk.Count(LabelOutcome.Superseded),
        risk.Count(LabelOutcome.Stale),
        risk.Count(LabelOutcome.Conflicting),
        risk.Count(LabelOutcome.Invalid));
}
