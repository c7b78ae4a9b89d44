using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// Spec <c>card</c> v2: the 56 features of <c>card</c> v1, then 19 entity-risk features — decayed transaction and
/// confirmed-fraud counts at 1, 7 and 30 days, the merchant's fraud ratio per horizon, and the days since the newest
/// confirmed fraud. The merchant's counts and the card's fraud counts come from their <see cref="RiskRing"/>s; the
/// card's own transactions per day are kept in its card state (<see cref="AggregatesV2"/>), which is written with every
/// event anyway, so a scorer bumps only merchant rings. Every feature is documented in <c>FEATURES.md</c>.
/// </summary>
/// <remarks>
/// The entity features of a transaction on UTC day D read only the ring days D−30 … D−1: complete days before it. So
/// what the transaction itself, later transactions of its day, and labels about its own day say can never leak into
/// its vector, and a batch of events gets the same vectors whatever order its cards are applied in — the only input is
/// which transactions and labels were applied before it. A transaction's own label always comes after it. Weights are
/// a fixed table (deterministic math), sums run in a fixed order, so vectors are the same bits in the trainer and the
/// scorer.
/// </remarks>
public sealed class CardFeatureSpecV2 : FeatureSpec
{
    /// <summary>The spec name recorded in bundles (the same as v1's).</summary>
    public const string SpecName = CardFeatureSpecV1.SpecName;

    /// <summary>The spec version.</summary>
    public const int SpecVersion = 2;

    /// <summary>Days before the transaction's own day that the entity features read.</summary>
    public const int HorizonDays = 30;

    /// <summary>Time constants of the decayed counts, in days.</summary>
    public static ReadOnlySpan<int> TauDays => [1, 7, 30];

    /// <summary>Value of the days-since features when no confirmed fraud is in the horizon: ln(1 + 31).</summary>
    internal static readonly double NoFraudLog = DeterministicMath.Log1P(HorizonDays + 1);

    // Positions after the v1 block.
    internal const int First = CardFeatureSpecV1.FeatureCount;
    internal const int MerchantTxn = First;            // 3: τ = 1, 7, 30 d
    internal const int MerchantFraud = First + 3;      // 3
    internal const int MerchantRisk = First + 6;       // 3
    internal const int MerchantHasFraud = First + 9;
    internal const int MerchantDaysSinceFraud = First + 10;
    internal const int CardTxn = First + 11;           // 3
    internal const int CardFraud = First + 14;         // 3
    internal const int CardHasFraud = First + 17;
    internal const int CardDaysSinceFraud = First + 18;
    internal const int FeatureCount = First + 19;

    // Weight of a day a days before the transaction's day (a = 1..30) at each τ: exp(−(a − 1)/τ).
    private static readonly double[] Weights = BuildWeights();

    private CardFeatureSpecV2()
        : base(SpecName, SpecVersion, BuildDefinitions(), CardFeatureSpecV1.Parameters + RiskParameters)
    {
    }

    /// <summary>The one instance.</summary>
    public static CardFeatureSpecV2 Instance { get; } = new();

    /// <inheritdoc/>
    public override bool UsesEntityRisk => true;

    internal override int AggregateSize => AggregatesV2.Size;

    private const string RiskParameters =
        "risk.ring=day-slots:40;bump=commutative(newest-day-wins,no-negative)\n" +
        "risk.card_txns=card-state;days=40(newest-day-base);count=uint16-saturating;ring-txns-unused\n" +
        "risk.read=days[D-30..D-1];D=utc-day(event_time)\n" +
        "risk.decay=exp(-(a-1)/tau);tau_days=1,7,30;order=a-ascending\n" +
        "risk.ratio=frauds/max(txns,1);clamp=0..1\n" +
        "risk.days_since=ln(1+a_newest_fraud);none=ln(1+31)\n" +
        "labels=newest-label-wins;tie=fraud;retention_days=30;one-fraud-per-transaction\n" +
        "labels.visible=label_time<event_time(transactions-before-labels-at-equal-times)\n";

    internal override CardAggregates CreateAggregates() => new AggregatesV2();

    internal override string? Featurize(CardState state, Transaction tx, RiskRing? merchant, RiskRing? card, Span<float> v)
    {
        var error = CardFeatureSpecV1.FeaturizeCard(state, tx, v[..First]);
        if (error is not null)
        {
            return error;
        }

        var day = RiskRing.Stamp(tx.EventTimeMs);
        Span<double> txns = stackalloc double[3];
        Span<double> frauds = stackalloc double[3];
        var newest = Sum(string.IsNullOrEmpty(tx.MerchantId) ? null : merchant, day, txns, frauds);
        for (var k = 0; k < 3; k++)
        {
            v[MerchantTxn + k] = (float)DeterministicMath.Log1P(txns[k]);
            v[MerchantFraud + k] = (float)DeterministicMath.Log1P(frauds[k]);
            v[MerchantRisk + k] = (float)Math.Clamp(frauds[k] / Math.Max(txns[k], 1.0), 0.0, 1.0);
        }

        v[MerchantHasFraud] = newest > 0 ? 1f : 0f;
        v[MerchantDaysSinceFraud] = (float)(newest > 0 ? DeterministicMath.Log1P(newest) : NoFraudLog);

        var days = ((AggregatesV2)state.Aggregates!).Days;
        newest = Sum(card, day, txns, frauds, days);
        days.Add(day); // day D is never read by this transaction: counting it first or after is the same
        for (var k = 0; k < 3; k++)
        {
            v[CardTxn + k] = (float)DeterministicMath.Log1P(txns[k]);
            v[CardFraud + k] = (float)DeterministicMath.Log1P(frauds[k]);
        }

        v[CardHasFraud] = newest > 0 ? 1f : 0f;
        v[CardDaysSinceFraud] = (float)(newest > 0 ? DeterministicMath.Log1P(newest) : NoFraudLog);
        return null;
    }

    /// <summary>
    /// Decayed sums over days D−1 … D−30 (a ascending); returns the age a of the newest day with a fraud, or 0. The
    /// transactions per day come from <paramref name="own"/> when given (the card's state), else from the ring.
    /// </summary>
    private static int Sum(RiskRing? ring, uint day, Span<double> txns, Span<double> frauds, DayCounts? own = null)
    {
        txns.Clear();
        frauds.Clear();
        if (ring is null && own is null)
        {
            return 0;
        }

        var newest = 0;
        for (var a = 1; a <= HorizonDays; a++)
        {
            var stamp = day - (uint)a;
            var t = own is null ? ring!.Transactions(stamp) : own.Count(stamp);
            var f = ring?.Frauds(stamp) ?? 0;
            if (t == 0 && f == 0)
            {
                continue;
            }

            if (f > 0 && newest == 0)
            {
                newest = a;
            }

            for (var k = 0; k < 3; k++)
            {
                var w = Weights[(k * HorizonDays) + a - 1];
                txns[k] += w * t;
                frauds[k] += w * f;
            }
        }

        return newest;
    }

    private static double[] BuildWeights()
    {
        var weights = new double[3 * HorizonDays];
        var taus = TauDays;
        for (var k = 0; k < 3; k++)
        {
            for (var a = 1; a <= HorizonDays; a++)
            {
                weights[(k * HorizonDays) + a - 1] = DeterministicMath.Exp(-(a - 1) / (double)taus[k]);
            }
        }

        return weights;
    }

    private static FeatureDefinition[] BuildDefinitions()
    {
        var list = new List<FeatureDefinition>(CardFeatureSpecV1.BuildDefinitions());
        void Add(string name, string group, double min, double max, string definition) =>
            list.Add(new FeatureDefinition(list.Count, name, group, min, max, definition));

        var countMax = Math.Log(1 + (30.0 * RiskRing.MaxCount));
        var daysMax = Math.Log(1 + HorizonDays + 1.0);
        string[] horizons = ["1d", "7d", "30d"];
        const string Sum = "Σ over days a = 1…30 before the transaction's UTC day of count(a)·exp(−(a−1)/τ)";
        foreach (var h in horizons)
        {
            Add($"merchant_txn_{h}_log", "merchant-risk", 0, countMax, $"ln(1 + T), T = {Sum}, count = the merchant's applied transactions, τ = {h}; 0 without a merchant id.");
        }

        foreach (var h in horizons)
        {
            Add($"merchant_fraud_{h}_log", "merchant-risk", 0, countMax, $"ln(1 + F), F = {Sum}, count = the merchant's transactions confirmed fraud by labels known before this transaction, τ = {h}.");
        }

        foreach (var h in horizons)
        {
            Add($"merchant_risk_{h}", "merchant-risk", 0, 1, $"F / max(T, 1) at τ = {h}, clamped to [0, 1]: the merchant's known fraud ratio.");
        }

        Add("merchant_has_fraud", "merchant-risk", 0, 1, "1 if any of the merchant's transactions of the 30 days before this one's day is confirmed fraud.");
        Add("merchant_days_since_fraud_log", "merchant-risk", 0, daysMax, "ln(1 + a), a = days from the newest such day to this transaction's day (1…30); ln(1 + 31) when there is none.");
        foreach (var h in horizons)
        {
            Add($"card_txn_{h}_log", "card-risk", 0, countMax, $"ln(1 + T), T as merchant_txn_{h}_log for the card's applied transactions.");
        }

        foreach (var h in horizons)
        {
            Add($"card_fraud_{h}_log", "card-risk", 0, countMax, $"ln(1 + F), F as merchant_fraud_{h}_log for the card's confirmed-fraud transactions.");
        }

        Add("card_has_fraud", "card-risk", 0, 1, "1 if any of the card's transactions of the 30 days before this one's day is confirmed fraud.");
        Add("card_days_since_fraud_log", "card-risk", 0, daysMax, "As merchant_days_since_fraud_log for the card.");
        return [.. list];
    }

    /// <summary>
    /// The card's transactions per UTC day for the last 40 days, kept in its state: a base (the newest day counted)
    /// and 40 saturating 16-bit counts, slot = day mod 40. A newer day clears the slots of the days it skips; a day 40
    /// or more before the base is not counted (a transaction that late reads it as 0).
    /// </summary>
    internal sealed class DayCounts
    {
        public const int Days = 40;
        public const int Size = 4 + (2 * Days);

        private Counts _counts;

        /// <summary>The newest day stamp counted (<see cref="RiskRing.Stamp"/>), 0 before the first.</summary>
        public uint Newest { get; private set; }

        /// <summary>Transactions counted on <paramref name="stamp"/>'s day (0 outside the 40 days up to the newest).</summary>
        public uint Count(uint stamp) =>
            Newest == 0 || stamp > Newest || Newest - stamp >= Days ? 0u : _counts[(int)(stamp % Days)];

        /// <summary>Counts one transaction on <paramref name="stamp"/>'s day.</summary>
        public void Add(uint stamp)
        {
            if (Newest == 0 || stamp >= Newest + Days)
            {
                _counts = default;
                Newest = stamp;
            }
            else if (stamp > Newest)
            {
                for (var d = Newest + 1; d <= stamp; d++)
                {
                    _counts[(int)(d % Days)] = 0;
                }

                Newest = stamp;
            }
            else if (Newest - stamp >= Days)
            {
                return;
            }

            ref var c = ref _counts[(int)(stamp % Days)];
            if (c < ushort.MaxValue)
            {
                c++;
            }
        }

        public void Reset()
        {
            _counts = default;
            Newest = 0;
        }

        public void Write(Span<byte> d)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d, Newest);
            for (var i = 0; i < Days; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(d[(4 + (2 * i))..], _counts[i]);
            }
        }

        public bool TryRead(ReadOnlySpan<byte> s)
        {
            Newest = BinaryPrimitives.ReadUInt32LittleEndian(s);
            var any = false;
            for (var i = 0; i < Days; i++)
            {
                _counts[i] = BinaryPrimitives.ReadUInt16LittleEndian(s[(4 + (2 * i))..]);
                any |= _counts[i] != 0;
            }

            return Newest != 0 || !any; // counts without a base day were never written by this code
        }

        [InlineArray(Days)]
        private struct Counts
        {
            private ushort _element;
        }
    }

    /// <summary>The v1 aggregates, then the card's <see cref="DayCounts"/> (FEATURES.md "Binary state layout").</summary>
    internal sealed class AggregatesV2 : CardFeatureSpecV1.AggregatesV1
    {
        public new const int Size = CardFeatureSpecV1.AggregatesV1.Size + DayCounts.Size;

        public DayCounts Days { get; } = new();

        public override void Reset()
        {
            base.Reset();
            Days.Reset();
        }

        public override void Write(Span<byte> destination)
        {
            base.Write(destination);
            Days.Write(destination[CardFeatureSpecV1.AggregatesV1.Size..]);
        }

        public override bool TryRead(ReadOnlySpan<byte> source) =>
            base.TryRead(source) && Days.TryRead(source[CardFeatureSpecV1.AggregatesV1.Size..]);
    }
}
