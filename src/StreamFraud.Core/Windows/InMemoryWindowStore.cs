using StreamFraud.Core.Features;

namespace StreamFraud.Core.Windows;

/// <summary>
/// Window store in process memory: for replay/backtests (isolated from live state) and tests. Holds the same bytes
/// the Redis store would. Not thread-safe: one batch at a time.
/// </summary>
public sealed class InMemoryWindowStore : IWindowStore
{
    private readonly Dictionary<string, byte[]> _states = new(StringComparer.Ordinal);
    private readonly CardBatchApplier _applier;

    /// <summary>Creates an empty store for <paramref name="spec"/>.</summary>
    public InMemoryWindowStore(FeatureSpec spec) => _applier = new CardBatchApplier(spec);

    /// <summary>Cards with state.</summary>
    public int Cards => _states.Count;

    /// <summary>A card's serialised state, or null.</summary>
    public byte[]? Get(string cardId) => _states.GetValueOrDefault(cardId);

    /// <inheritdoc />
    public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        var writes = new Writes(this);
        foreach (var (card, indices) in _applier.Group(batch))
        {
            var updated = _applier.Apply(batch, indices, _states.GetValueOrDefault(card), out _);
            if (updated is not null)
            {
                writes.States.Add((card, updated));
            }
        }

        return Task.FromResult<PreparedWrites>(writes);
    }

    /// <inheritdoc />
    public Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
    {
        if (writes is not Writes mine || !ReferenceEquals(mine.Store, this))
        {
            throw new ArgumentException("These writes were prepared by another store.", nameof(writes));
        }

        if (!mine.Committed)
        {
            foreach (var (card, value) in mine.States)
            {
                _states[card] = value;
            }

            mine.MarkCommitted();
        }

        return Task.FromResult(0); // a single writer never conflicts
    }

    private sealed class Writes(InMemoryWindowStore store) : PreparedWrites
    {
        public InMemoryWindowStore Store { get; } = store;

        public List<(string Card, byte[] Value)> States { get; } = [];

        public override int Cards => States.Count;

        public void MarkCommitted() => Committed = true;
    }
}
