using StreamFraud.Core.Features;

namespace StreamFraud.Core.Windows;

/// <summary>
/// Window store in process memory: for replay/backtests (isolated from live state) and tests. Holds the same bytes
/// the Redis store would. Not thread-safe: one batch at a time.
/// </summary>
public sealed class InMemoryWindowStore : IWindowStore
{
    private readonly Dictionary<string, byte[]> _states = new(StringComparer.Ordinal);
    private readonly List<(string Card, byte[] Value)> _pending = [];
    private readonly CardBatchApplier _applier;

    /// <summary>Creates an empty store for <paramref name="spec"/>.</summary>
    public InMemoryWindowStore(FeatureSpec spec) => _applier = new CardBatchApplier(spec);

    /// <summary>Cards with state.</summary>
    public int Cards => _states.Count;

    /// <summary>A card's serialised state, or null.</summary>
    public byte[]? Get(string cardId) => _states.GetValueOrDefault(cardId);

    /// <inheritdoc />
    public async Task ApplyAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        await PrepareAsync(batch, cancellationToken).ConfigureAwait(false);
        await CommitAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        _pending.Clear();
        foreach (var (card, indices) in _applier.Group(batch))
        {
            var updated = _applier.Apply(batch, indices, _states.GetValueOrDefault(card), out _);
            if (updated is not null)
            {
                _pending.Add((card, updated));
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> CommitAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        foreach (var (card, value) in _pending)
        {
            _states[card] = value;
        }

        _pending.Clear();
        return Task.FromResult(0); // a single writer never conflicts
    }
}
