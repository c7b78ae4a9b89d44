using System.Globalization;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scoring.Lstm;

/// <summary>Which serving path of the LSTM the scorer asks for (<c>Scoring:LstmPath</c>).</summary>
public enum LstmPathChoice
{
    /// <summary>
    /// The fastest path the bundle admits here: ONNX Runtime when the LSTM runs on CUDA; on CPU
    /// <see cref="LstmPaths.ManagedFp32"/> when the bundle's trainer admitted it and it reproduces the golden windows at
    /// load, else ONNX Runtime with the reason logged.
    /// </summary>
    Auto,

    /// <summary>ONNX Runtime fp32 (CPU or CUDA provider), the reference.</summary>
    OnnxRuntime,

    /// <summary><see cref="LstmPaths.ManagedFp32"/> or nothing: a bundle that does not admit it is refused.</summary>
    ManagedFp32,
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

    /// <summary>Largest change of validation average precision (LSTM alone and ensemble) a path may cause against the reference.</summary>
    public const double MaxApDelta = 0.002;

    /// <summary>
    /// Largest absolute difference of a golden window's LSTM probability from the trainer's for
    /// <see cref="ManagedFp32"/>: the scorer's fp32 golden tolerance (<see cref="BundleLoadOptions.GoldenTolerance"/>);
    /// measured differences are ~1e-7.
    /// </summary>
    public const double ManagedFp32Tolerance = 1e-5;

    /// <summary>The paths the trainer checks against the reference, fastest first.</summary>
    public static IReadOnlyList<string> Candidates { get; } = [ManagedFp32];

    /// <summary>The documented golden-window tolerance of <paramref name="path"/> (NaN for a path this code does not know).</summary>
    public static double GoldenTolerance(string path) => path == ManagedFp32 ? ManagedFp32Tolerance : double.NaN;

    /// <summary>Parses <c>auto</c>, <c>onnxruntime</c> or <c>managed_fp32</c>.</summary>
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
