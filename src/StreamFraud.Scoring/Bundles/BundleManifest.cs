using System.Text.Json;
using System.Text.Json.Serialization;

namespace StreamFraud.Scoring.Bundles;

/// <summary>
/// <c>manifest.json</c> of a model bundle (docs/ARCHITECTURE.md "Model bundle and registry"): everything the scorer needs to
/// decide whether it can serve the bundle and how, written by the trainer.
/// </summary>
public sealed record BundleManifest
{
    /// <summary>Manifest format version this code reads and writes.</summary>
    public const int CurrentFormat = 1;

    /// <summary>File name inside a bundle directory.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Manifest format.</summary>
    public int Format { get; init; } = CurrentFormat;

    /// <summary>Bundle version: also its directory name under the registry.</summary>
    public required string Version { get; init; }

    /// <summary>Model family (the key on <c>model-updates</c>).</summary>
    public string ModelName { get; init; } = "card-fraud";

    /// <summary>When the trainer built it (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The feature spec the models were trained on.</summary>
    public required FeatureSpecRef FeatureSpec { get; init; }

    /// <summary>Steps per window (7).</summary>
    public int SequenceLength { get; init; } = 7;

    /// <summary>Files of the bundle with their SHA-256, by file name.</summary>
    public required IReadOnlyDictionary<string, BundleFile> Files { get; init; }

    /// <summary>LSTM ONNX file name.</summary>
    public string LstmFile { get; init; } = "lstm.onnx";

    /// <summary>XGBoost model file name (XGBoost's JSON format).</summary>
    public string XgbFile { get; init; } = "xgb.json";

    /// <summary>XGBoost trees to use (best iteration + 1); 0: all.</summary>
    public int XgbIterations { get; init; }

    /// <summary>Ensemble weights.</summary>
    public EnsembleWeights Ensemble { get; init; } = new();

    /// <summary>Thresholds chosen on validation.</summary>
    public required BundleThresholds Thresholds { get; init; }

    /// <summary>Default threshold policy (<c>cost_min</c>).</summary>
    public string DefaultPolicy { get; init; } = "cost_min";

    /// <summary>Headline metrics by split, model and metric (same shape as report.json's <c>metrics</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>> Metrics { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>>();

    /// <summary>What the models were trained on.</summary>
    public TrainingDataInfo? TrainingData { get; init; }

    /// <summary>Windows with the scores the trainer computed, for the scorer's parity check before serving.</summary>
    public IReadOnlyList<GoldenWindow> GoldenWindows { get; init; } = [];

    /// <summary>
    /// The trainer's checks of the LSTM's faster serving paths against ONNX Runtime fp32 (validation AP and golden
    /// windows, <see cref="Lstm.LstmPaths"/>); empty in bundles from before these checks, which are served by ONNX Runtime.
    /// </summary>
    public IReadOnlyList<LstmPathCheck> LstmPaths { get; init; } = [];

    /// <summary>JSON options of manifests, reports and <c>current.json</c>: snake_case, NaN allowed, indented.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads and validates a manifest file (every field, see <see cref="ManifestValidator"/>).</summary>
    /// <exception cref="InvalidDataException">Not a regular file, unreadable JSON, another format version, or a field missing or out of range; the message says which.</exception>
    public static BundleManifest Read(string path, long maxFileBytes = BundleLoadOptions.DefaultMaxFileBytes) => Parse(ReadBytes(path), path, maxFileBytes);

    /// <summary>The bytes of a manifest file: a regular file (not a link, FIFO or device) of at most <see cref="ManifestValidator.MaxManifestBytes"/>.</summary>
    /// <exception cref="InvalidDataException">Missing, not a regular file, or too large.</exception>
    public static byte[] ReadBytes(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            if (BundleFiles.RegularFileProblem(path, FileName, null, ManifestValidator.MaxManifestBytes, out var entry) is { } problem)
            {
                throw new InvalidDataException(problem);
            }

            return BundleFiles.ReadExactly(path, entry.Length, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{FileName} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Parses and validates manifest bytes read from <paramref name="source"/> (for messages).</summary>
    /// <exception cref="InvalidDataException">Every problem found, in one message.</exception>
    public static BundleManifest Parse(ReadOnlySpan<byte> json, string source, long maxFileBytes = BundleLoadOptions.DefaultMaxFileBytes) =>
        ManifestValidator.Parse(json, maxFileBytes, out var problems)
        ?? throw new InvalidDataException($"{source}: {string.Join("; ", problems)}");

    /// <summary>Writes the manifest (UTF-8 JSON).</summary>
    public void Write(string path) => File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions));
}

/// <summary>Identity of a feature spec.</summary>
public sealed record FeatureSpecRef(string Name, int Version, int Dimension, string Hash);

/// <summary>A bundle file's checksum and size.</summary>
public sealed record BundleFile(string Sha256, long Bytes);

/// <summary>Ensemble weights (sum 1).</summary>
public sealed record EnsembleWeights(double Lstm = 0.5, double Xgb = 0.5);

/// <summary>Thresholds of the data-driven policies, with the parameters they were chosen for.</summary>
public sealed record BundleThresholds
{
    /// <summary>Threshold maximising F1 on validation.</summary>
    public required double BestF1 { get; init; }

    /// <summary>Minimum-cost threshold.</summary>
    public required CostThreshold CostMin { get; init; }

    /// <summary>Highest threshold reaching the target recall.</summary>
    public required RecallThreshold TargetRecall { get; init; }
}

/// <summary>Minimum-cost threshold and its costs.</summary>
public sealed record CostThreshold(double Threshold, double CostFn, double CostFp);

/// <summary>Target-recall threshold and its target.</summary>
public sealed record RecallThreshold(double Threshold, double Target);

/// <summary>Description of the training data.</summary>
public sealed record TrainingDataInfo
{
    /// <summary>Input file or topic.</summary>
    public required string Source { get; init; }

    /// <summary>Rows (transactions or .npz rows).</summary>
    public long Rows { get; init; }

    /// <summary>Fraud rows.</summary>
    public long Frauds { get; init; }

    /// <summary>First event time, when known.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Last event time, when known.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>SHA-256 of the input file.</summary>
    public string? Sha256 { get; init; }

    /// <summary>Split description (time ranges or random with seed).</summary>
    public string? Split { get; init; }
}

/// <summary>A window and the scores the trainer computed for it.</summary>
public sealed record GoldenWindow
{
    /// <summary>Little-endian float32 window (7 × dimension), base64.</summary>
    public required string Window { get; init; }

    /// <summary>Real steps in the window.</summary>
    public int RealSteps { get; init; }

    /// <summary>LSTM probability.</summary>
    public double Lstm { get; init; }

    /// <summary>XGBoost probability of the newest step.</summary>
    public double Xgb { get; init; }

    /// <summary>Ensemble score.</summary>
    public double Ensemble { get; init; }

    /// <summary>Decodes <see cref="Window"/>.</summary>
    public float[] Decode()
    {
        var bytes = Convert.FromBase64String(Window);
        var floats = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, floats, 0, floats.Length * 4);
        return floats;
    }

    /// <summary>Encodes a window.</summary>
    public static string Encode(ReadOnlySpan<float> window) =>
        Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(window));
}

/// <summary>
/// The trainer's check of one faster LSTM serving path against the reference, ONNX Runtime fp32: what it does to
/// validation average precision (LSTM alone and the ensemble at the bundle's weights) and how far it is from the
/// golden windows' LSTM scores. The scorer serves on the path only when <see cref="Admitted"/> and the figures pass
/// its own limits (<see cref="Lstm.LstmPaths.AdmissionProblem"/>), and the path reproduces the golden windows at load.
/// </summary>
public sealed record LstmPathCheck
{
    /// <summary>The path (<see cref="Lstm.LstmPaths.ManagedFp32"/>, <see cref="Lstm.LstmPaths.ManagedInt16"/> or <see cref="Lstm.LstmPaths.ManagedBf16"/>).</summary>
    public required string Path { get; init; }

    /// <summary>Whether the trainer admitted it: |ΔAP| ≤ <see cref="MaxApDelta"/> for both APs and the golden windows within <see cref="GoldenTolerance"/>.</summary>
    public required bool Admitted { get; init; }

    /// <summary>Why it was not admitted (null when it was).</summary>
    public string? Reason { get; init; }

    /// <summary>Validation windows both paths scored.</summary>
    public int ValidationWindows { get; init; }

    /// <summary>Ensemble validation AP with the reference's LSTM scores.</summary>
    public double ValidationApReference { get; init; }

    /// <summary>Ensemble validation AP with this path's LSTM scores.</summary>
    public double ValidationAp { get; init; }

    /// <summary><see cref="ValidationAp"/> − <see cref="ValidationApReference"/>.</summary>
    public double ValidationApDelta { get; init; }

    /// <summary>LSTM-alone validation AP with the reference.</summary>
    public double LstmValidationApReference { get; init; }

    /// <summary>LSTM-alone validation AP with this path.</summary>
    public double LstmValidationAp { get; init; }

    /// <summary><see cref="LstmValidationAp"/> − <see cref="LstmValidationApReference"/>.</summary>
    public double LstmValidationApDelta { get; init; }

    /// <summary>Largest |ΔAP| admitted (<see cref="Lstm.LstmPaths.MaxApDelta"/> when written).</summary>
    public double MaxApDelta { get; init; }

    /// <summary>Largest |path − golden| LSTM probability over the golden windows.</summary>
    public double GoldenMaxDeviation { get; init; }

    /// <summary>Largest |reference − golden| over the same windows, for comparison.</summary>
    public double GoldenMaxDeviationReference { get; init; }

    /// <summary>The path's documented golden tolerance (<see cref="Lstm.LstmPaths.GoldenTolerance"/> when written).</summary>
    public double GoldenTolerance { get; init; }

    /// <summary>Largest |path − reference| LSTM probability over the validation windows.</summary>
    public double ValidationMaxDeviation { get; init; }
}
