using System.Runtime.InteropServices;
using StreamFraud.Core.Features;

namespace StreamFraud.Core.Windows;

/// <summary>
/// The store-independent half of a window store: groups a batch's events by card, loads each card's serialised
/// state, applies its events in batch order (writing each event's window into the batch) and serialises the result.
/// Stores only fetch and persist bytes, so every store computes exactly the same windows.
/// </summary>
public sealed class CardBatchApplier
{
    private readonly CardState _state;
    private readonly byte[] _buffer;
    private readonly Dictionary<string, List<int>> _byCard = new(StringComparer.Ordinal);
    private readonly Stack<List<int>> _lists = new();

    /// <summary>Creates an applier for <paramref name="spec"/> (one per worker).</summary>
    public CardBatchApplier(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _state = new CardState(spec);
        _buffer = new byte[spec.MaxStateSize];
    }

    /// <summary>The spec.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>
    /// Groups the batch by card id; the returned map (reused on the next call) lists each card's event indices in
    /// batch order.
    /// </summary>
    public IReadOnlyDictionary<string, List<int>> Group(WindowBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        foreach (var list in _byCard.Values)
        {
            list.Clear();
            _lists.Push(list);
        }

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
    /// Applies one card's events to its stored state (empty span: a new card) and returns the new state's bytes, or
    /// null when nothing changed (all duplicates or invalid). A corrupt or foreign-spec value is replaced by a fresh
    /// state, reported through <paramref name="loadStatus"/>.
    /// </summary>
    public byte[]? Apply(WindowBatch batch, List<int> indices, ReadOnlySpan<byte> stored, out StateLoadStatus loadStatus)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(indices);
        loadStatus = _state.Load(stored);
        var changed = loadStatus is StateLoadStatus.SpecMismatch or StateLoadStatus.Corrupt;
        foreach (var i in indices)
        {
            var result = _state.TryApply(batch.Event(i), batch.Position(i), batch.Window(i));
            batch.SetResult(i, result);
            var times = batch.WindowEventTimes(i);
            times.Clear();
            // The window's real steps are the state's entries 0..RealSteps-1 (for a recovered duplicate too).
            for (var k = 0; k < result.RealSteps; k++)
            {
                times[times.Length - result.RealSteps + k] = _state.GetEntry(k).EventTimeMs;
            }

            changed |= result.IsApplied;
        }

        if (!changed)
        {
            return null;
        }

        var n = _state.Write(_buffer);
        return _buffer.AsSpan(0, n).ToArray();
    }
}
