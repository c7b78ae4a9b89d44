using Microsoft.ML.OnnxRuntime;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Lstm.Onnx;
using Xunit.Abstractions;

namespace StreamFraud.Training.Tests.Lstm;

/// <summary>ONNX Runtime (CPU) running the exported graph must reproduce the trainer's own forward pass.</summary>
public class LstmOnnxExportTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(80, 7, 128, 64)] // the production architecture (fused AVX-512 cell path)
    [InlineData(5, 7, 12, 6)] // odd sizes (generic path), still T = 7
    [InlineData(3, 4, 8, 16)] // another sequence length
    public void Export_OnnxRuntimeOutput_EqualsTrainerForwardPass(int features, int steps, int hidden1, int hidden2)
    {
        var layout = new LstmLayout(features, steps, hidden1, hidden2);
        var parameters = LstmGradientTests.RandomParameters<float>(layout, 21);
        // A larger dense layer spreads the probabilities over (0, 1), so the comparison covers more than the midpoint.
        parameters.AsSpan(layout.Wd, hidden2 + 1).ToArray().Select(v => v * 5f).ToArray().CopyTo(parameters, layout.Wd);
        var model = new LstmModel(layout, parameters);
        using var session = new InferenceSession(LstmOnnxExporter.ToBytes(model));

        Assert.Equal(LstmOnnxExporter.InputName, Assert.Single(session.InputMetadata).Key);
        Assert.Equal(LstmOnnxExporter.OutputName, Assert.Single(session.OutputMetadata).Key);
        var maxDiff = 0.0;
        foreach (var batch in new[] { 1, 3, 1000 })
        {
            var (windows, _) = LstmGradientTests.PaddedWindows(layout, batch, seed: batch);
            var expected = model.Predict(windows);
            var actual = RunOnnx(session, windows, batch, steps, features);

            Assert.Equal(batch, actual.Length);
            for (var i = 0; i < batch; i++)
            {
                var diff = Math.Abs(expected[i] - actual[i]);
                maxDiff = Math.Max(maxDiff, diff);
                Assert.True(diff <= 1e-5, $"batch {batch} row {i}: trainer {expected[i]}, onnx {actual[i]}");
            }

            // The check is only meaningful if the scores are spread out, not all saturated.
            Assert.True(batch < 1000 || expected.Max() - expected.Min() > 0.2, $"scores barely vary: {expected.Min()}..{expected.Max()}");
        }

        output.WriteLine($"F={features} T={steps} H={hidden1}/{hidden2}: max |onnx − trainer| = {maxDiff:E2}");
    }

    [Fact]
    public void Export_Metadata_DescribesShapes()
    {
        var model = LstmModel.CreateInitial(10, new LstmOptions { Hidden1 = 8, Hidden2 = 4 });
        using var session = new InferenceSession(LstmOnnxExporter.ToBytes(model));

        var input = session.InputMetadata[LstmOnnxExporter.InputName];
        Assert.Equal([-1, 7, 10], input.Dimensions);
        Assert.Equal("batch", input.SymbolicDimensions[0]);
        Assert.Equal([-1, 1], session.OutputMetadata[LstmOnnxExporter.OutputName].Dimensions);
        Assert.Equal("7", session.ModelMetadata.CustomMetadataMap["streamfraud.sequence_length"]);
        Assert.Equal("10", session.ModelMetadata.CustomMetadataMap["streamfraud.feature_count"]);
    }

    internal static float[] RunOnnx(InferenceSession session, float[] windows, int batch, int steps, int features)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(windows, [batch, steps, features]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [LstmOnnxExporter.InputName], [input], [LstmOnnxExporter.OutputName]);
        var score = results[0];
        Assert.Equal([batch, 1L], score.GetTensorTypeAndShape().Shape);
        return score.GetTensorDataAsSpan<float>().ToArray();
    }
}
