using System.Diagnostics.CodeAnalysis;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// Scores and labels sorted once, reduced to the cumulative counts at every distinct score; ROC-AUC, average
/// precision, the exact threshold searches and the confusion matrix at any threshold are linear sweeps (or a binary
/// search) over it.
/// </summary>
/// <remarks>
/// <para>
/// Decision rule, everywhere in the product: an event is flagged when <c>score &gt;= threshold</c>. The candidate
/// thresholds are the distinct scores plus <see cref="double.PositiveInfinity"/> ("flag nothing"). Events with equal
/// scores always fall on the same side of any threshold, so ties are never split.
/// </para>
/// <para>
/// Construction costs one O(n log n) sort; everything else is O(distinct scores), and <see cref="Evaluate"/> is
/// O(log distinct). Scores must be finite (a NaN has no place in the order); <c>-0.0</c> is stored as <c>0.0</c>.
/// Float scores are widened to double exactly, so a threshold picked here compares with the float score the same way
/// in the scorer.
/// </para>
/// </remarks>
public sealed class ScoreCurve
{
    private readonly double[] _scores;
    private readonly long[] _truePositives;
    private readonly long[] _falsePositives;

    private ScoreCurve(double[] scores, long[] truePositives, long[] falsePositives, long positives, long negatives)
    {
        _scores = scores;
        _truePositives = truePositives;
        _falsePositives = falsePositives;
        Positives = positives;
        Negatives = negatives;
    }

    /// <summary>Events (scores) in the curve.</summary>
    public long Count => Positives + Negatives;

    /// <summary>Events labelled fraud.</summary>
    public long Positives { get; }

    /// <summary>Events labelled legitimate.</summary>
    public long Negatives { get; }

    /// <summary>The distinct scores, highest first: the finite candidate thresholds.</summary>
    public ReadOnlySpan<double> Thresholds => _scores;

    /// <summary>Per entry of <see cref="Thresholds"/>, the positives with <c>score &gt;= threshold</c> (TP).</summary>
    public ReadOnlySpan<long> CumulativeTruePositives => _truePositives;

    /// <summary>Per entry of <see cref="Thresholds"/>, the negatives with <c>score &gt;= threshold</c> (FP).</summary>
    public ReadOnlySpan<long> CumulativeFalsePositives => _falsePositives;

    /// <summary>Builds the curve from per-event scores and labels (<see langword="true"/> = fraud).</summary>
    /// <exception cref="ArgumentException">The spans differ in length, or a score is NaN or infinite.</exception>
    public static ScoreCurve Create(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        var keys = new double[scores.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            var s = scores[i];
            if (!double.IsFinite(s))
            {
                ThrowNonFinite(i, s);
            }

            keys[i] = s + 0.0; // -0.0 + 0.0 == +0.0: one spelling per group.
        }

        return FromKeys(keys, labels);
    }

    /// <summary>Builds the curve from float scores (widened exactly to double) and labels.</summary>
    /// <exception cref="ArgumentException">The spans differ in length, or a score is NaN or infinite.</exception>
    public static ScoreCurve Create(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        var keys = new double[scores.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            double s = scores[i];
            if (!double.IsFinite(s))
            {
                ThrowNonFinite(i, s);
            }

            keys[i] = s + 0.0;
        }

        return FromKeys(keys, labels);
    }

    private static ScoreCurve FromKeys(double[] keys, ReadOnlySpan<bool> labels)
    {
        var items = labels.ToArray();
        Array.Sort(keys, items);

        var distinct = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            if (i == 0 || keys[i] != keys[i - 1])
            {
                distinct++;
            }
        }

        var scores = new double[distinct];
        var tp = new long[distinct];
        var fp = new long[distinct];
        long positives = 0, negatives = 0;
        var g = -1;
        for (var i = keys.Length - 1; i >= 0; i--)
        {
            if (i == keys.Length - 1 || keys[i] != keys[i + 1])
            {
                g++;
                scores[g] = keys[i];
            }

            if (items[i])
            {
                positives++;
            }
            else
            {
                negatives++;
            }

            tp[g] = positives;
            fp[g] = negatives;
        }

        return new ScoreCurve(scores, tp, fp, positives, negatives);
    }

    /// <summary>
    /// Area under the ROC curve: the probability that a random fraud scores above a random legitimate event, ties
    /// counting one half (Mann–Whitney U / (P·N)); equal to the trapezoidal area under the ROC curve through the
    /// distinct thresholds. Summed exactly in integers, then divided once.
    /// </summary>
    /// <returns>The AUC in [0, 1]; <see cref="double.NaN"/> when there are no positives or no negatives.</returns>
    public double RocAuc()
    {
        if (Positives == 0 || Negatives == 0)
        {
            return double.NaN;
        }

        // Twice the U statistic: each negative in group g beats nothing, loses to the tpAbove positives and ties with
        // the group's own positives (half credit each).
        Int128 twiceU = 0;
        long tpAbove = 0, fpAbove = 0;
        for (var g = 0; g < _scores.Length; g++)
        {
            var pos = _truePositives[g] - tpAbove;
            var neg = _falsePositives[g] - fpAbove;
            twiceU += (Int128)neg * ((2 * tpAbove) + pos);
            tpAbove = _truePositives[g];
            fpAbove = _falsePositives[g];
        }

        return (double)twiceU / (2.0 * Positives * Negatives);
    }

    /// <summary>
    /// Average precision, scikit-learn's step-wise definition: over the distinct scores from highest to lowest,
    /// <c>Σ (Rₙ − Rₙ₋₁) · Pₙ</c> with recall and precision at threshold n (R₀ = 0). No interpolation.
    /// </summary>
    /// <returns>
    /// AP in [0, 1]; <see cref="double.NaN"/> when there are no positives (recall undefined). With positives but no
    /// negatives every precision is 1, so AP is 1 (as in scikit-learn).
    /// </returns>
    public double AveragePrecision()
    {
        if (Positives == 0)
        {
            return double.NaN;
        }

        var sum = 0.0;
        long previousTp = 0;
        for (var g = 0; g < _scores.Length; g++)
        {
            var tp = _truePositives[g];
            if (tp != previousTp)
            {
                sum += (tp - previousTp) * ((double)tp / (tp + _falsePositives[g]));
                previousTp = tp;
            }
        }

        return sum / Positives;
    }

    /// <summary>The confusion matrix of flagging <c>score &gt;= threshold</c>.</summary>
    /// <param name="threshold">Any value but NaN; <see cref="double.PositiveInfinity"/> flags nothing, <see cref="double.NegativeInfinity"/> everything.</param>
    /// <exception cref="ArgumentException"><paramref name="threshold"/> is NaN.</exception>
    public ConfusionMatrix ConfusionAt(double threshold)
    {
        if (double.IsNaN(threshold))
        {
            throw new ArgumentException("threshold is NaN", nameof(threshold));
        }

        // Binary search in the descending scores for the count of those >= threshold.
        int lo = 0, hi = _scores.Length;
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (_scores[mid] >= threshold)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return MatrixAbove(lo);
    }

    /// <summary>Evaluates an arbitrary threshold (a <see cref="ThresholdPolicy.Fixed"/> one, or one chosen on another split).</summary>
    /// <param name="threshold">The threshold; events with <c>score &gt;= threshold</c> are flagged.</param>
    /// <param name="settings">Costs for <see cref="ThresholdEvaluation.Cost"/>; <see cref="ThresholdSettings.Default"/> when null.</param>
    /// <param name="policy">The policy recorded in the result.</param>
    /// <exception cref="ArgumentException"><paramref name="threshold"/> is NaN.</exception>
    public ThresholdEvaluation Evaluate(double threshold, ThresholdSettings? settings = null, ThresholdPolicy policy = ThresholdPolicy.Fixed) =>
        new(policy, threshold, ConfusionAt(threshold), settings ?? ThresholdSettings.Default);

    /// <summary>
    /// The threshold with the highest F1 among the distinct scores and +∞. Ties go to the highest threshold (fewest
    /// alerts). F1 values are compared exactly, as fractions <c>2TP / (TP + FP + P)</c>. Without positives F1 is 0
    /// everywhere and the result is +∞.
    /// </summary>
    /// <exception cref="InvalidOperationException">The curve is empty.</exception>
    public ThresholdEvaluation BestF1(ThresholdSettings? settings = null)
    {
        EnsureNotEmpty();
        long bestNum = 0, bestDen = Positives; // +∞: TP = 0.
        var best = 0;
        for (var g = 0; g < _scores.Length; g++)
        {
            var tp = _truePositives[g];
            var num = 2 * tp;
            var den = tp + _falsePositives[g] + Positives;
            if ((Int128)num * bestDen > (Int128)bestNum * den)
            {
                bestNum = num;
                bestDen = den;
                best = g + 1;
            }
        }

        return At(best, ThresholdPolicy.BestF1, settings);
    }

    /// <summary>
    /// The threshold with the lowest <c>cost_fn · FN + cost_fp · FP</c> among the distinct scores and +∞ (flag nothing,
    /// cost <c>cost_fn · P</c>). Ties (equal double costs) go to the highest threshold.
    /// </summary>
    /// <exception cref="InvalidOperationException">The curve is empty.</exception>
    public ThresholdEvaluation MinCost(ThresholdSettings? settings = null)
    {
        EnsureNotEmpty();
        settings ??= ThresholdSettings.Default;
        var best = 0;
        var bestCost = settings.Cost(MatrixAbove(0));
        for (var g = 0; g < _scores.Length; g++)
        {
            var cost = settings.Cost(MatrixAbove(g + 1));
            if (cost < bestCost)
            {
                bestCost = cost;
                best = g + 1;
            }
        }

        return At(best, ThresholdPolicy.CostMin, settings);
    }

    /// <summary>
    /// The highest distinct score whose recall (<c>TP / P</c>, as a double) is at least
    /// <see cref="ThresholdSettings.TargetRecall"/>. Recall only grows as the threshold falls, so this is the first
    /// such score from the top. When no threshold reaches the target (only possible without positives), the lowest
    /// score (flag everything).
    /// </summary>
    /// <exception cref="InvalidOperationException">The curve is empty.</exception>
    public ThresholdEvaluation TargetRecall(ThresholdSettings? settings = null)
    {
        EnsureNotEmpty();
        settings ??= ThresholdSettings.Default;
        var chosen = _scores.Length;
        if (Positives > 0)
        {
            for (var g = 0; g < _scores.Length; g++)
            {
                if ((double)_truePositives[g] / Positives >= settings.TargetRecall)
                {
                    chosen = g + 1;
                    break;
                }
            }
        }

        return At(chosen, ThresholdPolicy.TargetRecall, settings);
    }

    /// <summary>Applies one policy: a search for the data-driven ones, <paramref name="fixedThreshold"/> for <see cref="ThresholdPolicy.Fixed"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="policy"/> is <see cref="ThresholdPolicy.Fixed"/> and <paramref name="fixedThreshold"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">A data-driven policy on an empty curve.</exception>
    public ThresholdEvaluation Select(ThresholdPolicy policy, ThresholdSettings? settings = null, double fixedThreshold = double.NaN) =>
        policy switch
        {
            ThresholdPolicy.CostMin => MinCost(settings),
            ThresholdPolicy.BestF1 => BestF1(settings),
            ThresholdPolicy.TargetRecall => TargetRecall(settings),
            ThresholdPolicy.Fixed => Evaluate(fixedThreshold, settings),
            _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown threshold policy"),
        };

    /// <summary>The three data-driven thresholds chosen on this data (call it on validation).</summary>
    /// <exception cref="InvalidOperationException">The curve is empty.</exception>
    public ThresholdSet SelectThresholds(ThresholdSettings? settings = null) =>
        new(MinCost(settings), BestF1(settings), TargetRecall(settings));

    /// <summary>
    /// The thresholds of <paramref name="chosen"/> (picked on another split) evaluated on this data, with the same
    /// policies and settings: the test-set figures of validation thresholds.
    /// </summary>
    public ThresholdSet EvaluateAt(ThresholdSet chosen)
    {
        ArgumentNullException.ThrowIfNull(chosen);
        return new ThresholdSet(Reevaluate(chosen.CostMin), Reevaluate(chosen.BestF1), Reevaluate(chosen.TargetRecall));
    }

    private ThresholdEvaluation Reevaluate(ThresholdEvaluation e) => Evaluate(e.Threshold, e.Settings, e.Policy);

    /// <summary>Matrix when the top <paramref name="groups"/> distinct scores are flagged.</summary>
    private ConfusionMatrix MatrixAbove(int groups)
    {
        long tp = 0, fp = 0;
        if (groups > 0)
        {
            tp = _truePositives[groups - 1];
            fp = _falsePositives[groups - 1];
        }

        return new ConfusionMatrix(tp, fp, Negatives - fp, Positives - tp);
    }

    private ThresholdEvaluation At(int groups, ThresholdPolicy policy, ThresholdSettings? settings) =>
        new(policy, groups == 0 ? double.PositiveInfinity : _scores[groups - 1], MatrixAbove(groups),
            settings ?? ThresholdSettings.Default);

    private void EnsureNotEmpty()
    {
        if (_scores.Length == 0)
        {
            throw new InvalidOperationException("cannot choose a threshold from an empty set of scores");
        }
    }

    private static void CheckLengths(int scores, int labels)
    {
        if (scores != labels)
        {
            throw new ArgumentException($"{scores} scores but {labels} labels; they must pair up");
        }
    }

    [DoesNotReturn]
    private static void ThrowNonFinite(int index, double value) =>
        throw new ArgumentException($"score {index} is {value}; scores must be finite", "scores");
}
