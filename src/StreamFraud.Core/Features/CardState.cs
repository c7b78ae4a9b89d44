using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamFraud.Core.Features;

/// <summary>
/// One card's feature state: its last <see cref="FeatureSpec.WindowLength"/> applied transactions (id hash, event
/// time, source position, feature vector) in arrival order, the source-position high watermark, and the spec's
/// O(1) running aggregates. Serialises to one compact, canonical binary value (the Redis value of the card).
/// </summary>
/// <remarks>
/// <para>Hot-path use (scorer, one instance per worker, reused for every event):
/// <see cref="Load"/> the stored bytes → <see cref="TryApply"/> the event at its Kafka position, writing the window
/// straight into the model's input buffer → if applied, <see cref="Write"/> the new bytes into a reusable buffer.
/// None of these allocate.</para>
/// <para>Idempotence: an event is a duplicate — and the state is left exactly as it was, so it re-serialises to the
/// same bytes — if its position has the same partition as the high watermark and an offset at or below it, or if its
/// transaction id is in the window. Out-of-order events are appended in arrival order (rule in <c>FEATURES.md</c>).</para>
/// <para>Not thread-safe.</para>
/// </remarks>
public sealed class CardState
{
    /// <summary>Bytes of the serialised header.</summary>
    internal const int HeaderSize = 24;

    /// <summary>Bytes of a serialised window entry before its vector: id hash, event time, offset, partition.</summary>
    internal const int EntryHeaderSize = 28;

    /// <summary>Seed of the transaction-id hash ("txn-id" in ASCII).</summary>
    internal const ulong TransactionIdSeed = 0x64692D6E7874UL;

    private const int W = FeatureSpec.WindowLength;

    private readonly int _dim;
    // Entry metadata inline in this object and the vectors in one array: a card's state is three heap objects
    // (this, the vectors, the aggregates), which matters offline where states of many cards miss the cache.
    private EntryMetaArray _entries;
    private readonly float[] _vectors;
    private int _head;
    private int _count;
    private uint _applied;
    private int _highPartition = -1;
    private long _highOffset = -1;

    /// <summary>A fresh (empty) state for <paramref name="spec"/>.</summary>
    public CardState(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _dim = spec.Dimension;
        _vectors = new float[W * _dim];
        Aggregates = spec.CreateAggregates();
    }

    /// <summary>The spec this state belongs to.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>Transactions in the window (0..7).</summary>
    public int Count => _count;

    /// <summary>Transactions ever applied to this card (saturates at <see cref="uint.MaxValue"/>).</summary>
    public long AppliedCount => _applied;

    /// <summary>Partition and highest offset applied from it, or <see cref="SourcePosition.None"/>.</summary>
    public SourcePosition HighWatermark => new(_highPartition, _highOffset);

    /// <summary>Bytes <see cref="Write"/> produces for the current contents.</summary>
    public int SerializedSize => HeaderSize + (_count * Spec.EntrySize) + Spec.AggregateSize;

    /// <summary>The spec's running aggregates (null for specs without any).</summary>
    internal CardAggregates? Aggregates { get; }

    /// <summary>The hash under which a transaction id is kept in the window (seeded <see cref="StableHash"/>).</summary>
    public static ulong TransactionIdHash(string transactionId) => StableHash.Hash(TransactionIdSeed, transactionId);

    /// <summary>Forgets everything: the state of a card never seen.</summary>
    public void Reset()
    {
        _head = 0;
        _count = 0;
        _applied = 0;
        _highPartition = -1;
        _highOffset = -1;
        Array.Clear(_vectors);
        ((Span<EntryMeta>)_entries).Clear();
        Aggregates?.Reset();
    }

    /// <summary>One window entry; 0 is the oldest, <see cref="Count"/>-1 the newest.</summary>
    public WindowEntry GetEntry(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        ref readonly var e = ref _entries[Slot(index)];
        return new WindowEntry(e.Id, e.Time, new SourcePosition(e.Partition, e.Offset));
    }

    /// <summary>The feature vector of window entry <paramref name="index"/> (0 = oldest).</summary>
    public ReadOnlySpan<float> GetVector(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        return _vectors.AsSpan(Slot(index) * _dim, _dim);
    }

    /// <summary>
    /// Writes the current window (7 × dimension floats, oldest first, left-padded with zeros) into
    /// <paramref name="window"/> and returns the number of real steps.
    /// </summary>
    public int CopyWindow(Span<float> window)
    {
        CheckWindow(window);
        WriteWindow(window, _count);
        return _count;
    }

    /// <summary>
    /// Applies one event read at <paramref name="position"/>. When applied, the event's window (the previous entries
    /// plus its new vector, left-padded with zeros) is written to <paramref name="window"/> (at least
    /// <see cref="FeatureSpec.WindowSize"/> floats; its last <see cref="FeatureSpec.Dimension"/> floats are the new
    /// vector). A duplicate leaves the state untouched and, when the transaction is still in the window, writes the
    /// window it had (see <see cref="ApplyResult.RealSteps"/>); an invalid event leaves the state untouched and the
    /// buffer's contents unspecified.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="window"/> is shorter than the spec's window.</exception>
    public ApplyResult TryApply(Transaction tx, SourcePosition position, Span<float> window)
    {
        ArgumentNullException.ThrowIfNull(tx);
        CheckWindow(window);

        var idHash = TransactionIdHash(tx.TransactionId);
        var found = -1;
        for (var i = _count - 1; i >= 0; i--)
        {
            if (_entries[Slot(i)].Id == idHash)
            {
                found = i;
                break;
            }
        }

        if (position.IsKnown && position.Partition == _highPartition && position.Offset <= _highOffset)
        {
            return Duplicate(ApplyStatus.DuplicatePosition, found, window);
        }

        if (found >= 0)
        {
            return Duplicate(ApplyStatus.DuplicateTransactionId, found, window);
        }

        // Computed straight into the window's last step; Featurize validates before it mutates anything.
        var vector = window.Slice((W - 1) * _dim, _dim);
        var error = Spec.Featurize(this, tx, vector);
        if (error is not null)
        {
            return new ApplyResult(ApplyStatus.Invalid, 0, false, error);
        }

        int slot;
        if (_count < W)
        {
            slot = Slot(_count);
            _count++;
        }
        else
        {
            slot = _head;
            _head = _head == W - 1 ? 0 : _head + 1;
        }

        _entries[slot] = new EntryMeta(
            idHash, tx.EventTimeMs, position.IsKnown ? position.Offset : -1, position.IsKnown ? position.Partition : -1);
        vector.CopyTo(_vectors.AsSpan(slot * _dim, _dim));
        if (position.IsKnown)
        {
            _highPartition = position.Partition;
            _highOffset = position.Offset;
        }

        if (_applied != uint.MaxValue)
        {
            _applied++;
        }

        WriteWindow(window, _count);
        return new ApplyResult(ApplyStatus.Applied, _count, true, null);
    }

    /// <summary>Serialises the state into <paramref name="destination"/>; returns the bytes written (<see cref="SerializedSize"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public int Write(Span<byte> destination)
    {
        var size = SerializedSize;
        if (destination.Length < size)
        {
            ThrowTooSmall(size, destination.Length);
        }

        var d = destination;
        d[0] = FeatureSpec.StateFormatVersion;
        d[1] = (byte)_count;
        BinaryPrimitives.WriteUInt16LittleEndian(d[2..], (ushort)_dim);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Spec.Fingerprint);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], _applied);
        BinaryPrimitives.WriteInt32LittleEndian(d[12..], _highPartition);
        BinaryPrimitives.WriteInt64LittleEndian(d[16..], _highOffset);
        var p = HeaderSize;
        for (var i = 0; i < _count; i++)
        {
            var slot = Slot(i);
            ref readonly var e = ref _entries[slot];
            BinaryPrimitives.WriteUInt64LittleEndian(d[p..], e.Id);
            BinaryPrimitives.WriteInt64LittleEndian(d[(p + 8)..], e.Time);
            BinaryPrimitives.WriteInt64LittleEndian(d[(p + 16)..], e.Offset);
            BinaryPrimitives.WriteInt32LittleEndian(d[(p + 24)..], e.Partition);
            p += EntryHeaderSize;
            WriteFloats(_vectors.AsSpan(slot * _dim, _dim), d.Slice(p, 4 * _dim));
            p += 4 * _dim;
        }

        Aggregates?.Write(d.Slice(p, Spec.AggregateSize));
        return size;
    }

    /// <summary>The serialised state as a new array (convenience; the hot path uses <see cref="Write"/>).</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[SerializedSize];
        Write(bytes);
        return bytes;
    }

    /// <summary>
    /// Replaces this state with the one serialised in <paramref name="data"/>. Empty data is a fresh card. On
    /// <see cref="StateLoadStatus.SpecMismatch"/> or <see cref="StateLoadStatus.Corrupt"/> the state is reset to fresh.
    /// A loaded state re-serialises to exactly <paramref name="data"/>.
    /// </summary>
    public StateLoadStatus Load(ReadOnlySpan<byte> data)
    {
        Reset();
        if (data.IsEmpty)
        {
            return StateLoadStatus.Empty;
        }

        if (data.Length < HeaderSize || data[0] != FeatureSpec.StateFormatVersion)
        {
            return StateLoadStatus.Corrupt;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) != _dim ||
            BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) != Spec.Fingerprint)
        {
            return StateLoadStatus.SpecMismatch;
        }

        int count = data[1];
        var applied = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        var highPartition = BinaryPrimitives.ReadInt32LittleEndian(data[12..]);
        var highOffset = BinaryPrimitives.ReadInt64LittleEndian(data[16..]);
        var positionOk = highPartition == -1 ? highOffset == -1 : highPartition >= 0 && highOffset >= 0;
        if (count > W || applied < count || !positionOk ||
            data.Length != HeaderSize + (count * Spec.EntrySize) + Spec.AggregateSize)
        {
            return StateLoadStatus.Corrupt;
        }

        var p = HeaderSize;
        for (var i = 0; i < count; i++)
        {
            _entries[i] = new EntryMeta(
                BinaryPrimitives.ReadUInt64LittleEndian(data[p..]),
                BinaryPrimitives.ReadInt64LittleEndian(data[(p + 8)..]),
                BinaryPrimitives.ReadInt64LittleEndian(data[(p + 16)..]),
                BinaryPrimitives.ReadInt32LittleEndian(data[(p + 24)..]));
            p += EntryHeaderSize;
            ReadFloats(data.Slice(p, 4 * _dim), _vectors.AsSpan(i * _dim, _dim));
            p += 4 * _dim;
        }

        if (Aggregates is not null && !Aggregates.TryRead(data.Slice(p, Spec.AggregateSize)))
        {
            Reset();
            return StateLoadStatus.Corrupt;
        }

        _count = count;
        _applied = applied;
        _highPartition = highPartition;
        _highOffset = highOffset;
        return StateLoadStatus.Loaded;
    }

    /// <summary>Event time of the <paramref name="back"/>-th newest entry (0 = newest); requires back &lt; Count.</summary>
    internal long EntryTimeFromNewest(int back) => _entries[Slot(_count - 1 - back)].Time;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(int index)
    {
        var s = _head + index;
        return s >= W ? s - W : s;
    }

    private ApplyResult Duplicate(ApplyStatus status, int found, Span<float> window)
    {
        if (found < 0)
        {
            return new ApplyResult(status, 0, false, null);
        }

        // Entry `found` was the (applied - count + found + 1)-th event of the card; its window then held that many
        // steps, up to 7. Entries older than the window's oldest are gone, so the recovery may be partial.
        var steps = found + 1;
        var original = Math.Min(W, (long)_applied - _count + found + 1);
        WriteWindow(window, steps);
        return new ApplyResult(status, steps, steps == original, null);
    }

    /// <summary>Window whose newest step is logical entry <paramref name="steps"/>-1, left-padded with zeros.</summary>
    private void WriteWindow(Span<float> window, int steps)
    {
        var pad = W - steps;
        window[..(pad * _dim)].Clear();
        for (var i = 0; i < steps; i++)
        {
            _vectors.AsSpan(Slot(i) * _dim, _dim).CopyTo(window.Slice((pad + i) * _dim, _dim));
        }
    }

    private void CheckWindow(Span<float> window)
    {
        if (window.Length < W * _dim)
        {
            ThrowWindowTooSmall(W * _dim, window.Length);
        }
    }

    private static void WriteFloats(ReadOnlySpan<float> source, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(source).CopyTo(destination);
            return;
        }

        for (var i = 0; i < source.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], source[i]);
        }
    }

    private static void ReadFloats(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
        }
    }

    [DoesNotReturn]
    private static void ThrowWindowTooSmall(int needed, int actual) =>
        throw new ArgumentException($"The window buffer holds {actual} floats; the spec needs {needed} (7 × dimension).", "window");

    [DoesNotReturn]
    private static void ThrowTooSmall(int needed, int actual) =>
        throw new ArgumentException($"The destination holds {actual} bytes; the state needs {needed}.", "destination");
}

/// <summary>In-memory metadata of a window entry (serialised as id, time, offset, partition).</summary>
internal readonly record struct EntryMeta(ulong Id, long Time, long Offset, int Partition);

/// <summary>Fixed storage for the 7 entries, inline in <see cref="CardState"/>.</summary>
[InlineArray(FeatureSpec.WindowLength)]
internal struct EntryMetaArray
{
    private EntryMeta _element0;
}

/// <summary>Metadata of one window entry (its vector: <see cref="CardState.GetVector"/>).</summary>
/// <param name="TransactionIdHash">Seeded stable hash of the transaction id (<see cref="CardState.TransactionIdHash"/>).</param>
/// <param name="EventTimeMs">Event time, Unix ms.</param>
/// <param name="Position">Where it was read from (<see cref="SourcePosition.None"/> when unknown).</param>
public readonly record struct WindowEntry(ulong TransactionIdHash, long EventTimeMs, SourcePosition Position);

/// <summary>A spec's O(1) running per-card aggregates, serialised after the window entries.</summary>
internal abstract class CardAggregates
{
    /// <summary>Back to the aggregates of a card never seen.</summary>
    public abstract void Reset();

    /// <summary>Writes exactly the spec's <see cref="FeatureSpec.AggregateSize"/> bytes.</summary>
    public abstract void Write(Span<byte> destination);

    /// <summary>Reads what <see cref="Write"/> wrote; false when the bytes cannot be a valid state.</summary>
    public abstract bool TryRead(ReadOnlySpan<byte> source);
}
