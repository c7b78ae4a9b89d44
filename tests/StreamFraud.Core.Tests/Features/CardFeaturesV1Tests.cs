using StreamFraud.Core.Features;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// Each card v1 feature against values worked out by hand from the definitions in FEATURES.md for a five-event
/// card history (t1..t5 below; t4 arrives late), plus edge cases. Expectations are written as the arithmetic of the
/// definition with System.Math, never through the code under test.
/// </summary>
public class CardFeaturesV1Tests
{
    private static readonly CardFeatureSpecV1 Spec = FeatureSpec.CardV1;

    // Monday 06:00, 06:30, 08:30, (late) 06:10, 08:40 UTC.
    private static readonly long T1 = T0 + (6 * Hour);
    private static readonly long T2 = T1 + (30 * Minute);
    private static readonly long T3 = T2 + (2 * Hour);
    private static readonly long T4 = T1 + (10 * Minute);
    private static readonly long T5 = T3 + (10 * Minute);
    private static readonly double[] Taus = [600_000, 3_600_000, 86_400_000, 604_800_000];
    private static readonly string[] Scales = ["10m", "1h", "1d", "7d"];

    private static readonly Transaction Tx1 = Make("t1", T1, 100.00, "m1", "5411", "US", "pos", "USD");
    private static readonly Transaction Tx2 = Make("t2", T2, 25.50, "m2", "5812", "us", "ecom", "usd");
    private static readonly Transaction Tx3 = Make("t3", T3, 100.00, "m1", "5411", "FR", "pos", "EUR");
    private static readonly Transaction Tx4 = Make("t4", T4, 10.00, "m3", "5999", "FR", "ecom", "EUR");
    private static readonly Transaction Tx5 = Make("t5", T5, 40.00, "m1", "5411", "FR", "pos", "EUR");

    private static double Ln(double x) => Math.Log(x);

    private static float F(float[] v, string name) => v[Spec.IndexOf(name)];

    private static void Expect(float[] v, string name, double expected) => Near(expected, F(v, name), name);

    private static float[][] History(int count)
    {
        var state = new CardState(Spec);
        var all = new[] { Tx1, Tx2, Tx3, Tx4, Tx5 };
        var vectors = new float[count][];
        for (var i = 0; i < count; i++)
        {
            vectors[i] = Apply(state, all[i]);
        }

        return vectors;
    }

    [Fact]
    public void Featurize_FirstTransaction_EveryFeatureMatchesHandComputed()
    {
        var v = History(1)[0];
        var expected = new Dictionary<string, double>
        {
            ["is_real"] = 1, ["amt_log"] = Ln(101), ["amt_whole"] = 1, ["amt_round10"] = 1,
            ["tod_sin"] = 1, ["tod_cos"] = 0, ["dow_sin"] = 0, ["dow_cos"] = 1, // 06:00 = quarter day; Monday
            ["has_prev"] = 0, ["dt_prev_log"] = Ln(1 + 2_592_000), ["dt_prev3_log"] = Ln(1 + 2_592_000), ["is_late"] = 0,
            ["card_age_log"] = 0, ["txn_count_log"] = 0, ["amt_vs_mean"] = 0, ["amt_zscore"] = 0, ["amt_vs_max"] = 0,
            ["amt_vs_avg_1d"] = 0, ["amt_vs_avg_7d"] = 0, ["new_merchant_rate_1d"] = 0, ["currency_changed"] = 0,
        };
        foreach (var s in Scales)
        {
            expected[$"vel_cnt_{s}"] = 0;
            expected[$"vel_sum_{s}"] = 0;
        }

        foreach (var field in new[] { "merchant", "mcc", "country", "channel" })
        {
            expected[$"{field}_new"] = 1;
            expected[$"{field}_distinct_log"] = 0;
            expected[$"{field}_same_prev"] = 0;
        }

        AddHashed(expected, Tx1);
        Assert.Equal(Spec.Dimension, expected.Count);
        foreach (var (name, value) in expected)
        {
            Expect(v, name, value);
        }
    }

    [Fact]
    public void Featurize_Amount_LogAndRoundness()
    {
        var v = History(2);
        Expect(v[1], "amt_log", Ln(26.5));
        Expect(v[1], "amt_whole", 0);
        Expect(v[1], "amt_round10", 0);

        var state = new CardState(Spec);
        Assert.Equal(1f, F(Apply(state, Make("a", T0, 12.00)), "amt_whole"));
        Assert.Equal(0f, F(Apply(state, Make("b", T0, 12.00)), "amt_round10"));
        Assert.Equal(1f, F(Apply(state, Make("c", T0, 1230.00)), "amt_round10"));
        // 0.1 + 0.2 = 0.30000000000000004 rounds to 30 cents: not whole.
        Assert.Equal(0f, F(Apply(state, Make("d", T0, 0.1 + 0.2)), "amt_whole"));
        Assert.Equal(0f, F(Apply(state, Make("e", T0, 0.0)), "amt_log"));
        Near(Ln(1 + 1e15), F(Apply(state, Make("f", T0, 1e15)), "amt_log"), "amt_log at the maximum");
    }

    [Fact]
    public void Featurize_TimeOfDay_IsCyclicUtc()
    {
        var v = History(2)[1];
        var f = 6.5 / 24; // 06:30
        Expect(v, "tod_sin", Math.Sin(2 * Math.PI * f));
        Expect(v, "tod_cos", Math.Cos(2 * Math.PI * f));

        var state = new CardState(Spec);
        var midnight = Apply(state, Make("a", T0, 1));
        Assert.Equal(0f, F(midnight, "tod_sin"));
        Assert.Equal(1f, F(midnight, "tod_cos"));
        var justBefore = Apply(state, Make("b", T0 + Day - 1, 1));
        Near(Math.Sin(2 * Math.PI * (Day - 1) / Day), F(justBefore, "tod_sin"), "23:59:59.999");
    }

    [Theory]
    [InlineData(0, 0)] // Monday 2024-01-01
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(4, 4)]
    [InlineData(5, 5)]
    [InlineData(6, 6)] // Sunday
    [InlineData(7, 0)]
    public void Featurize_DayOfWeek_MondayIsZero(int daysAfterMonday, int expectedDow)
    {
        var v = Apply(new CardState(Spec), Make("a", T0 + (daysAfterMonday * Day) + (23 * Hour), 1));
        Expect(v, "dow_sin", Math.Sin(2 * Math.PI * expectedDow / 7));
        Expect(v, "dow_cos", Math.Cos(2 * Math.PI * expectedDow / 7));
    }

    [Fact]
    public void Featurize_BeforeEpoch_UsesFlooredDayAndTime()
    {
        // 1969-12-31T18:00:00Z was a Wednesday (dow 2), three quarters into its day.
        var v = Apply(new CardState(Spec), Make("a", -6 * Hour, 1));
        Expect(v, "dow_sin", Math.Sin(2 * Math.PI * 2 / 7));
        Expect(v, "tod_sin", -1);
        Expect(v, "tod_cos", 0);
    }

    [Fact]
    public void Featurize_History_TimeSincePreviousAgeAndCount()
    {
        var v = History(5);
        Expect(v[1], "has_prev", 1);
        Expect(v[1], "dt_prev_log", Ln(1 + 1800));
        Expect(v[1], "dt_prev3_log", Ln(1 + 2_592_000)); // fewer than 3 earlier
        Expect(v[1], "card_age_log", Ln(1 + (1800.0 / 86_400)));
        Expect(v[1], "txn_count_log", Ln(2));
        Expect(v[2], "dt_prev_log", Ln(1 + 7200));
        Expect(v[2], "card_age_log", Ln(1 + (9000.0 / 86_400)));
        Expect(v[2], "txn_count_log", Ln(3));
        // t5: newest earlier is t3 (10 min ago); 3rd most recent earlier in arrival order is t2 (2 h 10 min ago).
        Expect(v[4], "dt_prev_log", Ln(1 + 600));
        Expect(v[4], "dt_prev3_log", Ln(1 + 7800));
        Expect(v[4], "is_late", 0);
        Expect(v[4], "txn_count_log", Ln(5));
    }

    [Fact]
    public void Featurize_TimeSincePrevious_CapsAtThirtyDays()
    {
        var state = new CardState(Spec);
        Apply(state, Make("a", T0, 1));
        var v = Apply(state, Make("b", T0 + (45 * Day), 1));
        Expect(v, "dt_prev_log", Ln(1 + 2_592_000));
        Expect(v, "card_age_log", Ln(46));
    }

    [Fact]
    public void Featurize_AmountStats_MeanZScoreAndMax()
    {
        var v = History(3);
        Expect(v[1], "amt_vs_mean", Ln(26.5) - Ln(101));
        Expect(v[1], "amt_zscore", 0); // fewer than two earlier amounts
        Expect(v[1], "amt_vs_max", Ln(26.5) - Ln(101));

        var mean = (Ln(101) + Ln(26.5)) / 2;
        var variance = Math.Pow((Ln(101) - Ln(26.5)) / 2, 2);
        Expect(v[2], "amt_vs_mean", Ln(101) - mean);
        Expect(v[2], "amt_zscore", (Ln(101) - mean) / Math.Sqrt(variance + 0.01));
        Expect(v[2], "amt_vs_max", 0);
    }

    [Fact]
    public void Featurize_AmountZScore_ClipsAtTen()
    {
        // Two equal amounts: variance 0, so z = (x − ln 11) / sqrt(0 + 0.01) — ±114 and ±69 here — is clipped.
        var up = new CardState(Spec);
        Apply(up, Make("a", T0, 10));
        Apply(up, Make("b", T0 + 1, 10));
        Expect(Apply(up, Make("c", T0 + 2, 1_000_000)), "amt_zscore", 10);

        var down = new CardState(Spec);
        Apply(down, Make("a", T0, 1000));
        Apply(down, Make("b", T0 + 1, 1000));
        Expect(Apply(down, Make("c", T0 + 2, 0)), "amt_zscore", -10);

        // Not clipped: earlier 10, 10, 1e6 → mean m, population variance s², z = (ln 1 − m) / sqrt(s² + 0.01).
        double[] xs = [Ln(11), Ln(11), Ln(1_000_001)];
        var m = xs.Average();
        var s2 = xs.Sum(x => (x - m) * (x - m)) / 3;
        Expect(Apply(up, Make("d", T0 + 3, 0)), "amt_zscore", (0 - m) / Math.Sqrt(s2 + 0.01));
    }

    [Fact]
    public void Featurize_Velocity_DecayedCountsAndSums()
    {
        var v = History(3);
        for (var k = 0; k < 4; k++)
        {
            // t2: one earlier transaction (100.00) 30 minutes before.
            var w = Math.Exp(-1_800_000 / Taus[k]);
            Expect(v[1], $"vel_cnt_{Scales[k]}", Ln(1 + w));
            Expect(v[1], $"vel_sum_{Scales[k]}", Ln(1 + (100 * w)));

            // t3: 100.00 two and a half hours before, 25.50 two hours before.
            var w1 = Math.Exp(-9_000_000 / Taus[k]);
            var w2 = Math.Exp(-7_200_000 / Taus[k]);
            Expect(v[2], $"vel_cnt_{Scales[k]}", Ln(1 + w1 + w2));
            Expect(v[2], $"vel_sum_{Scales[k]}", Ln(1 + (100 * w1) + (25.5 * w2)));
        }

        Expect(v[1], "amt_vs_avg_1d", Ln(26.5) - Ln(101)); // decayed average of one amount is that amount
        var a1 = Math.Exp(-9_000_000 / Taus[2]);
        var a2 = Math.Exp(-7_200_000 / Taus[2]);
        Expect(v[2], "amt_vs_avg_1d", Ln(101) - Ln(1 + (((100 * a1) + (25.5 * a2)) / (a1 + a2))));
        var b1 = Math.Exp(-9_000_000 / Taus[3]);
        var b2 = Math.Exp(-7_200_000 / Taus[3]);
        Expect(v[2], "amt_vs_avg_7d", Ln(101) - Ln(1 + (((100 * b1) + (25.5 * b2)) / (b1 + b2))));
    }

    [Fact]
    public void Featurize_Velocity_AfterLongGap_RatioFeaturesAreZero()
    {
        var state = new CardState(Spec);
        Apply(state, Make("a", T0, 50));
        // 200 days later: C(1 d) = e^-200 ≈ 1.4e-87 is below 1e-6, so the average is undefined → 0.
        var v = Apply(state, Make("b", T0 + (200 * Day), 80));
        Expect(v, "amt_vs_avg_1d", 0);
        Expect(v, "new_merchant_rate_1d", 0);
        Expect(v, "amt_vs_avg_7d", 0); // C(7 d) = e^(−200/7) ≈ 3.9e-13, also below 1e-6
    }

    [Fact]
    public void Featurize_Novelty_NewDistinctSamePrevPerField()
    {
        var v = History(4);
        // t2: m2, 5812, "us" (= US after ASCII folding), ecom.
        Expect(v[1], "merchant_new", 1);
        Expect(v[1], "merchant_distinct_log", Ln(2));
        Expect(v[1], "merchant_same_prev", 0);
        Expect(v[1], "mcc_new", 1);
        Expect(v[1], "country_new", 0);
        Expect(v[1], "country_distinct_log", Ln(2));
        Expect(v[1], "country_same_prev", 1);
        Expect(v[1], "channel_new", 1);
        Expect(v[1], "channel_same_prev", 0);

        // t3: m1 again (seen), 5411 (seen), FR (new), pos (seen); two distinct of each before, one country.
        Expect(v[2], "merchant_new", 0);
        Expect(v[2], "merchant_distinct_log", Ln(3));
        Expect(v[2], "merchant_same_prev", 0);
        Expect(v[2], "mcc_new", 0);
        Expect(v[2], "mcc_distinct_log", Ln(3));
        Expect(v[2], "country_new", 1);
        Expect(v[2], "country_distinct_log", Ln(2));
        Expect(v[2], "channel_new", 0);
        Expect(v[2], "channel_distinct_log", Ln(3));

        // t4: m3 (new), 5999 (new), FR (seen, same as t3), ecom (seen, not the previous).
        Expect(v[3], "merchant_new", 1);
        Expect(v[3], "mcc_new", 1);
        Expect(v[3], "mcc_distinct_log", Ln(3));
        Expect(v[3], "country_new", 0);
        Expect(v[3], "country_same_prev", 1);
        Expect(v[3], "channel_new", 0);
        Expect(v[3], "channel_same_prev", 0);
    }

    [Fact]
    public void Featurize_NewMerchantRateAndCurrency()
    {
        var v = History(5);
        Expect(v[1], "new_merchant_rate_1d", 1); // the only earlier transaction was at a new merchant
        Expect(v[1], "currency_changed", 0);     // "usd" = "USD"
        Expect(v[2], "new_merchant_rate_1d", 1);
        Expect(v[2], "currency_changed", 1);     // USD → EUR
        Expect(v[3], "currency_changed", 0);
        // t5 (as of t5): t1 new, t2 new, t3 seen (m1), t4 new.
        double W(long t) => Math.Exp(-(T5 - t) / Taus[2]);
        Expect(v[4], "new_merchant_rate_1d", (W(T1) + W(T2) + W(T4)) / (W(T1) + W(T2) + W(T3) + W(T4)));
    }

    [Fact]
    public void Featurize_HashedEncodings_OneHotAndUniformScalars()
    {
        var v = History(2)[1];
        var expected = new Dictionary<string, double>();
        AddHashed(expected, Tx2);
        foreach (var (name, value) in expected)
        {
            Expect(v, name, value);
        }

        Assert.Equal(1f, Enumerable.Range(0, 4).Sum(b => F(v, $"channel_h{b}")));
        Assert.Equal(1f, Enumerable.Range(0, 8).Sum(b => F(v, $"mcc_h{b}")));
    }

    [Fact]
    public void Featurize_MissingCategoricals_ZeroEncodingsAndEmptyToken()
    {
        var state = new CardState(Spec);
        var a = Apply(state, Make("a", T0, 5, mcc: null, country: null, channel: null));
        for (var b = 0; b < 4; b++)
        {
            Assert.Equal(0f, F(a, $"channel_h{b}"));
        }

        for (var b = 0; b < 8; b++)
        {
            Assert.Equal(0f, F(a, $"mcc_h{b}"));
        }

        Assert.Equal(0f, F(a, "mcc_hash_u"));
        Assert.Equal(0f, F(a, "country_hash_u"));
        // Missing is the empty-string token for novelty: a second missing value is not new and equals the previous.
        var b2 = Apply(state, Make("b", T0 + 1, 5, mcc: "", country: null, channel: null));
        Assert.Equal(0f, F(b2, "mcc_new"));
        Assert.Equal(1f, F(b2, "mcc_same_prev"));
        Assert.Equal(1f, F(b2, "channel_same_prev"));
    }

    [Fact]
    public void ChannelBuckets_CommonChannels_AreDistinct()
    {
        var buckets = new[] { "pos", "ecom", "atm", "moto" }
            .Select(c => StableHash.Hash(CardFeatureSpecV1.SeedChannel, c, foldAsciiCase: true) >> 62)
            .ToHashSet();
        Assert.Equal(4, buckets.Count);
    }

    [Fact]
    public void Featurize_LateEvent_DtZeroAndStatsAsOfNewest()
    {
        var v = History(4)[3]; // t4 = 06:10 arrives after t3 = 08:30
        Expect(v, "is_late", 1);
        Expect(v, "dt_prev_log", 0);
        Expect(v, "dt_prev3_log", Ln(1 + 600)); // 3rd most recent earlier arrival is t1 (06:00)
        Expect(v, "card_age_log", Ln(1 + (600.0 / 86_400)));
        var f = (6 + (10 / 60.0)) / 24;
        Expect(v, "tod_sin", Math.Sin(2 * Math.PI * f)); // cyclic time is the event's own time
        for (var k = 0; k < 4; k++)
        {
            // Evaluated at the newest time t3, never decayed backwards to t4.
            var c = Math.Exp(-9_000_000 / Taus[k]) + Math.Exp(-7_200_000 / Taus[k]) + 1;
            var s = (100 * Math.Exp(-9_000_000 / Taus[k])) + (25.5 * Math.Exp(-7_200_000 / Taus[k])) + 100;
            Expect(v, $"vel_cnt_{Scales[k]}", Ln(1 + c));
            Expect(v, $"vel_sum_{Scales[k]}", Ln(1 + s));
        }
    }

    [Fact]
    public void Featurize_AfterLateEvent_DecayedSumsEqualBruteForceOverEventTimes()
    {
        var v = History(5)[4];
        long[] times = [T1, T2, T3, T4];
        double[] amounts = [100, 25.5, 100, 10];
        for (var k = 0; k < 4; k++)
        {
            double c = 0, s = 0;
            for (var i = 0; i < 4; i++)
            {
                c += Math.Exp(-(T5 - times[i]) / Taus[k]);
                s += amounts[i] * Math.Exp(-(T5 - times[i]) / Taus[k]);
            }

            Expect(v, $"vel_cnt_{Scales[k]}", Ln(1 + c));
            Expect(v, $"vel_sum_{Scales[k]}", Ln(1 + s));
        }

        Expect(v, "card_age_log", Ln(1 + (160.0 / 1440))); // oldest event time is t1, 2 h 40 min earlier
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.01)]
    [InlineData(1.000001e15)]
    public void TryApply_InvalidAmount_InvalidAndStateUnchanged(double amount)
    {
        var state = new CardState(Spec);
        Apply(state, Tx1);
        var before = state.ToArray();
        var window = new float[Spec.WindowSize];
        var result = state.TryApply(Make("bad", T2, amount), new SourcePosition(0, 5, SourcePosition.OfflineSource), window);
        Assert.Equal(ApplyStatus.Invalid, result.Status);
        Assert.Contains("amount", result.Error);
        Assert.Equal(0, result.RealSteps);
        Assert.Equal(before, state.ToArray());
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(-2_208_988_800_001)] // just before 1900-01-01
    [InlineData(7_258_118_400_001)]  // just after 2200-01-01
    [InlineData(long.MaxValue)]
    public void TryApply_EventTimeOutOfRange_InvalidAndStateUnchanged(long eventTime)
    {
        var state = new CardState(Spec);
        Apply(state, Tx1);
        var before = state.ToArray();
        var result = state.TryApply(Make("bad", eventTime, 1), new SourcePosition(0, 5, SourcePosition.OfflineSource), new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Invalid, result.Status);
        Assert.Contains("event_time", result.Error);
        Assert.Equal(before, state.ToArray());
    }

    [Theory]
    [InlineData(-2_208_988_800_000)]
    [InlineData(7_258_118_400_000)]
    public void TryApply_EventTimeAtRangeEnds_Applied(long eventTime) =>
        Apply(new CardState(Spec), Make("edge", eventTime, 1));

    [Fact]
    public void Featurize_RandomHistories_MatchBruteForceReference()
    {
        // Independent check of every feature: ReferenceFeaturesV1 recomputes each one from the whole earlier history.
        var rng = new Random(7);
        var checkedValues = 0;
        for (var card = 0; card < 40; card++)
        {
            var state = new CardState(Spec);
            var reference = new ReferenceFeaturesV1();
            var t = T0 + (long)(rng.NextDouble() * 30 * Day);
            for (var i = 0; i < 60; i++)
            {
                t += (long)(-Math.Log(1 - rng.NextDouble()) * (rng.Next(4) == 0 ? 5 * Minute : 8 * Hour));
                var eventTime = rng.Next(10) == 0 ? t - (long)(rng.NextDouble() * 2 * Day) : t; // ~10% late
                var tx = Make(
                    $"c{card}-{i}",
                    eventTime,
                    Math.Round(Math.Exp(rng.NextDouble() * 7), rng.Next(3)),
                    merchant: $"m{rng.Next(6)}",
                    mcc: rng.Next(12) == 0 ? null : $"{5000 + rng.Next(5)}",
                    country: rng.Next(15) == 0 ? null : new[] { "US", "us", "FR", "DE" }[rng.Next(4)],
                    channel: rng.Next(15) == 0 ? null : new[] { "pos", "ecom", "ATM" }[rng.Next(3)],
                    currency: rng.Next(5) == 0 ? "EUR" : "USD");
                var actual = Apply(state, tx);
                var expected = reference.Next(tx);
                for (var f = 0; f < Spec.Dimension; f++)
                {
                    Near(expected[f], actual[f], $"card {card} event {i} {Spec.Features[f].Name}", 2e-6);
                    checkedValues++;
                }
            }
        }

        Assert.Equal(40 * 60 * 56, checkedValues);
    }

    [Fact]
    public void MerchantNovelty_FiftyKnownMerchants_FalsePositiveRateNearTheory()
    {
        // 1024 bits, 2 probes, 50 values: p ≈ (1 − e^(−100/1024))² ≈ 0.0087. A false positive reports a new
        // merchant as seen; the rate must stay small.
        var state = new CardState(Spec);
        for (var i = 0; i < 50; i++)
        {
            Apply(state, Make($"k{i}", T0 + i, 10, merchant: $"known-{i}"));
        }

        var saved = state.ToArray();
        var falsePositives = 0;
        const int trials = 4000;
        for (var i = 0; i < trials; i++)
        {
            Assert.Equal(StateLoadStatus.Loaded, state.Load(saved));
            if (F(Apply(state, Make($"q{i}", T0 + 100, 10, merchant: $"fresh-{i}")), "merchant_new") == 0f)
            {
                falsePositives++;
            }
        }

        Assert.InRange(falsePositives / (double)trials, 0.0, 0.02);
    }

    [Fact]
    public void Featurize_AllFeatures_WithinDocumentedRanges()
    {
        var state = new CardState(Spec);
        var rng = new Random(3);
        var t = T0;
        for (var i = 0; i < 3000; i++)
        {
            t += rng.Next(0, (int)(3 * Hour));
            var v = Apply(state, Make($"r{i}", rng.Next(20) == 0 ? t - Day : t, rng.NextDouble() * Math.Pow(10, rng.Next(7)), merchant: $"m{rng.Next(400)}"));
            foreach (var f in Spec.Features)
            {
                Assert.True(float.IsFinite(v[f.Index]) && v[f.Index] >= f.Min && v[f.Index] <= f.Max, $"{f.Name} = {v[f.Index]}");
            }
        }
    }

    private static void AddHashed(Dictionary<string, double> expected, Transaction tx)
    {
        var ch = StableHash.Hash(CardFeatureSpecV1.SeedChannel, tx.Channel, foldAsciiCase: true);
        var mcc = StableHash.Hash(CardFeatureSpecV1.SeedMcc, tx.Mcc);
        for (var b = 0; b < 4; b++)
        {
            expected[$"channel_h{b}"] = (ulong)b == ch >> 62 ? 1 : 0;
        }

        for (var b = 0; b < 8; b++)
        {
            expected[$"mcc_h{b}"] = (ulong)b == mcc >> 61 ? 1 : 0;
        }

        expected["merchant_hash_u"] = ((StableHash.Hash(CardFeatureSpecV1.SeedMerchant, tx.MerchantId) >> 40) + 1) / 16_777_216.0;
        expected["mcc_hash_u"] = ((mcc >> 40) + 1) / 16_777_216.0;
        expected["country_hash_u"] = ((StableHash.Hash(CardFeatureSpecV1.SeedCountry, tx.Country, foldAsciiCase: true) >> 40) + 1) / 16_777_216.0;
    }
}
