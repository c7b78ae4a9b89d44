using StreamFraud.Core.Features;

namespace StreamFraud.Core.Labels;

/// <summary>What applying one label did (<see cref="LabelRules.Decide"/>).</summary>
public enum LabelOutcome
{
    /// <summary>The first verdict on this transaction: a fraud verdict adds one confirmed fraud to its merchant and card.</summary>
    Applied = 0,

    /// <summary>A newer verdict that differs from the recorded one: the fraud count moves by one.</summary>
    Flipped = 1,

    /// <summary>The recorded verdict again (redelivery, or a second source agreeing): nothing is counted twice.</summary>
    Duplicate = 2,

    /// <summary>Older than the recorded verdict (or its tie-loser): ignored, the newest label wins.</summary>
    Superseded = 3,

    /// <summary>The transaction is older than <see cref="LabelRules.RetentionMs"/> at label time: no feature can see it.</summary>
    Stale = 4,

    /// <summary>Names a transaction already labelled with another card, merchant or event time: a dead letter.</summary>
    Conflicting = 5,

    /// <summary>A bad label (missing id, label before the transaction, time out of range): a dead letter.</summary>
    Invalid = 6,
}

/// <summary>The verdict recorded for one labelled transaction.</summary>
/// <param name="IsFraud">The verdict in force.</param>
/// <param name="LabelTimeMs">The newest label time seen for the transaction.</param>
/// <param name="ContentHash">Hash of the card, merchant and event time the first label named.</param>
public readonly record struct LabelRecord(bool IsFraud, long LabelTimeMs, ulong ContentHash);

/// <summary>One decision of <see cref="LabelRules.Decide"/>.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Record">The record to keep (null: keep what there is).</param>
/// <param name="FraudDelta">−1, 0 or +1 confirmed fraud for the label's merchant and card on its event day.</param>
/// <param name="Reason">Why, for dead letters and logs.</param>
public readonly record struct LabelDecision(LabelOutcome Outcome, LabelRecord? Record, int FraudDelta, string? Reason);

/// <summary>
/// The rules of confirmed-fraud labels (<c>FEATURES.md</c> "Labels"), one pure function shared by the offline
/// featurizer, the in-memory store and — as Lua — the Redis label script. The state of a transaction is its
/// <see cref="LabelRecord"/>; the final verdict is that of the newest label (by label time; at equal times fraud wins),
/// whatever order labels arrive in, and each transaction adds at most one confirmed fraud.
/// </summary>
public static class LabelRules
{
    /// <summary>Labels for transactions older than this at label time (30 days, the longest horizon) change nothing.</summary>
    public const long RetentionMs = 30L * 86_400_000;

    /// <summary>Seed of <see cref="ContentHash"/> ("labelled" in ASCII).</summary>
    internal const ulong ContentSeed = 0x64656C6C6562616CUL;

    /// <summary>Hash of what a label says about its transaction (card, merchant, event time).</summary>
    public static ulong ContentHash(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        var h = StableHash.Hash(ContentSeed, label.CardId);
        h = StableHash.Mix(h ^ StableHash.Hash(ContentSeed + 1, label.MerchantId));
        return StableHash.Mix(h ^ (ulong)label.EventTimeMs);
    }

    /// <summary>Null when the label can be applied, else why it is a dead letter.</summary>
    public static string? Validate(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        return TransactionLimits.CheckId("transaction_id", label.TransactionId, required: true)
            ?? TransactionLimits.CheckId("card_id", label.CardId, required: true)
            ?? TransactionLimits.CheckId("merchant_id", label.MerchantId, required: false)
            ?? (label.EventTimeMs is < CardFeatureSpecV1.MinEventTimeMs or > CardFeatureSpecV1.MaxEventTimeMs
                ? "event_time must be between 1900-01-01 and 2200-01-01" : null)
            ?? (label.LabelTimeMs is < CardFeatureSpecV1.MinEventTimeMs or > CardFeatureSpecV1.MaxEventTimeMs
                ? "label_time must be between 1900-01-01 and 2200-01-01" : null)
            ?? (label.LabelTimeMs < label.EventTimeMs
                ? $"label_time is {label.EventTimeMs - label.LabelTimeMs} ms before event_time; a verdict cannot precede its transaction" : null)
            ?? (label.Amount is { } a && (!double.IsFinite(a) || a < 0) ? "amount must be a finite, non-negative number" : null);
    }

    /// <summary>
    /// Decides what <paramref name="label"/> does given the transaction's <paramref name="current"/> record (null: never
    /// labelled). Rules, in order: invalid → <see cref="LabelOutcome.Invalid"/>; event older than
    /// <see cref="RetentionMs"/> at label time → <see cref="LabelOutcome.Stale"/>; no record → applied (+1 if fraud);
    /// another card/merchant/event time → <see cref="LabelOutcome.Conflicting"/>; older than the record, or at the same
    /// time a non-fraud verdict against a fraud one → superseded; the same verdict → duplicate (the record keeps the newer
    /// time); otherwise flipped (±1).
    /// </summary>
    public static LabelDecision Decide(LabelRecord? current, TransactionLabel label)
    {
        if (Validate(label) is { } invalid)
        {
            return new LabelDecision(LabelOutcome.Invalid, null, 0, invalid);
        }

        if (label.LabelTimeMs - label.EventTimeMs > RetentionMs)
        {
            return new LabelDecision(LabelOutcome.Stale, null, 0, "the transaction is more than 30 days older than its label");
        }

        var hash = ContentHash(label);
        var mine = new LabelRecord(label.IsFraud, label.LabelTimeMs, hash);
        if (current is not { } record)
        {
            return new LabelDecision(LabelOutcome.Applied, mine, label.IsFraud ? 1 : 0, null);
        }

        if (record.ContentHash != hash)
        {
            return new LabelDecision(LabelOutcome.Conflicting, null, 0,
                $"transaction '{label.TransactionId}' was labelled before with another card, merchant or event time");
        }

        if (label.LabelTimeMs < record.LabelTimeMs || (label.LabelTimeMs == record.LabelTimeMs && record.IsFraud && !label.IsFraud))
        {
            return new LabelDecision(LabelOutcome.Superseded, null, 0, null);
        }

        if (label.IsFraud == record.IsFraud)
        {
            return new LabelDecision(LabelOutcome.Duplicate, label.LabelTimeMs > record.LabelTimeMs ? mine : null, 0, null);
        }

        return new LabelDecision(LabelOutcome.Flipped, mine, label.IsFraud ? 1 : -1, null);
    }
}
