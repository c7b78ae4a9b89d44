namespace StreamFraud.Training.Lstm;

/// <summary>Training objective of the LSTM.</summary>
public enum LstmLossKind
{
    /// <summary>Binary focal loss −α_t·(1−p_t)^γ·log p_t (Lin et al. 2017), as in the research notebook.</summary>
    Focal,

    /// <summary>Plain binary cross-entropy.</summary>
    CrossEntropy,
}

/// <summary>
/// Architecture and training settings of the C#-native LSTM. Defaults reproduce the research notebook:
/// LSTM(128, sequences) → dropout 0.3 → LSTM(64) → dropout 0.2 → dense(1, sigmoid), focal loss (γ 3, α 0.9),
/// Adam 1e-3, batch 256, up to 40 epochs, early stopping on validation average precision (patience 8, best weights
/// restored), learning rate halved on plateau (patience 3, floor 1e-6).
/// </summary>
public sealed record LstmOptions
{
    /// <summary>Steps per window (the notebook and the scorer use 7).</summary>
    public int SequenceLength { get; init; } = 7;

    /// <summary>Units of the first LSTM layer (returns its whole sequence).</summary>
    public int Hidden1 { get; init; } = 128;

    /// <summary>Units of the second LSTM layer (only its last step feeds the dense output).</summary>
    public int Hidden2 { get; init; } = 64;

    /// <summary>Dropout rate on the first layer's output sequence (training only).</summary>
    public float Dropout1 { get; init; } = 0.3f;

    /// <summary>Dropout rate on the second layer's last output (training only).</summary>
    public float Dropout2 { get; init; } = 0.2f;

    /// <summary>Loss function.</summary>
    public LstmLossKind Loss { get; init; } = LstmLossKind.Focal;

    /// <summary>Focal-loss focusing parameter γ.</summary>
    public double FocalGamma { get; init; } = 3.0;

    /// <summary>Focal-loss weight α of the positive class (negatives get 1 − α).</summary>
    public double FocalAlpha { get; init; } = 0.9;

    /// <summary>
    /// Target positives : negatives ratio after oversampling the positives (with replacement, redrawn every epoch);
    /// null or 0 means no oversampling. The notebook used 1.0 (1:1), which overfit badly (train PR-AUC 1.0 against
    /// validation 0.07); the default is no oversampling and relies on the focal loss's α for class balance.
    /// </summary>
    public double? OversampleRatio { get; init; }

    /// <summary>Initial Adam learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Adam β1.</summary>
    public double AdamBeta1 { get; init; } = 0.9;

    /// <summary>Adam β2.</summary>
    public double AdamBeta2 { get; init; } = 0.999;

    /// <summary>Adam ε (Keras's default 1e-7).</summary>
    public double AdamEpsilon { get; init; } = 1e-7;

    /// <summary>Sequences per mini-batch.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Maximum epochs.</summary>
    public int MaxEpochs { get; init; } = 40;

    /// <summary>Epochs without a new best validation AP before training stops (best weights are restored).</summary>
    public int EarlyStoppingPatience { get; init; } = 8;

    /// <summary>Epochs without a validation-AP gain of at least <see cref="LearningRateMinDelta"/> before the rate is cut.</summary>
    public int LearningRatePatience { get; init; } = 3;

    /// <summary>Factor applied to the learning rate on a plateau.</summary>
    public double LearningRateFactor { get; init; } = 0.5;

    /// <summary>Floor of the learning rate.</summary>
    public double MinLearningRate { get; init; } = 1e-6;

    /// <summary>Smallest validation-AP gain that resets the plateau counter (Keras ReduceLROnPlateau's min_delta).</summary>
    public double LearningRateMinDelta { get; init; } = 1e-4;

    /// <summary>Seed for initialisation, shuffling, oversampling and dropout: equal seeds give bit-identical models.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// Worker threads (null = all cores). Work is split into fixed chunks of a batch, so the result does not depend on
    /// this value.
    /// </summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>
    /// When true, training AP is measured each epoch by an inference pass over the (not oversampled) training set;
    /// when false (default, like Keras's fit metrics) it is the AP of the scores produced by the epoch's training
    /// batches themselves (dropout on, oversampled, weights moving), which costs nothing extra.
    /// </summary>
    public bool EvaluateTrainingSet { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SequenceLength, 1, nameof(SequenceLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(Hidden1, 1, nameof(Hidden1));
        ArgumentOutOfRangeException.ThrowIfLessThan(Hidden2, 1, nameof(Hidden2));
        if (!(Dropout1 >= 0f && Dropout1 < 1f) || !(Dropout2 >= 0f && Dropout2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout1), "Dropout rates must be in [0, 1).");
        }

        if (!(FocalGamma >= 0) || !(FocalAlpha > 0 && FocalAlpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(FocalAlpha), "Focal loss needs γ ≥ 0 and 0 < α < 1.");
        }

        if (OversampleRatio is { } ratio && !(ratio >= 0 && double.IsFinite(ratio)))
        {
            throw new ArgumentOutOfRangeException(nameof(OversampleRatio), "The oversampling ratio must be ≥ 0.");
        }

        if (!(LearningRate > 0) || !(MinLearningRate >= 0) || !(LearningRateFactor > 0 && LearningRateFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), "Learning-rate settings are out of range.");
        }

        if (!(AdamBeta1 >= 0 && AdamBeta1 < 1) || !(AdamBeta2 >= 0 && AdamBeta2 < 1) || !(AdamEpsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(AdamBeta1), "Adam settings are out of range.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEpochs, 1, nameof(MaxEpochs));
        ArgumentOutOfRangeException.ThrowIfLessThan(EarlyStoppingPatience, 1, nameof(EarlyStoppingPatience));
        ArgumentOutOfRangeException.ThrowIfLessThan(LearningRatePatience, 1, nameof(LearningRatePatience));
        if (MaxDegreeOfParallelism is { } dop)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(dop, 1, nameof(MaxDegreeOfParallelism));
        }
    }
}
