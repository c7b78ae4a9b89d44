using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// Spec <c>card</c> v1: 56 features per transaction from the event and its card's state — amount transforms, cyclic
/// time, time since previous transactions, amount against the card's running statistics, decayed velocity, novelty of
/// merchant/MCC/country/channel, and hashed categorical encodings. Every feature is documented in <c>FEATURES.md</c>.
/// </summary>
/// <remarks>
/// All arithmetic is IEEE double through <see cref="DeterministicMath"/>, rounded once to float at the end, and time
/// comes only from event times, so a vector is the same bits in the trainer and in the scorer.
/// </remarks>
public sealed class CardFeatureSpecV1 : FeatureSpec
{
    /// <summary>The spec name recorded in bundles.</summary>
    public const string SpecName = "card";

    /// <summary>The spec version.</summary>
    public const int SpecVersion = 1;

    /// <summary>Largest accepted amount; larger (or negative, NaN, infinite) amounts are invalid events.</summary>
    public const double MaxAmount = 1e15;

    /// <summary>Earliest accepted event time: 1900-01-01T00:00:00Z in Unix ms (keeps time arithmetic far from overflow).</summary>
    public const long MinEventTimeMs = -2_208_988_800_000;

    /// <summary>Latest accepted event time: 2200-01-01T00:00:00Z in Unix ms.</summary>
    public const long MaxEventTimeMs = 7_258_118_400_000;

    /// <summary>Cap of the time-since features, in seconds (30 days); also the value when there is no such transaction.</summary>
    public const double DtCapSeconds = 2_592_000;

    /// <summary>Time constants τ of the decayed aggregates, in milliseconds: 10 minutes, 1 hour, 1 day, 7 days.</summary>
    public static ReadOnlySpan<long> DecayTauMs => [600_000, 3_600_000, 86_400_000, 604_800_000];

    internal const long DayMs = 86_400_000;
    internal const double VarianceFloor = 0.01;
    internal const double ZClip = 10.0;
    internal const double MinDecayedCount = 1e-6;

    // Hash seeds: the field names' ASCII bytes read as little-endian integers.
    internal const ulong SeedMerchant = 0x746E61686372656DUL; // "merchant"
    internal const ulong SeedMcc = 0x63636DUL;                // "mcc"
    internal const ulong SeedCountry = 0x7972746E756F63UL;    // "country"
    internal const ulong SeedChannel = 0x6C656E6E616863UL;    // "channel"
    internal const ulong SeedCurrency = 0x79636E6572727563UL; // "currency"

    // Bloom-like novelty sets: bits per field (powers of two), two probes per value.
    internal const int MerchantBits = 1024;
    internal const int MccBits = 256;
    internal const int CountryBits = 128;
    internal const int ChannelBits = 64;

    internal const int ChannelBuckets = 4;
    internal const int MccBuckets = 8;

    // Vector positions.
    internal const int IsReal = 0;
    internal const int AmtLog = 1;
    internal const int AmtWhole = 2;
    internal const int AmtRound10 = 3;
    internal const int TodSin = 4;
    internal const int TodCos = 5;
    internal const int DowSin = 6;
    internal const int DowCos = 7;
    internal const int HasPrev = 8;
    internal const int DtPrevLog = 9;
    internal const int DtPrev3Log = 10;
    internal const int IsLate = 11;
    internal const int CardAgeLog = 12;
    internal const int TxnCountLog = 13;
    internal const int AmtVsMean = 14;
    internal const int AmtZScore = 15;
    internal const int AmtVsMax = 16;
    internal const int VelCnt10m = 17; // then sum 10m, cnt 1h, sum 1h, cnt 1d, sum 1d, cnt 7d, sum 7d
    internal const int AmtVsAvg1d = 25;
    internal const int AmtVsAvg7d = 26;
    internal const int MerchantNew = 27; // then per field: new, distinct_log, same_prev for merchant, mcc, country, channel
    internal const int NewMerchantRate1d = 39;
    internal const int CurrencyChanged = 40;
    internal const int ChannelH0 = 41;
    internal const int MccH0 = 45;
    internal const int MerchantHashU = 53;
    internal const int MccHashU = 54;
    internal const int CountryHashU = 55;
    internal const int FeatureCount = 56;

    private static readonly double DtCapLog = DeterministicMath.Log1P(DtCapSeconds);
    private static readonly (double Sin, double Cos)[] DowTable = BuildDowTable();

    private CardFeatureSpecV1()
        : base(SpecName, SpecVersion, BuildDefinitions(), Parameters)
    {
    }

    /// <summary>The one instance.</summary>
    public static CardFeatureSpecV1 Instance { get; } = new();

    internal override int AggregateSize => AggregatesV1.Size;

    internal const string Parameters =
        "amount.max=1e15\n" +
        "event_time.range_ms=-2208988800000..7258118400000\n" +
        "amount.log=ln(1+amount)\n" +
        "time.zone=UTC\n" +
        "time.dow=monday0\n" +
        "dt.cap_s=2592000\n" +
        "dt.back=1,3\n" +
        "decay.tau_ms=600000,3600000,86400000,604800000\n" +
        "decay.late=no-backward;late-weight=exp(-(newest-t)/tau)\n" +
        "stats=welford(ln(1+amount));var=population;var_floor=0.01;z_clip=10\n" +
        "ratio.min_decayed_count=1e-6\n" +
        "hash=fnv1a64-utf8+fmix64;seed-xor-basis\n" +
        "seed.txn=0x64692d6e7874;seed.merchant=0x746e61686372656d;seed.mcc=0x63636d;seed.country=0x7972746e756f63;seed.channel=0x6c656e6e616863;seed.currency=0x79636e6572727563\n" +
        "fold_ascii_case=country,channel,currency\n" +
        "missing=empty-string-token;onehot-and-u=0\n" +
        "novelty.bits=merchant:1024,mcc:256,country:128,channel:64;probes=2(lo32,hi32)\n" +
        "distinct.saturate=65535\n" +
        "onehot.channel=4(bits62-63);onehot.mcc=8(bits61-63)\n" +
        "hash_u=(bits40-63+1)/2^24\n" +
        "math=deterministic-v1(taylor-exp14,atanh-log25,taylor-sincos21)\n" +
        "late=append-arrival-order;dt=0;stats-as-of-newest\n";

    internal override CardAggregates CreateAggregates() => new AggregatesV1();

    internal override string? Featurize(CardState state, Transaction tx, RiskRing? merchant, RiskRing? card, Span<float> v) =>
        FeaturizeCard(state, tx, v);

    /// <summary>The v1 features (also the first <see cref="FeatureCount"/> of <c>card</c> v2) and the aggregates' update.</summary>
    internal static string? FeaturizeCard(CardState state, Transaction tx, Span<float> v)
    {
        var amount = tx.Amount;
        if (!double.IsFinite(amount) || amount < 0 || amount > MaxAmount)
        {
            return double.IsFinite(amount) ? "amount must be between 0 and 1e15" : "amount must be a finite number";
        }

        if (tx.EventTimeMs is < MinEventTimeMs or > MaxEventTimeMs)
        {
            return "event_time must be between 1900-01-01 and 2200-01-01";
        }

        var a = (AggregatesV1)state.Aggregates!;
        var t = tx.EventTimeMs;
        var n = state.AppliedCount;
        var hasPrev = n > 0;
        // R: the newest event time applied so far; the aggregates are held "as of R".
        var newest = hasPrev ? a.NewestTimeMs : t;
        var late = t < newest;
        var x = DeterministicMath.Log1P(amount);

        // Amount.
        v[IsReal] = 1f;
        v[AmtLog] = (float)x;
        var cents = Math.Round(amount * 100.0);
        v[AmtWhole] = cents % 100.0 == 0.0 ? 1f : 0f;
        v[AmtRound10] = cents % 1000.0 == 0.0 ? 1f : 0f;

        // Cyclic time (UTC).
        var msOfDay = t % DayMs;
        if (msOfDay < 0)
        {
            msOfDay += DayMs;
        }

        var (tSin, tCos) = DeterministicMath.SinCosTurns(msOfDay / (double)DayMs);
        v[TodSin] = (float)tSin;
        v[TodCos] = (float)tCos;
        var day = (t - msOfDay) / DayMs;
        var dow = (int)(((day + 3) % 7 + 7) % 7); // 1970-01-01 was a Thursday; Monday = 0
        v[DowSin] = (float)DowTable[dow].Sin;
        v[DowCos] = (float)DowTable[dow].Cos;

        // History.
        v[HasPrev] = hasPrev ? 1f : 0f;
        v[DtPrevLog] = (float)(hasPrev ? DtLog(t - newest) : DtCapLog);
        v[DtPrev3Log] = (float)(state.Count >= 3 ? DtLog(t - state.EntryTimeFromNewest(2)) : DtCapLog);
        v[IsLate] = late ? 1f : 0f;
        v[CardAgeLog] = hasPrev ? (float)DeterministicMath.Log1P(Math.Max(0L, t - a.FirstTimeMs) / (double)DayMs) : 0f;
        v[TxnCountLog] = (float)DeterministicMath.Log1P(n);

        // Amount against the card's running statistics (before this transaction).
        if (hasPrev)
        {
            v[AmtVsMean] = (float)(x - a.Mean);
            v[AmtVsMax] = (float)(x - DeterministicMath.Log1P(a.MaxAmount));
        }
        else
        {
            v[AmtVsMean] = 0f;
            v[AmtVsMax] = 0f;
        }

        v[AmtZScore] = n >= 2
            ? (float)Math.Clamp((x - a.Mean) / Math.Sqrt((a.M2 / n) + VarianceFloor), -ZClip, ZClip)
            : 0f;

        // Velocity: decayed counts and sums as of max(t, R) — decays never run backwards.
        Span<double> decay = stackalloc double[4];
        var taus = DecayTauMs;
        for (var k = 0; k < 4; k++)
        {
            decay[k] = late ? 1.0 : DeterministicMath.Exp(-(t - newest) / (double)taus[k]);
            var c = a.Count[k] * decay[k];
            var s = a.Sum[k] * decay[k];
            v[VelCnt10m + (2 * k)] = (float)DeterministicMath.Log1P(c);
            v[VelCnt10m + (2 * k) + 1] = (float)DeterministicMath.Log1P(s);
        }

        v[AmtVsAvg1d] = (float)AmountVsAverage(x, a.Count[2] * decay[2], a.Sum[2] * decay[2]);
        v[AmtVsAvg7d] = (float)AmountVsAverage(x, a.Count[3] * decay[3], a.Sum[3] * decay[3]);

        // Novelty and hashed encodings.
        var hMerchant = StableHash.Hash(SeedMerchant, tx.MerchantId);
        var hMcc = StableHash.Hash(SeedMcc, tx.Mcc);
        var hCountry = StableHash.Hash(SeedCountry, tx.Country, foldAsciiCase: true);
        var hChannel = StableHash.Hash(SeedChannel, tx.Channel, foldAsciiCase: true);
        var hCurrency = StableHash.Hash(SeedCurrency, tx.Currency, foldAsciiCase: true);
        var newMerchant = !Contains(a.MerchantSet, hMerchant);
        var newMcc = !Contains(a.MccSet, hMcc);
        var newCountry = !Contains(a.CountrySet, hCountry);
        var newChannel = !Contains(a.ChannelSet, hChannel);
        Novelty(v, MerchantNew, newMerchant, a.DistinctMerchants, hasPrev && hMerchant == a.LastMerchant);
        Novelty(v, MerchantNew + 3, newMcc, a.DistinctMccs, hasPrev && hMcc == a.LastMcc);
        Novelty(v, MerchantNew + 6, newCountry, a.DistinctCountries, hasPrev && hCountry == a.LastCountry);
        Novelty(v, MerchantNew + 9, newChannel, a.DistinctChannels, hasPrev && hChannel == a.LastChannel);
        var c1d = a.Count[2] * decay[2];
        v[NewMerchantRate1d] = c1d > MinDecayedCount
            ? (float)Math.Clamp(a.NewMerchants1d * decay[2] / c1d, 0.0, 1.0)
            : 0f;
        v[CurrencyChanged] = hasPrev && hCurrency != a.LastCurrency ? 1f : 0f;

        v.Slice(ChannelH0, ChannelBuckets + MccBuckets).Clear();
        if (!string.IsNullOrEmpty(tx.Channel))
        {
            v[ChannelH0 + (int)(hChannel >> 62)] = 1f;
        }

        if (!string.IsNullOrEmpty(tx.Mcc))
        {
            v[MccH0 + (int)(hMcc >> 61)] = 1f;
        }

        v[MerchantHashU] = HashU(tx.MerchantId, hMerchant);
        v[MccHashU] = HashU(tx.Mcc, hMcc);
        v[CountryHashU] = HashU(tx.Country, hCountry);

        // Fold the transaction into the aggregates.
        if (late)
        {
            // A late event contributes what it would weigh at time R, so the decayed sums stay exact.
            for (var k = 0; k < 4; k++)
            {
                var w = DeterministicMath.Exp(-(newest - t) / (double)taus[k]);
                a.Count[k] += w;
                a.Sum[k] += w * amount;
                if (k == 2 && newMerchant)
                {
                    a.NewMerchants1d += w;
                }
            }
        }
        else
        {
            for (var k = 0; k < 4; k++)
            {
                a.Count[k] = (a.Count[k] * decay[k]) + 1.0;
                a.Sum[k] = (a.Sum[k] * decay[k]) + amount;
            }

            a.NewMerchants1d = (a.NewMerchants1d * decay[2]) + (newMerchant ? 1.0 : 0.0);
            a.NewestTimeMs = t;
        }

        a.FirstTimeMs = hasPrev ? Math.Min(a.FirstTimeMs, t) : t;
        var n1 = (double)n + 1.0;
        var delta = x - a.Mean;
        a.Mean += delta / n1;
        a.M2 += delta * (x - a.Mean);
        a.MaxAmount = hasPrev ? Math.Max(a.MaxAmount, amount) : amount;

        a.DistinctMerchants = Remember(a.MerchantSet, hMerchant, newMerchant, a.DistinctMerchants);
        a.DistinctMccs = Remember(a.MccSet, hMcc, newMcc, a.DistinctMccs);
        a.DistinctCountries = Remember(a.CountrySet, hCountry, newCountry, a.DistinctCountries);
        a.DistinctChannels = Remember(a.ChannelSet, hChannel, newChannel, a.DistinctChannels);
        a.LastMerchant = hMerchant;
        a.LastMcc = hMcc;
        a.LastCountry = hCountry;
        a.LastChannel = hChannel;
        a.LastCurrency = hCurrency;
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double DtLog(long deltaMs) =>
        DeterministicMath.Log1P(Math.Min(Math.Max(0L, deltaMs) / 1000.0, DtCapSeconds));

    private static double AmountVsAverage(double x, double count, double sum) =>
        count > MinDecayedCount ? x - DeterministicMath.Log1P(sum / count) : 0.0;

    private static void Novelty(Span<float> v, int at, bool isNew, ushort distinct, bool samePrev)
    {
        v[at] = isNew ? 1f : 0f;
        v[at + 1] = (float)DeterministicMath.Log1P(distinct);
        v[at + 2] = samePrev ? 1f : 0f;
    }

    private static float HashU(string? value, ulong hash) =>
        string.IsNullOrEmpty(value) ? 0f : (float)(((hash >> 40) + 1) / 16777216.0);

    /// <summary>Both probes set: the value was (very probably) seen before. Probes: low and high 32 bits mod size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Contains(ReadOnlySpan<ulong> set, ulong hash)
    {
        var mask = (set.Length * 64) - 1;
        var b1 = (int)hash & mask;
        var b2 = (int)(hash >> 32) & mask;
        return ((set[b1 >> 6] >> (b1 & 63)) & 1) != 0 && ((set[b2 >> 6] >> (b2 & 63)) & 1) != 0;
    }

    private static ushort Remember(Span<ulong> set, ulong hash, bool isNew, ushort distinct)
    {
        if (!isNew)
        {
            return distinct;
        }

        var mask = (set.Length * 64) - 1;
        var b1 = (int)hash & mask;
        var b2 = (int)(hash >> 32) & mask;
        set[b1 >> 6] |= 1UL << (b1 & 63);
        set[b2 >> 6] |= 1UL << (b2 & 63);
        return distinct == ushort.MaxValue ? distinct : (ushort)(distinct + 1);
    }

    private static (double, double)[] BuildDowTable()
    {
        var table = new (double, double)[7];
        for (var d = 0; d < 7; d++)
        {
            table[d] = DeterministicMath.SinCosTurns(d / 7.0);
        }

        return table;
    }

    internal static FeatureDefinition[] BuildDefinitions()
    {
        var amtMax = Math.Log(1 + MaxAmount);
        var dtMax = Math.Log(1 + DtCapSeconds);
        var list = new List<FeatureDefinition>(FeatureCount);
        void Add(string name, string group, double min, double max, string definition) =>
            list.Add(new FeatureDefinition(list.Count, name, group, min, max, definition));

        Add("is_real", "window", 1, 1, "1 for every real transaction; window padding steps are all zeros, so 0 marks padding.");
        Add("amt_log", "amount", 0, amtMax, "ln(1 + amount).");
        Add("amt_whole", "amount", 0, 1, "1 if the amount has no cents: round(amount·100) mod 100 = 0.");
        Add("amt_round10", "amount", 0, 1, "1 if the amount is a whole multiple of 10: round(amount·100) mod 1000 = 0.");
        Add("tod_sin", "time", -1, 1, "sin(2π·f), f = UTC time of day as a fraction of 24 h (ms resolution).");
        Add("tod_cos", "time", -1, 1, "cos(2π·f), f as for tod_sin.");
        Add("dow_sin", "time", -1, 1, "sin(2π·d/7), d = UTC day of week, Monday = 0 … Sunday = 6.");
        Add("dow_cos", "time", -1, 1, "cos(2π·d/7), d as for dow_sin.");
        Add("has_prev", "history", 0, 1, "1 if the card has an earlier applied transaction.");
        Add("dt_prev_log", "history", 0, dtMax, "ln(1 + s), s = seconds from the card's newest earlier event time to this one, clamped to [0, 30 d]; the cap when there is none (late events give 0).");
        Add("dt_prev3_log", "history", 0, dtMax, "ln(1 + s), s = seconds since the 3rd most recent earlier transaction (arrival order), clamped to [0, 30 d]; the cap when the card has fewer than 3.");
        Add("is_late", "history", 0, 1, "1 if this event time is older than the card's newest applied event time (out of order).");
        Add("card_age_log", "history", 0, Math.Log(1 + 106_751_991_167.3), "ln(1 + days since the card's oldest event time), 0 for its first transaction.");
        Add("txn_count_log", "history", 0, Math.Log(1 + (double)uint.MaxValue), "ln(1 + n), n = transactions applied to the card before this one.");
        Add("amt_vs_mean", "amount-stats", -amtMax, amtMax, "amt_log − mean of amt_log over the card's earlier transactions; 0 for the first.");
        Add("amt_zscore", "amount-stats", -ZClip, ZClip, "(amt_log − mean) / sqrt(population variance + 0.01) over earlier transactions, clipped to ±10; 0 with fewer than 2.");
        Add("amt_vs_max", "amount-stats", -amtMax, amtMax, "amt_log − ln(1 + largest earlier amount); > 0 means a new maximum; 0 for the first.");
        string[] scales = ["10m", "1h", "1d", "7d"];
        for (var k = 0; k < 4; k++)
        {
            Add($"vel_cnt_{scales[k]}", "velocity", 0, Math.Log(1 + 4_294_967_296.0), $"ln(1 + C), C = Σ exp(−(T − tᵢ)/τ) over earlier transactions, τ = {scales[k]}, T = max(t, newest).");
            Add($"vel_sum_{scales[k]}", "velocity", 0, Math.Log(1 + (4_294_967_296.0 * MaxAmount)), $"ln(1 + S), S = Σ amountᵢ·exp(−(T − tᵢ)/τ) over earlier transactions, τ = {scales[k]}.");
        }

        Add("amt_vs_avg_1d", "velocity", -amtMax, amtMax, "amt_log − ln(1 + S/C) at τ = 1 d (this amount against the recent decayed average); 0 when C ≤ 1e-6.");
        Add("amt_vs_avg_7d", "velocity", -amtMax, amtMax, "As amt_vs_avg_1d at τ = 7 d.");
        foreach (var field in new[] { "merchant", "mcc", "country", "channel" })
        {
            Add($"{field}_new", "novelty", 0, 1, $"1 if this {field} is not in the card's seen-{field} set (hashed bitset, 2 probes); 1 for the first transaction.");
            Add($"{field}_distinct_log", "novelty", 0, Math.Log(1 + 65535.0), $"ln(1 + distinct {field} values seen before), counted as novel insertions (saturates at 65535).");
            Add($"{field}_same_prev", "novelty", 0, 1, $"1 if the {field} equals the previous transaction's (arrival order).");
        }

        Add("new_merchant_rate_1d", "novelty", 0, 1, "Decayed count (τ = 1 d) of earlier new-merchant transactions ÷ C at τ = 1 d; 0 when C ≤ 1e-6.");
        Add("currency_changed", "novelty", 0, 1, "1 if the currency differs from the previous transaction's (ASCII case-insensitive).");
        for (var b = 0; b < ChannelBuckets; b++)
        {
            Add($"channel_h{b}", "hashed", 0, 1, $"1 if the channel's hash (top 2 bits) is bucket {b}; all 4 are 0 when the channel is missing.");
        }

        for (var b = 0; b < MccBuckets; b++)
        {
            Add($"mcc_h{b}", "hashed", 0, 1, $"1 if the MCC's hash (top 3 bits) is bucket {b}; all 8 are 0 when the MCC is missing.");
        }

        Add("merchant_hash_u", "hashed", 0, 1, "(bits 40–63 of the merchant hash + 1) / 2^24, in (0, 1]; 0 when missing.");
        Add("mcc_hash_u", "hashed", 0, 1, "(bits 40–63 of the MCC hash + 1) / 2^24; 0 when missing.");
        Add("country_hash_u", "hashed", 0, 1, "(bits 40–63 of the country hash + 1) / 2^24; 0 when missing.");
        return [.. list];
    }

    /// <summary>The v1 running aggregates; <c>FEATURES.md</c> "Binary state layout" gives the byte offsets.</summary>
    internal class AggregatesV1 : CardAggregates
    {
        public const int Size = 160 + ((MerchantBits + MccBits + CountryBits + ChannelBits) / 8);

        public long FirstTimeMs;
        public long NewestTimeMs;
        public double Mean;
        public double M2;
        public double MaxAmount;
        public Double4 Count;
        public Double4 Sum;
        public double NewMerchants1d;
        public ulong LastMerchant;
        public ulong LastMcc;
        public ulong LastCountry;
        public ulong LastChannel;
        public ulong LastCurrency;
        public ushort DistinctMerchants;
        public ushort DistinctMccs;
        public ushort DistinctCountries;
        public ushort DistinctChannels;
        // All four bitsets in one inline block: merchant words 0..15, MCC 16..19, country 20..21, channel 22.
        public BitsetWords Bits;

        public Span<ulong> MerchantSet => ((Span<ulong>)Bits)[..(MerchantBits / 64)];

        public Span<ulong> MccSet => ((Span<ulong>)Bits).Slice(MerchantBits / 64, MccBits / 64);

        public Span<ulong> CountrySet => ((Span<ulong>)Bits).Slice((MerchantBits + MccBits) / 64, CountryBits / 64);

        public Span<ulong> ChannelSet => ((Span<ulong>)Bits).Slice((MerchantBits + MccBits + CountryBits) / 64, ChannelBits / 64);

        public override void Reset()
        {
            FirstTimeMs = 0;
            NewestTimeMs = 0;
            Mean = 0;
            M2 = 0;
            MaxAmount = 0;
            Count = default;
            Sum = default;
            NewMerchants1d = 0;
            LastMerchant = LastMcc = LastCountry = LastChannel = LastCurrency = 0;
            DistinctMerchants = DistinctMccs = DistinctCountries = DistinctChannels = 0;
            Bits = default;
        }

        public override void Write(Span<byte> d)
        {
            BinaryPrimitives.WriteInt64LittleEndian(d, FirstTimeMs);
            BinaryPrimitives.WriteInt64LittleEndian(d[8..], NewestTimeMs);
            BinaryPrimitives.WriteDoubleLittleEndian(d[16..], Mean);
            BinaryPrimitives.WriteDoubleLittleEndian(d[24..], M2);
            BinaryPrimitives.WriteDoubleLittleEndian(d[32..], MaxAmount);
            for (var k = 0; k < 4; k++)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(d[(40 + (8 * k))..], Count[k]);
                BinaryPrimitives.WriteDoubleLittleEndian(d[(72 + (8 * k))..], Sum[k]);
            }

            BinaryPrimitives.WriteDoubleLittleEndian(d[104..], NewMerchants1d);
            BinaryPrimitives.WriteUInt64LittleEndian(d[112..], LastMerchant);
            BinaryPrimitives.WriteUInt64LittleEndian(d[120..], LastMcc);
            BinaryPrimitives.WriteUInt64LittleEndian(d[128..], LastCountry);
            BinaryPrimitives.WriteUInt64LittleEndian(d[136..], LastChannel);
            BinaryPrimitives.WriteUInt64LittleEndian(d[144..], LastCurrency);
            BinaryPrimitives.WriteUInt16LittleEndian(d[152..], DistinctMerchants);
            BinaryPrimitives.WriteUInt16LittleEndian(d[154..], DistinctMccs);
            BinaryPrimitives.WriteUInt16LittleEndian(d[156..], DistinctCountries);
            BinaryPrimitives.WriteUInt16LittleEndian(d[158..], DistinctChannels);
            WriteWords(d[160..], Bits);
        }

        public override bool TryRead(ReadOnlySpan<byte> s)
        {
            FirstTimeMs = BinaryPrimitives.ReadInt64LittleEndian(s);
            NewestTimeMs = BinaryPrimitives.ReadInt64LittleEndian(s[8..]);
            Mean = BinaryPrimitives.ReadDoubleLittleEndian(s[16..]);
            M2 = BinaryPrimitives.ReadDoubleLittleEndian(s[24..]);
            MaxAmount = BinaryPrimitives.ReadDoubleLittleEndian(s[32..]);
            for (var k = 0; k < 4; k++)
            {
                Count[k] = BinaryPrimitives.ReadDoubleLittleEndian(s[(40 + (8 * k))..]);
                Sum[k] = BinaryPrimitives.ReadDoubleLittleEndian(s[(72 + (8 * k))..]);
            }

            NewMerchants1d = BinaryPrimitives.ReadDoubleLittleEndian(s[104..]);
            LastMerchant = BinaryPrimitives.ReadUInt64LittleEndian(s[112..]);
            LastMcc = BinaryPrimitives.ReadUInt64LittleEndian(s[120..]);
            LastCountry = BinaryPrimitives.ReadUInt64LittleEndian(s[128..]);
            LastChannel = BinaryPrimitives.ReadUInt64LittleEndian(s[136..]);
            LastCurrency = BinaryPrimitives.ReadUInt64LittleEndian(s[144..]);
            DistinctMerchants = BinaryPrimitives.ReadUInt16LittleEndian(s[152..]);
            DistinctMccs = BinaryPrimitives.ReadUInt16LittleEndian(s[154..]);
            DistinctCountries = BinaryPrimitives.ReadUInt16LittleEndian(s[156..]);
            DistinctChannels = BinaryPrimitives.ReadUInt16LittleEndian(s[158..]);
            ReadWords(s[160..], Bits);

            // Every bit pattern round-trips; reject only what this code can never have written.
            return M2 >= 0 && double.IsFinite(Mean) && MaxAmount >= 0;
        }

        private static void WriteWords(Span<byte> d, ReadOnlySpan<ulong> words)
        {
            for (var i = 0; i < words.Length; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(d[(8 * i)..], words[i]);
            }
        }

        private static void ReadWords(ReadOnlySpan<byte> s, Span<ulong> words)
        {
            for (var i = 0; i < words.Length; i++)
            {
                words[i] = BinaryPrimitives.ReadUInt64LittleEndian(s[(8 * i)..]);
            }
        }
    }

    /// <summary>Four doubles inline (one per decay time constant).</summary>
    [InlineArray(4)]
    internal struct Double4
    {
        private double _element0;
    }

    /// <summary>The 23 words of the four novelty bitsets, inline.</summary>
    [InlineArray((MerchantBits + MccBits + CountryBits + ChannelBits) / 64)]
    internal struct BitsetWords
    {
        private ulong _element0;
    }
}
