using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// An independent, brute-force implementation of the card v1 definitions in FEATURES.md: every feature recomputed
/// from the full list of the card's earlier applied transactions with System.Math, exact sets instead of hashed
/// bitsets, and DateTime for the day of week. Slow and simple on purpose; the production code is incremental.
/// </summary>
internal sealed class ReferenceFeaturesV1
{
    private static readonly long[] Taus = [600_000, 3_600_000, 86_400_000, 604_800_000];
    private readonly List<Transaction> _prior = [];
    private readonly List<bool> _priorNewMerchant = [];

    public static double DtCapLog => Math.Log(1 + 2_592_000.0);

    /// <summary>The vector for <paramref name="tx"/> given the earlier transactions, then remembers it.</summary>
    public double[] Next(Transaction tx)
    {
        var spec = FeatureSpec.CardV1;
        var v = new double[spec.Dimension];
        void Set(string name, double value) => v[spec.IndexOf(name)] = value;

        var n = _prior.Count;
        var t = tx.EventTimeMs;
        var newest = n == 0 ? t : _prior.Max(p => p.EventTimeMs);
        var T = Math.Max(t, newest);
        var x = Math.Log(1 + tx.Amount);
        var xs = _prior.Select(p => Math.Log(1 + p.Amount)).ToArray();

        Set("is_real", 1);
        Set("amt_log", x);
        var cents = (long)Math.Round(tx.Amount * 100);
        Set("amt_whole", cents % 100 == 0 ? 1 : 0);
        Set("amt_round10", cents % 1000 == 0 ? 1 : 0);
        var utc = DateTimeOffset.FromUnixTimeMilliseconds(t).UtcDateTime;
        var dayFraction = utc.TimeOfDay.TotalMilliseconds / 86_400_000.0;
        Set("tod_sin", Math.Sin(2 * Math.PI * dayFraction));
        Set("tod_cos", Math.Cos(2 * Math.PI * dayFraction));
        var dow = ((int)utc.DayOfWeek + 6) % 7;
        Set("dow_sin", Math.Sin(2 * Math.PI * dow / 7));
        Set("dow_cos", Math.Cos(2 * Math.PI * dow / 7));
        Set("has_prev", n > 0 ? 1 : 0);
        Set("dt_prev_log", n > 0 ? DtLog(t - newest) : DtCapLog);
        Set("dt_prev3_log", n >= 3 ? DtLog(t - _prior[n - 3].EventTimeMs) : DtCapLog);
        Set("is_late", t < newest ? 1 : 0);
        Set("card_age_log", n > 0 ? Math.Log(1 + (Math.Max(0, t - _prior.Min(p => p.EventTimeMs)) / 86_400_000.0)) : 0);
        Set("txn_count_log", Math.Log(1 + n));
        if (n > 0)
        {
            var mean = xs.Average();
            Set("amt_vs_mean", x - mean);
            Set("amt_vs_max", x - Math.Log(1 + _prior.Max(p => p.Amount)));
            if (n >= 2)
            {
                var variance = xs.Sum(xi => (xi - mean) * (xi - mean)) / n;
                Set("amt_zscore", Math.Clamp((x - mean) / Math.Sqrt(variance + 0.01), -10, 10));
            }
        }

        string[] scales = ["10m", "1h", "1d", "7d"];
        var c = new double[4];
        var s = new double[4];
        for (var k = 0; k < 4; k++)
        {
            foreach (var p in _prior)
            {
                var w = Math.Exp(-(T - p.EventTimeMs) / (double)Taus[k]);
                c[k] += w;
                s[k] += w * p.Amount;
            }

            Set($"vel_cnt_{scales[k]}", Math.Log(1 + c[k]));
            Set($"vel_sum_{scales[k]}", Math.Log(1 + s[k]));
        }

        Set("amt_vs_avg_1d", c[2] > 1e-6 ? x - Math.Log(1 + (s[2] / c[2])) : 0);
        Set("amt_vs_avg_7d", c[3] > 1e-6 ? x - Math.Log(1 + (s[3] / c[3])) : 0);

        var newMerchant = Novelty("merchant", p => p.MerchantId, fold: false);
        Novelty("mcc", p => p.Mcc, fold: false);
        Novelty("country", p => p.Country, fold: true);
        Novelty("channel", p => p.Channel, fold: true);
        var rate = 0.0;
        for (var i = 0; i < n; i++)
        {
            if (_priorNewMerchant[i])
            {
                rate += Math.Exp(-(T - _prior[i].EventTimeMs) / 86_400_000.0);
            }
        }

        Set("new_merchant_rate_1d", c[2] > 1e-6 ? Math.Clamp(rate / c[2], 0, 1) : 0);
        Set("currency_changed", n > 0 && !string.Equals(tx.Currency, _prior[n - 1].Currency, StringComparison.OrdinalIgnoreCase) ? 1 : 0);

        if (!string.IsNullOrEmpty(tx.Channel))
        {
            Set($"channel_h{StableHash.Hash(CardFeatureSpecV1.SeedChannel, tx.Channel, true) >> 62}", 1);
        }

        if (!string.IsNullOrEmpty(tx.Mcc))
        {
            Set($"mcc_h{StableHash.Hash(CardFeatureSpecV1.SeedMcc, tx.Mcc) >> 61}", 1);
        }

        Set("merchant_hash_u", HashU(tx.MerchantId, StableHash.Hash(CardFeatureSpecV1.SeedMerchant, tx.MerchantId)));
        Set("mcc_hash_u", HashU(tx.Mcc, StableHash.Hash(CardFeatureSpecV1.SeedMcc, tx.Mcc)));
        Set("country_hash_u", HashU(tx.Country, StableHash.Hash(CardFeatureSpecV1.SeedCountry, tx.Country, true)));

        _prior.Add(tx);
        _priorNewMerchant.Add(newMerchant);
        return v;

        bool Novelty(string field, Func<Transaction, string?> get, bool fold)
        {
            string Norm(string? value) => fold ? (value ?? "").ToLowerInvariant() : value ?? "";
            var seen = new HashSet<string>(_prior.Select(p => Norm(get(p))), StringComparer.Ordinal);
            var isNew = !seen.Contains(Norm(get(tx)));
            Set($"{field}_new", isNew ? 1 : 0);
            Set($"{field}_distinct_log", Math.Log(1 + seen.Count));
            Set($"{field}_same_prev", n > 0 && Norm(get(_prior[n - 1])) == Norm(get(tx)) ? 1 : 0);
            return isNew;
        }
    }

    private static double DtLog(long deltaMs) => Math.Log(1 + Math.Clamp(deltaMs / 1000.0, 0, 2_592_000.0));

    private static double HashU(string? value, ulong h) => string.IsNullOrEmpty(value) ? 0 : ((h >> 40) + 1) / 16_777_216.0;
}
