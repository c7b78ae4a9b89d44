namespace StreamFraud.Training.Lstm;

/// <summary>Outcome of <see cref="LstmTrainer.Train"/>.</summary>
public sealed class LstmTrainingResult
{
    internal LstmTrainingResult(LstmModel model, IReadOnlyList<EpochReport> history, int bestEpoch, string stopReason)
    {
        Model = model;
        History = history;
        BestEpoch = bestEpoch;
        StopReason = stopReason;
    }

    /// <summary>The model with the best validation AP (weights restored from that epoch).</summary>
    public LstmModel Model { get; }

    /// <summary>One report per epoch run.</summary>
    public IReadOnlyList<EpochReport> History { get; }

    /// <summary>1-based epoch whose weights <see cref="Model"/> holds.</summary>
    public int BestEpoch { get; }

    /// <summary>Validation AP of <see cref="Model"/>.</summary>
    public double BestValidationAveragePrecision => History[BestEpoch - 1].ValidationAveragePrecision;

    /// <summary>Why training ended: "max epochs", "early stopping" or "non-finite loss".</summary>
    public string StopReason { get; }
}
