using System.Globalization;

namespace StreamFraud.XgBoost;

/// <summary>
/// XGBoost training parameters. The defaults are the research notebook's model: 600 trees, depth 6, eta 0.05,
/// subsample and colsample_bytree 0.9, lambda 1, alpha 0, <c>hist</c>, <c>binary:logistic</c>, <c>aucpr</c>, and
/// scale_pos_weight = negatives / positives of the training labels. Early stopping on validation aucpr is the
/// StreamFraud addition (the notebook trained all 600 rounds).
/// </summary>
public sealed record XgbParameters
{
    /// <summary>Maximum boosting rounds (trees for a binary objective).</summary>
    public int NumRounds { get; init; } = 600;

    /// <summary><c>max_depth</c>.</summary>
    public int MaxDepth { get; init; } = 6;

    /// <summary><c>eta</c> (learning rate).</summary>
    public double Eta { get; init; } = 0.05;

    /// <summary><c>subsample</c>: fraction of rows sampled per tree.</summary>
    public double Subsample { get; init; } = 0.9;

    /// <summary><c>colsample_bytree</c>: fraction of columns sampled per tree.</summary>
    public double ColsampleByTree { get; init; } = 0.9;

    /// <summary><c>lambda</c>: L2 regularisation on leaf weights.</summary>
    public double Lambda { get; init; } = 1;

    /// <summary><c>alpha</c>: L1 regularisation on leaf weights.</summary>
    public double Alpha { get; init; }

    /// <summary><c>min_child_weight</c> (XGBoost's default, 1).</summary>
    public double MinChildWeight { get; init; } = 1;

    /// <summary><c>gamma</c> (min_split_loss; XGBoost's default, 0).</summary>
    public double Gamma { get; init; }

    /// <summary><c>tree_method</c>.</summary>
    public string TreeMethod { get; init; } = "hist";

    /// <summary><c>max_bin</c> for <c>hist</c> (XGBoost's default, 256).</summary>
    public int MaxBin { get; init; } = 256;

    /// <summary><c>objective</c>.</summary>
    public string Objective { get; init; } = "binary:logistic";

    /// <summary><c>eval_metric</c>; early stopping watches this metric on the validation set (larger is better).</summary>
    public string EvalMetric { get; init; } = "aucpr";

    /// <summary><c>scale_pos_weight</c>; null = negatives / positives of the training labels.</summary>
    public double? ScalePosWeight { get; init; }

    /// <summary>
    /// <c>monotone_constraints</c>: one direction per column, +1 (the prediction may only rise with the column), −1 (may
    /// only fall) or 0 (free); null or all zeros = unconstrained (no parameter is sent). libxgboost enforces it over the
    /// whole model with <c>hist</c>, <c>approx</c> and <c>exact</c>.
    /// </summary>
    public IReadOnlyList<int>? MonotoneConstraints { get; init; }

    /// <summary><c>base_score</c>; null = libxgboost's default (0.5 in 1.x, estimated from the labels in 2.x).</summary>
    public double? BaseScore { get; init; }

    /// <summary>
    /// Stop when the validation metric has not improved for this many rounds and keep the best round; null trains
    /// all <see cref="NumRounds"/> rounds (the best round is still recorded).
    /// </summary>
    public int? EarlyStoppingRounds { get; init; } = 50;

    /// <summary>
    /// Evaluate the metric on the training set each round too (for the progress callback and history). Costs a sort
    /// of the training predictions per round (about a quarter of the round time on 200k rows); when off, the train
    /// value is NaN.
    /// </summary>
    public bool EvaluateTrainingSet { get; init; } = true;

    /// <summary><c>seed</c> for row and column sampling; fixed so that a retrain on the same data gives the same model.</summary>
    public int Seed { get; init; }

    /// <summary><c>nthread</c>; 0 = libxgboost's default (all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Further parameters in XGBoost's own names, set after (and overriding) the ones above.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the first bad parameter.</summary>
    public void Validate()
    {
        Require(NumRounds >= 1, nameof(NumRounds), "must be at least 1");
        Require(MaxDepth >= 0, nameof(MaxDepth), "must be non-negative");
        Require(Eta > 0 && Eta <= 1, nameof(Eta), "must be in (0, 1]");
        Require(Subsample > 0 && Subsample <= 1, nameof(Subsample), "must be in (0, 1]");
        Require(ColsampleByTree > 0 && ColsampleByTree <= 1, nameof(ColsampleByTree), "must be in (0, 1]");
        Require(Lambda >= 0, nameof(Lambda), "must be non-negative");
        Require(Alpha >= 0, nameof(Alpha), "must be non-negative");
        Require(MinChildWeight >= 0, nameof(MinChildWeight), "must be non-negative");
        Require(Gamma >= 0, nameof(Gamma), "must be non-negative");
        Require(MaxBin >= 2, nameof(MaxBin), "must be at least 2");
        Require(ScalePosWeight is null or > 0, nameof(ScalePosWeight), "must be positive");
        Require(BaseScore is null or (> 0 and < 1), nameof(BaseScore), "must be in (0, 1)");
        Require(EarlyStoppingRounds is null or >= 1, nameof(EarlyStoppingRounds), "must be at least 1");
        Require(Threads >= 0, nameof(Threads), "must be non-negative");
        Require(!string.IsNullOrWhiteSpace(EvalMetric), nameof(EvalMetric), "is required");
        Require(MonotoneConstraints is null || MonotoneConstraints.All(c => c is -1 or 0 or 1), nameof(MonotoneConstraints),
            "must hold only -1, 0 and 1");
    }

    /// <summary>
    /// The booster parameters in XGBoost's names and invariant-culture values, with
    /// <paramref name="scalePosWeight"/> as <c>scale_pos_weight</c> (the trainer passes the value from the data).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToBoosterParameters(double scalePosWeight)
    {
        var p = new List<KeyValuePair<string, string>>
        {
            new("objective", Objective),
            new("tree_method", TreeMethod),
            new("max_depth", Format(MaxDepth)),
            new("eta", Format(Eta)),
            new("subsample", Format(Subsample)),
            new("colsample_bytree", Format(ColsampleByTree)),
            new("lambda", Format(Lambda)),
            new("alpha", Format(Alpha)),
            new("min_child_weight", Format(MinChildWeight)),
            new("gamma", Format(Gamma)),
            new("max_bin", Format(MaxBin)),
            new("scale_pos_weight", Format(scalePosWeight)),
            new("eval_metric", EvalMetric),
            new("seed", Format(Seed)),
        };
        if (BaseScore is { } baseScore)
        {
            p.Add(new("base_score", Format(baseScore)));
        }

        if (FormatMonotoneConstraints(MonotoneConstraints) is { } monotone)
        {
            p.Add(new("monotone_constraints", monotone));
        }

        if (Threads > 0)
        {
            p.Add(new("nthread", Format(Threads)));
        }

        foreach (var (name, value) in Extra)
        {
            p.Add(new(name, value));
        }

        return p;
    }

    /// <summary>
    /// <paramref name="constraints"/> in XGBoost's tuple syntax, e.g. <c>(0,1,-1)</c>; null when there is no non-zero
    /// direction (nothing to send).
    /// </summary>
    public static string? FormatMonotoneConstraints(IReadOnlyList<int>? constraints) =>
        constraints is null || constraints.All(c => c == 0)
            ? null
            : "(" + string.Join(',', constraints.Select(c => c.ToString(CultureInfo.InvariantCulture))) + ")";

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Require(bool condition, string name, string rule)
    {
        if (!condition)
        {
            throw new ArgumentException($"XGBoost parameter {name} {rule}.", name);
        }
    }
}
