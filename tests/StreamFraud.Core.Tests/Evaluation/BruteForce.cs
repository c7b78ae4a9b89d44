namespace StreamFraud.Core.Tests.Evaluation;

/// <summary>
/// Independent O(n²) reference computations: every count is recomputed by scanning all events for every candidate
/// threshold, the tie rules are applied as "best value first, then the highest threshold among those that reach it",
/// and fractions are compared exactly by cross-multiplication. Nothing here uses the code under test.
/// </summary>
internal static class BruteForce
{
    public readonly record struct Counts(long Tp, long Fp, long Tn, long Fn);

    public static Counts At(double[] scores, bool[] labels, double threshold)
    {
        long tp = 0, fp = 0, tn = 0, fn = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var flagged = scores[i] >= threshold;
            if (labels[i])
            {
                if (flagged) { tp++; } else { fn++; }
            }
            else
            {
                if (flagged) { fp++; } else { tn++; }
            }
        }

        return new Counts(tp, fp, tn, fn);
    }

    /// <summary>The distinct scores plus +∞.</summary>
    public static List<double> Candidates(double[] scores, bool includeInfinity)
    {
        var set = new HashSet<double>(scores);
        if (includeInfinity)
        {
            set.Add(double.PositiveInfinity);
        }

        return [.. set];
    }

    public static (double Threshold, Counts Counts) BestF1(double[] scores, bool[] labels)
    {
        var candidates = Candidates(scores, includeInfinity: true);

        // F1 = 2TP / (2TP + FP + FN) as a fraction; an empty denominator means F1 = 0 (0/1).
        (long Num, long Den) F1(Counts c)
        {
            var den = (2 * c.Tp) + c.Fp + c.Fn;
            return den == 0 ? (0, 1) : (2 * c.Tp, den);
        }

        var best = F1(At(scores, labels, candidates[0]));
        foreach (var t in candidates)
        {
            var f = F1(At(scores, labels, t));
            if (f.Num * best.Den > best.Num * f.Den)
            {
                best = f;
            }
        }

        var chosen = double.NegativeInfinity;
        foreach (var t in candidates)
        {
            var f = F1(At(scores, labels, t));
            if (f.Num * best.Den == best.Num * f.Den && t > chosen)
            {
                chosen = t;
            }
        }

        return (chosen, At(scores, labels, chosen));
    }

    public static (double Threshold, Counts Counts) MinCost(double[] scores, bool[] labels, double costFn, double costFp)
    {
        var candidates = Candidates(scores, includeInfinity: true);
        double Cost(Counts c) => (costFn * c.Fn) + (costFp * c.Fp);
        var min = double.PositiveInfinity;
        foreach (var t in candidates)
        {
            min = Math.Min(min, Cost(At(scores, labels, t)));
        }

        var chosen = double.NegativeInfinity;
        foreach (var t in candidates)
        {
            if (Cost(At(scores, labels, t)) == min && t > chosen)
            {
                chosen = t;
            }
        }

        return (chosen, At(scores, labels, chosen));
    }

    public static (double Threshold, Counts Counts) TargetRecall(double[] scores, bool[] labels, double target)
    {
        var chosen = double.NegativeInfinity;
        foreach (var t in Candidates(scores, includeInfinity: false))
        {
            var c = At(scores, labels, t);
            var positives = c.Tp + c.Fn;
            var recall = positives == 0 ? 0.0 : (double)c.Tp / positives;
            if (recall >= target && t > chosen)
            {
                chosen = t;
            }
        }

        if (double.IsNegativeInfinity(chosen))
        {
            chosen = scores.Min();
        }

        return (chosen, At(scores, labels, chosen));
    }

    /// <summary>Mann–Whitney by counting every (fraud, legit) pair: wins 1, ties 1/2.</summary>
    public static double RocAuc(double[] scores, bool[] labels)
    {
        long wins = 0, ties = 0, pairs = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (!labels[i])
            {
                continue;
            }

            for (var j = 0; j < scores.Length; j++)
            {
                if (labels[j])
                {
                    continue;
                }

                pairs++;
                if (scores[i] > scores[j]) { wins++; }
                else if (scores[i] == scores[j]) { ties++; }
            }
        }

        return pairs == 0 ? double.NaN : (wins + (0.5 * ties)) / pairs;
    }

    /// <summary>Σ (R_n − R_{n−1}) · P_n over the distinct scores from highest to lowest.</summary>
    public static double AveragePrecision(double[] scores, bool[] labels)
    {
        var positives = labels.Count(l => l);
        if (positives == 0)
        {
            return double.NaN;
        }

        var ap = 0.0;
        var previousRecall = 0.0;
        foreach (var t in scores.Distinct().OrderByDescending(s => s))
        {
            var c = At(scores, labels, t);
            var recall = (double)c.Tp / positives;
            var precision = (double)c.Tp / (c.Tp + c.Fp);
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
        }

        return ap;
    }
}

/// <summary>Seeded random inputs with many ties: scores drawn from a small grid, fraud rate varying per case.</summary>
internal static class RandomCases
{
    public static IEnumerable<(int Seed, double[] Scores, bool[] Labels)> Generate(int count, int maxLength = 40)
    {
        for (var seed = 1; seed <= count; seed++)
        {
            var rng = new Random(seed);
            var n = rng.Next(1, maxLength + 1);
            var levels = rng.Next(1, 12); // 1 level = all tied
            var fraudRate = seed % 10 == 0 ? 0.0 : seed % 10 == 1 ? 1.0 : rng.NextDouble();
            var scores = new double[n];
            var labels = new bool[n];
            for (var i = 0; i < n; i++)
            {
                labels[i] = rng.NextDouble() < fraudRate;

                // Frauds score a little higher on average so the curves are not pure noise.
                var level = rng.Next(levels) + (labels[i] && rng.Next(2) == 0 ? levels / 2 : 0);
                scores[i] = Math.Min(level, levels - 1) / 10.0;
            }

            yield return (seed, scores, labels);
        }
    }
}
