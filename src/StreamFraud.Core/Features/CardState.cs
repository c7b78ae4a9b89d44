using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// One card's feature state: its last <see cref="FeatureSpec.WindowLength"/> applied transactions (id hash, content
/// hash, event time, source position, feature vector) in arrival order, the source-position high watermark, and the
/// spec's O(1) running aggregates. Serialises to one compact, canonical binary value (the Redis value of the card).
/// </summary>
/// <remarks>
/// <para>Hot-path use (scorer, one instance per worker, reused for every event):
/// <see cref="Load"/> the stored bytes → <see cref="TryApply(Transaction, SourcePosition, Span{float})"/> the event at its Kafka position, writing the window
/// straight into the model's input buffer → if applied, <see cref="Write"/> the new bytes into a reusable buffer.
/// None of these allocate.</para>
/// <para>Idempotence: an event is a duplicate — and the state is left exactly as it was — if its position has the same
/// source and partition as the high watermark and an offset at or below it, or if its transaction id is in the window
/// with the same content. The same id with other content is <see cref="ApplyStatus.ConflictingTransactionId"/>.
/// Out-of-order events are appended in arrival order (rules in <c>FEATURES.md</c>).</para>
/// <para>Not thread-safe.</para>
/// </remarks>
public sealed class CardState
{
    /// <summary>Bytes of the serialised header (format 2).</summary>
    internal const int HeaderSize = 28;

    /// <summary>Bytes of a serialised window entry before its vector (format 2): id hash, content hash, event time, offset, partition, source.</summary>
    internal const int EntryHeaderSize = 40;

    /// <summary>Bytes of the format-1 header (read only).</summary>
    internal const int HeaderSizeV1 = 24;

    /// <summary>Bytes of a format-1 entry before its vector: id hash, event time, offset, partition (read only).</summary>
    internal const int EntryHeaderSizeV1 = 28;

    /// <summary>Seed of the transaction-id hash ("txn-id" in ASCII).</summary>
    internal const ulong TransactionIdSeed = 0x64692D6E7874UL;

    /// <summary>Seed of the transaction-content hash ("content" in ASCII).</summary>
    internal const ulong ContentSeed = 0x746E65746E6F63UL;

    /// <summary>The content hash of an entry read from format 1, which kept none: matches any content.</summary>
    internal const ulong UnknownContent = 0;

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
    private uint _highSource = SourcePosition.UnknownSource;

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

    /// <summary>
    /// Source, partition and highest offset applied from it, or <see cref="SourcePosition.None"/>. After loading a
    /// format-1 state its source is <see cref="SourcePosition.UnknownSource"/> until the next positioned event.
    /// </summary>
    public SourcePosition HighWatermark => new(_highPartition, _highOffset, _highSource);

    /// <summary>Bytes <see cref="Write"/> produces for the current contents.</summary>
    public int SerializedSize => HeaderSize + (_count * Spec.EntrySize) + Spec.AggregateSize;

    /// <summary>The spec's running aggregates (null for specs without any).</summary>
    internal CardAggregates? Aggregates { get; }

    /// <summary>The hash under which a transaction id is kept in the window (seeded <see cref="StableHash"/>).</summary>
    public static ulong TransactionIdHash(string transactionId) => StableHash.Hash(TransactionIdSeed, transactionId);

    /// <summary>
    /// Hash of what a transaction says, apart from its ids and labels: amount, merchant, currency, event time, MCC,
    /// country, channel and features (every input a feature spec reads). Two events with one transaction id and
    /// different content hashes are two transactions. Never <see cref="UnknownContent"/>; allocation-free.
    /// </summary>
    public static ulong TransactionContentHash(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        var amount = tx.Amount == 0 ? 0.0 : tx.Amount; // -0 and +0 are one amount
        var h = StableHash.Mix(ContentSeed ^ (ulong)BitConverter.DoubleToInt64Bits(amount));
        h = StableHash.Mix(h ^ (ulong)tx.EventTimeMs);
        h = StableHash.Mix(h ^ StableHash.Hash(1, tx.MerchantId));
        h = StableHash.Mix(h ^ StableHash.Hash(2, tx.Currency));
        h = StableHash.Mix(h ^ StableHash.Hash(3, tx.Mcc));
        h = StableHash.Mix(h ^ StableHash.Hash(4, tx.Country));
        h = StableHash.Mix(h ^ StableHash.Hash(5, tx.Channel));
        if (tx.Features is { } f)
        {
            var fh = StableHash.FnvOffsetBasis ^ (ulong)f.Length;
            foreach (var x in f)
            {
                fh = (fh ^ BitConverter.SingleToUInt32Bits(x)) * StableHash.FnvPrime;
            }

            h = StableHash.Mix(h ^ fh);
        }
        else
        {
            h = StableHash.Mix(h ^ 0x6E756C6CUL); // "null": no features differs from an empty array
        }

        return h == UnknownContent ? 1UL : h;
    }

    /// <summary>Forgets everything: the state of a card never seen.</summary>
    public void Reset()
    {
        _head = 0;
        _count = 0;
        _applied = 0;
        _highPartition = -1;
        _highOffset = -1;
        _highSource = SourcePosition.UnknownSource;
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
        return new WindowEntry(e.Id, e.Time, new SourcePosition(e.Partition, e.Offset, e.Source), e.Content);
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
    public ApplyResult TryApply(Transaction tx, SourcePosition position, Span<float> window) =>
        TryApply(tx, position, window, null, null);

    /// <summary>
    /// As <see cref="TryApply(Transaction, SourcePosition, Span{float})"/>, for a spec that
    /// <see cref="FeatureSpec.UsesEntityRisk"/>: <paramref name="merchant"/> and <paramref name="card"/> are the
    /// transaction's merchant and card risk rings as they are before it (null: no history). The caller counts an applied
    /// transaction on them afterwards.
    /// </summary>
    public ApplyResult TryApply(Transaction tx, SourcePosition position, Span<float> window, RiskRing? merchant, RiskRing? card)
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

        if (position.IsAtOrBelow(HighWatermark))
        {
            return Duplicate(ApplyStatus.DuplicatePosition, found, window);
        }

        var content = TransactionContentHash(tx);
        if (found >= 0)
        {
            var stored = _entries[Slot(found)].Content;
            if (stored == UnknownContent || stored == content)
            {
                return Duplicate(ApplyStatus.DuplicateTransactionId, found, window);
            }

            return new ApplyResult(ApplyStatus.ConflictingTransactionId, 0, false, ConflictReason(tx.TransactionId));
        }

        var idError = TransactionLimits.Check(tx);
        if (idError is not null)
        {
            return new ApplyResult(ApplyStatus.Invalid, 0, false, idError);
        }

        // Computed straight into the window's last step; Featurize validates before it mutates anything.
        var vector = window.Slice((W - 1) * _dim, _dim);
        var error = Spec.Featurize(this, tx, merchant, card, vector);
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

        var known = position.IsKnown;
        _entries[slot] = new EntryMeta(
            idHash, content, tx.EventTimeMs, known ? position.Offset : -1, known ? position.Partition : -1,
            known ? position.Source : SourcePosition.UnknownSource);
        vector.CopyTo(_vectors.AsSpan(slot * _dim, _dim));
        if (known)
        {
            _highPartition = position.Partition;
            _highOffset = position.Offset;
            _highSource = position.Source;
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
        BinaryPrimitives.WriteUInt32LittleEndian(d[24..], _highSource);
        var p = HeaderSize;
        for (var i = 0; i < _count; i++)
        {
            var slot = Slot(i);
            ref readonly var e = ref _entries[slot];
            BinaryPrimitives.WriteUInt64LittleEndian(d[p..], e.Id);
            BinaryPrimitives.WriteUInt64LittleEndian(d[(p + 8)..], e.Content);
            BinaryPrimitives.WriteInt64LittleEndian(d[(p + 16)..], e.Time);
            BinaryPrimitives.WriteInt64LittleEndian(d[(p + 24)..], e.Offset);
            BinaryPrimitives.WriteInt32LittleEndian(d[(p + 32)..], e.Partition);
            BinaryPrimitives.WriteUInt32LittleEndian(d[(p + 36)..], e.Source);
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
    /// Replaces this state with the one serialised in <paramref name="data"/> (format 2, or format 1 from before
    /// source identities: its watermark and entries then have <see cref="SourcePosition.UnknownSource"/> and its
    /// entries no content hash). Empty data is a fresh card. On <see cref="StateLoadStatus.SpecMismatch"/> or
    /// <see cref="StateLoadStatus.Corrupt"/> the state is reset to fresh. A loaded format-2 state re-serialises to
    /// exactly <paramref name="data"/>; a format-1 state re-serialises in format 2.
    /// </summary>
    public StateLoadStatus Load(ReadOnlySpan<byte> data)
    {
        Reset();
        if (data.IsEmpty)
        {
            return StateLoadStatus.Empty;
        }

        var legacy = data[0] == 1;
        var headerSize = legacy ? HeaderSizeV1 : HeaderSize;
        var entryHeaderSize = legacy ? EntryHeaderSizeV1 : EntryHeaderSize;
        if ((!legacy && data[0] != FeatureSpec.StateFormatVersion) || data.Length < headerSize)
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
        var highSource = legacy ? SourcePosition.UnknownSource : BinaryPrimitives.ReadUInt32LittleEndian(data[24..]);
        // No watermark: partition, offset and source all unset. A format-1 watermark loads with an unknown source
        // (kept as such until the next positioned event), so format 2 allows a known partition with source 0.
        var positionOk = highPartition == -1
            ? highOffset == -1 && highSource == SourcePosition.UnknownSource
            : highPartition >= 0 && highOffset >= 0;
        if (count > W || applied < count || !positionOk ||
            data.Length != headerSize + (count * (entryHeaderSize + (4 * _dim))) + Spec.AggregateSize)
        {
            return StateLoadStatus.Corrupt;
        }

        var p = headerSize;
        for (var i = 0; i < count; i++)
        {
            _entries[i] = legacy
                ? new EntryMeta(
                    BinaryPrimitives.ReadUInt64LittleEndian(data[p..]),
                    UnknownContent,
                    BinaryPrimitives.ReadInt64LittleEndian(data[(p + 8)..]),
                    BinaryPrimitives.ReadInt64LittleEndian(data[(p + 16)..]),
                    BinaryPrimitives.ReadInt32LittleEndian(data[(p + 24)..]),
                    SourcePosition.UnknownSource)
                : new EntryMeta(
                    BinaryPrimitives.ReadUInt64LittleEndian(data[p..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(data[(p + 8)..]),
                    BinaryPrimitives.ReadInt64LittleEndian(data[(p + 16)..]),
                    BinaryPrimitives.ReadInt64LittleEndian(data[(p + 24)..]),
                    BinaryPrimitives.ReadInt32LittleEndian(data[(p + 32)..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 36)..]));
            p += entryHeaderSize;
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
        _highSource = highSource;
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

    private static string ConflictReason(string transactionId) =>
        $"transaction_id '{transactionId}' was already applied to this card with different content (amount, merchant, currency, " +
        "event_time, mcc, country, channel or features differ); the first version is kept. A transaction id must name one " +
        "transaction: fix the producer that reuses it, and send a correction under a new transaction id";

    [DoesNotReturn]
    private static void ThrowWindowTooSmall(int needed, int actual) =>
        throw new ArgumentException($"The window buffer holds {actual} floats; the spec needs {needed} (7 × dimension).", "window");

    [DoesNotReturn]
    private static void ThrowTooSmall(int needed, int actual) =>
        throw new ArgumentException($"The destination holds {actual} bytes; the state needs {needed}.", "destination");
}

/// <summary>In-memory metadata of a window entry (serialised as id, content, time, offset, partition, source).</summary>
internal readonly record struct EntryMeta(ulong Id, ulong Content, long Time, long Offset, int Partition, uint Source);

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
/// <param name="ContentHash">
/// <see cref="CardState.TransactionContentHash"/> of the transaction, or 0 for an entry loaded from state format 1.
/// </param>
public readonly record struct WindowEntry(ulong TransactionIdHash, long EventTimeMs, SourcePosition Position, ulong ContentHash);

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
