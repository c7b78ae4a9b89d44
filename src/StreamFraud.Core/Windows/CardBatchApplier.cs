using System.Runtime.InteropServices;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Windows;

/// <summary>
/// The store-independent half of a window store: groups a batch's events by card, loads each card's serialised
/// state, applies the events in batch order (writing each event's window into the batch) and serialises the changed
/// states. Stores only fetch and persist bytes, so every store computes exactly the same windows.
/// </summary>
/// <remarks>
/// Protocol per batch: <see cref="Group"/>, then <see cref="Load"/> for every grouped card, then <see cref="Apply"/>,
/// then <see cref="Result(string)"/> (or <see cref="Result(string, int)"/>) per card. Events are applied in batch order across cards (each card's own events in
/// batch order too), so the entity-risk rings of spec <c>card</c> v2, shared by many cards, see the batch's earlier
/// events exactly as a sequential replay would.
/// </remarks>
public sealed class CardBatchApplier
{
    private readonly byte[] _buffer;
    private readonly Dictionary<string, List<int>> _byCard = new(StringComparer.Ordinal);
    private readonly Stack<List<int>> _lists = new();
    private readonly Dictionary<string, Loaded> _loaded = new(StringComparer.Ordinal);
    private readonly Stack<Loaded> _free = new();

    /// <summary>Creates an applier for <paramref name="spec"/> (one per worker).</summary>
    public CardBatchApplier(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _buffer = new byte[spec.MaxStateSize];
    }

    /// <summary>The spec.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>
    /// Groups the batch by card id and forgets the cards loaded for the previous batch; the returned map (reused on the
    /// next call) lists each card's event indices in batch order.
    /// </summary>
    public IReadOnlyDictionary<string, List<int>> Group(WindowBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        foreach (var list in _byCard.Values)
        {
            list.Clear();
            _lists.Push(list);
        }

        foreach (var loaded in _loaded.Values)
        {
            _free.Push(loaded);
        }

        _loaded.Clear();
        _byCard.Clear();
        for (var i = 0; i < batch.Count; i++)
        {
            ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_byCard, batch.Event(i).CardId, out var exists);
            if (!exists)
            {
                list = _lists.Count > 0 ? _lists.Pop() : [];
            }

            list!.Add(i);
        }

        return _byCard;
    }

    /// <summary>
    /// Loads a grouped card's stored state (empty span: a new card). A corrupt or foreign-spec value is replaced by a
    /// fresh state (the card then counts as changed), reported by the returned status.
    /// </summary>
    public StateLoadStatus Load(string card, ReadOnlySpan<byte> stored)
    {
        ArgumentNullException.ThrowIfNull(card);
        if (!_loaded.TryGetValue(card, out var loaded))
        {
            loaded = _free.Count > 0 ? _free.Pop() : new Loaded(new CardState(Spec));
            _loaded.Add(card, loaded);
        }

        var status = loaded.State.Load(stored);
        loaded.Changed = status is StateLoadStatus.SpecMismatch or StateLoadStatus.Corrupt;
        return status;
    }

    /// <summary>
    /// Applies every event of <paramref name="batch"/> in batch order to its loaded card, filling in its result,
    /// window and window event times. <paramref name="risk"/> (spec <c>card</c> v2) holds the rings of the batch's
    /// merchants and cards as stored; each applied event is counted on them as it applies, so later events see it.
    /// </summary>
    /// <exception cref="InvalidOperationException">A card of the batch was not loaded.</exception>
    public void Apply(WindowBatch batch, RiskBook? risk = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var usesRisk = Spec.UsesEntityRisk && risk is not null;
        for (var i = 0; i < batch.Count; i++)
        {
            var tx = batch.Event(i);
            if (!_loaded.TryGetValue(tx.CardId, out var loaded))
            {
                throw new InvalidOperationException($"Card '{tx.CardId}' of the batch was not loaded.");
            }

            var state = loaded.State;
            var result = usesRisk
                ? state.TryApply(tx, batch.Position(i), batch.Window(i), risk!.Find(RiskEntity.Merchant, tx.MerchantId), risk.Find(RiskEntity.Card, tx.CardId))
                : state.TryApply(tx, batch.Position(i), batch.Window(i));
            batch.SetResult(i, result);
            var times = batch.WindowEventTimes(i);
            times.Clear();
            // The window's real steps are the state's entries 0..RealSteps-1 (for a recovered duplicate too).
            for (var k = 0; k < result.RealSteps; k++)
            {
                times[times.Length - result.RealSteps + k] = state.GetEntry(k).EventTimeMs;
            }

            if (result.IsApplied)
            {
                loaded.Changed = true;
                if (usesRisk)
                {
                    risk!.CountTransaction(tx);
                }
            }
        }
    }

    /// <summary>The new state of a loaded card after <see cref="Apply"/>, or null when nothing changed (all duplicates or invalid).</summary>
    public byte[]? Result(string card)
    {
        ArgumentNullException.ThrowIfNull(card);
        if (!_loaded.TryGetValue(card, out var loaded) || !loaded.Changed)
        {
            return null;
        }

        var n = loaded.State.Write(_buffer);
        return _buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>
    /// The serialised new state of a card the batch changed, written after <paramref name="header"/> bytes left free
    /// for the caller (e.g. a version), in one new array: the state is copied once. Null when unchanged.
    /// </summary>
    public byte[]? Result(string card, int header)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentOutOfRangeException.ThrowIfNegative(header);
        if (!_loaded.TryGetValue(card, out var loaded) || !loaded.Changed)
        {
            return null;
        }

        var n = loaded.State.Write(_buffer);
        var value = new byte[header + n];
        _buffer.AsSpan(0, n).CopyTo(value.AsSpan(header));
        return value;
    }

    private sealed class Loaded(CardState state)
    {
        public CardState State { get; } = state;

        public bool Changed { get; set; }
    }
}
