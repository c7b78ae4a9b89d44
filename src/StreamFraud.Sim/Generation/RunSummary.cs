using StreamFraud.Core;

namespace StreamFraud.Sim.Generation;

/// <summary>
/// Counts what a run produced by observing its transactions (the generate and produce commands share it): rows,
/// distinct cards, merchants and UTC days, and frauds per scenario.
/// </summary>
public sealed class RunSummary
{
    private readonly HashSet<string> _cards = new(StringComparer.Ordinal);
    private readonly HashSet<string> _merchants = new(StringComparer.Ordinal);
    private readonly HashSet<long> _days = [];
    private readonly Dictionary<string, long> _frauds = new(StringComparer.Ordinal);
    private long _lastDay = long.MinValue;

    /// <summary>Starts with every known scenario at zero so the report lists them all.</summary>
    public RunSummary()
    {
        foreach (var scenario in FraudScenarios.All)
        {
            _frauds[scenario] = 0;
        }
    }

    /// <summary>Rows observed.</summary>
    public long Rows { get; private set; }

    /// <summary>Rows labelled fraud.</summary>
    public long Frauds { get; private set; }

    /// <summary>Share of rows labelled fraud (0 when no rows).</summary>
    public double FraudRate => Rows == 0 ? 0 : (double)Frauds / Rows;

    /// <summary>Distinct card ids.</summary>
    public int Cards => _cards.Count;

    /// <summary>Distinct merchant ids.</summary>
    public int Merchants => _merchants.Count;

    /// <summary>Distinct UTC calendar days with at least one row.</summary>
    public int Days => _days.Count;

    /// <summary>Earliest event time observed (Unix ms), if any.</summary>
    public long? FirstEventMs { get; private set; }

    /// <summary>Latest event time observed (Unix ms), if any.</summary>
    public long? LastEventMs { get; private set; }

    /// <summary>Fraud rows per scenario (known scenarios first, in <see cref="FraudScenarios.All"/> order; a fraud
    /// without a scenario counts under <c>(unnamed)</c>).</summary>
    public IReadOnlyDictionary<string, long> FraudsByScenario => _frauds;

    /// <summary>Counts one transaction.</summary>
    public void Observe(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        Rows++;
        _cards.Add(transaction.CardId);
        _merchants.Add(transaction.MerchantId);
        var day = Math.DivRem(transaction.EventTimeMs, 86_400_000L, out var rem) - (rem < 0 ? 1 : 0);
        if (day != _lastDay)
        {
            _days.Add(day);
            _lastDay = day;
        }

        FirstEventMs = FirstEventMs is { } first ? Math.Min(first, transaction.EventTimeMs) : transaction.EventTimeMs;
        LastEventMs = LastEventMs is { } last ? Math.Max(last, transaction.EventTimeMs) : transaction.EventTimeMs;
        if (transaction.IsFraud == true)
        {
            Frauds++;
            var scenario = transaction.FraudScenario ?? "(unnamed)";
            _frauds[scenario] = _frauds.GetValueOrDefault(scenario) + 1;
        }
    }
}
