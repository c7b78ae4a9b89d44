using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// The offline (trainer, backtest warm-up) side of feature computation: streams transactions through exactly the
/// code the scorer runs (<see cref="CardState.TryApply(Transaction, SourcePosition, Span{float})"/>), keeping every card's state in memory instead of Redis.
/// </summary>
/// <remarks>
/// Feed transactions in the order they would arrive (event-time order for history). Row <c>i</c> of the source is
/// applied at <see cref="SourcePosition.Offline"/>(i), so the position rule never fires across cards and duplicates are
/// caught by transaction id, as in the scorer. Labels (<see cref="ApplyLabel"/>) go into <see cref="Risk"/> by the
/// scorer's rules; for a spec that <see cref="FeatureSpec.UsesEntityRisk"/> every applied transaction is counted on its
/// merchant's and card's rings, exactly as the stores do. Feed labels by label time between the transactions
/// (<see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/> merges them). Memory: one
/// <see cref="CardState"/> per card (about 2.5 KB for <c>card</c> v1) and 1.5 KB per ring. Not thread-safe.
/// </remarks>
public sealed class OfflineFeaturizer
{
    private const int W = FeatureSpec.WindowLength;
    private readonly Dictionary<string, CardSlot> _cards = new(StringComparer.Ordinal);

    /// <summary>A featurizer with no cards yet.</summary>
    public OfflineFeaturizer(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
    }

    /// <summary>The spec computed.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>Distinct cards seen.</summary>
    public int CardCount => _cards.Count;

    /// <summary>Source rows offered so far (the next row's offset).</summary>
    public long Seen { get; private set; }

    /// <summary>Rows applied so far (the next applied row's number).</summary>
    public long Applied { get; private set; }

    /// <summary>Rows skipped as duplicates.</summary>
    public long Duplicates { get; private set; }

    /// <summary>Rows skipped as invalid, or as a reused transaction id with different content.</summary>
    public long Invalid { get; private set; }

    /// <summary>Entity risk state: rings and label records.</summary>
    public RiskBook Risk { get; } = new();

    /// <summary>Applies a label (at its label time, between transactions) by <see cref="LabelRules"/>.</summary>
    public LabelDecision ApplyLabel(TransactionLabel label) => Risk.ApplyLabel(label);

    /// <summary>The state of <paramref name="cardId"/>, or null if the card has not been seen.</summary>
    public CardState? GetState(string cardId) => _cards.TryGetValue(cardId, out var slot) ? slot.State : null;

    /// <summary>
    /// Applies the next source row. <paramref name="window"/> receives its window as <see cref="CardState.TryApply(Transaction, SourcePosition, Span{float})"/>
    /// writes it; <paramref name="windowRows"/> (optional, 7 ints) receives, per window step, the applied-row number
    /// (0-based count of applied rows) that step's vector came from, or -1 for padding.
    /// </summary>
    public ApplyResult Apply(Transaction tx, Span<float> window, Span<int> windowRows = default)
    {
        ArgumentNullException.ThrowIfNull(tx);
        if (!_cards.TryGetValue(tx.CardId, out var slot))
        {
            slot = new CardSlot(new CardState(Spec));
            _cards.Add(tx.CardId, slot);
        }

        var usesRisk = Spec.UsesEntityRisk;
        var result = usesRisk
            ? slot.State.TryApply(tx, SourcePosition.Offline(Seen), window, Risk.Find(RiskEntity.Merchant, tx.MerchantId), Risk.Find(RiskEntity.Card, tx.CardId))
            : slot.State.TryApply(tx, SourcePosition.Offline(Seen), window);
        Seen++;
        switch (result.Status)
        {
            case ApplyStatus.Applied:
                slot.Push(checked((int)Applied));
                Applied++;
                if (usesRisk)
                {
                    Risk.CountTransaction(tx);
                }

                break;
            case ApplyStatus.Invalid or ApplyStatus.ConflictingTransactionId:
                Invalid++;
                break;
            default:
                Duplicates++;
                break;
        }

        if (!windowRows.IsEmpty)
        {
            slot.WriteRows(windowRows, result.RealSteps);
        }

        return result;
    }

    /// <summary>Applied-row numbers of one card's window entries, kept in step with its <see cref="CardState"/>.</summary>
    private sealed class CardSlot(CardState state)
    {
        private RowRing _rows;
        private int _head;
        private int _count;

        public CardState State { get; } = state;

        public void Push(int row)
        {
            if (_count < W)
            {
                _rows[(_head + _count) % W] = row;
                _count++;
            }
            else
            {
                _rows[_head] = row;
                _head = (_head + 1) % W;
            }
        }

        /// <summary>Rows of the oldest <paramref name="steps"/> entries, left-padded with -1 (as windows are).</summary>
        public void WriteRows(Span<int> rows, int steps)
        {
            var pad = W - steps;
            rows[..pad].Fill(-1);
            for (var i = 0; i < steps; i++)
            {
                rows[pad + i] = _rows[(_head + i) % W];
            }
        }
    }

    [System.Runtime.CompilerServices.InlineArray(W)]
    private struct RowRing
    {
        private int _element0;
    }
}
