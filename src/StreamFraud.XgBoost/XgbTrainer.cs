using System.Diagnostics;

namespace StreamFraud.XgBoost;

/// <summary>One round's evaluation.</summary>
/// <param name="Round">0-based boosting round.</param>
/// <param name="Train">The eval metric on the training set.</param>
/// <param name="Validation">The eval metric on the validation set (what early stopping watches).</param>
public readonly record struct XgbRoundMetrics(int Round, double Train, double Validation);

/// <summary>The outcome of <see cref="XgbTrainer.Train"/>. The caller owns (and disposes) <see cref="Booster"/>.</summary>
/// <param name="Booster">The trained model with all rounds run; its <see cref="XgBoost.Booster.BestIteration"/> is set,
/// so predictions default to rounds [0, <paramref name="BestIteration"/> + 1).</param>
/// <param name="BestIteration">0-based round with the best validation metric.</param>
/// <param name="BestScore">The validation metric at <paramref name="BestIteration"/>.</param>
/// <param name="RoundsTrained">Rounds actually run (less than the maximum when early stopping triggered).</param>
/// <param name="StoppedEarly">Whether early stopping ended training before the maximum rounds.</param>
/// <param name="ScalePosWeight">The scale_pos_weight used.</param>
/// <param name="History">Train and validation metric per round.</param>
/// <param name="Elapsed">Wall time of the boosting loop.</param>
public sealed record XgbTrainResult(
    Booster Booster,
    int BestIteration,
    double BestScore,
    int RoundsTrained,
    bool StoppedEarly,
    double ScalePosWeight,
    IReadOnlyList<XgbRoundMetrics> History,
    TimeSpan Elapsed);

/// <summary>
/// Trains a gradient-boosted tree model through libxgboost one round at a time (the C API equivalent of
/// <c>xgboost.train</c> with an <c>EarlyStopping</c> callback): after each round it evaluates the eval metric on the
/// training and validation sets, and stops once the validation metric has not improved for
/// <see cref="XgbParameters.EarlyStoppingRounds"/> rounds, keeping the best round.
/// </summary>
public static class XgbTrainer
{
    /// <summary>Name of the training set in libxgboost's evaluation output.</summary>
    public const string TrainSetName = "train";

    /// <summary>Name of the validation set in libxgboost's evaluation output.</summary>
    public const string ValidationSetName = "validation";

    /// <summary>Trains on <paramref name="train"/>, early-stopping on <paramref name="validation"/>.</summary>
    /// <param name="train">Training rows with 0/1 labels (both classes present).</param>
    /// <param name="validation">Validation rows with 0/1 labels (both classes present), same columns.</param>
    /// <param name="parameters">Parameters; null = <see cref="XgbParameters"/> defaults (the notebook's).</param>
    /// <param name="progress">Called after each round with (round, train metric, validation metric); the train metric
    /// is NaN when <see cref="XgbParameters.EvaluateTrainingSet"/> is off.</param>
    /// <param name="cancellationToken">Checked between rounds.</param>
    public static XgbTrainResult Train(
        DMatrix train,
        DMatrix validation,
        XgbParameters? parameters = null,
        Action<int, double, double>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        parameters ??= new XgbParameters();
        parameters.Validate();
        if (train.Columns != validation.Columns)
        {
            throw new ArgumentException(
                $"Validation has {validation.Columns} columns; training has {train.Columns}.", nameof(validation));
        }

        if (parameters.MonotoneConstraints is { } monotone && monotone.Count != train.Columns)
        {
            throw new ArgumentException(
                $"MonotoneConstraints has {monotone.Count} directions; the data has {train.Columns} columns.", nameof(parameters));
        }

        var scalePosWeight = parameters.ScalePosWeight ?? ComputeScalePosWeight(train.GetLabels());
        var (validationNegatives, validationPositives) = CountClasses(validation.GetLabels(), nameof(validation));
        if (validationPositives == 0 || validationNegatives == 0)
        {
            throw new ArgumentException(
                $"The validation set needs both classes for early stopping on {parameters.EvalMetric} " +
                $"({validationNegatives} negatives, {validationPositives} positives).", nameof(validation));
        }

        var booster = Booster.Create(train, validation);
        try
        {
            booster.SetParameters(parameters.ToBoosterParameters(scalePosWeight));
            var sets = new List<KeyValuePair<string, DMatrix>>(2);
            if (parameters.EvaluateTrainingSet)
            {
                sets.Add(new(TrainSetName, train));
            }

            sets.Add(new(ValidationSetName, validation));
            var trainKey = $"{TrainSetName}-{parameters.EvalMetric}";
            var validationKey = $"{ValidationSetName}-{parameters.EvalMetric}";
            var maximize = IsMaximized(parameters.EvalMetric);
            var history = new List<XgbRoundMetrics>(Math.Min(parameters.NumRounds, 4096));
            var bestRound = -1;
            var bestScore = double.NaN;
            var stoppedEarly = false;
            var clock = Stopwatch.StartNew();
            for (var round = 0; round < parameters.NumRounds; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                booster.UpdateOneIteration(round, train);
                var metrics = booster.EvaluateOneIteration(round, sets);
                var trainValue = parameters.EvaluateTrainingSet ? Require(metrics, trainKey) : double.NaN;
                var validationValue = Require(metrics, validationKey);
                history.Add(new XgbRoundMetrics(round, trainValue, validationValue));
                if (bestRound < 0 || IsBetter(validationValue, bestScore, maximize))
                {
                    bestRound = round;
                    bestScore = validationValue;
                }

                progress?.Invoke(round, trainValue, validationValue);
                if (parameters.EarlyStoppingRounds is { } patience && round - bestRound >= patience)
                {
                    stoppedEarly = round + 1 < parameters.NumRounds;
                    break;
                }
            }

            clock.Stop();
            booster.SetBestIteration(bestRound, bestScore);
            return new XgbTrainResult(
                booster, bestRound, bestScore, history.Count, stoppedEarly, scalePosWeight, history, clock.Elapsed);
        }
        catch
        {
            booster.Dispose();
            throw;
        }
    }

    /// <summary>
    /// scale_pos_weight as the notebook computed it: the number of negative labels divided by the number of positive
    /// labels (instance weights are not counted).
    /// </summary>
    /// <exception cref="ArgumentException">A label is not 0 or 1, or there are no positives.</exception>
    public static double ComputeScalePosWeight(ReadOnlySpan<float> labels)
    {
        var (negatives, positives) = CountClasses(labels, nameof(labels));
        if (positives == 0)
        {
            throw new ArgumentException(
                $"The training labels have no positives ({negatives} negatives); scale_pos_weight is undefined.",
                nameof(labels));
        }

        return (double)negatives / positives;
    }

    /// <summary>Whether a larger value of <paramref name="metric"/> is better (XGBoost's Python rule).</summary>
    public static bool IsMaximized(string metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        var name = metric.Split('@')[0];
        return name is "auc" or "aucpr" or "pre" or "map" or "ndcg";
    }

    private static bool IsBetter(double value, double best, bool maximize)
    {
        if (double.IsNaN(value))
        {
            return false;
        }

        return double.IsNaN(best) || (maximize ? value > best : value < best);
    }

    private static (long Negatives, long Positives) CountClasses(ReadOnlySpan<float> labels, string parameterName)
    {
        long negatives = 0, positives = 0;
        foreach (var y in labels)
        {
            if (y == 1f)
            {
                positives++;
            }
            else if (y == 0f)
            {
                negatives++;
            }
            else
            {
                throw new ArgumentException($"Labels must be 0 or 1 for binary:logistic; found {y}.", parameterName);
            }
        }

        return (negatives, positives);
    }

    private static double Require(IReadOnlyDictionary<string, double> metrics, string key) =>
        metrics.TryGetValue(key, out var value)
            ? value
            : throw new InvalidOperationException(
                $"libxgboost's evaluation did not report {key} (got {string.Join(", ", metrics.Keys)}).");
}
