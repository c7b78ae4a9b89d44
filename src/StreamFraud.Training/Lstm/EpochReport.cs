namespace StreamFraud.Training.Lstm;

/// <summary>What one LSTM epoch did; passed to the progress callback and kept in the training history.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="MaxEpochs">Configured maximum number of epochs.</param>
/// <param name="Loss">Mean training loss over the epoch's sequences (dropout on).</param>
/// <param name="TrainAveragePrecision">Training AP (see <see cref="LstmOptions.EvaluateTrainingSet"/> for how it is measured).</param>
/// <param name="ValidationAveragePrecision">Validation AP, the early-stopping and learning-rate monitor.</param>
/// <param name="LearningRate">Learning rate used during this epoch.</param>
/// <param name="Sequences">Sequences trained on (after oversampling).</param>
/// <param name="SequencesPerSecond">Training throughput: forward, backward and Adam over <paramref name="Sequences"/>, excluding evaluation.</param>
/// <param name="TrainingTime">Time of the training part of the epoch.</param>
/// <param name="EpochTime">Wall time of the whole epoch, evaluation included.</param>
/// <param name="Improved">True when this epoch set a new best validation AP (its weights are the ones kept so far).</param>
public sealed record EpochReport(
    int Epoch,
    int MaxEpochs,
    double Loss,
    double TrainAveragePrecision,
    double ValidationAveragePrecision,
    double LearningRate,
    int Sequences,
    double SequencesPerSecond,
    TimeSpan TrainingTime,
    TimeSpan EpochTime,
    bool Improved);
