using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>The trainer's admission rule for a faster LSTM path, on a real exported model.</summary>
public sealed class LstmPathAdmissionTests
{
    private const int F = 12;

    private static (byte[] Onnx, LstmModel Model, float[] Windows, byte[] Labels, float[] Xgb, GoldenWindow[] Golden) Setup()
    {
        var model = LstmModel.CreateInitial(F, new LstmOptions { Hidden1 = 16, Hidden2 = 16, Seed = 4 });
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        var rng = new Random(2);
        const int n = 600;
        var windows = new float[n * 7 * F];
        for (var i = 0; i < windows.Length; i++)
        {
            windows[i] = (float)((rng.NextDouble() * 6) - 3);
        }

        var lstm = model.Predict(windows);
        var labels = new byte[n];
        var xgb = new float[n];
        for (var i = 0; i < n; i++)
        {
            // Labels that the scores rank well but not perfectly, so AP is neither 0 nor 1 and can move.
            labels[i] = (byte)(lstm[i] + (rng.NextDouble() * 0.02) > 0.5 + (rng.NextDouble() * 0.01) ? 1 : 0);
            xgb[i] = (float)rng.NextDouble();
        }

        var golden = Enumerable.Range(0, 32).Select(i => new GoldenWindow
        {
            Window = GoldenWindow.Encode(windows.AsSpan(i * 7 * F, 7 * F)), Lstm = lstm[i], Xgb = xgb[i], Ensemble = (0.5 * lstm[i]) + (0.5 * xgb[i]),
        }).ToArray();
        return (stream.ToArray(), model, windows, labels, xgb, golden);
    }

    [Theory]
    [InlineData(LstmPaths.ManagedFp32)]
    [InlineData(LstmPaths.ManagedInt16)]
    [InlineData(LstmPaths.ManagedBf16)]
    public void Check_ManagedPath_AdmittedWithItsFigures(string path)
    {
        if (path == LstmPaths.ManagedBf16 && !StreamFraud.Scoring.Lstm.AmxBf16.CpuHasAmxBf16)
        {
            Assert.DoesNotContain(path, LstmPaths.Candidates); // no AMX-BF16: not a candidate on this machine
            return;
        }

        var (onnx, _, windows, labels, xgb, golden) = Setup();
        var admission = LstmPathAdmission.Score(onnx, windows, labels.Length, F, threads: 2);
        var checks = admission.Check(xgb, labels, 0.5, 0.5, golden);
        Assert.Equal(LstmPaths.Candidates, checks.Select(c => c.Path));
        var check = checks.Single(c => c.Path == path);
        if (path == LstmPaths.ManagedBf16 && !StreamFraud.Scoring.Lstm.AmxBf16.Available)
        {
            // The CPU has AMX-BF16 but the path does not run (library missing, kernel refused): recorded with the reason.
            Assert.False(check.Admitted);
            Assert.Contains(StreamFraud.Scoring.Lstm.AmxBf16.Problem!, check.Reason, StringComparison.Ordinal);
            return;
        }

        Assert.True(check.Admitted, check.Reason);
        Assert.Equal(labels.Length, check.ValidationWindows);
        Assert.InRange(check.LstmValidationApReference, 0.05, 0.999);
        Assert.InRange(Math.Abs(check.LstmValidationApDelta), 0, LstmPaths.MaxApDelta);
        Assert.Equal(LstmPaths.GoldenTolerance(path), check.GoldenTolerance);
        Assert.InRange(check.GoldenMaxDeviation, 0, LstmPaths.GoldenTolerance(path));
        Assert.InRange(check.ValidationMaxDeviation, 0, LstmPaths.GoldenTolerance(path));
        Assert.Null(LstmPaths.AdmissionProblem(Manifest(check), path));
        if (path is LstmPaths.ManagedInt16 or LstmPaths.ManagedBf16)
        {
            // Not fp32's precision: the deviation is real, and larger than fp32's tolerance would allow.
            Assert.True(check.ValidationMaxDeviation > 0, $"{path} equals fp32 bit for bit: the path is not quantized");
        }
    }

    [Fact]
    public void Check_PathThatMovesAp_NotAdmitted_AndTheScorerAgrees()
    {
        var (onnx, _, windows, labels, xgb, golden) = Setup();
        var admission = LstmPathAdmission.Score(onnx, windows, labels.Length, F, threads: 1);

        // A path whose scores are the reference's with the ranking of a few frauds destroyed (what a too-coarse
        // quantisation would do): AP drops by more than the limit.
        var broken = admission.Candidates[LstmPaths.ManagedFp32];
        var changed = 0;
        for (var i = 0; i < broken.Length && changed < 12; i++)
        {
            if (labels[i] == 1)
            {
                broken[i] = 0.01f;
                changed++;
            }
        }

        var check = admission.Check(xgb, labels, 0.5, 0.5, golden).Single(c => c.Path == LstmPaths.ManagedFp32);
        Assert.False(check.Admitted);
        Assert.Contains("validation AP moves by", check.Reason);
        Assert.True(check.LstmValidationApDelta < -LstmPaths.MaxApDelta, $"delta {check.LstmValidationApDelta}");
        Assert.Contains("the trainer did not admit", LstmPaths.AdmissionProblem(Manifest(check), LstmPaths.ManagedFp32));

        // Even a record that claims admission with those figures is refused by the scorer's own limits.
        Assert.Contains("moves validation AP", LstmPaths.AdmissionProblem(Manifest(check with { Admitted = true }), LstmPaths.ManagedFp32));
    }

    private static BundleManifest Manifest(LstmPathCheck check) => new()
    {
        Version = "v",
        CreatedAt = DateTimeOffset.UnixEpoch,
        FeatureSpec = new FeatureSpecRef("card", 1, F, "h"),
        Files = new Dictionary<string, BundleFile>(),
        Thresholds = new BundleThresholds { BestF1 = 0.5, CostMin = new CostThreshold(0.5, 10, 1), TargetRecall = new RecallThreshold(0.5, 0.7) },
        LstmPaths = [check],
    };
}
