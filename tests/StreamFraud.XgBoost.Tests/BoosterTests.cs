using System.Globalization;
using System.Text.Json;

namespace StreamFraud.XgBoost.Tests;

public sealed class BoosterTests
{
    private const int Columns = 5;

    [Fact]
    public void PredictDense_SeparableRule_NearPerfect()
    {
        var (x, y) = XgbTestData.Separable(2000, Columns, seed: 1);
        var (tx, ty) = XgbTestData.Separable(1000, Columns, seed: 2);
        using var train = DMatrix.FromDense(x, 2000, Columns, y);
        using var validation = DMatrix.FromDense(tx, 1000, Columns, ty);
        using var result = Disposable(XgbTrainer.Train(train, validation, XgbTestData.Quick()));

        var p = result.Value.Booster.PredictDense(tx, 1000);

        var wrong = 0;
        for (var i = 0; i < p.Length; i++)
        {
            Assert.InRange(p[i], 0f, 1f);
            wrong += (p[i] > 0.5f ? 1f : 0f) == ty[i] ? 0 : 1;
        }

        // The only errors possible are rows within one histogram bin of the 0.5 boundary.
        Assert.True(wrong <= 5, $"{wrong} of 1000 misclassified");
        Assert.True(result.Value.BestScore > 0.99, $"validation aucpr {result.Value.BestScore}");
    }

    [Fact]
    public void Load_SavedJson_PredictionsBitIdentical()
    {
        var (x, y) = XgbTestData.Noisy(1500, Columns, seed: 3);
        using var train = DMatrix.FromDense(x, 1500, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick() with { EarlyStoppingRounds = 5 }));
        var booster = result.Value.Booster;
        var path = Path.Combine(Path.GetTempPath(), $"xgb-{Guid.NewGuid():N}.json");
        try
        {
            booster.SaveModel(path);
            using var fromFile = Booster.Load(path, threads: 1);
            using var fromBuffer = Booster.Load(booster.SaveModelToBuffer("json"));
            using var fromUbj = Booster.Load(booster.SaveModelToBuffer("ubj"));

            var expected = booster.PredictDense(x, 1500);
            Assert.Equal(booster.BestIteration, fromFile.BestIteration);
            Assert.Equal(Bits(expected), Bits(fromFile.PredictDense(x, 1500)));
            Assert.Equal(Bits(expected), Bits(fromBuffer.PredictDense(x, 1500)));
            Assert.Equal(Bits(expected), Bits(fromUbj.PredictDense(x, 1500)));
            Assert.Equal(booster.BoostedRounds, fromFile.BoostedRounds);
            Assert.Equal(Columns, fromFile.NumFeatures);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SaveModelToBuffer_Json_HasXgboostModelSchema()
    {
        var (x, y) = XgbTestData.Noisy(500, Columns, seed: 4);
        using var train = DMatrix.FromDense(x, 500, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick(rounds: 7)));

        using var json = JsonDocument.Parse(result.Value.Booster.SaveModelToBuffer("json"));

        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("version").GetArrayLength());
        var learner = root.GetProperty("learner");
        var gbm = learner.GetProperty("gradient_booster");
        Assert.Equal("gbtree", gbm.GetProperty("name").GetString());
        Assert.Equal(7, gbm.GetProperty("model").GetProperty("trees").GetArrayLength());
        Assert.Equal("binary:logistic", learner.GetProperty("objective").GetProperty("name").GetString());
        Assert.Equal(
            Columns.ToString(CultureInfo.InvariantCulture),
            learner.GetProperty("learner_model_param").GetProperty("num_feature").GetString());
        var attributes = learner.GetProperty("attributes");
        Assert.Equal(
            result.Value.BestIteration.ToString(CultureInfo.InvariantCulture),
            attributes.GetProperty(Booster.BestIterationAttribute).GetString());
        Assert.True(attributes.TryGetProperty(Booster.BestScoreAttribute, out _));
    }

    [Fact]
    public void PredictDense_DepthOneStump_EqualsHandComputedLeaves()
    {
        // x0 = [0, 0, 1, 1], y = [0, 1, 1, 1], base_score 0.25, eta 1, lambda 0: at p = 0.25 every row has
        // g = p - y and h = p(1 - p) = 0.1875. Left leaf (y 0, 1): -(0.25 - 0.75) / 0.375 = 4/3.
        // Right leaf (y 1, 1): -(-0.75 - 0.75) / 0.375 = 4. Prediction = sigmoid(logit(0.25) + leaf).
        float[] x = [0, 0, 1, 1];
        float[] y = [0, 1, 1, 1];
        using var train = DMatrix.FromDense(x, 4, 1, y);
        using var booster = Booster.Create(train);
        booster.SetParameters(new XgbParameters
        {
            NumRounds = 1,
            MaxDepth = 1,
            Eta = 1,
            Lambda = 0,
            MinChildWeight = 0,
            Subsample = 1,
            ColsampleByTree = 1,
            BaseScore = 0.25,
            Threads = 1,
        }.ToBoosterParameters(scalePosWeight: 1));
        booster.UpdateOneIteration(0, train);

        var p = booster.PredictDense(x, 4);

        var baseMargin = XgbTestData.Logit(0.25);
        var left = XgbTestData.Sigmoid(baseMargin + (4.0 / 3.0));
        var right = XgbTestData.Sigmoid(baseMargin + 4.0);
        Assert.Equal([left, left, right, right], p.Select(v => (double)v), new ToleranceComparer(1e-6));

        using var json = JsonDocument.Parse(booster.SaveModelToBuffer());
        var tree = json.RootElement.GetProperty("learner").GetProperty("gradient_booster").GetProperty("model")
            .GetProperty("trees")[0];
        var leaves = tree.GetProperty("split_conditions").EnumerateArray().Skip(1).Select(e => e.GetDouble()).ToArray();
        Assert.Equal([4.0 / 3.0, 4.0], leaves, new ToleranceComparer(1e-6));
    }

    [Fact]
    public void PredictContributions_EachRow_SumEqualsMarginAndLogitOfProbability()
    {
        var (x, y) = XgbTestData.Noisy(800, Columns, seed: 5);
        for (var r = 0; r < 800; r += 7)
        {
            x[(r * Columns) + 2] = float.NaN;
        }

        using var train = DMatrix.FromDense(x, 800, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick()));
        var booster = result.Value.Booster;
        var rows = 100;
        var batch = x.AsSpan(0, rows * Columns);

        var contributions = booster.PredictContributions(batch, rows);
        var margins = booster.PredictDense(batch, rows, outputMargin: true);
        var probabilities = booster.PredictDense(batch, rows);

        Assert.Equal(rows, contributions.Rows);
        Assert.Equal(Columns, contributions.Features);
        for (var r = 0; r < rows; r++)
        {
            Assert.Equal(margins[r], contributions.Margin(r), 1e-4);
            Assert.Equal(XgbTestData.Logit(probabilities[r]), contributions.Margin(r), 1e-4);
        }

        var top = booster.TopContributions(batch[..Columns], 3);
        Assert.Equal(contributions.Top(0, 3), top);

        // Saabas' approximation attributes differently but also adds up to the margin.
        var approximate = booster.PredictContributions(batch, rows, approximate: true);
        Assert.NotEqual(contributions.Values.ToArray(), approximate.Values.ToArray());
        for (var r = 0; r < rows; r++)
        {
            Assert.Equal(margins[r], approximate.Margin(r), 1e-4);
        }
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(7, false)]
    [InlineData(null, true)]
    public void PredictContributions_RowsInOneCall_EachRowBitIdenticalToItsOneRowCall(int? iterationEnd, bool approximate)
    {
        var (x, y) = XgbTestData.Noisy(800, Columns, seed: 10);
        for (var r = 0; r < 800; r += 5)
        {
            x[(r * Columns) + (r % Columns)] = float.NaN;
        }

        using var train = DMatrix.FromDense(x, 800, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick() with { MaxDepth = 6 }));
        var booster = result.Value.Booster;
        booster.SetParameter("nthread", "2"); // the batch's rows are spread over threads

        // Scattered rows in shuffled order, some with a missing value, as a batch's alerts would be.
        var picked = Enumerable.Range(0, 800).Where(r => r % 13 == 0 || r % 5 == 0).OrderBy(r => (r * 7919) % 800).Take(40).ToArray();
        var rows = new float[picked.Length * Columns];
        for (var i = 0; i < picked.Length; i++)
        {
            x.AsSpan(picked[i] * Columns, Columns).CopyTo(rows.AsSpan(i * Columns));
        }

        const float Sentinel = -12345f;
        var width = Columns + 1;
        var batched = Enumerable.Repeat(Sentinel, (picked.Length * width) + 3).ToArray();
        booster.PredictContributions(rows, picked.Length, batched, iterationEnd, approximate);

        Assert.Equal([Sentinel, Sentinel, Sentinel], batched[^3..]); // nothing written past the rows
        var nonZero = 0;
        for (var i = 0; i < picked.Length; i++)
        {
            var alone = booster.PredictContributions(rows.AsSpan(i * Columns, Columns), 1, iterationEnd, approximate);
            var row = batched.AsSpan(i * width, width);
            Assert.Equal(Bits(alone.Values.ToArray()), Bits(row.ToArray()));
            Assert.Equal(
                booster.TopContributions(rows.AsSpan(i * Columns, Columns), 3, iterationEnd, approximate),
                XgbContributions.TopK(row[..Columns], 3));
            nonZero += row[..Columns].ToArray().Count(v => v != 0);
        }

        Assert.True(nonZero > picked.Length * 2, $"only {nonZero} non-zero contributions: the comparison would be thin");
        Assert.Throws<ArgumentException>(() => booster.PredictContributions(rows, picked.Length, new float[(picked.Length * width) - 1]));
    }

    [Fact]
    public void PredictDense_NaNAsMissing_MatchesDMatrixPrediction()
    {
        var (x, y) = XgbTestData.Noisy(1000, Columns, seed: 6);
        var random = new Random(7);
        for (var r = 0; r < 1000; r++)
        {
            if (random.NextDouble() < 0.3)
            {
                x[(r * Columns) + 1] = float.NaN;
                y[r] = 1; // missingness carries signal, so trees learn a default direction for it
            }
        }

        using var train = DMatrix.FromDense(x, 1000, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick()));
        var booster = result.Value.Booster;

        var inPlace = booster.PredictDense(x, 1000);
        var viaMatrix = booster.Predict(train);

        Assert.All(inPlace, p => Assert.True(float.IsFinite(p)));
        Assert.Equal(Bits(viaMatrix), Bits(inPlace));
        // Rows with x1 missing are all positive in training; the model scores them high.
        for (var r = 0; r < 1000; r++)
        {
            if (float.IsNaN(x[(r * Columns) + 1]))
            {
                Assert.True(inPlace[r] > 0.8f, $"row {r}: {inPlace[r]}");
            }
        }
    }

    [Fact]
    public async Task PredictDense_FourThreadsAtOnce_EqualSerial()
    {
        var (x, y) = XgbTestData.Noisy(2000, Columns, seed: 8);
        using var train = DMatrix.FromDense(x, 2000, Columns, y);
        using var trained = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick()));
        using var booster = Booster.Load(trained.Value.Booster.SaveModelToBuffer(), threads: 1);
        const int batchRows = 50;
        var batches = 2000 / batchRows;
        var serial = Enumerable.Range(0, batches)
            .Select(b => booster.PredictDense(x.AsSpan(b * batchRows * Columns, batchRows * Columns), batchRows))
            .ToArray();
        var serialContribs = booster.PredictContributions(x.AsSpan(0, batchRows * Columns), batchRows).Values.ToArray();
        var serialMatrix = booster.Predict(train);

        using var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(t => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait();
                var mismatches = 0;
                using var own = DMatrix.FromDense(x, 2000, Columns, threads: 1);
                for (var i = 0; i < batches * 3; i++)
                {
                    var b = (i + (t * 7)) % batches;
                    var p = booster.PredictDense(x.AsSpan(b * batchRows * Columns, batchRows * Columns), batchRows);
                    mismatches += p.AsSpan().SequenceEqual(serial[b]) ? 0 : 1;
                    if (i % 10 == 0)
                    {
                        var c = booster.PredictContributions(x.AsSpan(0, batchRows * Columns), batchRows);
                        mismatches += c.Values.SequenceEqual(serialContribs) ? 0 : 1;
                        mismatches += booster.Predict(own).AsSpan().SequenceEqual(serialMatrix) ? 0 : 1;
                    }
                }

                return mismatches;
            },
            TaskCreationOptions.LongRunning)).ToArray();

        Assert.All(await Task.WhenAll(threads), m => Assert.Equal(0, m));
    }

    [Fact]
    public void PredictDense_WrongColumnCount_ThrowsArgumentException()
    {
        var (x, y) = XgbTestData.Noisy(200, Columns, seed: 9);
        using var train = DMatrix.FromDense(x, 200, Columns, y);
        using var result = Disposable(XgbTrainer.Train(train, train, XgbTestData.Quick(rounds: 2)));

        var e = Assert.Throws<ArgumentException>(() => result.Value.Booster.PredictDense(new float[12], 3));

        Assert.Contains("5 model features", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GarbageBytes_ThrowsXgbExceptionWithFunctionAndNativeText()
    {
        var e = Assert.Throws<XgbException>(() => Booster.Load("{\"not\": \"a model\"}"u8));

        Assert.Equal("XGBoosterLoadModelFromBuffer", e.Function);
        Assert.StartsWith("XGBoosterLoadModelFromBuffer failed: ", e.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(e.NativeMessage));
    }

    [Fact]
    public void UpdateOneIteration_UnknownObjective_ThrowsXgbException()
    {
        using var train = DMatrix.FromDense(new float[] { 0, 1 }, 2, 1, [0f, 1f]);
        using var booster = Booster.Create(train);
        booster.SetParameter("objective", "binary:no-such-objective");

        var e = Assert.Throws<XgbException>(() => booster.UpdateOneIteration(0, train));

        Assert.Equal("XGBoosterUpdateOneIter", e.Function);
        Assert.Contains("no-such-objective", e.NativeMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseEvaluation_LibxgboostLine_ValuesBySetAndMetric()
    {
        var values = Booster.ParseEvaluation("[12]\ttrain-aucpr:0.912345\tvalidation-aucpr:0.4\tvalidation-logloss:nan");

        Assert.Equal(3, values.Count);
        Assert.Equal(0.912345, values["train-aucpr"]);
        Assert.Equal(0.4, values["validation-aucpr"]);
        Assert.True(double.IsNaN(values["validation-logloss"]));
        Assert.Throws<FormatException>(() => Booster.ParseEvaluation("[0]\ttrain-aucpr"));
    }

    [Fact]
    public void FromDense_LabelsAndWeights_ReadBackFromLibrary()
    {
        using var m = DMatrix.FromDense(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2, [0f, 1f, 0f], [1f, 2f, 0.5f]);

        Assert.Equal((3, 2), (m.Rows, m.Columns));
        Assert.Equal([0f, 1f, 0f], m.GetLabels());
        Assert.Equal([1f, 2f, 0.5f], m.GetWeights());
        Assert.Throws<ArgumentException>(() => DMatrix.FromDense(new float[5], 3, 2));
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static DisposableResult Disposable(XgbTrainResult result) => new(result);

    /// <summary>Disposes a training result's booster at the end of a test.</summary>
    private sealed class DisposableResult(XgbTrainResult value) : IDisposable
    {
        public XgbTrainResult Value { get; } = value;

        public void Dispose() => Value.Booster.Dispose();
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;

        public int GetHashCode(double value) => 0;
    }
}
