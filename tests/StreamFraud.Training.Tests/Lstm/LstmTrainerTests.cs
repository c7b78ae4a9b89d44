using StreamFraud.Training.Lstm;
using Xunit.Abstractions;

namespace StreamFraud.Training.Tests.Lstm;

public class LstmTrainerTests(ITestOutputHelper output)
{
    private static readonly LstmOptions Small = new()
    {
        Hidden1 = 16,
        Hidden2 = 8,
        BatchSize = 64,
        LearningRate = 0.01,
        MaxEpochs = 12,
        Seed = 5,
    };

    private static LstmDataset Marker(int count, int seed, double fraudRate = 0.2)
    {
        var (windows, labels) = MarkerSequenceTask.Generate(count, fraudRate: fraudRate, seed: seed);
        return new LstmDataset(windows, labels, 7, 4);
    }

    [Fact]
    public void Train_MarkerTask_LearnsEarlyStepSignal()
    {
        var train = Marker(3000, seed: 1);
        var validation = Marker(1000, seed: 2);

        var result = new LstmTrainer(Small).Train(train, validation, r => output.WriteLine(
            $"epoch {r.Epoch}: loss {r.Loss:F4} train AP {r.TrainAveragePrecision:F3} val AP {r.ValidationAveragePrecision:F3} lr {r.LearningRate:G3} {r.SequencesPerSecond:F0} seq/s"));

        var test = Marker(1000, seed: 3);
        var testAp = AveragePrecision.Compute(result.Model.Predict(test.Windows), test.Labels);
        output.WriteLine($"best epoch {result.BestEpoch}, test AP {testAp:F4}, base rate {test.Positives / (double)test.Count:F3}");
        Assert.True(testAp >= 0.95, $"test AP {testAp}");
    }

    [Fact]
    public void Train_SameSeed_BitIdenticalForAnyThreadCount()
    {
        var train = Marker(700, seed: 4);
        var validation = Marker(300, seed: 5);
        var options = Small with { MaxEpochs = 2, OversampleRatio = 0.5 };

        var one = new LstmTrainer(options with { MaxDegreeOfParallelism = 1 }).Train(train, validation);
        var two = new LstmTrainer(options with { MaxDegreeOfParallelism = 2 }).Train(train, validation);
        var again = new LstmTrainer(options with { MaxDegreeOfParallelism = 4 }).Train(train, validation);
        var otherSeed = new LstmTrainer(options with { Seed = 6 }).Train(train, validation);

        Assert.Equal(one.Model.Parameters, two.Model.Parameters);
        Assert.Equal(one.Model.Parameters, again.Model.Parameters);
        Assert.Equal(one.History.Select(h => h.Loss), two.History.Select(h => h.Loss));
        Assert.NotEqual(one.Model.Parameters, otherSeed.Model.Parameters);
    }

    [Fact]
    public void Train_EarlyStopping_RestoresBestEpochWeights()
    {
        // Label noise keeps validation AP below 1 and moving from epoch to epoch, so "best" is a real choice.
        var train = Marker(1500, seed: 6);
        var validation = Marker(400, seed: 7);
        var noisy = (byte[])validation.Labels.Clone();
        for (var i = 0; i < noisy.Length; i += 9)
        {
            noisy[i] ^= 1;
        }

        validation = new LstmDataset(validation.Windows, noisy, 7, 4);
        var options = Small with { MaxEpochs = 30, EarlyStoppingPatience = 3, LearningRatePatience = 10, LearningRate = 0.05 };

        var result = new LstmTrainer(options).Train(train, validation, r => output.WriteLine(
            $"epoch {r.Epoch}: val AP {r.ValidationAveragePrecision:F5}{(r.Improved ? " *" : string.Empty)}"));

        var best = result.History.MaxBy(h => h.ValidationAveragePrecision)!;
        Assert.Equal(best.Epoch, result.BestEpoch);
        Assert.True(result.History[result.BestEpoch - 1].Improved);
        var recomputed = AveragePrecision.Compute(result.Model.Predict(validation.Windows), validation.Labels);
        Assert.Equal(best.ValidationAveragePrecision, recomputed);
        if (result.StopReason == "early stopping")
        {
            Assert.Equal(result.BestEpoch + options.EarlyStoppingPatience, result.History.Count);
        }
    }

    [Fact]
    public void Train_FlatValidation_HalvesLearningRateOnPlateauDownToFloorThenStops()
    {
        // A learning rate far below float resolution leaves the weights, and so validation AP, unchanged.
        var options = Small with
        {
            LearningRate = 1e-30,
            MinLearningRate = 3e-31,
            LearningRatePatience = 2,
            EarlyStoppingPatience = 8,
            MaxEpochs = 20,
        };

        var result = new LstmTrainer(options).Train(Marker(300, seed: 8), Marker(200, seed: 9));

        Assert.Equal("early stopping", result.StopReason);
        Assert.Equal(9, result.History.Count);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal(
            [1e-30, 1e-30, 1e-30, 5e-31, 5e-31, 3e-31, 3e-31, 3e-31, 3e-31],
            result.History.Select(h => h.LearningRate).ToArray());
    }

    [Fact]
    public void Train_ValidationWithoutPositives_Throws()
    {
        var validation = new LstmDataset(new float[2 * 7 * 4], [0, 0], 7, 4);

        Assert.Throws<ArgumentException>(() => new LstmTrainer(Small).Train(Marker(100, seed: 1), validation));
    }

    [Fact]
    public void Train_Cancelled_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => new LstmTrainer(Small).Train(Marker(200, seed: 1), Marker(100, seed: 2), null, cts.Token));
    }

    [Fact]
    public void Train_ProductionArchitectureF80_ReportsThroughput()
    {
        // One short epoch of the notebook's network on 80 features: checks the report plumbing and prints speed.
        const int features = 80;
        var rng = new Random(1);
        var count = 2048;
        var windows = new float[count * 7 * features];
        for (var i = 0; i < windows.Length; i++)
        {
            windows[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 50 == 0 ? 1 : 0)).ToArray();
        var data = new LstmDataset(windows, labels, 7, features);
        var reports = new List<EpochReport>();

        var result = new LstmTrainer(new LstmOptions { MaxEpochs = 1 }).Train(data, data, reports.Add);

        var report = Assert.Single(reports);
        // A cold first epoch next to other tests: a smoke figure, not a benchmark (see the trainer's report for those).
        output.WriteLine($"F=80 T=7 H=128/64 batch 256, cold: {report.SequencesPerSecond:F0} sequences/s ({report.TrainingTime.TotalMilliseconds:F0} ms for {report.Sequences})");
        Assert.Equal(count, report.Sequences);
        Assert.True(report.SequencesPerSecond > 0 && double.IsFinite(report.Loss));
        Assert.Equal(1e-3, report.LearningRate);
        Assert.Equal(1, result.BestEpoch);
    }

    [Fact]
    public void EpochOrder_NoOversampling_IsShuffledPermutation()
    {
        var labels = Enumerable.Range(0, 1000).Select(i => (byte)(i % 10 == 0 ? 1 : 0)).ToArray();

        var order = LstmTrainer.EpochOrder(labels, null, 42, 1);

        Assert.Equal(Enumerable.Range(0, 1000), order.Order());
        Assert.NotEqual(Enumerable.Range(0, 1000), order);
        Assert.Equal(order, LstmTrainer.EpochOrder(labels, 0, 42, 1));
        Assert.NotEqual(order, LstmTrainer.EpochOrder(labels, null, 42, 2));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.25)]
    public void EpochOrder_Oversampling_ReachesTargetRatioWithBalancedCopies(double ratio)
    {
        var labels = Enumerable.Range(0, 1003).Select(i => (byte)(i % 17 == 0 ? 1 : 0)).ToArray();
        var positives = labels.Count(l => l == 1);
        var negatives = labels.Length - positives;

        var order = LstmTrainer.EpochOrder(labels, ratio, 7, 3);

        var counts = order.GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(labels.Length, counts.Count);
        Assert.All(counts.Where(c => labels[c.Key] == 0), c => Assert.Equal(1, c.Value));
        var positiveDraws = order.Count(i => labels[i] == 1);
        Assert.Equal((int)Math.Round(ratio * negatives), positiveDraws);
        var copies = counts.Where(c => labels[c.Key] == 1).Select(c => c.Value).ToArray();
        Assert.True(copies.Max() - copies.Min() <= 1, "positives are repeated evenly");
    }
}
