namespace StreamFraud.Core.Features;

/// <summary>Where an event was read from: Kafka partition and offset (offline: partition 0 and the row index).</summary>
/// <param name="Partition">Source partition, ≥ 0.</param>
/// <param name="Offset">Source offset, ≥ 0; a negative offset means "unknown" and disables the position check.</param>
public readonly record struct SourcePosition(int Partition, long Offset)
{
    /// <summary>No known position: only the transaction-id rule can detect a duplicate.</summary>
    public static SourcePosition None => new(-1, -1);

    /// <summary>Whether the position takes part in duplicate detection (partition and offset both ≥ 0).</summary>
    public bool IsKnown => Partition >= 0 && Offset >= 0;
}

/// <summary>Outcome of <see cref="CardState.TryApply"/>.</summary>
public enum ApplyStatus
{
    /// <summary>The event was new: its vector was computed and appended; the state changed.</summary>
    Applied = 0,

    /// <summary>
    /// Already applied: same partition as the card's high watermark and an offset at or below it (a Kafka
    /// redelivery). The state is unchanged.
    /// </summary>
    DuplicatePosition = 1,

    /// <summary>Already applied: the transaction id is in the card's window (e.g. a producer retry). State unchanged.</summary>
    DuplicateTransactionId = 2,

    /// <summary>The event cannot be featurised (see <see cref="ApplyResult.Error"/>); route it to the DLQ. State unchanged.</summary>
    Invalid = 3,
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
/// <param name="Error">Why the event is invalid (<see cref="ApplyStatus.Invalid"/> only).</param>
public readonly record struct ApplyResult(ApplyStatus Status, int RealSteps, bool WindowComplete, string? Error)
{
    /// <summary>The event was applied and the state changed.</summary>
    public bool IsApplied => Status == ApplyStatus.Applied;

    /// <summary>The event had been applied before; the state is unchanged.</summary>
    public bool IsDuplicate => Status is ApplyStatus.DuplicatePosition or ApplyStatus.DuplicateTransactionId;

    /// <summary>A window was written to the caller's buffer (<see cref="RealSteps"/> &gt; 0).</summary>
    public bool HasWindow => RealSteps > 0;
}

/// <summary>Outcome of <see cref="CardState.Load"/>.</summary>
public enum StateLoadStatus
{
    /// <summary>No bytes (a card never seen, or expired): the state is fresh.</summary>
    Empty = 0,

    /// <summary>The bytes were a valid state of this spec and are now loaded.</summary>
    Loaded = 1,

    /// <summary>
    /// A valid state written under another feature spec (dimension or content-hash fingerprint differs). The state
    /// was reset to fresh; the caller decides whether to proceed (the old history is not usable by this spec).
    /// </summary>
    SpecMismatch = 2,

    /// <summary>The bytes are not a well-formed state (truncated, bad version, trailing bytes). The state was reset.</summary>
    Corrupt = 3,
}
