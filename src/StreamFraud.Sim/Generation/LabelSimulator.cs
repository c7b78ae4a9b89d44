using StreamFraud.Core;
using StreamFraud.Core.Labels;

namespace StreamFraud.Sim.Generation;

/// <summary>
/// How simulated verdicts arrive (see the Sim README, "Labels"). Delays are lognormal per source, in days after the
/// transaction, clamped to [<see cref="MinDelayHours"/>, <see cref="MaxDelayDays"/>]; with the defaults about 70% of
/// labelled frauds are known within four days and the rest trail over weeks.
/// </summary>
public static class LabelModel
{
    /// <summary>Share of frauds never labelled (nobody noticed, or the verdict never came back).</summary>
    public const double UnlabelledFraudShare = 0.10;

    /// <summary>Share of labelled frauds whose first verdict is an analyst's (fast).</summary>
    public const double AnalystShare = 0.40;

    /// <summary>Share of labelled frauds first reported by the card-holder (days).</summary>
    public const double CustomerClaimShare = 0.35;

    /// <summary>Share of labelled frauds first known by a chargeback (weeks); the rest after analysts and claims.</summary>
    public const double ChargebackShare = 1 - AnalystShare - CustomerClaimShare;

    /// <summary>Median delay of an analyst's verdict, in days.</summary>
    public const double AnalystMedianDays = 1.2;

    /// <summary>Log-spread of an analyst's delay.</summary>
    public const double AnalystSigma = 0.6;

    /// <summary>Median delay of a customer claim, in days.</summary>
    public const double CustomerClaimMedianDays = 2.5;

    /// <summary>Log-spread of a customer claim's delay.</summary>
    public const double CustomerClaimSigma = 0.5;

    /// <summary>Median delay of a chargeback, in days.</summary>
    public const double ChargebackMedianDays = 14;

    /// <summary>Log-spread of a chargeback's delay.</summary>
    public const double ChargebackSigma = 0.6;

    /// <summary>No verdict comes sooner than this after the transaction, in hours.</summary>
    public const double MinDelayHours = 1;

    /// <summary>No verdict of a fraud comes later than this after the transaction, in days.</summary>
    public const double MaxDelayDays = 60;

    /// <summary>Share of labelled frauds whose verdict arrives a second time from another source (a chargeback then
    /// the analyst's confirmation, say).</summary>
    public const double DuplicateShare = 0.05;

    /// <summary>Median gap between a verdict and its duplicate, in days.</summary>
    public const double DuplicateGapMedianDays = 3;

    /// <summary>Share of legitimate transactions that a card-holder wrongly claims as fraud (a false claim).</summary>
    public const double FalseClaimRate = 0.0002;

    /// <summary>Median delay of a false claim, in days (customer claims' spread).</summary>
    public const double FalseClaimMedianDays = 3;

    /// <summary>Share of false claims reversed later by an <c>is_fraud=false</c> verdict (a flip).</summary>
    public const double FalseClaimReversedShare = 0.8;

    /// <summary>Median gap between a false claim and its reversal, in days (at most <see cref="MaxReversalDays"/>).</summary>
    public const double ReversalMedianDays = 7;

    /// <summary>Longest gap between a false claim and its reversal, in days.</summary>
    public const double MaxReversalDays = 45;
}

/// <summary>What the simulated labels of a run hold (counted as they are made).</summary>
public sealed class LabelSummary
{
    private readonly List<long> _firstDelays = [];
    private readonly long[] _bySource = new long[4];

    /// <summary>Labels made (every verdict, duplicates and reversals included).</summary>
    public long Labels { get; private set; }

    /// <summary>Labels saying fraud.</summary>
    public long FraudVerdicts { get; private set; }

    /// <summary>Labels saying legitimate (reversals of false claims).</summary>
    public long LegitimateVerdicts => Labels - FraudVerdicts;

    /// <summary>Fraud transactions observed.</summary>
    public long Frauds { get; private set; }

    /// <summary>Fraud transactions with at least one verdict.</summary>
    public long FraudsLabelled => _firstDelays.Count;

    /// <summary>Share of fraud transactions with a verdict (0 when none).</summary>
    public double FraudsLabelledShare => Frauds == 0 ? 0 : (double)FraudsLabelled / Frauds;

    /// <summary>Legitimate transactions wrongly claimed as fraud.</summary>
    public long FalseClaims { get; private set; }

    /// <summary>False claims reversed by a later <c>is_fraud=false</c> verdict.</summary>
    public long Flips { get; private set; }

    /// <summary>Second verdicts repeating the first one's.</summary>
    public long Duplicates { get; private set; }

    /// <summary>Labels per source, indexed by <see cref="LabelOrigin"/>.</summary>
    public IReadOnlyList<long> BySource => _bySource;

    /// <summary>Median time from a labelled fraud to its first verdict.</summary>
    public TimeSpan MedianDelay => Quantile(0.5);

    /// <summary>90th percentile of the time from a labelled fraud to its first verdict.</summary>
    public TimeSpan P90Delay => Quantile(0.9);

    /// <summary>Share of labelled frauds whose first verdict came within <paramref name="delay"/>.</summary>
    public double LabelledWithin(TimeSpan delay) =>
        _firstDelays.Count == 0 ? 0 : _firstDelays.Count(d => d <= (long)delay.TotalMilliseconds) / (double)_firstDelays.Count;

    internal void Fraud() => Frauds++;

    internal void FalseClaim() => FalseClaims++;

    internal void Add(TransactionLabel label, LabelKind kind)
    {
        Labels++;
        FraudVerdicts += label.IsFraud ? 1 : 0;
        _bySource[(int)label.Origin]++;
        switch (kind)
        {
            case LabelKind.FirstFraudVerdict:
                _firstDelays.Add(label.LabelTimeMs - label.EventTimeMs);
                break;
            case LabelKind.Duplicate:
                Duplicates++;
                break;
            case LabelKind.Reversal:
                Flips++;
                break;
        }
    }

    // Nearest rank over the sorted delays (a few thousand at most).
    private TimeSpan Quantile(double q)
    {
        if (_firstDelays.Count == 0)
        {
            return TimeSpan.Zero;
        }

        var sorted = _firstDelays.Order().ToArray();
        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return TimeSpan.FromMilliseconds(sorted[Math.Clamp(rank, 0, sorted.Length - 1)]);
    }
}

/// <summary>What a label is within a transaction's verdicts.</summary>
internal enum LabelKind
{
    FirstFraudVerdict,
    Duplicate,
    FalseClaim,
    Reversal,
}

/// <summary>
/// Simulates the verdicts that come back on a run's transactions, after the fact (<see cref="LabelModel"/>): most
/// frauds are labelled within days by an analyst, the card-holder or (weeks later) a chargeback, some never; a few
/// legitimate transactions are claimed as fraud and most of those claims reversed later; some verdicts arrive twice.
/// </summary>
/// <remarks>
/// Observe every transaction in <see cref="TransactionSimulator.Generate"/> order; each one's verdicts are drawn from a
/// stream seeded by (seed, its position), so equal options give equal labels, and a prefix of the transactions (a
/// <c>--limit</c>) gets the labels the whole run gives those transactions. Labels wait in a queue ordered by label time
/// (ties in the order they were made) until <see cref="TryTakeDue"/> or <see cref="TakeAll"/> hands them out; they are a
/// small fraction of the rows.
/// </remarks>
/// <param name="seed">The run's seed (<see cref="SimulationOptions.Seed"/>).</param>
public sealed class LabelSimulator(ulong seed)
{
    private const double MsPerDay = Catalog.MsPerDay;

    private readonly PriorityQueue<TransactionLabel, (long LabelTimeMs, long Sequence)> _pending = new();
    private readonly ulong _claimKey = Xoshiro256.Mix(seed ^ Xoshiro256.Mix(Purpose.Label));
    private long _index;
    private long _sequence;

    /// <summary>Counts of the labels made so far.</summary>
    public LabelSummary Summary { get; } = new();

    /// <summary>Labels made and not yet taken.</summary>
    public int Pending => _pending.Count;

    /// <summary>Makes the verdicts of the next transaction (none for one without <see cref="Transaction.IsFraud"/>).</summary>
    public void Observe(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var index = _index++;
        if (transaction.IsFraud == true)
        {
            Summary.Fraud();
            var rng = Xoshiro256.For(seed, Purpose.Label, (ulong)index);
            if (rng.Chance(LabelModel.UnlabelledFraudShare))
            {
                return;
            }

            var u = rng.NextDouble();
            var origin = u < LabelModel.AnalystShare ? LabelOrigin.Analyst
                : u < LabelModel.AnalystShare + LabelModel.CustomerClaimShare ? LabelOrigin.CustomerClaim
                : LabelOrigin.Chargeback;
            var first = transaction.EventTimeMs + Delay(origin, ref rng);
            Add(transaction, first, true, origin, LabelKind.FirstFraudVerdict);
            if (rng.Chance(LabelModel.DuplicateShare))
            {
                // The same verdict through another channel: a chargeback confirmed by the analyst, a claim followed
                // by the chargeback or the analyst's review.
                var second = origin switch
                {
                    LabelOrigin.Chargeback => LabelOrigin.Analyst,
                    LabelOrigin.Analyst => LabelOrigin.Chargeback,
                    _ => rng.Chance(0.5) ? LabelOrigin.Chargeback : LabelOrigin.Analyst,
                };
                var gap = Days(rng.LogNormal(LabelModel.DuplicateGapMedianDays, 0.7), LabelModel.MinDelayHours / 24, LabelModel.MaxDelayDays);
                Add(transaction, first + gap, true, second, LabelKind.Duplicate);
            }
        }
        else if (transaction.IsFraud == false && Uniform(Xoshiro256.Combine(_claimKey, (ulong)index)) < LabelModel.FalseClaimRate)
        {
            Summary.FalseClaim();
            var rng = Xoshiro256.For(seed, Purpose.Label, (ulong)index);
            var claim = transaction.EventTimeMs
                + Days(rng.LogNormal(LabelModel.FalseClaimMedianDays, LabelModel.CustomerClaimSigma), LabelModel.MinDelayHours / 24, LabelModel.MaxDelayDays);
            Add(transaction, claim, true, LabelOrigin.CustomerClaim, LabelKind.FalseClaim);
            if (rng.Chance(LabelModel.FalseClaimReversedShare))
            {
                var reviewer = rng.Chance(0.75) ? LabelOrigin.Analyst : LabelOrigin.Chargeback;
                var gap = Days(rng.LogNormal(LabelModel.ReversalMedianDays, 0.6), 1, LabelModel.MaxReversalDays);
                Add(transaction, claim + gap, false, reviewer, LabelKind.Reversal);
            }
        }
    }

    /// <summary>Takes the earliest pending label if its label time is before <paramref name="beforeMs"/>: what a stream
    /// that has reached <paramref name="beforeMs"/> knows.</summary>
    public bool TryTakeDue(long beforeMs, out TransactionLabel label)
    {
        if (_pending.TryPeek(out var next, out var key) && key.LabelTimeMs < beforeMs)
        {
            _pending.Dequeue();
            label = next;
            return true;
        }

        label = null!;
        return false;
    }

    /// <summary>Takes every pending label, in label-time order.</summary>
    public IEnumerable<TransactionLabel> TakeAll()
    {
        while (_pending.TryDequeue(out var label, out _))
        {
            yield return label;
        }
    }

    private static long Delay(LabelOrigin origin, ref Xoshiro256 rng)
    {
        var (median, sigma) = origin switch
        {
            LabelOrigin.Analyst => (LabelModel.AnalystMedianDays, LabelModel.AnalystSigma),
            LabelOrigin.CustomerClaim => (LabelModel.CustomerClaimMedianDays, LabelModel.CustomerClaimSigma),
            _ => (LabelModel.ChargebackMedianDays, LabelModel.ChargebackSigma),
        };

        // Truncated rather than clamped, so the cap does not pile verdicts up at exactly sixty days.
        var days = rng.LogNormal(median, sigma);
        for (var attempt = 0; attempt < 16 && days > LabelModel.MaxDelayDays; attempt++)
        {
            days = rng.LogNormal(median, sigma);
        }

        return Days(days, LabelModel.MinDelayHours / 24, LabelModel.MaxDelayDays);
    }

    private static long Days(double days, double min, double max) => (long)(Math.Clamp(days, min, max) * MsPerDay);

    private static double Uniform(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));

    private void Add(Transaction t, long labelTimeMs, bool isFraud, LabelOrigin origin, LabelKind kind)
    {
        var label = new TransactionLabel(t.TransactionId, t.CardId, t.MerchantId, t.EventTimeMs, labelTimeMs, isFraud, origin, t.Amount);
        _pending.Enqueue(label, (labelTimeMs, _sequence++));
        Summary.Add(label, kind);
    }
}
