using System.Globalization;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scoring.Lstm;

/// <summary>Which serving path of the LSTM the scorer asks for (<c>Scoring:LstmPath</c>).</summary>
public enum LstmPathChoice
{
    /// <summary>
    /// The fastest path the bundle admits here: ONNX Runtime when the LSTM runs on CUDA; on CPU the first of
    /// <see cref="LstmPaths.AutoCandidates"/> (fastest first) that the bundle's trainer admitted and that reproduces the
    /// golden windows at load, else ONNX Runtime; every faster path skipped is logged with its reason.
    /// </summary>
    Auto,

    /// <summary>ONNX Runtime fp32 (CPU or CUDA provider), the reference.</summary>
    OnnxRuntime,

    /// <summary><see cref="LstmPaths.ManagedFp32"/> or nothing: a bundle that does not admit it is refused.</summary>
    ManagedFp32,

    /// <summary><see cref="LstmPaths.ManagedInt16"/> or nothing: a bundle that does not admit it is refused.</summary>
    ManagedInt16,

    /// <summary><see cref="LstmPaths.ManagedBf16"/> or nothing: a bundle that does not admit it, or a machine without AMX-BF16, is refused.</summary>
    ManagedBf16,
}

/// <summary>
/// The LSTM's serving paths and the admission rule a faster path must pass, in the trainer (which records the check
/// in the manifest as a <see cref="LstmPathCheck"/>) and in the scorer (which re-checks the record and the golden
/// windows before serving on it). ONNX Runtime fp32 is the reference and needs no admission.
/// </summary>
public static class LstmPaths
{
    /// <summary>ONNX Runtime fp32, the reference (and the only path on CUDA).</summary>
    public const string OnnxRuntime = "onnxruntime";

    /// <summary>The managed fp32 kernels (<see cref="ManagedLstm"/>): same precision as the reference, another summation order.</summary>
    public const string ManagedFp32 = "managed_fp32";

    /// <summary>
    /// The managed kernels with int16 products (<see cref="ManagedLstm"/> in <see cref="LstmPrecision.Int16"/>):
    /// activations quantized per row and weights per gate column, exact int32 sums, fp32 everywhere else. Not the
    /// reference's precision: admitted per bundle by validation AP and the golden windows within
    /// <see cref="ManagedInt16Tolerance"/>.
    /// </summary>
    public const string ManagedInt16 = "managed_int16";

    /// <summary>
    /// The managed kernels with bf16 products on Intel AMX (<see cref="ManagedLstm"/> in <see cref="LstmPrecision.Bf16"/>,
    /// <see cref="AmxBf16"/>): [x | h] and the weights rounded to bf16 (8 significant bits), exact products, fp32 sums
    /// and fp32 everywhere else. Runs only where the CPU has AMX-BF16 and <c>libstreamfraud_amx.so</c> was built; not
    /// the reference's precision: admitted per bundle by validation AP and the golden windows within
    /// <see cref="ManagedBf16Tolerance"/>.
    /// </summary>
    public const string ManagedBf16 = "managed_bf16";

    /// <summary>Largest change of validation average precision (LSTM alone and ensemble) a path may cause against the reference.</summary>
    public const double MaxApDelta = 0.002;

    /// <summary>
    /// Largest absolute difference of a golden window's LSTM probability from the trainer's for
    /// <see cref="ManagedFp32"/>: the scorer's fp32 golden tolerance (<see cref="BundleLoadOptions.GoldenTolerance"/>);
    /// measured differences are ~1e-7.
    /// </summary>
    public const double ManagedFp32Tolerance = 1e-5;

    /// <summary>
    /// Largest absolute difference of a golden window's LSTM probability from the trainer's for
    /// <see cref="ManagedInt16"/>: 12-bit activations and 14-bit weights give ~1e-5 on untrained weights and
    /// ~1e-4 on trained ones; the AP limit (<see cref="MaxApDelta"/>) is the check that matters for alerts.
    /// </summary>
    public const double ManagedInt16Tolerance = 2e-3;

    /// <summary>
    /// Largest absolute difference of a golden window's LSTM probability from the trainer's for
    /// <see cref="ManagedBf16"/>: bf16 operands (relative rounding 2⁻⁹, about 8× int16's) measured 1.5e-4 on the
    /// production-size model with untrained weights and 1.0e-2 on a tiny one (8/4 hidden units) with weights scaled 3×;
    /// as for int16, the AP limit (<see cref="MaxApDelta"/>) is the check that matters for alerts.
    /// </summary>
    public const double ManagedBf16Tolerance = 2e-2;

    /// <summary>
    /// The paths the trainer checks against the reference, fastest here first (<see cref="Order"/> of this machine):
    /// bf16 first where the CPU has AMX-BF16 (about 1.7× the int16 path per window on the dev machine; a candidate
    /// there even when its library is missing or refused, so that the trainer records and the scorer logs why it is
    /// not used), then int16 before fp32 where AVX-512BW runs the int16 kernel (about 1.2× the fp32 path).
    /// </summary>
    public static IReadOnlyList<string> Candidates { get; } = Order(AmxBf16.CpuHasAmxBf16, Igemm16.Accelerated).Candidates;

    /// <summary>
    /// The paths <see cref="LstmPathChoice.Auto"/> tries, fastest first: <see cref="Candidates"/> without
    /// <see cref="ManagedInt16"/> where AVX-512BW does not run its kernel (the portable int16 kernel is slower than
    /// ONNX Runtime); it can still be demanded there.
    /// </summary>
    public static IReadOnlyList<string> AutoCandidates { get; } = Order(AmxBf16.CpuHasAmxBf16, Igemm16.Accelerated).Auto;

    /// <summary>
    /// The candidate order for a machine with or without AMX-BF16 and AVX-512BW: bf16 (only with AMX), then int16 and fp32
    /// (int16 first with AVX-512BW); <c>auto</c> tries the same without int16 where AVX-512BW does not run it (the
    /// portable int16 kernel is slower than ONNX Runtime).
    /// </summary>
    public static (IReadOnlyList<string> Candidates, IReadOnlyList<string> Auto) Order(bool amxBf16, bool avx512bw)
    {
        string[] candidates = [.. amxBf16 ? [ManagedBf16] : Array.Empty<string>(), .. avx512bw ? [ManagedInt16, ManagedFp32] : new[] { ManagedFp32, ManagedInt16 }];
        return (candidates, avx512bw ? candidates : [.. candidates.Where(p => p != ManagedInt16)]);
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot run on this machine whatever the bundle (null: it can): <see cref="ManagedBf16"/>
    /// without AMX-BF16 or its library (<see cref="AmxBf16.Problem"/>).
    /// </summary>
    public static string? RunProblem(string path) =>
        path == ManagedBf16 && !AmxBf16.Available ? $"{ManagedBf16} does not run here: {AmxBf16.Problem}" : null;

    /// <summary>The values of <c>Scoring:LstmPath</c> (and the tools' <c>--lstm-path</c>), for messages.</summary>
    public const string ChoiceList = "auto, onnxruntime, managed_bf16, managed_int16 or managed_fp32";

    /// <summary>The documented golden-window tolerance of <paramref name="path"/> (NaN for a path this code does not know).</summary>
    public static double GoldenTolerance(string path) => path switch
    {
        ManagedFp32 => ManagedFp32Tolerance,
        ManagedInt16 => ManagedInt16Tolerance,
        ManagedBf16 => ManagedBf16Tolerance,
        _ => double.NaN,
    };

    /// <summary>The precision of a managed path (<see cref="ManagedFp32"/>, <see cref="ManagedInt16"/> or <see cref="ManagedBf16"/>).</summary>
    public static LstmPrecision Precision(string path) => path switch
    {
        ManagedFp32 => LstmPrecision.Fp32,
        ManagedInt16 => LstmPrecision.Int16,
        ManagedBf16 => LstmPrecision.Bf16,
        _ => throw new ArgumentException($"'{path}' is not a managed LSTM path.", nameof(path)),
    };

    /// <summary>The path a demanding choice names (null for <see cref="LstmPathChoice.Auto"/>).</summary>
    public static string? Name(LstmPathChoice choice) => choice switch
    {
        LstmPathChoice.OnnxRuntime => OnnxRuntime,
        LstmPathChoice.ManagedFp32 => ManagedFp32,
        LstmPathChoice.ManagedInt16 => ManagedInt16,
        LstmPathChoice.ManagedBf16 => ManagedBf16,
        _ => null,
    };

    /// <summary>Parses <c>auto</c>, <c>onnxruntime</c>, <c>managed_fp32</c>, <c>managed_int16</c> or <c>managed_bf16</c>.</summary>
    public static bool TryParseChoice(string? text, out LstmPathChoice choice)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "auto":
                choice = LstmPathChoice.Auto;
                return true;
            case OnnxRuntime:
                choice = LstmPathChoice.OnnxRuntime;
                return true;
            case ManagedFp32:
                choice = LstmPathChoice.ManagedFp32;
                return true;
            case ManagedInt16:
                choice = LstmPathChoice.ManagedInt16;
                return true;
            case ManagedBf16:
                choice = LstmPathChoice.ManagedBf16;
                return true;
            default:
                choice = LstmPathChoice.Auto;
                return false;
        }
    }

    /// <summary>
    /// Why the scorer will not serve on <paramref name="path"/> by the bundle's record of it (null: admitted). The
    /// trainer's <c>admitted</c> flag is not taken on trust: the recorded figures must pass this code's own limits.
    /// </summary>
    public static string? AdmissionProblem(BundleManifest manifest, string path)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var check = manifest.LstmPaths?.FirstOrDefault(c => c?.Path == path);
        if (check is null)
        {
            return $"the bundle records no check of {path} (trained before serving paths were checked, or not a candidate then)";
        }

        if (!check.Admitted)
        {
            return $"the trainer did not admit {path}: {check.Reason ?? "no reason recorded"}";
        }

        var tolerance = GoldenTolerance(path);
        if (!(Math.Abs(check.ValidationApDelta) <= MaxApDelta) || !(Math.Abs(check.LstmValidationApDelta) <= MaxApDelta))
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path} moves validation AP by {check.ValidationApDelta:+0.######;-0.######;0} (ensemble) and {check.LstmValidationApDelta:+0.######;-0.######;0} (LSTM); the limit is {MaxApDelta}");
        }

        if (!(check.GoldenMaxDeviation <= tolerance))
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path} deviates up to {check.GoldenMaxDeviation:G3} from the golden windows' LSTM scores; its tolerance is {tolerance:G3}");
        }

        return null;
    }
}
