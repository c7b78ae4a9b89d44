using System.Text.Json;
using StreamFraud.Core.Evaluation;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// <c>report.json</c>: everything a fraud data scientist needs to judge a bundle. Serialized with
/// <see cref="BundleManifest.JsonOptions"/> (snake_case, NaN and ∞ as named literals). The headline figures sit at
/// <c>metrics.&lt;split&gt;.&lt;model&gt;.&lt;metric&gt;</c> (docs/ARCHITECTURE.md), splits <c>validation</c>/<c>test</c>, models
/// <c>lstm</c>/<c>xgb</c>/<c>ensemble</c>, metrics <c>roc_auc</c>, <c>average_precision</c>,
/// <c>card_precision_at_100</c> (when events have dates) and <c>thresholds.&lt;policy&gt;</c> with the confusion matrix,
/// precision, recall, F1 and cost.
/// </summary>
public sealed record TrainingReport
{
    /// <summary>File name inside a bundle.</summary>
    public const string FileName = "report.json";

    /// <summary>Report format version.</summary>
    public int Format { get; init; } = 1;

    /// <summary>Bundle version.</summary>
    public required string Version { get; init; }

    /// <summary>When the bundle was built (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The input.</summary>
    public required InputDescription Data { get; init; }

    /// <summary>The split.</summary>
    public required ReportSplit Split { get; init; }

    /// <summary>Settings of the run.</summary>
    public required ReportSettings Settings { get; init; }

    /// <summary>Ensemble weights and, when searched, the search.</summary>
    public required ReportEnsemble Ensemble { get; init; }

    /// <summary>Per model, the thresholds chosen on validation (the bundle serves the ensemble's).</summary>
    public required IReadOnlyDictionary<string, ReportThresholds> Thresholds { get; init; }

    /// <summary><c>metrics.&lt;split&gt;.&lt;model&gt;</c>.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, ModelMetrics>> Metrics { get; init; }

    /// <summary>Test recall per fraud scenario (absent when the input has no scenarios).</summary>
    public ScenarioReport? Scenarios { get; init; }

    /// <summary>Training curves.</summary>
    public required ReportHistory History { get; init; }

    /// <summary>Seconds per stage, and in total.</summary>
    public required IReadOnlyDictionary<string, double> TimingsSeconds { get; init; }

    /// <summary>Plot files in the bundle.</summary>
    public IReadOnlyList<string> Plots { get; init; } = [];

    /// <summary>Warnings raised during the run.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The LSTM serving paths' admission checks against ONNX Runtime fp32 (as in the manifest's <c>lstm_paths</c>).</summary>
    public IReadOnlyList<LstmPathCheck> LstmPaths { get; init; } = [];

    /// <summary>Writes the report as UTF-8 JSON.</summary>
    public void Write(string path) => File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, BundleManifest.JsonOptions));
}

/// <summary>The split in a report.</summary>
public sealed record ReportSplit
{
    /// <summary><c>time</c> or <c>random</c>.</summary>
    public required string Mode { get; init; }

    /// <summary>One-line description.</summary>
    public required string Description { get; init; }

    /// <summary>Time ranges (time mode), by split name.</summary>
    public IReadOnlyDictionary<string, ReportRange>? Ranges { get; init; }

    /// <summary>Counts by split name.</summary>
    public required IReadOnlyDictionary<string, SplitCounts> Counts { get; init; }

    /// <summary>Rows before training, used as context only.</summary>
    public int ContextRows { get; init; }

    /// <summary>Labelled rows in no range.</summary>
    public int UnusedRows { get; init; }

    /// <summary>Seed (random mode).</summary>
    public int? Seed { get; init; }

    /// <summary>How unset bounds were filled in.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>A time range in a report.</summary>
/// <param name="From">First instant.</param>
/// <param name="To">End, exclusive.</param>
public sealed record ReportRange(DateTimeOffset From, DateTimeOffset To);

/// <summary>The run's settings in a report.</summary>
public sealed record ReportSettings
{
    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>Maximum LSTM epochs.</summary>
    public int Epochs { get; init; }

    /// <summary>LSTM layer sizes.</summary>
    public int Hidden1 { get; init; }

    /// <summary>LSTM layer sizes.</summary>
    public int Hidden2 { get; init; }

    /// <summary><c>focal</c> or <c>bce</c>.</summary>
    public required string Loss { get; init; }

    /// <summary><c>none</c> or the ratio.</summary>
    public required string Oversample { get; init; }

    /// <summary>Maximum XGBoost rounds.</summary>
    public int XgbRounds { get; init; }

    /// <summary>XGBoost early-stopping patience.</summary>
    public int XgbEarlyStoppingRounds { get; init; }

    /// <summary>Whether XGBoost was trained with monotone constraints on the label-history features (<c>--xgb-monotone</c>).</summary>
    public bool XgbMonotone { get; init; }

    /// <summary>The constrained features and their direction (+1 non-decreasing, −1 non-increasing); empty when unconstrained.</summary>
    public IReadOnlyDictionary<string, int> XgbMonotoneConstraints { get; init; } = new Dictionary<string, int>();

    /// <summary>Cost of a missed fraud.</summary>
    public double CostFn { get; init; }

    /// <summary>Cost of a false alarm.</summary>
    public double CostFp { get; init; }

    /// <summary>Recall target.</summary>
    public double TargetRecall { get; init; }

    /// <summary>Whether ensemble weights were searched.</summary>
    public bool SearchWeights { get; init; }

    /// <summary>Feature spec.</summary>
    public required FeatureSpecRef FeatureSpec { get; init; }
}

/// <summary>Ensemble weights in a report.</summary>
public sealed record ReportEnsemble
{
    /// <summary>LSTM weight.</summary>
    public double Lstm { get; init; }

    /// <summary>XGBoost weight.</summary>
    public double Xgb { get; init; }

    /// <summary>Whether the weight was searched on validation.</summary>
    public bool Searched { get; init; }

    /// <summary>Validation AP per LSTM weight tried (searched runs only).</summary>
    public IReadOnlyList<WeightTrial> Search { get; init; } = [];
}

/// <summary>One weight of the search.</summary>
/// <param name="LstmWeight">LSTM weight (XGBoost gets 1 − it).</param>
/// <param name="ValidationAveragePrecision">Validation AP of that mix.</param>
public sealed record WeightTrial(double LstmWeight, double ValidationAveragePrecision);

/// <summary>The thresholds of one model, chosen on validation.</summary>
/// <param name="CostMin">Minimum cost.</param>
/// <param name="BestF1">Best F1.</param>
/// <param name="TargetRecall">Highest threshold reaching the recall target.</param>
public sealed record ReportThresholds(double CostMin, double BestF1, double TargetRecall);

/// <summary>Recall per fraud scenario on test.</summary>
public sealed record ScenarioReport
{
    /// <summary>The split (<c>test</c>).</summary>
    public required string Split { get; init; }

    /// <summary>The ensemble's validation cost_min threshold, applied to every model's scores.</summary>
    public double EnsembleCostMinThreshold { get; init; }

    /// <summary>Each model's own validation cost_min threshold.</summary>
    public required IReadOnlyDictionary<string, double> OwnCostMinThresholds { get; init; }

    /// <summary>
    /// Alerts the ensemble raises on this split at its cost_min threshold; each model is also read at its own threshold
    /// flagging that many events (its top scores), so recall compares models at equal alert volume.
    /// </summary>
    public long EqualAlerts { get; init; }

    /// <summary>Per model, the threshold that flags <see cref="EqualAlerts"/> events on this split.</summary>
    public required IReadOnlyDictionary<string, double> EqualAlertThresholds { get; init; }

    /// <summary>Per scenario (and <c>(unspecified)</c> for frauds without one).</summary>
    public required IReadOnlyDictionary<string, ScenarioResult> ByScenario { get; init; }
}

/// <summary>One scenario's frauds and how each model did on them.</summary>
public sealed record ScenarioResult
{
    /// <summary>Frauds of the scenario in the split.</summary>
    public long Frauds { get; init; }

    /// <summary>Per model, frauds caught at the ensemble's cost_min threshold.</summary>
    public required IReadOnlyDictionary<string, long> CaughtAtEnsembleCostMin { get; init; }

    /// <summary>Per model, recall at the ensemble's cost_min threshold.</summary>
    public required IReadOnlyDictionary<string, double> RecallAtEnsembleCostMin { get; init; }

    /// <summary>Per model, frauds caught at the model's own cost_min threshold.</summary>
    public required IReadOnlyDictionary<string, long> CaughtAtOwnCostMin { get; init; }

    /// <summary>Per model, recall at the model's own cost_min threshold.</summary>
    public required IReadOnlyDictionary<string, double> RecallAtOwnCostMin { get; init; }

    /// <summary>Per model, frauds caught at equal alert volume (see <see cref="ScenarioReport.EqualAlerts"/>).</summary>
    public required IReadOnlyDictionary<string, long> CaughtAtEqualAlerts { get; init; }

    /// <summary>Per model, recall at equal alert volume.</summary>
    public required IReadOnlyDictionary<string, double> RecallAtEqualAlerts { get; init; }

    /// <summary>Per model, ROC-AUC of this scenario's frauds against all legitimate events (threshold-free).</summary>
    public required IReadOnlyDictionary<string, double> RocAuc { get; init; }
}

/// <summary>Training curves.</summary>
public sealed record ReportHistory
{
    /// <summary>LSTM.</summary>
    public required LstmHistory Lstm { get; init; }

    /// <summary>XGBoost.</summary>
    public required XgbHistory Xgb { get; init; }
}

/// <summary>LSTM training history.</summary>
public sealed record LstmHistory
{
    /// <summary>Epoch whose weights were kept (1-based).</summary>
    public int BestEpoch { get; init; }

    /// <summary>Why training ended.</summary>
    public required string StopReason { get; init; }

    /// <summary>Trainable parameters.</summary>
    public int Parameters { get; init; }

    /// <summary>Per epoch.</summary>
    public required IReadOnlyList<EpochRow> Epochs { get; init; }
}

/// <summary>One LSTM epoch.</summary>
public sealed record EpochRow(
    int Epoch,
    double Loss,
    double TrainAveragePrecision,
    double ValidationAveragePrecision,
    double LearningRate,
    int Sequences,
    double SequencesPerSecond,
    double Seconds,
    bool Improved);

/// <summary>XGBoost training history.</summary>
public sealed record XgbHistory
{
    /// <summary>0-based best round; the bundle uses rounds [0, best + 1).</summary>
    public int BestIteration { get; init; }

    /// <summary>Validation aucpr at the best round.</summary>
    public double BestScore { get; init; }

    /// <summary>Rounds run.</summary>
    public int RoundsTrained { get; init; }

    /// <summary>Whether early stopping ended training.</summary>
    public bool StoppedEarly { get; init; }

    /// <summary>scale_pos_weight used (negatives / positives of training).</summary>
    public double ScalePosWeight { get; init; }

    /// <summary>Per round.</summary>
    public required IReadOnlyList<RoundRow> Rounds { get; init; }
}

/// <summary>One XGBoost round.</summary>
/// <param name="Round">0-based round.</param>
/// <param name="TrainAucpr">Training aucpr.</param>
/// <param name="ValidationAucpr">Validation aucpr.</param>
public sealed record RoundRow(int Round, double TrainAucpr, double ValidationAucpr);
