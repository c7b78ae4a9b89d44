using System.Globalization;
using System.Text.Json;
using StreamFraud.Core.Evaluation;

namespace StreamFraud.Scoring.Bundles;

/// <summary>
/// Parses a manifest and checks every field before anything is served (docs/ARCHITECTURE.md "Model bundle and
/// registry", rules listed there): JSON that deserialises is not yet a bundle the scorer can serve. A manifest is
/// written by the trainer but read from a shared volume, so it is checked as untrusted input: no null where an object
/// is required, names plain, thresholds, weights and costs finite and in range, golden windows decodable. Returns
/// problems, never throws.
/// </summary>
public static class ManifestValidator
{
    /// <summary>Largest manifest read (golden windows make it the biggest text file of a bundle; a few MiB in practice).</summary>
    public const long MaxManifestBytes = 32L << 20;

    /// <summary>How far ensemble weights may sum away from 1 (the trainer writes w and 1 - w).</summary>
    public const double WeightSumTolerance = 1e-6;

    /// <summary>Parses and validates manifest bytes; null with every problem found, or the manifest.</summary>
    public static BundleManifest? Parse(ReadOnlySpan<byte> json, long maxFileBytes, out IReadOnlyList<string> problems)
    {
        BundleManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<BundleManifest>(json, BundleManifest.JsonOptions);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException or InvalidOperationException or OverflowException)
        {
            problems = [$"not a valid bundle manifest ({e.Message})"];
            return null;
        }

        if (manifest is null)
        {
            problems = ["the manifest is empty (JSON null)"];
            return null;
        }

        problems = Validate(manifest, maxFileBytes);
        return problems.Count == 0 ? manifest : null;
    }

    /// <summary>Every problem of a deserialised manifest (empty when it can be served as far as its own fields go).</summary>
    public static IReadOnlyList<string> Validate(BundleManifest manifest, long maxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var p = new List<string>();
        if (manifest.Format != BundleManifest.CurrentFormat)
        {
            p.Add($"manifest format {manifest.Format}; this scorer reads format {BundleManifest.CurrentFormat}");
        }

        if (BundleNames.Problem(manifest.Version) is { } versionProblem)
        {
            p.Add($"version {versionProblem}");
        }

        if (string.IsNullOrWhiteSpace(manifest.ModelName))
        {
            p.Add("model_name is missing");
        }

        if (manifest.FeatureSpec is not { } spec)
        {
            p.Add("feature_spec is missing");
        }
        else if (spec.Name is null || spec.Hash is null || spec.Dimension <= 0 || spec.Version <= 0)
        {
            p.Add("feature_spec needs a name, a positive version and dimension, and a hash");
        }

        if (manifest.XgbIterations < 0)
        {
            p.Add($"xgb_iterations {manifest.XgbIterations} is negative");
        }

        Files(manifest, maxFileBytes, p);
        Weights(manifest.Ensemble, p);
        Thresholds(manifest.Thresholds, p);
        if (manifest.DefaultPolicy is null || !ThresholdPolicyNames.TryParse(manifest.DefaultPolicy, out var policy) || policy == ThresholdPolicy.Fixed)
        {
            p.Add($"default_policy '{manifest.DefaultPolicy}' is not cost_min, best_f1 or target_recall");
        }

        if (manifest.Metrics is null || manifest.Metrics.Values.Any(split => split is null || split.Values.Any(model => model is null)))
        {
            p.Add("metrics is null or holds a null split or model (use {} for none)");
        }

        if (manifest.TrainingData is { Source: null })
        {
            p.Add("training_data has no source");
        }

        Golden(manifest, p);
        LstmPathChecks(manifest, p);
        return p;
    }

    private static void LstmPathChecks(BundleManifest manifest, List<string> p)
    {
        if (manifest.LstmPaths is not { } checks)
        {
            p.Add("lstm_paths is null (use [] for none)");
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < checks.Count; i++)
        {
            var c = checks[i];
            if (c is null || BundleNames.Problem(c.Path) is not null)
            {
                p.Add($"lstm_paths[{i}] is null or its path is not a plain name");
                continue;
            }

            if (!seen.Add(c.Path))
            {
                p.Add($"lstm_paths lists {BundleNames.Printable(c.Path)} twice");
            }

            // NaN is allowed only where a check could not be computed (then the path is not admitted); an admitted
            // path has every figure.
            double[] aps = [c.ValidationAp, c.ValidationApReference, c.LstmValidationAp, c.LstmValidationApReference];
            double[] sizes = [c.ValidationApDelta, c.LstmValidationApDelta, c.MaxApDelta, c.GoldenMaxDeviation, c.GoldenMaxDeviationReference, c.GoldenTolerance, c.ValidationMaxDeviation];
            if (aps.Any(v => !double.IsNaN(v) && !InUnit(v)) || sizes.Any(v => double.IsInfinity(v)) || c.ValidationWindows < 0 ||
                (c.Admitted && (aps.Any(double.IsNaN) || sizes.Any(double.IsNaN))))
            {
                p.Add($"lstm_paths[{i}] ({BundleNames.Printable(c.Path)}): APs must be in [0, 1], deviations and deltas finite (NaN only when not admitted), validation_windows >= 0");
            }
        }
    }

    private static void Files(BundleManifest manifest, long maxFileBytes, List<string> p)
    {
        if (manifest.Files is null)
        {
            p.Add("files is missing or null: the manifest must list every bundle file with its sha256 and bytes");
            return;
        }

        foreach (var (name, file) in manifest.Files)
        {
            if (BundleNames.Problem(name) is { } nameProblem)
            {
                p.Add($"file name {nameProblem}");
            }
            else if (name == BundleManifest.FileName)
            {
                p.Add($"files lists {BundleManifest.FileName} itself (its digest belongs in current.json)");
            }

            if (file is null)
            {
                p.Add($"files.{BundleNames.Printable(name)} is null; expected {{\"sha256\": ..., \"bytes\": ...}}");
                continue;
            }

            if (file.Sha256 is not { Length: 64 } sha || !sha.All(char.IsAsciiHexDigit))
            {
                p.Add($"files.{BundleNames.Printable(name)}.sha256 is not 64 hex digits");
            }

            if (file.Bytes < 0 || file.Bytes > maxFileBytes)
            {
                p.Add($"files.{BundleNames.Printable(name)}.bytes {file.Bytes} is outside 0..{maxFileBytes} (Models:MaxFileBytes)");
            }
        }

        foreach (var (role, required) in new[] { ("lstm_file", manifest.LstmFile), ("xgb_file", manifest.XgbFile) })
        {
            if (BundleNames.Problem(required) is { } problem)
            {
                p.Add($"{role} {problem}");
            }
            else if (!manifest.Files.ContainsKey(required))
            {
                p.Add($"'{required}' is not listed under files (with its sha256 and bytes)");
            }
        }
    }

    private static void Weights(EnsembleWeights? weights, List<string> p)
    {
        if (weights is null)
        {
            p.Add("ensemble is null; expected {\"lstm\": w, \"xgb\": 1 - w}");
            return;
        }

        if (!InUnit(weights.Lstm) || !InUnit(weights.Xgb) || Math.Abs(weights.Lstm + weights.Xgb - 1) > WeightSumTolerance)
        {
            p.Add($"ensemble weights lstm {F(weights.Lstm)} and xgb {F(weights.Xgb)} must each be in [0, 1] and sum to 1");
        }
    }

    private static void Thresholds(BundleThresholds? t, List<string> p)
    {
        if (t is null)
        {
            p.Add("thresholds is missing or null");
            return;
        }

        // +∞ is the trainer's "flag nothing" (ThresholdEvaluation): possible for cost_min and best_f1, never for
        // target_recall. NaN compares false with every score and would silently disable alerts, so it is refused.
        ThresholdValue("thresholds.best_f1", t.BestF1, allowFlagNothing: true, p);
        if (t.CostMin is not { } cost)
        {
            p.Add("thresholds.cost_min is null");
        }
        else
        {
            ThresholdValue("thresholds.cost_min.threshold", cost.Threshold, allowFlagNothing: true, p);
            if (!double.IsFinite(cost.CostFn) || cost.CostFn < 0 || !double.IsFinite(cost.CostFp) || cost.CostFp < 0)
            {
                p.Add($"thresholds.cost_min costs fn {F(cost.CostFn)} and fp {F(cost.CostFp)} must be finite and >= 0");
            }
        }

        if (t.TargetRecall is not { } recall)
        {
            p.Add("thresholds.target_recall is null");
        }
        else
        {
            ThresholdValue("thresholds.target_recall.threshold", recall.Threshold, allowFlagNothing: false, p);
            if (!(recall.Target > 0 && recall.Target <= 1))
            {
                p.Add($"thresholds.target_recall.target {F(recall.Target)} must be in (0, 1]");
            }
        }
    }

    private static void ThresholdValue(string field, double value, bool allowFlagNothing, List<string> p)
    {
        if (InUnit(value) || (allowFlagNothing && double.IsPositiveInfinity(value)))
        {
            return;
        }

        p.Add(allowFlagNothing
            ? $"{field} {F(value)} must be in [0, 1] (or Infinity: flag nothing)"
            : $"{field} {F(value)} must be in [0, 1]");
    }

    private static void Golden(BundleManifest manifest, List<string> p)
    {
        if (manifest.GoldenWindows is not { } golden)
        {
            p.Add("golden_windows is null");
            return;
        }

        if (golden.Count == 0)
        {
            p.Add("the manifest has no golden windows; the parity check cannot run");
            return;
        }

        var floats = manifest.FeatureSpec is { Dimension: > 0 } spec ? manifest.SequenceLength * spec.Dimension : -1;
        for (var i = 0; i < golden.Count; i++)
        {
            var g = golden[i];
            if (g?.Window is null)
            {
                p.Add($"golden window {i} is null or has no window");
                continue;
            }

            var buffer = new byte[((g.Window.Length + 3) / 4) * 3];
            if (!Convert.TryFromBase64String(g.Window, buffer, out var written))
            {
                p.Add($"golden window {i} is not valid base64");
            }
            else if (written % 4 != 0 || (floats > 0 && written != floats * 4))
            {
                p.Add($"golden window {i} has {written} bytes; expected {Math.Max(floats, 0) * 4} ({manifest.SequenceLength} steps of {manifest.FeatureSpec?.Dimension} float32)");
            }

            if (!InUnit(g.Lstm) || !InUnit(g.Xgb) || !InUnit(g.Ensemble))
            {
                p.Add($"golden window {i} scores lstm {F(g.Lstm)}, xgb {F(g.Xgb)}, ensemble {F(g.Ensemble)} must be probabilities in [0, 1]");
            }

            if (g.RealSteps < 0 || g.RealSteps > manifest.SequenceLength)
            {
                p.Add($"golden window {i} real_steps {g.RealSteps} is outside 0..{manifest.SequenceLength}");
            }

            if (p.Count > 20)
            {
                return; // enough to say what is wrong
            }
        }
    }

    private static bool InUnit(double v) => v is >= 0 and <= 1;

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
