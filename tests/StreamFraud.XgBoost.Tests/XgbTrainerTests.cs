using System.Globalization;
using System.Text.Json;

namespace StreamFraud.XgBoost.Tests;

public sealed class XgbTrainerTests
{
    private const int Columns = 4;

    [Fact]
    public void Train_NoisyProblem_StopsEarlyAtBestPlusPatience()
    {
        var (x, y) = XgbTestData.Noisy(600, Columns, seed: 11);
        var (vx, vy) = XgbTestData.Noisy(600, Columns, seed: 12);
        using var train = DMatrix.FromDense(x, 600, Columns, y);
        using var validation = DMatrix.FromDense(vx, 600, Columns, vy);
        var rounds = new List<(int Round, double Train, double Validation)>();

        var result = XgbTrainer.Train(
            train,
            validation,
            XgbTestData.Quick(rounds: 300) with { MaxDepth = 6, Eta = 0.5, EarlyStoppingRounds = 5 },
            (r, t, v) => rounds.Add((r, t, v)));
        using var booster = result.Booster;

        // Independent replay of the rule from the per-round history: first round with the maximum validation
        // aucpr seen so far, and stop 5 rounds after it.
        var best = 0;
        for (var r = 1; r < rounds.Count; r++)
        {
            if (rounds[r].Validation > rounds[best].Validation)
            {
                best = r;
            }
        }

        Assert.True(result.StoppedEarly);
        Assert.True(result.RoundsTrained < 300);
        Assert.Equal(best, result.BestIteration);
        Assert.Equal(best + 5 + 1, result.RoundsTrained);
        Assert.Equal(rounds.Count, result.RoundsTrained);
        Assert.Equal(rounds[best].Validation, result.BestScore);
        Assert.Equal(rounds.Select(r => r.Validation), result.History.Select(h => h.Validation));
        Assert.Equal(result.RoundsTrained, booster.BoostedRounds);
        Assert.Equal(best, booster.BestIteration);
    }

    [Fact]
    public void Train_EarlyStopped_DefaultPredictionUsesRoundsUpToBest()
    {
        var (x, y) = XgbTestData.Noisy(600, Columns, seed: 13);
        var (vx, vy) = XgbTestData.Noisy(600, Columns, seed: 14);
        using var train = DMatrix.FromDense(x, 600, Columns, y);
        using var validation = DMatrix.FromDense(vx, 600, Columns, vy);
        var result = XgbTrainer.Train(
            train, validation, XgbTestData.Quick(rounds: 300) with { MaxDepth = 6, Eta = 0.5, EarlyStoppingRounds = 5 });
        using var booster = result.Booster;

        var byDefault = booster.PredictDense(vx, 600);
        var bestRange = booster.PredictDense(vx, 600, iterationEnd: result.BestIteration + 1);
        var allRounds = booster.PredictDense(vx, 600, iterationEnd: 0);
        using var reloaded = Booster.Load(booster.SaveModelToBuffer());

        Assert.Equal(bestRange, byDefault);
        Assert.NotEqual(allRounds, byDefault);
        Assert.Equal(bestRange, reloaded.PredictDense(vx, 600));
        Assert.Equal(bestRange, booster.Predict(validation));
    }

    [Fact]
    public void Train_DefaultScalePosWeight_IsNegativesOverPositivesInBoosterConfig()
    {
        var (x, _) = XgbTestData.Noisy(100, Columns, seed: 15);
        var y = Enumerable.Range(0, 100).Select(i => i % 10 < 3 ? 1f : 0f).ToArray(); // 30 positives, 70 negatives
        using var train = DMatrix.FromDense(x, 100, Columns, y);

        var result = XgbTrainer.Train(train, train, XgbTestData.Quick(rounds: 1));
        using var booster = result.Booster;

        Assert.Equal(70.0 / 30.0, result.ScalePosWeight);
        using var config = JsonDocument.Parse(booster.SaveJsonConfig());
        var stored = config.RootElement.GetProperty("learner").GetProperty("objective").GetProperty("reg_loss_param")
            .GetProperty("scale_pos_weight").GetString();
        Assert.Equal(70.0 / 30.0, double.Parse(stored!, CultureInfo.InvariantCulture), 1e-6);
    }

    [Fact]
    public void Train_TrainingSetNotEvaluated_SameModelAndNaNTrainMetric()
    {
        var (x, y) = XgbTestData.Noisy(500, Columns, seed: 17);
        var (vx, vy) = XgbTestData.Noisy(300, Columns, seed: 18);
        using var train = DMatrix.FromDense(x, 500, Columns, y);
        using var validation = DMatrix.FromDense(vx, 300, Columns, vy);
        var trainValues = new List<double>();

        var with = XgbTrainer.Train(train, validation, XgbTestData.Quick(rounds: 10));
        var without = XgbTrainer.Train(
            train, validation, XgbTestData.Quick(rounds: 10) with { EvaluateTrainingSet = false }, (_, t, _) => trainValues.Add(t));
        using var a = with.Booster;
        using var b = without.Booster;

        Assert.All(trainValues, t => Assert.True(double.IsNaN(t)));
        Assert.Equal(10, trainValues.Count);
        Assert.Equal(with.History.Select(h => h.Validation), without.History.Select(h => h.Validation));
        Assert.Equal(a.PredictDense(vx, 300), b.PredictDense(vx, 300));
    }

    [Fact]
    public void ComputeScalePosWeight_Labels_NegativesOverPositives()
    {
        Assert.Equal(3.0, XgbTrainer.ComputeScalePosWeight([0, 0, 1, 0]));
        Assert.Throws<ArgumentException>(() => XgbTrainer.ComputeScalePosWeight([0, 0, 0]));
        Assert.Throws<ArgumentException>(() => XgbTrainer.ComputeScalePosWeight([0, 0.5f, 1]));
    }

    [Fact]
    public void Train_ValidationWithOneClass_ThrowsArgumentException()
    {
        var (x, y) = XgbTestData.Noisy(100, Columns, seed: 16);
        using var train = DMatrix.FromDense(x, 100, Columns, y);
        using var validation = DMatrix.FromDense(x, 100, Columns, new float[100]);

        var e = Assert.Throws<ArgumentException>(() => XgbTrainer.Train(train, validation, XgbTestData.Quick()));

        Assert.Contains("both classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void XgbParameters_Defaults_AreTheNotebooksModel()
    {
        var p = new XgbParameters().ToBoosterParameters(scalePosWeight: 999);
        var map = p.ToDictionary(kv => kv.Key, kv => kv.Value);

        Assert.Equal(600, new XgbParameters().NumRounds);
        Assert.Equal("6", map["max_depth"]);
        Assert.Equal("0.05", map["eta"]);
        Assert.Equal("0.9", map["subsample"]);
        Assert.Equal("0.9", map["colsample_bytree"]);
        Assert.Equal("1", map["lambda"]);
        Assert.Equal("0", map["alpha"]);
        Assert.Equal("hist", map["tree_method"]);
        Assert.Equal("binary:logistic", map["objective"]);
        Assert.Equal("aucpr", map["eval_metric"]);
        Assert.Equal("999", map["scale_pos_weight"]);
    }
}
