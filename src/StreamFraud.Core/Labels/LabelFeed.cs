namespace StreamFraud.Core.Labels;

/// <summary>
/// Labels for an offline replay, in label-time order, handed out between transactions so that a transaction sees
/// exactly the labels known before its event time (<c>FEATURES.md</c> "Labels"): a label with label time L comes
/// before every transaction whose event time is after L, and after those at L or before (at equal times the
/// transaction goes first). Labels come from a file (<see cref="FromLabels"/>) or are simulated from the history's
/// own <c>is_fraud</c> (<see cref="Simulated"/>): each fraud the replay applies is labelled after a
/// <see cref="LabelDelay"/>, never before it happened.
/// </summary>
public sealed class LabelFeed
{
    private readonly PriorityQueue<TransactionLabel, (long Time, long Sequence)> _queue = new();
    private long _sequence;

    private LabelFeed(LabelDelay? delay) => Delay = delay;

    /// <summary>The delay of simulated labels; null when the labels come from a file.</summary>
    public LabelDelay? Delay { get; }

    /// <summary>Labels taken from a file.</summary>
    public long Provided { get; private set; }

    /// <summary>Labels simulated so far.</summary>
    public long Simulated { get; private set; }

    /// <summary>Labels handed out so far.</summary>
    public long Delivered { get; private set; }

    /// <summary>Labels not handed out (their label time is after the last transaction).</summary>
    public int Pending => _queue.Count;

    /// <summary>A feed of the given labels (any order; ties in label time keep their order).</summary>
    public static LabelFeed FromLabels(IEnumerable<TransactionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var feed = new LabelFeed(null);
        foreach (var label in labels)
        {
            feed.Enqueue(label);
            feed.Provided++;
        }

        return feed;
    }

    /// <summary>A feed that labels every applied fraud (<c>is_fraud</c> true) after <paramref name="delay"/>.</summary>
    public static LabelFeed FromDelay(LabelDelay delay)
    {
        ArgumentNullException.ThrowIfNull(delay);
        return new LabelFeed(delay);
    }

    /// <summary>
    /// Called for each transaction the replay applied: a simulated feed schedules the fraud's label at
    /// event time + delay (at least 1 ms later); a file feed ignores it.
    /// </summary>
    public void Observe(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        if (Delay is null || tx.IsFraud != true)
        {
            return;
        }

        var delay = Math.Max(1L, Delay.DelayMs(tx.TransactionId));
        var labelTime = tx.EventTimeMs > long.MaxValue - delay ? long.MaxValue : tx.EventTimeMs + delay;
        Enqueue(new TransactionLabel(tx.TransactionId, tx.CardId, tx.MerchantId, tx.EventTimeMs, labelTime, true, LabelOrigin.Other, tx.Amount));
        Simulated++;
    }

    /// <summary>The next label whose label time is before <paramref name="beforeMs"/>, if any.</summary>
    public bool TryTakeDue(long beforeMs, out TransactionLabel label)
    {
        if (_queue.TryPeek(out var next, out var key) && key.Time < beforeMs)
        {
            _queue.Dequeue();
            Delivered++;
            label = next;
            return true;
        }

        label = null!;
        return false;
    }

    private void Enqueue(TransactionLabel label)
    {
        ArgumentNullException.ThrowIfNull(label);
        _queue.Enqueue(label, (label.LabelTimeMs, _sequence++));
    }
}
