using Microsoft.Extensions.Configuration;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Scorer;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The LSTM serving path from configuration to the running scorer: <c>Scoring:LstmPath</c> and
/// <c>Scoring:LstmThreads</c> read and checked, and the path in use visible in the log and on <c>/metrics</c>.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_LstmPath(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-lstm-path-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Settings_LstmPathKeys_DefaultsReachTheLoaderAndEveryProblemNamed()
    {
        Settings Read(Dictionary<string, string?> values) => Settings.Read(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(values) { ["Models:Registry"] = _root }).Build());

        var defaults = Read([]);
        Assert.Equal((LstmPathChoice.Auto, 0), (defaults.LoadOptions.LstmPath, defaults.LoadOptions.LstmThreads));
        var managed = Read(new() { ["Scoring:LstmPath"] = "managed_fp32", ["Scoring:LstmThreads"] = "1" });
        Assert.Equal((LstmPathChoice.ManagedFp32, 1), (managed.LoadOptions.LstmPath, managed.LoadOptions.LstmThreads));
        Assert.Equal(LstmPathChoice.OnnxRuntime, Read(new() { ["Scoring:LstmPath"] = "onnxruntime", ["Scoring:Device"] = "cuda" }).LoadOptions.LstmPath);
        Assert.Equal(InferenceDevice.Cuda, Read(new() { ["Scoring:LstmPath"] = "auto", ["Scoring:Device"] = "cuda" }).LoadOptions.Device);

        var e = Assert.Throws<ScorerConfigurationException>(() => Read(new() { ["Scoring:LstmPath"] = "bf16", ["Scoring:LstmThreads"] = "-1" }));
        Assert.Contains("Scoring:LstmPath 'bf16': use auto, onnxruntime, managed_bf16, managed_int16 or managed_fp32", e.Message, StringComparison.Ordinal);
        Assert.Equal(LstmPathChoice.ManagedInt16, Read(new() { ["Scoring:LstmPath"] = "managed_int16" }).LoadOptions.LstmPath);
        Assert.Equal((LstmPathChoice.ManagedBf16, InferenceDevice.Cpu), (Read(new() { ["Scoring:LstmPath"] = "managed_bf16" }).LoadOptions.LstmPath, Read(new() { ["Scoring:LstmPath"] = "managed_bf16" }).LoadOptions.Device));
        Assert.Contains("Scoring:LstmThreads '-1'", e.Message, StringComparison.Ordinal);
        Assert.Equal(InferenceDevice.Cpu, managed.LoadOptions.Device); // the default Device=auto: a CPU path asked for never tries CUDA
        e = Assert.Throws<ScorerConfigurationException>(() => Read(new() { ["Scoring:LstmPath"] = "managed_fp32", ["Scoring:Device"] = "cuda" }));
        Assert.Contains("Scoring:LstmPath managed_fp32 runs on CPU but Scoring:Device is cuda", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ScorerConfigurationException>(() => Read(new() { ["Scoring:LstmPath"] = "managed_int16", ["Scoring:Device"] = "cuda" }));
        Assert.Contains("Scoring:LstmPath managed_int16 runs on CPU but Scoring:Device is cuda", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ScorerConfigurationException>(() => Read(new() { ["Scoring:LstmPath"] = "managed_bf16", ["Scoring:Device"] = "cuda" }));
        Assert.Contains("Scoring:LstmPath managed_bf16 runs on CPU but Scoring:Device is cuda", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_BundleAdmitsBothManagedPaths_ServesTheFastest_VisibleInLogAndMetrics()
    {
        using var scorer = await RunningScorer.StartAsync(stack, _root, "lstm-path", TinyBundle.Stream(seed: 93, cards: 20, count: 300), checkManaged: true);
        var metrics = await scorer.ScrapeAsync();
        var fastest = LstmPaths.AutoCandidates[0]; // managed_bf16 where AMX-BF16 runs, else managed_int16 where AVX-512BW runs

        Assert.True(RunningScorer.Value(metrics, "streamfraud_model_serving", "model_version=\"v1\"", $"lstm_path=\"{fastest}\"") == 1, metrics);
        Assert.Contains($"Serving bundle v1 (LSTM path {fastest} on CPU, trees on ", scorer.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not used", scorer.Process.Output, StringComparison.Ordinal);
    }
}
