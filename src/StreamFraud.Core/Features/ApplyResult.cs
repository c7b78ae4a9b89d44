namespace StreamFraud.Core.Features;

/// <summary>
/// Where an event was read from: the source (a topic, identified by a 32-bit hash of its source id), the partition and
/// the offset. Offline, <see cref="Offline"/>: the fixed source <see cref="OfflineSource"/>, partition 0 and the row.
/// </summary>
/// <param name="Partition">Source partition, ≥ 0.</param>
/// <param name="Offset">Source offset, ≥ 0; a negative offset means "unknown" and disables the position check.</param>
/// <param name="Source">
/// <see cref="SourceHash"/> of the source id (the scorer: the input topic name, plus <c>Scorer:SourceId</c> when set);
/// <see cref="UnknownSource"/> (0) disables the position check. Offsets of different sources are unrelated, so the
/// position rule only compares positions of the same source.
/// </param>
public readonly record struct SourcePosition(int Partition, long Offset, uint Source)
{
    /// <summary>No source identity: positions with it never take part in the position rule.</summary>
    public const uint UnknownSource = 0;

    /// <summary>Seed of the source-id hash ("source" in ASCII).</summary>
    internal const ulong SourceSeed = 0x656372756F73UL;

    /// <summary>The fixed source of offline paths (trainer, CSV replay): <see cref="SourceHash"/> of <c>"offline"</c>.</summary>
    public static readonly uint OfflineSource = SourceHash("offline");

    /// <summary>No known position: only the transaction-id rule can detect a duplicate.</summary>
    public static SourcePosition None => new(-1, -1, UnknownSource);

    /// <summary>Whether the position takes part in duplicate detection (partition and offset ≥ 0, a known source).</summary>
    public bool IsKnown => Partition >= 0 && Offset >= 0 && Source != UnknownSource;

    /// <summary>
    /// The 32-bit identity of a source id: the two halves of its seeded <see cref="StableHash"/> XORed, never
    /// <see cref="UnknownSource"/>. The same on every machine and run.
    /// </summary>
    public static uint SourceHash(string sourceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceId);
        var h = StableHash.Hash(SourceSeed, sourceId);
        var s = (uint)(h ^ (h >> 32));
        return s == UnknownSource ? 1u : s;
    }

    /// <summary>Row <paramref name="row"/> of an offline source: (0, row) in <see cref="OfflineSource"/>.</summary>
    public static SourcePosition Offline(long row) => new(0, row, OfflineSource);

    /// <summary>
    /// Whether this position is at or below <paramref name="watermark"/>: both known, same source, same partition,
    /// and an offset at or below the watermark's.
    /// </summary>
    public bool IsAtOrBelow(SourcePosition watermark) =>
        IsKnown && Source == watermark.Source && Partition == watermark.Partition && Offset <= watermark.Offset;
}

/// <summary>Outcome of <see cref="CardState.TryApply(Transaction, SourcePosition, Span{float})"/>.</summary>
public enum ApplyStatus
{
    /// <summary>The event was new: its vector was computed and appended; the state changed.</summary>
    Applied = 0,

    /// <summary>
    /// Already applied: same source and partition as the card's high watermark and an offset at or below it (a Kafka
    /// redelivery). The state is unchanged.
    /// </summary>
    DuplicatePosition = 1,

    /// <summary>
    /// Already applied: the transaction id is in the card's window with the same content (e.g. a producer retry), or
    /// with an entry from state format 1, which kept no content hash. State unchanged.
    /// </summary>
    DuplicateTransactionId = 2,

    /// <summary>The event cannot be featurised (see <see cref="ApplyResult.Error"/>); route it to the DLQ. State unchanged.</summary>
    Invalid = 3,

    /// <summary>
    /// The transaction id is in the card's window but the event's content (amount, merchant, currency, event time,
    /// MCC, country, channel or features) differs: two transactions share an id. Not applied (the first version is
    /// kept); route it to the DLQ (class <c>reused_transaction_id</c>, see <see cref="ApplyResult.Error"/>). State
    /// unchanged.
    /// </summary>
    ConflictingTransactionId = 4,
}

/// <summary>Result of applying one event to a card's state; a value, never an exception, on the hot path.</summary>
/// <param name="Status">What happened.</param>
/// <param name="RealSteps">
/// Real (non-padding) steps written to the caller's window: 1..7 when applied; for a duplicate whose transaction is
/// still in the window, the steps up to and including it (its window as recovered); otherwise 0 (nothing written).
/// </param>
/// <param name="WindowComplete">
/// True when the written window equals the one the event had when first applied (always for
/// <see cref="ApplyStatus.Applied"/>); false for a recovered duplicate window whose older steps were evicted since.
/// </param>
/// <param name="Error">
/// Why the event is rejected (<see cref="ApplyStatus.Invalid"/> and <see cref="ApplyStatus.ConflictingTransactionId"/>).
/// </param>
public readonly record struct ApplyResult(ApplyStatus Status, int RealSteps, bool WindowComplete, string? Error)
{
    /// <summary>The event was applied and the state changed.</summary>
    public bool IsApplied => Status == ApplyStatus.Applied;

    /// <summary>The event had been applied before; the state is unchanged.</summary>
    public bool IsDuplicate => Status is ApplyStatus.DuplicatePosition or ApplyStatus.DuplicateTransactionId;

    /// <summary>The event was refused (invalid, or a reused transaction id with other content): a DLQ case. State unchanged.</summary>
    public bool IsRejected => Status is ApplyStatus.Invalid or ApplyStatus.ConflictingTransactionId;

    /// <summary>A window was written to the caller's buffer (<see cref="RealSteps"/> &gt; 0).</summary>
    public bool HasWindow => RealSteps > 0;
}

/// <summary>Outcome of <see cref="CardState.Load"/>.</summary>
public enum StateLoadStatus
{
    /// <summary>No bytes (a card never seen, or expired): the state is fresh.</summary>
    Empty = 0,

    /// <summary>
    /// The bytes were a valid state of this spec and are now loaded (format 1 too: its watermark's and entries'
    /// source is then <see cref="SourcePosition.UnknownSource"/> and its entries have no content hash).
    /// </summary>
    Loaded = 1,

    /// <summary>
    /// A valid state written under another feature spec (dimension or content-hash fingerprint differs). The state
    /// was reset to fresh; the caller decides whether to proceed (the old history is not usable by this spec).
    /// </summary>
    SpecMismatch = 2,

    /// <summary>The bytes are not a well-formed state (truncated, bad version, trailing bytes). The state was reset.</summary>
    Corrupt = 3,
}
