using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Evaluation;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Training.Lstm;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// A small but real bundle for tests: an LSTM (tiny, seeded) exported to ONNX, XGBoost trained on featurised
/// events, golden windows scored by the C# LSTM forward pass and libxgboost — the trainer's recipe in miniature.
/// </summary>
internal sealed class TinyBundle
{
    public required string Directory { get; init; }

    public required LstmModel Lstm { get; init; }

    public required byte[] XgbModel { get; init; }

    public required BundleManifest Manifest { get; init; }

    /// <summary>
    /// A bundle of spec <paramref name="spec"/> (default <c>card</c> v1) trained on <paramref name="history"/>, featurised
    /// with <paramref name="labelFeed"/> merged in by label time when the spec reads labels (<c>card</c> v2); <paramref name="xgb"/>
    /// changes the XGBoost parameters (20 rounds of depth 6 by default). With <paramref name="checkManaged"/> the manifest
    /// records the trainer's check of each of <paramref name="managedPaths"/> (default <see cref="LstmPaths.ManagedFp32"/>
    /// alone), computed as the trainer does (ONNX Runtime and the managed path on every history window, AP on its labels).
    /// </summary>
    public static TinyBundle Create(
        string directory, string version, IReadOnlyList<Transaction> history, double? costMinThreshold = null, int seed = 1,
        FeatureSpec? spec = null, StreamFraud.Core.Labels.LabelFeed? labelFeed = null, int hidden1 = 8, int hidden2 = 4, bool checkManaged = false,
        Func<XgbParameters, XgbParameters>? xgb = null, IReadOnlyList<string>? managedPaths = null)
    {
        spec ??= FeatureSpec.CardV1;
        System.IO.Directory.CreateDirectory(directory);
        var featurizer = new OfflineFeaturizer(spec);
        var windows = new float[history.Count * spec.WindowSize];
        var newest = new float[history.Count * spec.Dimension];
        var labels = new float[history.Count];
        for (var i = 0; i < history.Count; i++)
        {
            var w = windows.AsSpan(i * spec.WindowSize, spec.WindowSize);
            while (labelFeed is not null && labelFeed.TryTakeDue(history[i].EventTimeMs, out var label))
            {
                featurizer.ApplyLabel(label); // as TrainingSet.Build merges labels
            }

            if (featurizer.Apply(history[i], w).IsApplied)
            {
                labelFeed?.Observe(history[i]);
            }

            w[(spec.WindowSize - spec.Dimension)..].CopyTo(newest.AsSpan(i * spec.Dimension));
            labels[i] = history[i].IsFraud == true ? 1 : 0;
        }

        var lstm = LstmModel.CreateInitial(spec.Dimension, new LstmOptions { Hidden1 = hidden1, Hidden2 = hidden2, Seed = seed });
        lstm.ExportOnnx(Path.Combine(directory, "lstm.onnx"));
        lstm.Save(Path.Combine(directory, "lstm.model")); // the trainer-side weights, for tests that recompute scores offline
        using var train = DMatrix.FromDense(newest, history.Count, spec.Dimension, labels);
        var parameters = new XgbParameters { NumRounds = 20, EarlyStoppingRounds = null, Seed = seed, EvaluateTrainingSet = false };
        using var result = XgbTrainer.Train(train, train, xgb?.Invoke(parameters) ?? parameters).Booster;
        var xgbBytes = result.SaveModelToBuffer("json");
        File.WriteAllBytes(Path.Combine(directory, "xgb.json"), xgbBytes);

        var golden = new List<GoldenWindow>();
        var count = Math.Min(32, history.Count);
        var lstmScores = lstm.Predict(windows.AsSpan(0, count * spec.WindowSize).ToArray());
        var xgbScores = result.PredictDense(newest.AsSpan(0, count * spec.Dimension), count, iterationEnd: 0);
        for (var i = 0; i < count; i++)
        {
            golden.Add(new GoldenWindow
            {
                Window = GoldenWindow.Encode(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)),
                Lstm = lstmScores[i], Xgb = xgbScores[i], Ensemble = (0.5 * lstmScores[i]) + (0.5 * xgbScores[i]),
            });
        }

        var manifest = new BundleManifest
        {
            Version = version,
            CreatedAt = DateTimeOffset.UnixEpoch,
            FeatureSpec = new FeatureSpecRef(spec.Name, spec.Version, spec.Dimension, spec.ContentHash),
            Files = new Dictionary<string, BundleFile>
            {
                ["lstm.onnx"] = new(BundleRegistry.Sha256(Path.Combine(directory, "lstm.onnx")), new FileInfo(Path.Combine(directory, "lstm.onnx")).Length),
                ["xgb.json"] = new(BundleRegistry.Sha256(Path.Combine(directory, "xgb.json")), xgbBytes.Length),
            },
            XgbIterations = 0,
            Thresholds = new BundleThresholds
            {
                BestF1 = 0.5,
                CostMin = new CostThreshold(costMinThreshold ?? 0.5, 10, 1),
                TargetRecall = new RecallThreshold(0.3, 0.7),
            },
            GoldenWindows = golden,
            LstmPaths = checkManaged
                ? [.. (managedPaths ?? [LstmPaths.ManagedFp32]).Select(p => CheckManaged(p, File.ReadAllBytes(Path.Combine(directory, "lstm.onnx")), windows, history, golden, spec))]
                : [],
        };
        manifest.Write(Path.Combine(directory, BundleManifest.FileName));
        return new TinyBundle { Directory = directory, Lstm = lstm, XgbModel = xgbBytes, Manifest = manifest };
    }

    private static LstmPathCheck CheckManaged(string path, byte[] onnx, float[] windows, IReadOnlyList<Transaction> history, List<GoldenWindow> golden, FeatureSpec spec)
    {
        var n = history.Count;
        var reference = new float[n];
        var managedScores = new float[n];
        using (var ort = OnnxLstm.Load(onnx, "lstm.onnx", FeatureSpec.WindowLength, spec.Dimension))
        {
            ort.Run(windows, n, reference);
        }

        var managed = ManagedLstm.TryCreate(onnx, FeatureSpec.WindowLength, spec.Dimension, 0, LstmPaths.Precision(path), out var problem) ?? throw new InvalidOperationException(problem);
        managed.Run(windows, n, managedScores);
        var goldenScores = new float[golden.Count];
        var goldenWindows = golden.SelectMany(g => g.Decode()).ToArray();
        managed.Run(goldenWindows, golden.Count, goldenScores);
        var labels = history.Select(t => t.IsFraud == true).ToArray();
        var ap = ScoreCurve.Create(managedScores, labels).AveragePrecision();
        var apReference = ScoreCurve.Create(reference, labels).AveragePrecision();
        var deviation = golden.Select((g, i) => Math.Abs(goldenScores[i] - g.Lstm)).Max();
        return new LstmPathCheck
        {
            Path = path, Admitted = true, ValidationWindows = n,
            ValidationAp = ap, ValidationApReference = apReference, ValidationApDelta = ap - apReference,
            LstmValidationAp = ap, LstmValidationApReference = apReference, LstmValidationApDelta = ap - apReference,
            MaxApDelta = LstmPaths.MaxApDelta, GoldenMaxDeviation = deviation, GoldenMaxDeviationReference = deviation,
            GoldenTolerance = LstmPaths.GoldenTolerance(path), ValidationMaxDeviation = reference.Zip(managedScores, (a, b) => (double)Math.Abs(a - b)).Max(),
        };
    }

    /// <summary>Re-opens a tiny bundle written by <see cref="Create"/> (e.g. after publishing it into a registry).</summary>
    public static TinyBundle Open(string directory) => new()
    {
        Directory = directory,
        Lstm = LstmModel.Load(Path.Combine(directory, "lstm.model")),
        XgbModel = File.ReadAllBytes(Path.Combine(directory, "xgb.json")),
        Manifest = BundleManifest.Read(Path.Combine(directory, BundleManifest.FileName)),
    };

    /// <summary>Rewrites a bundle's manifest.json as JSON (for tests that break one field); special doubles are written as "NaN"/"Infinity" strings, which manifests accept.</summary>
    public static void EditManifest(string directory, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        var path = Path.Combine(directory, BundleManifest.FileName);
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        change(node);
        File.WriteAllText(path, node.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>A seeded stream in event-time order with some labelled fraud (large amounts abroad).</summary>
    public static List<Transaction> Stream(int seed, int cards, int count, long start = 1_767_225_600_000)
    {
        var rng = new Random(seed);
        var t = start;
        var list = new List<Transaction>(count);
        for (var i = 0; i < count; i++)
        {
            t += rng.Next(1, 60_000);
            var card = rng.Next(cards);
            var fraud = rng.Next(25) == 0;
            list.Add(new Transaction(
                $"tx-{seed}-{i}", $"card-{card}", fraud ? $"m-x{rng.Next(50)}" : $"m-{card % 11}-{rng.Next(3)}",
                fraud ? Math.Round(500 + (rng.NextDouble() * 2000), 2) : Math.Round(Math.Exp(1 + (rng.NextDouble() * 3)), 2), "EUR", t,
                fraud ? "7995" : "5411", fraud ? "NG" : "DE", fraud ? "ecom" : "pos", IsFraud: fraud));
        }

        return list;
    }
}
