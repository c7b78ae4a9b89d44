using StreamFraud.Core.Evaluation;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// Metrics of the three models: thresholds chosen on validation (exact sweeps of <see cref="ScoreCurve"/>) and carried
/// to test, ROC-AUC, average precision, card precision@100 per day, recall per fraud scenario, and the optional search
/// of the ensemble weight.
/// </summary>
public static class Evaluator
{
    /// <summary>Key of frauds that carry no scenario name.</summary>
    public const string UnspecifiedScenario = "(unspecified)";

    /// <summary>Step of the weight search.</summary>
    public const double WeightStep = 0.05;

    /// <summary>
    /// The LSTM weight in 0, 0.05, …, 1 whose mix has the best validation average precision; ties go to the weight
    /// closest to 0.5 (the notebook's equal mix).
    /// </summary>
    public static (double LstmWeight, IReadOnlyList<WeightTrial> Trials) SearchWeight(float[] lstm, float[] xgb, bool[] labels)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        ArgumentNullException.ThrowIfNull(xgb);
        var trials = new List<WeightTrial>();
        var best = 0.5;
        var bestAp = double.NegativeInfinity;
        var steps = (int)Math.Round(1 / WeightStep);
        for (var k = 0; k <= steps; k++)
        {
            var w = (double)k / steps;
            var mix = SplitScores.Combine(lstm, xgb, w, 1 - w);
            var ap = ScoreCurve.Create(mix, labels).AveragePrecision();
            trials.Add(new WeightTrial(w, ap));
            if (ap > bestAp || (ap == bestAp && Math.Abs(w - 0.5) < Math.Abs(best - 0.5)))
            {
                bestAp = ap;
                best = w;
            }
        }

        return (best, trials);
    }

    /// <summary>
    /// Metrics of every model on validation (choosing the thresholds) and on test (at those thresholds):
    /// <c>[split][model]</c>.
    /// </summary>
    public static Dictionary<string, IReadOnlyDictionary<string, ModelMetrics>> Metrics(
        SplitScores validation, SplitScores test, ThresholdSettings settings)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(test);
        var v = new Dictionary<string, ModelMetrics>();
        var t = new Dictionary<string, ModelMetrics>();
        foreach (var model in SplitScores.Models)
        {
            var vScores = validation.ScoresOf(model);
            var vm = ModelMetrics.ChoosingThresholds(ScoreCurve.Create(vScores, validation.Labels), settings, CardPrecisionAt100(validation, vScores));
            var tScores = test.ScoresOf(model);
            var tm = ModelMetrics.AtThresholds(ScoreCurve.Create(tScores, test.Labels), vm.Thresholds, CardPrecisionAt100(test, tScores));
            v[model] = vm;
            t[model] = tm;
        }

        return new Dictionary<string, IReadOnlyDictionary<string, ModelMetrics>>
        {
            [ModelNames.Validation] = v,
            [ModelNames.Test] = t,
        };
    }

    /// <summary>Mean card precision@100 per day; null without event times.</summary>
    public static double? CardPrecisionAt100(SplitScores split, double[] scores)
    {
        ArgumentNullException.ThrowIfNull(split);
        return split.HasEventTimes
            ? CardPrecision.AtK(scores, split.Labels, split.CardIds, split.EventTimesMs, CardPrecision.DefaultK).Mean
            : null;
    }

    /// <summary>
    /// Per scenario of <paramref name="test"/>'s frauds (and of <paramref name="allScenarios"/>, listed with 0 frauds and
    /// recall n/a when the split has none): for each model, recall at the ensemble's validation cost_min threshold and
    /// at the model's own, and the ROC-AUC of the scenario's frauds against all legitimate events. Null when no fraud
    /// has a scenario.
    /// </summary>
    public static ScenarioReport? Scenarios(
        SplitScores test, IReadOnlyDictionary<string, ModelMetrics> validationMetrics, IEnumerable<string>? allScenarios = null)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(validationMetrics);
        var names = new SortedSet<string>(allScenarios ?? [], StringComparer.Ordinal);
        var any = names.Count > 0;
        for (var k = 0; k < test.Count; k++)
        {
            if (test.Labels[k])
            {
                names.Add(test.Scenarios[k] ?? UnspecifiedScenario);
                any |= test.Scenarios[k] is not null;
            }
        }

        if (!any)
        {
            return null;
        }

        var ensembleThreshold = validationMetrics[ModelNames.Ensemble].Thresholds.CostMin.Threshold;
        var own = SplitScores.Models.ToDictionary(m => m, m => validationMetrics[m].Thresholds.CostMin.Threshold);
        var scores = SplitScores.Models.ToDictionary(m => m, test.ScoresOf);
        var alerts = scores[ModelNames.Ensemble].LongCount(s => s >= ensembleThreshold);
        var equal = SplitScores.Models.ToDictionary(m => m, m => TopKThreshold(scores[m], alerts));
        var negatives = new List<int>();
        for (var k = 0; k < test.Count; k++)
        {
            if (!test.Labels[k])
            {
                negatives.Add(k);
            }
        }

        var result = new SortedDictionary<string, ScenarioResult>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var members = new List<int>();
            for (var k = 0; k < test.Count; k++)
            {
                if (test.Labels[k] && (test.Scenarios[k] ?? UnspecifiedScenario) == name)
                {
                    members.Add(k);
                }
            }

            var caughtShared = new Dictionary<string, long>();
            var caughtOwn = new Dictionary<string, long>();
            var caughtEqual = new Dictionary<string, long>();
            var auc = new Dictionary<string, double>();
            foreach (var model in SplitScores.Models)
            {
                var s = scores[model];
                caughtShared[model] = members.Count(k => s[k] >= ensembleThreshold);
                caughtOwn[model] = members.Count(k => s[k] >= own[model]);
                caughtEqual[model] = members.Count(k => s[k] >= equal[model]);
                var subset = new double[members.Count + negatives.Count];
                var labels = new bool[subset.Length];
                for (var j = 0; j < members.Count; j++)
                {
                    subset[j] = s[members[j]];
                    labels[j] = true;
                }

                for (var j = 0; j < negatives.Count; j++)
                {
                    subset[members.Count + j] = s[negatives[j]];
                }

                auc[model] = ScoreCurve.Create(subset, labels).RocAuc();
            }

            result[name] = new ScenarioResult
            {
                Frauds = members.Count,
                CaughtAtEnsembleCostMin = caughtShared,
                RecallAtEnsembleCostMin = caughtShared.ToDictionary(p => p.Key, p => (double)p.Value / members.Count),
                CaughtAtOwnCostMin = caughtOwn,
                RecallAtOwnCostMin = caughtOwn.ToDictionary(p => p.Key, p => (double)p.Value / members.Count),
                CaughtAtEqualAlerts = caughtEqual,
                RecallAtEqualAlerts = caughtEqual.ToDictionary(p => p.Key, p => (double)p.Value / members.Count),
                RocAuc = auc,
            };
        }

        return new ScenarioReport
        {
            Split = test.Split,
            EnsembleCostMinThreshold = ensembleThreshold,
            OwnCostMinThresholds = own,
            EqualAlerts = alerts,
            EqualAlertThresholds = equal,
            ByScenario = result,
        };
    }

    /// <summary>The <paramref name="k"/>-th highest score (flagging <c>score &gt;= it</c> flags at least k events, more only on ties); +∞ for k = 0.</summary>
    public static double TopKThreshold(double[] scores, long k)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (k <= 0 || scores.Length == 0)
        {
            return double.PositiveInfinity;
        }

        var sorted = (double[])scores.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length - (int)Math.Min(k, sorted.Length)];
    }
}
