using System.Text.Json;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>Brute-force metrics written from their definitions, independent of <c>ScoreCurve</c> and <c>CardPrecision</c>.</summary>
internal static class Reference
{
    /// <summary>P(score of a random fraud &gt; score of a random legitimate event), ties half: every pair counted.</summary>
    public static double RocAuc(double[] scores, bool[] labels)
    {
        var pos = scores.Where((_, i) => labels[i]).ToArray();
        var neg = scores.Where((_, i) => !labels[i]).ToArray();
        double wins = 0;
        foreach (var p in pos)
        {
            foreach (var n in neg)
            {
                wins += p > n ? 1 : p == n ? 0.5 : 0;
            }
        }

        return wins / ((double)pos.Length * neg.Length);
    }

    /// <summary>Step-wise AP: for each distinct threshold t (descending), (recall(t) − recall(prev)) · precision(t).</summary>
    public static double AveragePrecision(double[] scores, bool[] labels)
    {
        var positives = labels.Count(l => l);
        var ap = 0.0;
        var previousRecall = 0.0;
        foreach (var t in scores.Distinct().OrderByDescending(s => s))
        {
            var tp = 0;
            var flagged = 0;
            for (var i = 0; i < scores.Length; i++)
            {
                if (scores[i] >= t)
                {
                    flagged++;
                    tp += labels[i] ? 1 : 0;
                }
            }

            var recall = (double)tp / positives;
            ap += (recall - previousRecall) * ((double)tp / flagged);
            previousRecall = recall;
        }

        return ap;
    }

    /// <summary>Per UTC day: cards by max score (ties by id), top min(k, cards); mean of the daily fraud-card shares.</summary>
    public static double CardPrecisionAtK(double[] scores, bool[] labels, string[] cards, long[] timesMs, int k = 100)
    {
        var days = Enumerable.Range(0, scores.Length)
            .GroupBy(i => (long)Math.Floor(timesMs[i] / 86_400_000.0))
            .OrderBy(g => g.Key);
        var precisions = new List<double>();
        foreach (var day in days)
        {
            var ranked = day.GroupBy(i => cards[i])
                .Select(g => (Card: g.Key, Score: g.Max(i => scores[i]), Fraud: g.Any(i => labels[i])))
                .OrderByDescending(c => c.Score)
                .ThenBy(c => c.Card, StringComparer.Ordinal)
                .ToList();
            var top = ranked.Take(Math.Min(k, ranked.Count)).ToList();
            precisions.Add((double)top.Count(c => c.Fraud) / top.Count);
        }

        return precisions.Average();
    }

    /// <summary>The threshold of minimum cost over every distinct score and +∞ (highest threshold on ties).</summary>
    public static double MinCostThreshold(double[] scores, bool[] labels, double costFn, double costFp)
    {
        var candidates = scores.Distinct().OrderByDescending(s => s).Prepend(double.PositiveInfinity);
        var best = double.PositiveInfinity;
        var bestCost = double.PositiveInfinity;
        foreach (var t in candidates)
        {
            double cost = 0;
            for (var i = 0; i < scores.Length; i++)
            {
                var flagged = scores[i] >= t;
                cost += labels[i] && !flagged ? costFn : !labels[i] && flagged ? costFp : 0;
            }

            if (cost < bestCost)
            {
                bestCost = cost;
                best = t;
            }
        }

        return best;
    }

    /// <summary>A number at a dotted path of a JSON document (NaN written as "NaN").</summary>
    public static double Number(JsonElement root, string path)
    {
        var e = root;
        foreach (var part in path.Split('.'))
        {
            Assert.True(e.TryGetProperty(part, out e), $"report.json has no {path} (missing '{part}')");
        }

        return e.ValueKind == JsonValueKind.String ? double.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : e.GetDouble();
    }
}
