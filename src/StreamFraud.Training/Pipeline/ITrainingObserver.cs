using StreamFraud.Training.Lstm;

namespace StreamFraud.Training.Pipeline;

/// <summary>The long steps of a training run, in order.</summary>
public enum TrainingStage
{
    /// <summary>Reading the input and computing feature vectors and windows (streaming, in event-time order).</summary>
    Featurising,

    /// <summary>Assigning examples to train, validation and test and building the model inputs.</summary>
    Splitting,

    /// <summary>Training the LSTM, one epoch at a time.</summary>
    Lstm,

    /// <summary>Boosting XGBoost, one round at a time.</summary>
    Xgb,

    /// <summary>Scoring validation and test, choosing thresholds, computing metrics.</summary>
    Evaluating,

    /// <summary>Writing the bundle, loading it back as the scorer would (self-check), publishing it.</summary>
    Bundling,
}

/// <summary>
/// Receives progress from <see cref="TrainingPipeline"/>; every call comes from the thread that runs the pipeline.
/// The Trainer app renders it with Spectre.Console; tests and libraries may ignore it.
/// </summary>
public interface ITrainingObserver
{
    /// <summary>A stage begins.</summary>
    void StageStarted(TrainingStage stage, string description);

    /// <summary>A stage ended after <paramref name="elapsed"/>.</summary>
    void StageCompleted(TrainingStage stage, TimeSpan elapsed, string summary);

    /// <summary>Input read so far (bytes of the file, transactions applied).</summary>
    void InputProgress(long bytesRead, long totalBytes, long rows);

    /// <summary>An LSTM epoch finished.</summary>
    void EpochCompleted(EpochReport report);

    /// <summary>An XGBoost round finished (<paramref name="round"/> is 0-based; <paramref name="train"/> may be NaN).</summary>
    void BoostingRound(int round, int maxRounds, double train, double validation);

    /// <summary>Something the user should know (also recorded in the report).</summary>
    void Warning(string message);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullTrainingObserver : ITrainingObserver
{
    /// <summary>The shared instance.</summary>
    public static NullTrainingObserver Instance { get; } = new();

    /// <inheritdoc/>
    public void StageStarted(TrainingStage stage, string description)
    {
    }

    /// <inheritdoc/>
    public void StageCompleted(TrainingStage stage, TimeSpan elapsed, string summary)
    {
    }

    /// <inheritdoc/>
    public void InputProgress(long bytesRead, long totalBytes, long rows)
    {
    }

    /// <inheritdoc/>
    public void EpochCompleted(EpochReport report)
    {
    }

    /// <inheritdoc/>
    public void BoostingRound(int round, int maxRounds, double train, double validation)
    {
    }

    /// <inheritdoc/>
    public void Warning(string message)
    {
    }
}
