namespace StreamFraud.Core.Labels;

/// <summary>
/// Entity risk state in process memory: a <see cref="RiskRing"/> per merchant and per card and a
/// <see cref="LabelRecord"/> per labelled transaction. The offline featurizer and the in-memory store keep all of it;
/// the Redis store uses one as the scratch of a batch (the rings it read, bumped as the batch's events apply).
/// Not thread-safe.
/// </summary>
public sealed class RiskBook
{
    private readonly Dictionary<string, RiskRing> _merchants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RiskRing> _cards = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LabelRecord> _labels = new(StringComparer.Ordinal);
    private readonly Stack<RiskRing> _free = new();
    private readonly long[] _outcomes = new long[7];

    /// <summary>Merchants with a ring.</summary>
    public int Merchants => _merchants.Count;

    /// <summary>Cards with a ring.</summary>
    public int Cards => _cards.Count;

    /// <summary>Labelled transactions with a record.</summary>
    public int LabelledTransactions => _labels.Count;

    /// <summary>Labels offered to <see cref="ApplyLabel"/> that ended with <paramref name="outcome"/>.</summary>
    public long Count(LabelOutcome outcome) => _outcomes[(int)outcome];

    /// <summary>The ring of an entity, or null when it has none. An empty merchant id never has one.</summary>
    public RiskRing? Find(RiskEntity entity, string id) =>
        string.IsNullOrEmpty(id) ? null : Map(entity).GetValueOrDefault(id);

    /// <summary>The ring of an entity, created empty when missing.</summary>
    public RiskRing GetOrAdd(RiskEntity entity, string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var map = Map(entity);
        if (!map.TryGetValue(id, out var ring))
        {
            ring = _free.Count > 0 ? _free.Pop() : new RiskRing();
            ring.Clear();
            map.Add(id, ring);
        }

        return ring;
    }

    /// <summary>Loads an entity's ring from its serialised bytes (empty: no history). Returns false for a foreign value.</summary>
    public bool Load(RiskEntity entity, string id, ReadOnlySpan<byte> bytes) => GetOrAdd(entity, id).Load(bytes);

    /// <summary>
    /// Counts an applied transaction on its merchant's ring (when it has one), on its event day. A card's own
    /// transactions are counted in its card state; its ring holds only label frauds.
    /// </summary>
    public void CountTransaction(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        if (!string.IsNullOrEmpty(tx.MerchantId))
        {
            GetOrAdd(RiskEntity.Merchant, tx.MerchantId).Bump(RiskRing.Stamp(tx.EventTimeMs), 1, 0);
        }
    }

    /// <summary>The label record of a transaction, or null.</summary>
    public LabelRecord? FindLabel(string transactionId) =>
        _labels.TryGetValue(transactionId, out var record) ? record : null;

    /// <summary>Applies a label by <see cref="LabelRules.Decide"/>: keeps its record and moves the fraud counts.</summary>
    public LabelDecision ApplyLabel(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        var decision = LabelRules.Decide(label.TransactionId is { } id ? FindLabel(id) : null, label);
        _outcomes[(int)decision.Outcome]++;
        if (decision.Record is { } record)
        {
            _labels[label.TransactionId] = record;
        }

        if (decision.FraudDelta != 0)
        {
            var stamp = RiskRing.Stamp(label.EventTimeMs);
            if (!string.IsNullOrEmpty(label.MerchantId))
            {
                GetOrAdd(RiskEntity.Merchant, label.MerchantId).Bump(stamp, 0, decision.FraudDelta);
            }

            GetOrAdd(RiskEntity.Card, label.CardId).Bump(stamp, 0, decision.FraudDelta);
        }

        return decision;
    }

    /// <summary>Forgets every ring (kept for reuse) and label record.</summary>
    public void Clear()
    {
        foreach (var ring in _merchants.Values)
        {
            _free.Push(ring);
        }

        foreach (var ring in _cards.Values)
        {
            _free.Push(ring);
        }

        _merchants.Clear();
        _cards.Clear();
        _labels.Clear();
        Array.Clear(_outcomes);
    }

    private Dictionary<string, RiskRing> Map(RiskEntity entity) => entity == RiskEntity.Merchant ? _merchants : _cards;
}
