using System.Diagnostics;
using System.Globalization;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// The trainer's admission check of the LSTM's faster serving paths (<see cref="LstmPaths.Candidates"/>) against the
/// reference, ONNX Runtime fp32 on the exported <c>lstm.onnx</c>: both score every validation window; a path is
/// admitted when it moves validation average precision by at most <see cref="LstmPaths.MaxApDelta"/> (the LSTM alone
/// and the ensemble at the bundle's weights) and reproduces the golden windows' LSTM scores within its documented
/// tolerance (<see cref="LstmPaths.GoldenTolerance"/>). The result goes into the manifest and the report; the scorer
/// re-checks it before serving on the path.
/// </summary>
public sealed class LstmPathAdmission
{
    private const int OnnxChunk = 4096;
    private readonly byte[] _onnx;
    private readonly int _features;
    private readonly int? _threads;
    private readonly Dictionary<string, (ManagedLstm? Path, string? Problem)> _candidates = new(StringComparer.Ordinal);

    private LstmPathAdmission(byte[] onnx, int features, int? threads, float[] reference, int windows)
    {
        _onnx = onnx;
        _features = features;
        _threads = threads;
        Reference = reference;
        ValidationWindows = windows;
    }

    /// <summary>The reference's LSTM probabilities of the validation windows.</summary>
    public float[] Reference { get; }

    /// <summary>Validation windows scored.</summary>
    public int ValidationWindows { get; }

    /// <summary>Each candidate's LSTM probabilities of the validation windows (absent when the path cannot run the model).</summary>
    public Dictionary<string, float[]> Candidates { get; } = new(StringComparer.Ordinal);

    /// <summary>Seconds spent scoring validation, per path.</summary>
    public Dictionary<string, double> Seconds { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Scores <paramref name="count"/> validation windows ([count, 7, F] in <paramref name="windows"/>) with the
    /// reference and every candidate; the windows may be released afterwards.
    /// </summary>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the exported model (a trainer bug).</exception>
    public static LstmPathAdmission Score(byte[] onnx, float[] windows, int count, int features, int? threads)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(windows);
        var size = FeatureSpec.WindowLength * features;
        var reference = new float[count];
        var clock = Stopwatch.StartNew();
        using (var ort = OnnxLstm.Load(onnx, "lstm.onnx", FeatureSpec.WindowLength, features, InferenceDevice.Cpu, 0, threads ?? 0))
        {
            for (var start = 0; start < count; start += OnnxChunk)
            {
                var rows = Math.Min(OnnxChunk, count - start);
                ort.Run(windows.AsMemory(start * size, rows * size), rows, reference.AsMemory(start, rows));
            }
        }

        var admission = new LstmPathAdmission(onnx, features, threads, reference, count);
        admission.Seconds[LstmPaths.OnnxRuntime] = clock.Elapsed.TotalSeconds;
        foreach (var path in LstmPaths.Candidates)
        {
            clock.Restart();
            var managed = ManagedLstm.TryCreate(onnx, FeatureSpec.WindowLength, features, threads ?? 0, LstmPaths.Precision(path), out var problem);
            admission._candidates[path] = (managed, problem);
            if (managed is not null)
            {
                var scores = new float[count];
                managed.Run(windows.AsMemory(0, count * size), count, scores);
                admission.Candidates[path] = scores;
                admission.Seconds[path] = clock.Elapsed.TotalSeconds;
            }
        }

        return admission;
    }

    /// <summary>
    /// The check of every candidate, given the validation XGBoost scores and labels, the ensemble weights and the
    /// bundle's golden windows.
    /// </summary>
    public IReadOnlyList<LstmPathCheck> Check(float[] xgb, ReadOnlySpan<byte> labels, double lstmWeight, double xgbWeight, IReadOnlyList<GoldenWindow> golden)
    {
        ArgumentNullException.ThrowIfNull(xgb);
        ArgumentNullException.ThrowIfNull(golden);
        var truth = new bool[labels.Length];
        for (var i = 0; i < truth.Length; i++)
        {
            truth[i] = labels[i] != 0;
        }

        var size = FeatureSpec.WindowLength * _features;
        var goldenWindows = new float[golden.Count * size];
        for (var i = 0; i < golden.Count; i++)
        {
            golden[i].Decode().CopyTo(goldenWindows.AsSpan(i * size, size));
        }

        var goldenReference = new float[golden.Count];
        using (var ort = OnnxLstm.Load(_onnx, "lstm.onnx", FeatureSpec.WindowLength, _features, InferenceDevice.Cpu, 0, _threads ?? 0))
        {
            ort.Run(goldenWindows, golden.Count, goldenReference);
        }

        var referenceAp = Ap(Reference, truth);
        var referenceEnsembleAp = Ap(Ensemble(Reference, xgb, lstmWeight, xgbWeight), truth);
        var checks = new List<LstmPathCheck>();
        foreach (var path in LstmPaths.Candidates)
        {
            var tolerance = LstmPaths.GoldenTolerance(path);
            var (managed, problem) = _candidates[path];
            if (managed is null || !Candidates.TryGetValue(path, out var scores))
            {
                checks.Add(new LstmPathCheck
                {
                    Path = path, Admitted = false, Reason = LstmPaths.RunProblem(path) ?? $"the path cannot run this model: {problem}", ValidationWindows = ValidationWindows,
                    ValidationApReference = referenceEnsembleAp, ValidationAp = double.NaN, ValidationApDelta = double.NaN,
                    LstmValidationApReference = referenceAp, LstmValidationAp = double.NaN, LstmValidationApDelta = double.NaN,
                    MaxApDelta = LstmPaths.MaxApDelta, GoldenTolerance = tolerance, GoldenMaxDeviation = double.NaN,
                    GoldenMaxDeviationReference = MaxDeviation(goldenReference, golden), ValidationMaxDeviation = double.NaN,
                });
                continue;
            }

            var goldenScores = new float[golden.Count];
            managed.Run(goldenWindows, golden.Count, goldenScores);
            var ap = Ap(scores, truth);
            var ensembleAp = Ap(Ensemble(scores, xgb, lstmWeight, xgbWeight), truth);
            var deviation = MaxDeviation(goldenScores, golden);
            var validationDeviation = 0.0;
            for (var i = 0; i < scores.Length; i++)
            {
                validationDeviation = Math.Max(validationDeviation, Math.Abs((double)scores[i] - Reference[i]));
            }

            var (lstmDelta, ensembleDelta) = (ap - referenceAp, ensembleAp - referenceEnsembleAp);
            string? reason = null;
            if (double.IsNaN(lstmDelta) || double.IsNaN(ensembleDelta))
            {
                reason = "validation AP is undefined (no frauds in validation, or a score that is not finite), so the AP check cannot run";
            }
            else if (Math.Abs(lstmDelta) > LstmPaths.MaxApDelta || Math.Abs(ensembleDelta) > LstmPaths.MaxApDelta)
            {
                reason = string.Create(CultureInfo.InvariantCulture,
                    $"validation AP moves by {ensembleDelta:+0.######;-0.######;0} (ensemble) and {lstmDelta:+0.######;-0.######;0} (LSTM); the limit is {LstmPaths.MaxApDelta}");
            }
            else if (!(deviation <= tolerance))
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"golden windows deviate up to {deviation:G3}; the tolerance is {tolerance:G3}");
            }

            checks.Add(new LstmPathCheck
            {
                Path = path, Admitted = reason is null, Reason = reason, ValidationWindows = ValidationWindows,
                ValidationApReference = referenceEnsembleAp, ValidationAp = ensembleAp, ValidationApDelta = ensembleDelta,
                LstmValidationApReference = referenceAp, LstmValidationAp = ap, LstmValidationApDelta = lstmDelta,
                MaxApDelta = LstmPaths.MaxApDelta, GoldenTolerance = tolerance, GoldenMaxDeviation = deviation,
                GoldenMaxDeviationReference = MaxDeviation(goldenReference, golden), ValidationMaxDeviation = validationDeviation,
            });
        }

        return checks;
    }

    /// <summary>AP, or NaN without windows or with a score that is not finite (then nothing is admitted).</summary>
    private static double Ap(ReadOnlySpan<float> scores, bool[] truth)
    {
        foreach (var s in scores)
        {
            if (!float.IsFinite(s))
            {
                return double.NaN;
            }
        }

        return truth.Length == 0 ? double.NaN : ScoreCurve.Create(scores, truth).AveragePrecision();
    }

    private static double Ap(ReadOnlySpan<double> scores, bool[] truth)
    {
        foreach (var s in scores)
        {
            if (!double.IsFinite(s))
            {
                return double.NaN;
            }
        }

        return truth.Length == 0 ? double.NaN : ScoreCurve.Create(scores, truth).AveragePrecision();
    }

    /// <summary>The ensemble exactly as the scorer computes it (<c>wl · lstm + wx · xgb</c> in double).</summary>
    private static double[] Ensemble(float[] lstm, float[] xgb, double wl, double wx)
    {
        var e = new double[lstm.Length];
        for (var i = 0; i < e.Length; i++)
        {
            e[i] = (wl * lstm[i]) + (wx * xgb[i]);
        }

        return e;
    }

    private static double MaxDeviation(float[] scores, IReadOnlyList<GoldenWindow> golden)
    {
        var worst = 0.0;
        for (var i = 0; i < golden.Count; i++)
        {
            worst = Math.Max(worst, Math.Abs(scores[i] - golden[i].Lstm));
        }

        return worst;
    }
}
