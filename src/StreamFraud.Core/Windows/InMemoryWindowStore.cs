using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Windows;

/// <summary>
/// Window store in process memory: for replay/backtests (isolated from live state) and tests. Holds the same bytes
/// the Redis store would, and the entity risk state (<see cref="Risk"/>: rings and label records) that labels and,
/// for a spec that <see cref="FeatureSpec.UsesEntityRisk"/>, applied transactions change. Not thread-safe: one batch
/// (or one batch of labels) at a time.
/// </summary>
public sealed class InMemoryWindowStore : IWindowStore, ILabelStore
{
    private readonly Dictionary<string, byte[]> _states = new(StringComparer.Ordinal);
    private readonly CardBatchApplier _applier;
    private readonly RiskBook _scratch = new();

    /// <summary>Creates an empty store for <paramref name="spec"/>.</summary>
    public InMemoryWindowStore(FeatureSpec spec) => _applier = new CardBatchApplier(spec);

    /// <summary>Cards with state.</summary>
    public int Cards => _states.Count;

    /// <summary>The committed entity risk state.</summary>
    public RiskBook Risk { get; } = new();

    /// <summary>A card's serialised state, or null.</summary>
    public byte[]? Get(string cardId) => _states.GetValueOrDefault(cardId);

    /// <inheritdoc />
    public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) =>
        Task.FromResult(Prepare(batch, null));

    /// <inheritdoc />
    public bool CanPrepareOnPending => true;

    /// <inheritdoc />
    public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default) =>
        Task.FromResult(Prepare(batch, Mine(pending)));

    private Writes Mine(PreparedWrites writes) =>
        writes is Writes mine && ReferenceEquals(mine.Store, this) ? mine : throw new ArgumentException("These writes were prepared by another store.", nameof(writes));

    private PreparedWrites Prepare(WindowBatch batch, Writes? pending)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var writes = new Writes(this);
        var groups = _applier.Group(batch);
        Dictionary<string, byte[]>? pendingStates = pending is null || pending.Committed ? null : pending.States.ToDictionary(w => w.Card, w => w.Value, StringComparer.Ordinal);
        foreach (var card in groups.Keys)
        {
            _applier.Load(card, pendingStates?.GetValueOrDefault(card) ?? _states.GetValueOrDefault(card));
        }

        RiskBook? risk = null;
        if (_applier.Spec.UsesEntityRisk)
        {
            // The batch computes on copies of the committed rings; the commit counts its applied events on the originals.
            risk = _scratch;
            risk.Clear();
            for (var i = 0; i < batch.Count; i++)
            {
                var tx = batch.Event(i);
                Copy(RiskEntity.Merchant, tx.MerchantId);
                Copy(RiskEntity.Card, tx.CardId);
            }

            if (pendingStates is not null)
            {
                // The pending batch's applied transactions, counted on the copies as its commit will count them.
                // A merchant of the pending batch that this batch does not have gets a ring nobody reads.
                foreach (var tx in pending!.Counted)
                {
                    risk.CountTransaction(tx);
                }
            }
        }

        _applier.Apply(batch, risk);
        foreach (var card in groups.Keys)
        {
            if (_applier.Result(card) is { } updated)
            {
                writes.States.Add((card, updated));
            }
        }

        if (risk is not null)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch.Result(i).IsApplied)
                {
                    writes.Counted.Add(batch.Event(i));
                }
            }
        }

        return writes;

        void Copy(RiskEntity entity, string id)
        {
            if (Risk.Find(entity, id) is { } ring && _scratch.Find(entity, id) is null)
            {
                _scratch.GetOrAdd(entity, id).CopyFrom(ring);
            }
        }
    }

    /// <inheritdoc />
    public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
    {
        var mine = Mine(writes);
        if (!mine.Committed)
        {
            foreach (var (card, value) in mine.States)
            {
                _states[card] = value;
            }

            foreach (var tx in mine.Counted)
            {
                Risk.CountTransaction(tx);
            }

            mine.MarkCommitted();
        }

        return Task.FromResult(0); // a single writer never conflicts
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<LabelDecision>> ApplyLabelsAsync(IReadOnlyList<TransactionLabel> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var decisions = new LabelDecision[labels.Count];
        for (var i = 0; i < labels.Count; i++)
        {
            decisions[i] = Risk.ApplyLabel(labels[i]);
        }

        return Task.FromResult<IReadOnlyList<LabelDecision>>(decisions);
    }

    private sealed class Writes(InMemoryWindowStore store) : PreparedWrites
    {
        public InMemoryWindowStore Store { get; } = store;

        public List<(string Card, byte[] Value)> States { get; } = [];

        public List<Transaction> Counted { get; } = [];

        public override int Cards => States.Count;

        public void MarkCommitted() => Committed = true;
    }
}
