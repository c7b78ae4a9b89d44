using StreamFraud.Core.Features;
using StreamFraud.Scoring.Onnx;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>Device selection: auto falls back to CPU with a reason when CUDA cannot load; cuda then fails with what to install.</summary>
public sealed class DeviceSelectionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-device-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Load_Auto_UsesCudaOrFallsBackToCpuWithReason()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "v1"), "v1", TinyBundle.Stream(1, 10, 200));
        using var lstm = OnnxLstm.Load(Path.Combine(tiny.Directory, "lstm.onnx"), 7, FeatureSpec.CardV1.Dimension, InferenceDevice.Auto);
        if (lstm.Provider == "CUDA")
        {
            Assert.Null(lstm.CudaUnavailableReason); // a machine with CUDA 13 libraries
            return;
        }

        Assert.Equal("CPU", lstm.Provider);
        Assert.False(string.IsNullOrWhiteSpace(lstm.CudaUnavailableReason));
        var e = Assert.Throws<InvalidOperationException>(() =>
            OnnxLstm.Load(Path.Combine(tiny.Directory, "lstm.onnx"), 7, FeatureSpec.CardV1.Dimension, InferenceDevice.Cuda));
        Assert.Contains("CUDA 13", e.Message);
        Assert.Contains("Scoring:Device", e.Message);
    }
}
