using StreamFraud.Core.Evaluation;
using StreamFraud.XgBoost;

namespace StreamFraud.Training.Tests.Lstm;

/// <summary>The other half of the marker task: the signal is only in early steps, so XGBoost on the last step cannot learn it.</summary>
public sealed class MarkerTaskXgbTests
{
    [Fact]
    public void XgbOnLastStep_MarkerTask_StaysNearBaseRate()
    {
        var (trainWindows, trainLabels) = MarkerSequenceTask.Generate(3000, seed: 1);
        var (validWindows, validLabels) = MarkerSequenceTask.Generate(1000, seed: 2);
        var (testWindows, testLabels) = MarkerSequenceTask.Generate(1000, seed: 3);
        using var train = DMatrix.FromDense(MarkerSequenceTask.LastSteps(trainWindows, 7, 4), 3000, 4, trainLabels.Select(l => (float)l).ToArray());
        using var valid = DMatrix.FromDense(MarkerSequenceTask.LastSteps(validWindows, 7, 4), 1000, 4, validLabels.Select(l => (float)l).ToArray());
        using var result = XgbTrainer.Train(train, valid, new XgbParameters { NumRounds = 200, EarlyStoppingRounds = 30 }).Booster;
        var scores = result.PredictDense(MarkerSequenceTask.LastSteps(testWindows, 7, 4), 1000);
        var labels = testLabels.Select(l => l == 1).ToArray();
        var ap = ScoreCurve.Create(scores, labels).AveragePrecision();
        var baseRate = labels.Count(l => l) / 1000.0;
        // The LSTM reaches AP ≥ 0.95 on the same task (LstmTrainerTests.Train_MarkerTask_LearnsEarlyStepSignal).
        Assert.True(ap < baseRate + 0.15, $"XGBoost on the last step reached AP {ap:F3} (base rate {baseRate:F3}): the task leaks into the last step");
    }
}
