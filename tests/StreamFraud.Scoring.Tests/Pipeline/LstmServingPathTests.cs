using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Training.Lstm;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// The managed fp32 LSTM path against ONNX Runtime (the reference) on exported models, and how a bundle's serving
/// path is chosen, refused and fallen back from.
/// </summary>
public sealed class LstmServingPathTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-lstm-path-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Random windows with 1..7 real steps (older steps zero, as the scorer pads), some features large.</summary>
    private static float[] Windows(int count, int features, int seed)
    {
        var rng = new Random(seed);
        var windows = new float[count * 7 * features];
        for (var i = 0; i < count; i++)
        {
            var real = 1 + rng.Next(7);
            for (var t = 7 - real; t < 7; t++)
            {
                for (var f = 0; f < features; f++)
                {
                    windows[(((i * 7) + t) * features) + f] = (float)((rng.NextDouble() * 4) - 2) * (f % 9 == 0 ? 5 : 1);
                }
            }
        }

        return windows;
    }

    private static float[] OnnxRuntime(byte[] onnx, float[] windows, int count, int features)
    {
        using var ort = OnnxLstm.Load(onnx, "lstm.onnx", 7, features);
        var scores = new float[count];
        ort.Run(windows, count, scores);
        return scores;
    }

    /// <summary>
    /// The note of an auto load that serves <paramref name="served"/> from a bundle whose trainer recorded
    /// <paramref name="recorded"/>: one "not used" per faster path of this machine, null when none is faster.
    /// </summary>
    private static string? ExpectedNote(string[] recorded, string served)
    {
        var skipped = LstmPaths.AutoCandidates.TakeWhile(p => p != served).ToArray();
        Assert.All(skipped, p => Assert.DoesNotContain(p, recorded));
        return skipped.Length == 0
            ? null
            : string.Join("; ", skipped.Select(p => $"{p} not used ({LstmPaths.RunProblem(p) ?? $"the bundle records no check of {p} (trained before serving paths were checked, or not a candidate then)"})")) + $"; the LSTM runs on {served}";
    }

    [Theory]
    [InlineData(LstmPrecision.Int16, 56, 128, 64, true)]   // production size, spec card v1
    [InlineData(LstmPrecision.Int16, 75, 128, 64, true)]   // spec card v2
    [InlineData(LstmPrecision.Int16, 11, 8, 4, false)]     // odd feature count (a padded k-pair), scalar cell
    [InlineData(LstmPrecision.Bf16, 56, 128, 64, true)]
    [InlineData(LstmPrecision.Bf16, 75, 128, 64, true)]
    [InlineData(LstmPrecision.Bf16, 11, 8, 4, false)]      // k padded to the tile's 32
    public void ManagedQuantized_RandomWeights_WithinItsToleranceOfOnnxRuntime(LstmPrecision precision, int features, int hidden1, int hidden2, bool vectorCell)
    {
        var model = LstmModel.CreateInitial(features, new LstmOptions { Hidden1 = hidden1, Hidden2 = hidden2, Seed = features + hidden1 });
        var onnx = LstmOnnxExporterBytes(model, scale: 3f);
        var managed = ManagedLstm.TryCreate(onnx, 7, features, threads: 2, vectorCell, precision, out var problem);
        if (Refused(precision, managed, problem))
        {
            return;
        }

        const int count = 333;
        var windows = Windows(count, features, seed: 5);
        var reference = OnnxRuntime(onnx, windows, count, features);
        Assert.Null(problem);
        Assert.Equal(precision, managed!.Precision);
        var scores = new float[count];
        managed.Run(windows, count, scores);
        var worst = reference.Zip(scores, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= Tolerance(precision), $"max |{precision} - onnxruntime| = {worst}");
        Assert.True(worst > 0, $"{precision} products must differ somewhere from fp32 (else this compared the fp32 path)");
        Assert.True(reference.Max() - reference.Min() > 0.3, "the scores must spread for the comparison to mean something");
    }

    [Theory]
    [InlineData(LstmPrecision.Int16)]
    [InlineData(LstmPrecision.Bf16)]
    public void ManagedQuantized_TrainedModel_GoldenWindowsWithinTolerance_ApWithinTheLimit(LstmPrecision precision)
    {
        var (train, validation) = MarkerTask(features: 24, count: 3000);
        var result = new LstmTrainer(new LstmOptions { Hidden1 = 32, Hidden2 = 16, MaxEpochs = 6, BatchSize = 128, Seed = 3 }).Train(train, validation);
        var onnx = LstmOnnxExporterBytes(result.Model);
        var managed = ManagedLstm.TryCreate(onnx, 7, 24, 0, precision, out var problem);
        if (Refused(precision, managed, problem))
        {
            return;
        }

        var n = validation.Labels.Length;
        var golden = result.Model.Predict(validation.Windows);
        var scores = new float[n];
        managed!.Run(validation.Windows, n, scores);
        var worst = golden.Zip(scores, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= Tolerance(precision), $"max |{precision} - golden| = {worst}");
        var truth = validation.Labels.Select(l => l != 0).ToArray();
        var apGolden = StreamFraud.Core.Evaluation.ScoreCurve.Create(golden, truth).AveragePrecision();
        var apPath = StreamFraud.Core.Evaluation.ScoreCurve.Create(scores, truth).AveragePrecision();
        Assert.True(apGolden > 0.5, $"the model learned nothing (AP {apGolden})");
        Assert.InRange(apPath - apGolden, -LstmPaths.MaxApDelta, LstmPaths.MaxApDelta);
    }

    [Theory]
    [InlineData(LstmPrecision.Int16)] // each row has its own scales
    [InlineData(LstmPrecision.Bf16)]  // a tile row's sums never involve another row
    public void ManagedQuantized_ScoreOfAWindow_DoesNotDependOnItsBatch(LstmPrecision precision)
    {
        var model = LstmModel.CreateInitial(20, new LstmOptions { Hidden1 = 32, Hidden2 = 16, Seed = 9 });
        var onnx = LstmOnnxExporterBytes(model, scale: 2f);
        var managed = ManagedLstm.TryCreate(onnx, 7, 20, 2, precision, out var problem);
        if (Refused(precision, managed, problem))
        {
            return;
        }

        var windows = Windows(150, 20, seed: 8);
        var all = new float[150];
        managed!.Run(windows, 150, all);
        for (var i = 0; i < 150; i += 7)
        {
            var one = new float[1];
            managed.Run(windows.AsMemory(i * 140, 140), 1, one);
            Assert.Equal(all[i], one[0]); // bit for bit
        }
    }

    private static double Tolerance(LstmPrecision precision) =>
        precision == LstmPrecision.Bf16 ? LstmPaths.ManagedBf16Tolerance : LstmPaths.ManagedInt16Tolerance;

    /// <summary>
    /// Where AMX-BF16 does not run (a CPU without it, or no library): the bf16 path is refused with the reason instead
    /// of failing at the first batch, and the caller stops there. Every other path must have been created.
    /// </summary>
    private static bool Refused(LstmPrecision precision, ManagedLstm? managed, string? problem)
    {
        if (precision == LstmPrecision.Bf16 && !AmxBf16.Available)
        {
            Assert.Null(managed);
            Assert.Equal($"managed_bf16 does not run here: {AmxBf16.Problem}", problem);
            return true;
        }

        Assert.True(managed is not null, problem);
        return false;
    }

    [Theory]
    [InlineData(false, false, new[] { LstmPaths.ManagedFp32, LstmPaths.ManagedInt16 }, new[] { LstmPaths.ManagedFp32 })]
    [InlineData(false, true, new[] { LstmPaths.ManagedInt16, LstmPaths.ManagedFp32 }, new[] { LstmPaths.ManagedInt16, LstmPaths.ManagedFp32 })]
    [InlineData(true, false, new[] { LstmPaths.ManagedBf16, LstmPaths.ManagedFp32, LstmPaths.ManagedInt16 }, new[] { LstmPaths.ManagedBf16, LstmPaths.ManagedFp32 })]
    [InlineData(true, true, new[] { LstmPaths.ManagedBf16, LstmPaths.ManagedInt16, LstmPaths.ManagedFp32 }, new[] { LstmPaths.ManagedBf16, LstmPaths.ManagedInt16, LstmPaths.ManagedFp32 })]
    public void Order_FastestFirst_OnEveryKindOfMachine(bool amx, bool avx512bw, string[] candidates, string[] auto)
    {
        var (c, a) = LstmPaths.Order(amx, avx512bw);
        Assert.Equal(candidates, c);
        Assert.Equal(auto, a);
        var here = LstmPaths.Order(AmxBf16.CpuHasAmxBf16, Igemm16.Accelerated);
        Assert.Equal(here.Candidates, LstmPaths.Candidates);
        Assert.Equal(here.Auto, LstmPaths.AutoCandidates);
    }

    [Fact]
    public void ManagedBf16_HiddenSizeNotAMultipleOf4_RefusedWithTheReason()
    {
        var onnx = LstmOnnxExporterBytes(LstmModel.CreateInitial(8, new LstmOptions { Hidden1 = 6, Hidden2 = 4, Seed = 2 }));
        var bf16 = ManagedLstm.TryCreate(onnx, 7, 8, 1, LstmPrecision.Bf16, out var problem);
        Assert.Null(bf16);
        Assert.Equal(
            AmxBf16.Available
                ? "managed_bf16 needs hidden sizes that are multiples of 4 (the tile's 16 gate columns); this model has 6 and 4"
                : $"managed_bf16 does not run here: {AmxBf16.Problem}",
            problem);
    }

    [Theory]
    [InlineData(56, 128, 64, true)]   // production size, spec card v1: AVX-512 cell
    [InlineData(75, 128, 64, true)]   // spec card v2
    [InlineData(56, 32, 16, false)]   // scalar cell (any CPU)
    [InlineData(11, 8, 4, true)]      // hidden sizes no multiple of 16: the scalar cell, whatever is asked
    public void ManagedFp32_RandomWeights_MatchesOnnxRuntimeWithinTolerance(int features, int hidden1, int hidden2, bool vectorCell)
    {
        // Weights scaled up so that the gates saturate and the scores spread over (0, 1), not just around 0.5.
        var model = LstmModel.CreateInitial(features, new LstmOptions { Hidden1 = hidden1, Hidden2 = hidden2, Seed = features + hidden1 });
        var onnx = LstmOnnxExporterBytes(model, scale: 3f);
        const int count = 333; // not a multiple of the chunk (64) or the tile (8)
        var windows = Windows(count, features, seed: 5);
        var reference = OnnxRuntime(onnx, windows, count, features);
        var managed = ManagedLstm.TryCreate(onnx, 7, features, threads: 2, vectorCell, out var problem);
        Assert.Null(problem);
        var scores = new float[count];
        managed!.Run(windows, count, scores);
        var worst = reference.Zip(scores, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= LstmPaths.ManagedFp32Tolerance, $"max |managed - onnxruntime| = {worst}");
        Assert.True(reference.Max() - reference.Min() > 0.3, "the scores must spread for the comparison to mean something");
    }

    [Theory]
    [InlineData(16)] // AVX-512 cell
    [InlineData(8)]  // AVX2 cell
    [InlineData(0)]  // scalar cell
    public void ManagedFp32_EachCellWidth_MatchesOnnxRuntime_TheVectorCellsBitForBit(int width)
    {
        const int features = 56, count = 333;
        var model = LstmModel.CreateInitial(features, new LstmOptions { Hidden1 = 128, Hidden2 = 64, Seed = 21 });
        var onnx = LstmOnnxExporterBytes(model, scale: 3f);
        var windows = Windows(count, features, seed: 8);
        var managed = ManagedLstm.TryCreate(onnx, 7, features, threads: 2, width, LstmPrecision.Fp32, out var problem);
        if (!FloatKernels.RunsCell(width))
        {
            Assert.Null(managed);
            Assert.Equal($"a cell of {width} floats does not run here for hidden sizes 128 and 64", problem);
            return;
        }

        Assert.Null(problem);
        Assert.EndsWith(width switch { 16 => "avx512 cell", 8 => "avx2 cell", _ => "scalar cell" }, managed!.KernelName);
        var scores = new float[count];
        managed.Run(windows, count, scores);
        var reference = OnnxRuntime(onnx, windows, count, features);
        var worst = reference.Zip(scores, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= LstmPaths.ManagedFp32Tolerance, $"max |managed - onnxruntime| = {worst}");
        Assert.True(reference.Max() - reference.Min() > 0.3, "the scores must spread for the comparison to mean something");

        // Every vector cell this machine runs gives the same bits (the same IEEE operations lane by lane).
        foreach (var other in new[] { 16, 8 }.Where(w => w != width && width != 0 && FloatKernels.RunsCell(w)))
        {
            var otherScores = new float[count];
            ManagedLstm.TryCreate(onnx, 7, features, threads: 2, other, LstmPrecision.Fp32, out _)!.Run(windows, count, otherScores);
            Assert.Equal(scores, otherScores);
        }
    }

    [Fact]
    public void CellWidth_LanesThatDoNotDivideAHiddenSize_ScalarCellUnderAuto_AForcedWidthRefused()
    {
        // 12 and 4 hidden units: neither 16 nor 8 lanes divide 4.
        var onnx = LstmOnnxExporterBytes(LstmModel.CreateInitial(11, new LstmOptions { Hidden1 = 12, Hidden2 = 4, Seed = 2 }));
        Assert.Null(ManagedLstm.TryCreate(onnx, 7, 11, threads: 1, 8, LstmPrecision.Fp32, out var problem));
        Assert.Equal("a cell of 8 floats does not run here for hidden sizes 12 and 4", problem);
        Assert.Equal(0, FloatKernels.CellWidth(4));
        Assert.EndsWith("scalar cell", ManagedLstm.TryCreate(onnx, 7, 11, threads: 1, -1, LstmPrecision.Fp32, out _)!.KernelName);
    }

    [Fact]
    public void ManagedFp32_TrainedModel_ReproducesGoldenWindowsLikeOnnxRuntime()
    {
        // A model trained on a task it learns (the marker of a fraud a few steps back), exported as the trainer does.
        var (train, validation) = MarkerTask(features: 24, count: 3000);
        var result = new LstmTrainer(new LstmOptions { Hidden1 = 32, Hidden2 = 16, MaxEpochs = 6, BatchSize = 128, Seed = 3 }).Train(train, validation);
        Assert.True(result.BestValidationAveragePrecision > 0.5, $"the model learned nothing (AP {result.BestValidationAveragePrecision})");
        var onnx = LstmOnnxExporterBytes(result.Model);
        var golden = result.Model.Predict(validation.Windows[..(256 * 7 * 24)]);
        var managed = ManagedLstm.TryCreate(onnx, 7, 24, 0, out var problem) ?? throw new InvalidOperationException(problem);
        var scores = new float[256];
        managed.Run(validation.Windows, 256, scores);
        var reference = OnnxRuntime(onnx, validation.Windows, 256, 24);
        for (var i = 0; i < 256; i++)
        {
            Assert.True(Math.Abs(scores[i] - golden[i]) <= LstmPaths.ManagedFp32Tolerance, $"window {i}: managed {scores[i]} vs golden {golden[i]}");
            Assert.True(Math.Abs(reference[i] - golden[i]) <= LstmPaths.ManagedFp32Tolerance, $"window {i}: onnxruntime {reference[i]} vs golden {golden[i]}");
        }
    }

    [Fact]
    public void ManagedFp32_ScoreOfAWindow_DoesNotDependOnItsBatch()
    {
        var model = LstmModel.CreateInitial(20, new LstmOptions { Hidden1 = 32, Hidden2 = 16, Seed = 9 });
        var onnx = LstmOnnxExporterBytes(model, scale: 2f);
        var windows = Windows(150, 20, seed: 8);
        var managed = ManagedLstm.TryCreate(onnx, 7, 20, 2, out _)!;
        var all = new float[150];
        managed.Run(windows, 150, all);
        for (var i = 0; i < 150; i += 7)
        {
            var one = new float[1];
            managed.Run(windows.AsMemory(i * 140, 140), 1, one);
            Assert.Equal(all[i], one[0]); // bit for bit
        }
    }

    [Theory]
    [InlineData(56, LstmPrecision.Fp32, 2)]
    [InlineData(56, LstmPrecision.Int16, 2)]
    [InlineData(75, LstmPrecision.Int16, 1)]
    [InlineData(11, LstmPrecision.Int16, 2)]
    [InlineData(56, LstmPrecision.Bf16, 2)]
    [InlineData(11, LstmPrecision.Bf16, 1)]
    public void LeadingZeroSteps_StartFromTheZeroState_SameScoresBitForBitAsRunningEveryStep(int features, LstmPrecision precision, int threads)
    {
        var model = LstmModel.CreateInitial(features, new LstmOptions { Hidden1 = 128, Hidden2 = 64, Seed = features + 1 });
        var onnx = LstmOnnxExporterBytes(model, scale: 3f, jitter: 0.3f); // non-zero biases: zero steps move the state
        // Windows with 1..7 real steps in random order (so they are reordered), two all-zero windows, one whose
        // first real step is all zero but for a -0.0 (not +0.0: it must be run), and one with a NaN in its first step.
        const int count = 333;
        var windows = Windows(count, features, seed: 21);
        var size = 7 * features;
        windows.AsSpan(10 * size, size).Clear();
        windows.AsSpan(11 * size, size).Clear();
        windows.AsSpan(12 * size, size).Clear();
        windows[(12 * size) + (3 * features) + 1] = -0f;
        windows[(13 * size) + 2] = float.NaN;
        if (precision == LstmPrecision.Bf16 && !AmxBf16.Available)
        {
            return; // no AMX-BF16 here: the refusal is asserted by ManagedBf16_RandomWeights_…
        }

        var skipping = ManagedLstm.TryCreate(onnx, 7, features, threads, vectorCell: true, precision, out _)!;
        var every = ManagedLstm.TryCreate(onnx, 7, features, threads, vectorCell: true, precision, out _)!;
        every.SkipLeadingZeroSteps = false;
        var a = new float[count];
        var b = new float[count];
        skipping.Run(windows, count, a);
        every.Run(windows, count, b);
        Assert.Equal(b, a);
        Assert.True(float.IsNaN(a[13]));
        Assert.Equal(a[10], a[11]);
        var finite = b.Where(float.IsFinite).ToArray();
        Assert.True(finite.Max() - finite.Min() > 0.3, "the scores must spread for the comparison to mean something");
        var (run, full) = skipping.StepsRun;
        Assert.Equal(count * 7L, full);
        Assert.InRange(run, (count * 4L) - 150, (count * 4L) + 150); // 1..7 real steps: 4 of 7 on average (~±36)
        Assert.Equal((count * 7L, count * 7L), every.StepsRun);

        // And each window alone (no reordering, its own chunk) scores the same.
        for (var i = 0; i < count; i += 17)
        {
            var one = new float[1];
            skipping.Run(windows.AsMemory(i * size, size), 1, one);
            Assert.Equal(b[i], one[0]);
        }
    }

    [Fact]
    public void ManagedFp32_AnotherGraph_IsNotRunWithTheReason()
    {
        var model = LstmModel.CreateInitial(10, new LstmOptions { Hidden1 = 8, Hidden2 = 4 });
        var onnx = LstmOnnxExporterBytes(model);
        Assert.Null(ManagedLstm.TryCreate(onnx, 7, 11, 1, out var problem));
        Assert.Contains("lstm1_W", problem); // shapes for 11 features differ
        Assert.Null(ManagedLstm.TryCreate(onnx[..(onnx.Length / 2)], 7, 10, 1, out problem));
        Assert.Contains("truncated", problem);
        Assert.Null(ManagedLstm.TryCreate("{\"not\": \"onnx\"}"u8.ToArray(), 7, 10, 1, out problem));
        Assert.NotNull(problem);

        // The exporter's graph with one more attribute on the LSTM (a clip): the semantics differ, so it is refused.
        var text = System.Text.Encoding.Latin1.GetString(onnx);
        var at = text.IndexOf("hidden_size", StringComparison.Ordinal);
        Assert.True(at > 0);
        var renamed = onnx.ToArray();
        "hidden_sizf"u8.CopyTo(renamed.AsSpan(at));
        Assert.Null(ManagedLstm.TryCreate(renamed, 7, 10, 1, out problem));
        Assert.Contains("hidden_size", problem);
    }

    [Fact]
    public void ManagedFp32_CorruptedModelBytes_RefusedWithAReasonNeverThrown()
    {
        // lstm.onnx comes from a shared volume: whatever its bytes, the reader answers with a model or a reason.
        var model = LstmModel.CreateInitial(10, new LstmOptions { Hidden1 = 16, Hidden2 = 16 });
        var onnx = LstmOnnxExporterBytes(model);
        var rng = new Random(17);
        var refused = 0;
        for (var trial = 0; trial < 400; trial++)
        {
            var bytes = onnx.ToArray();
            var changes = 1 + rng.Next(4);
            for (var c = 0; c < changes; c++)
            {
                bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            }

            var cut = trial % 5 == 0 ? bytes[..rng.Next(bytes.Length)] : bytes;
            var managed = ManagedLstm.TryCreate(cut, 7, 10, 1, out var problem);
            Assert.True((managed is null) == (problem is not null));
            refused += managed is null ? 1 : 0;
        }

        Assert.InRange(refused, 100, 400); // most corruptions hit structure, some only weights
    }

    [Fact]
    public void Load_AdmittedBundle_ServesManagedFp32_ScoresMatchOnnxRuntime()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "a"), "a", TinyBundle.Stream(1, 40, 600), hidden1: 32, hidden2: 16, checkManaged: true);
        using var managed = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8 });
        using var onnx = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8, LstmPath = LstmPathChoice.OnnxRuntime });
        Assert.Equal(LstmPaths.ManagedFp32, managed.LstmPath);
        // Faster paths than the one recorded exist here (int16 where AVX-512BW runs, bf16 where AMX does): the note
        // says why each is not used and what serves.
        Assert.Equal(ExpectedNote([LstmPaths.ManagedFp32], LstmPaths.ManagedFp32), managed.LstmPathNote);

        Assert.Equal(LstmPaths.OnnxRuntime, onnx.LstmPath);
        Assert.Null(onnx.LstmPathNote);

        var windows = tiny.Manifest.GoldenWindows.SelectMany(g => g.Decode()).ToArray();
        var n = tiny.Manifest.GoldenWindows.Count;
        var (a, b) = (new ScoreBuffers(n), new ScoreBuffers(n));
        managed.Score(windows, n, a);
        onnx.Score(windows, n, b);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(b.Lstm[i], a.Lstm[i], LstmPaths.ManagedFp32Tolerance);
            Assert.Equal(b.Xgb[i], a.Xgb[i]);
        }
    }

    [Fact]
    public void Load_BothPathsAdmitted_AutoServesTheFastest_Int16WithinItsToleranceOfOnnxRuntime()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "both"), "both", TinyBundle.Stream(1, 40, 600), hidden1: 32, hidden2: 16, checkManaged: true,
            managedPaths: [LstmPaths.ManagedFp32, LstmPaths.ManagedInt16]);
        using var auto = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8 });
        var fastest = LstmPaths.AutoCandidates.First(p => p is LstmPaths.ManagedFp32 or LstmPaths.ManagedInt16); // int16 where AVX-512BW runs
        Assert.Equal(fastest, auto.LstmPath);
        Assert.Equal(ExpectedNote([LstmPaths.ManagedFp32, LstmPaths.ManagedInt16], fastest), auto.LstmPathNote);
        using var int16 = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8, LstmPath = LstmPathChoice.ManagedInt16 });
        using var fp32 = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8, LstmPath = LstmPathChoice.ManagedFp32 });
        using var onnx = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 8, LstmPath = LstmPathChoice.OnnxRuntime });
        Assert.Equal((LstmPaths.ManagedInt16, LstmPaths.ManagedFp32), (int16.LstmPath, fp32.LstmPath));

        var windows = Windows(200, FeatureSpec.CardV1.Dimension, seed: 4);
        var (a, b, c) = (new ScoreBuffers(200), new ScoreBuffers(200), new ScoreBuffers(200));
        int16.Score(windows, 200, a);
        fp32.Score(windows, 200, b);
        onnx.Score(windows, 200, c);
        var (worst16, worst32) = (0.0, 0.0);
        for (var i = 0; i < 200; i++)
        {
            worst16 = Math.Max(worst16, Math.Abs(a.Lstm[i] - c.Lstm[i]));
            worst32 = Math.Max(worst32, Math.Abs(b.Lstm[i] - c.Lstm[i]));
            Assert.Equal(c.Xgb[i], a.Xgb[i]);
        }

        Assert.InRange(worst16, 0, LstmPaths.ManagedInt16Tolerance);
        Assert.InRange(worst32, 0, LstmPaths.ManagedFp32Tolerance);
    }

    [Fact]
    public void Load_Int16Admitted_ItsToleranceNeverLoosensTheTreesGoldenCheck()
    {
        // A tree score 5e-4 off on one golden window: within int16's LSTM tolerance (2e-3), far outside the trees' (1e-5).
        var tiny = TinyBundle.Create(Path.Combine(_root, "xgb-off"), "xgb-off", TinyBundle.Stream(1, 40, 300), checkManaged: true,
            managedPaths: [LstmPaths.ManagedInt16, LstmPaths.ManagedFp32]);
        TinyBundle.EditManifest(tiny.Directory, m =>
        {
            var g = m["golden_windows"]![2]!;
            g["xgb"] = g["xgb"]!.GetValue<double>() + 5e-4;
        });
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 }));
        Assert.Equal(RefusalKinds.GoldenWindow, e.Kind);
        Assert.Contains("golden window 2 not reproduced", e.Reason);
        e = Assert.Throws<BundleRejectedException>(() =>
            ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4, LstmPath = LstmPathChoice.ManagedInt16 }));
        Assert.Equal(RefusalKinds.LstmPath, e.Kind);
        Assert.Contains("golden window 2 not reproduced", e.Reason);
    }

    [Fact]
    public void Load_Int16NotAdmitted_AutoServesFp32WithTheReason_DemandingInt16Refuses()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "no16"), "no16", TinyBundle.Stream(1, 40, 300), checkManaged: true,
            managedPaths: [LstmPaths.ManagedInt16, LstmPaths.ManagedFp32]);
        TinyBundle.EditManifest(tiny.Directory, m => m["lstm_paths"]![0]!["validation_ap_delta"] = -0.004);
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 });
        Assert.Equal(LstmPaths.ManagedFp32, bundle.LstmPath);
        if (LstmPaths.AutoCandidates.Contains(LstmPaths.ManagedInt16))
        {
            Assert.Contains("managed_int16 not used (managed_int16 moves validation AP by -0.004 (ensemble)", bundle.LstmPathNote);
            Assert.EndsWith("; the LSTM runs on managed_fp32", bundle.LstmPathNote);
        }
        else
        {
            // Without AVX-512BW auto never tries int16 (its portable kernel is slower than fp32): nothing to note.
            Assert.DoesNotContain(LstmPaths.ManagedInt16, bundle.LstmPathNote ?? string.Empty);
        }

        var e = Assert.Throws<BundleRejectedException>(() =>
            ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4, LstmPath = LstmPathChoice.ManagedInt16 }));
        Assert.Equal(RefusalKinds.LstmPath, e.Kind);
        Assert.Contains("Scoring:LstmPath is managed_int16 but managed_int16 moves validation AP by -0.004", e.Reason);
    }

    [Fact]
    public void Load_BundleWithoutChecks_ServesOnnxRuntime_DemandingManagedRefuses()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "old"), "old", TinyBundle.Stream(1, 40, 300));
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 });
        Assert.Equal(LstmPaths.OnnxRuntime, bundle.LstmPath);
        Assert.Contains("records no check of managed_fp32", bundle.LstmPathNote);

        var e = Assert.Throws<BundleRejectedException>(() =>
            ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4, LstmPath = LstmPathChoice.ManagedFp32 }));
        Assert.Equal(RefusalKinds.LstmPath, e.Kind);
        Assert.Contains("records no check of managed_fp32", e.Reason);
    }

    [Theory]
    [InlineData("not-admitted", "the trainer did not admit managed_fp32: too slow on Tuesdays")]
    [InlineData("ap-moved", "moves validation AP by +0.01 (ensemble)")]
    [InlineData("lstm-ap-moved", "and -0.003 (LSTM)")]
    [InlineData("golden-far", "deviates up to 0.0001 from the golden windows")]
    public void Load_PathThatFailsAdmission_FallsBackOnAuto_RefusedWhenDemanded(string failure, string reason)
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, failure), failure, TinyBundle.Stream(1, 40, 300), checkManaged: true);
        TinyBundle.EditManifest(tiny.Directory, m =>
        {
            var check = m["lstm_paths"]![0]!.AsObject();
            switch (failure)
            {
                case "not-admitted":
                    check["admitted"] = false;
                    check["reason"] = "too slow on Tuesdays";
                    break;
                case "ap-moved": // the flag says admitted, the figures do not: the scorer checks the figures
                    check["validation_ap_delta"] = 0.01;
                    break;
                case "lstm-ap-moved":
                    check["lstm_validation_ap_delta"] = -0.003;
                    break;
                case "golden-far":
                    check["golden_max_deviation"] = 1e-4;
                    break;
            }
        });

        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 });
        Assert.Equal(LstmPaths.OnnxRuntime, bundle.LstmPath);
        Assert.Contains(reason, bundle.LstmPathNote);

        var e = Assert.Throws<BundleRejectedException>(() =>
            ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4, LstmPath = LstmPathChoice.ManagedFp32 }));
        Assert.Equal(RefusalKinds.LstmPath, e.Kind);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void Load_AdmittedPathThatMissesGoldenWindowsHere_RefusedWhenDemanded_OnAutoOnnxRuntimeIsCheckedInstead()
    {
        // The record admits the path, but a golden window's LSTM score is off by 1e-4 (as if this machine computed
        // differently): the managed path fails its own golden check at load. Demanded, that refuses the bundle as an
        // LSTM path problem; on auto, ONNX Runtime is checked in its place — and misses the same window.
        var tiny = TinyBundle.Create(Path.Combine(_root, "g"), "g", TinyBundle.Stream(1, 40, 300), checkManaged: true);
        TinyBundle.EditManifest(tiny.Directory, m =>
        {
            var g = m["golden_windows"]![3]!;
            g["lstm"] = g["lstm"]!.GetValue<double>() + 1e-4;
        });
        var e = Assert.Throws<BundleRejectedException>(() =>
            ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4, LstmPath = LstmPathChoice.ManagedFp32 }));
        Assert.Equal(RefusalKinds.LstmPath, e.Kind);
        Assert.Contains("does not reproduce the golden windows here: golden window 3 not reproduced", e.Reason);

        e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 }));
        Assert.Equal(RefusalKinds.GoldenWindow, e.Kind);
        Assert.Contains("golden window 3 not reproduced", e.Reason);
    }

    [Fact]
    public void Load_MalformedPathCheck_RefusesTheManifest()
    {
        var tiny = TinyBundle.Create(Path.Combine(_root, "bad"), "bad", TinyBundle.Stream(1, 40, 300), checkManaged: true);
        TinyBundle.EditManifest(tiny.Directory, m => m["lstm_paths"]![0]!["validation_ap"] = 1.5);
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 }));
        Assert.Equal(RefusalKinds.Manifest, e.Kind);
        Assert.Contains("lstm_paths[0] (managed_fp32)", e.Reason);
    }

    /// <summary>The model's ONNX bytes with every parameter scaled, and moved by up to ±<paramref name="jitter"/> (biases, which start at zero, too).</summary>
    private static byte[] LstmOnnxExporterBytes(LstmModel model, float scale = 1f, float jitter = 0f)
    {
        if (scale != 1f || jitter != 0f)
        {
            using var saved = new MemoryStream();
            model.Save(saved);
            var bytes = saved.ToArray();
            var rng = new Random(17);
            for (var at = 32; at + 4 <= bytes.Length; at += 4)
            {
                var v = (BitConverter.ToSingle(bytes, at) * scale) + (jitter * (float)((rng.NextDouble() * 2) - 1));
                BitConverter.TryWriteBytes(bytes.AsSpan(at), v);
            }

            model = LstmModel.Load(new MemoryStream(bytes));
        }

        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        return stream.ToArray();
    }

    /// <summary>Sequences whose label is a marker (feature 0 above 1) at any of the last three steps.</summary>
    private static (LstmDataset Train, LstmDataset Validation) MarkerTask(int features, int count)
    {
        var rng = new Random(11);
        LstmDataset Make(int n)
        {
            var windows = new float[n * 7 * features];
            var labels = new byte[n];
            for (var i = 0; i < n; i++)
            {
                for (var k = 0; k < 7 * features; k++)
                {
                    windows[(i * 7 * features) + k] = (float)((rng.NextDouble() * 2) - 1) * 0.5f;
                }

                if (rng.Next(4) == 0)
                {
                    windows[(((i * 7) + 4 + rng.Next(3)) * features)] = 2f;
                    labels[i] = 1;
                }
            }

            return new LstmDataset(windows, labels, 7, features);
        }

        return (Make(count), Make(count / 3));
    }
}
