namespace StreamFraud.Sim.Generation;

/// <summary>A generated transaction before it gets its id: compact, so a day of rows sorts quickly.</summary>
internal struct Row : IComparable<Row>
{
    public long TimeMs;
    public int Card;
    public int Merchant;
    public double Amount;
    public Channel Channel;

    /// <summary>0 = legitimate, else <see cref="FraudScenarios.Code"/>.</summary>
    public byte Scenario;

    /// <summary>Order of the row within its card-day (legitimate) or incident (fraud, offset by 1000).</summary>
    public ushort Seq;

    /// <summary>Event time, then card, then sequence: a total order, so output never depends on sort stability.</summary>
    public readonly int CompareTo(Row other)
    {
        var c = TimeMs.CompareTo(other.TimeMs);
        if (c != 0)
        {
            return c;
        }

        c = Card.CompareTo(other.Card);
        if (c != 0)
        {
            return c;
        }

        c = Seq.CompareTo(other.Seq);
        if (c != 0)
        {
            return c;
        }

        c = Merchant.CompareTo(other.Merchant);
        return c != 0 ? c : Amount.CompareTo(other.Amount);
    }
}
