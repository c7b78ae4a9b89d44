using StreamFraud.Training.Lstm;
using StreamFraud.Training.Lstm.Onnx;

namespace StreamFraud.Training.Tests.Lstm;

public class LstmModelTests
{
    private static readonly LstmLayout Layout = new(6, 7, 16, 8);

    private static LstmModel RandomModel() => new(Layout, LstmGradientTests.RandomParameters<float>(Layout, 3));

    [Fact]
    public void SaveLoad_RoundTrip_KeepsWeightsPredictionsAndOnnxBytes()
    {
        var model = RandomModel();
        var (windows, _) = LstmGradientTests.PaddedWindows(Layout, 50, seed: 1);
        using var stream = new MemoryStream();

        model.Save(stream);
        stream.Position = 0;
        var loaded = LstmModel.Load(stream);

        Assert.Equal((6, 7, 16, 8), (loaded.FeatureCount, loaded.SequenceLength, loaded.Hidden1, loaded.Hidden2));
        Assert.Equal(model.Parameters, loaded.Parameters);
        Assert.Equal(model.Predict(windows), loaded.Predict(windows));
        Assert.Equal(LstmOnnxExporter.ToBytes(model), LstmOnnxExporter.ToBytes(loaded));
    }

    [Fact]
    public void SaveLoad_File_RoundTrips()
    {
        var model = RandomModel();
        var path = Path.Combine(Path.GetTempPath(), $"lstm-{Guid.NewGuid():N}.bin");
        try
        {
            model.Save(path);
            Assert.Equal(model.Parameters, LstmModel.Load(path).Parameters);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_NotAWeightFile_ThrowsInvalidData()
    {
        using var stream = new MemoryStream(new byte[64]);

        Assert.Throws<InvalidDataException>(() => LstmModel.Load(stream));
    }

    [Fact]
    public void Load_Truncated_Throws()
    {
        using var stream = new MemoryStream();
        RandomModel().Save(stream);
        using var truncated = new MemoryStream(stream.ToArray()[..^4]);

        Assert.Throws<EndOfStreamException>(() => LstmModel.Load(truncated));
    }

    [Fact]
    public void Predict_ChunkingAndThreads_DoNotChangeScores()
    {
        var model = RandomModel();
        var (windows, _) = LstmGradientTests.PaddedWindows(Layout, 300, seed: 2);

        var all = model.Predict(windows, maxDegreeOfParallelism: 2);
        var single = model.Predict(windows, maxDegreeOfParallelism: 1);
        var one = model.Predict(windows.AsSpan(299 * Layout.WindowSize).ToArray());

        Assert.Equal(all, single);
        Assert.Equal(all[299], Assert.Single(one));
        Assert.All(all, s => Assert.InRange(s, 0f, 1f));
    }

    [Fact]
    public void Predict_WrongWindowSize_Throws()
    {
        Assert.Throws<ArgumentException>(() => RandomModel().Predict(new float[Layout.WindowSize + 1]));
    }

    [Fact]
    public void CreateInitial_KerasInitialisation_HasUnitForgetBiasAndOrthogonalRecurrentRows()
    {
        var model = LstmModel.CreateInitial(5, new LstmOptions { Hidden1 = 8, Hidden2 = 4, Seed = 3 });
        var l = model.Layout;
        var p = model.Parameters;

        // Bias blocks are i, f, o, g: only the forget block is 1.
        Assert.All(p.AsSpan(l.B1, l.Hidden1).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(p.AsSpan(l.B1 + l.Hidden1, l.Hidden1).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(p.AsSpan(l.B1 + (2 * l.Hidden1), 2 * l.Hidden1).ToArray(), v => Assert.Equal(0f, v));
        // U1 [H1, 4H1] has orthonormal rows.
        for (var i = 0; i < l.Hidden1; i++)
        {
            for (var j = 0; j < l.Hidden1; j++)
            {
                double dot = 0;
                for (var k = 0; k < l.Gates1; k++)
                {
                    dot += (double)p[l.U1 + (i * l.Gates1) + k] * p[l.U1 + (j * l.Gates1) + k];
                }

                Assert.Equal(i == j ? 1.0 : 0.0, dot, 5);
            }
        }

        // Glorot uniform bound for W1 [5, 32].
        var limit = Math.Sqrt(6.0 / (5 + 32));
        Assert.All(p.AsSpan(l.W1, 5 * l.Gates1).ToArray(), v => Assert.InRange(v, -limit, limit));
        Assert.Equal(p, LstmModel.CreateInitial(5, new LstmOptions { Hidden1 = 8, Hidden2 = 4, Seed = 3 }).Parameters);
    }
}
