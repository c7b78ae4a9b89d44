using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Onnx;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Bundles;

/// <summary>Why a bundle was refused; the serving bundle is unaffected.</summary>
public sealed class BundleRejectedException(string version, string reason, Exception? inner = null)
    : Exception($"Bundle {version} refused: {reason}", inner)
{
    /// <summary>The refused version (or directory name).</summary>
    public string Version { get; } = version;

    /// <summary>The reason, for logs and metrics.</summary>
    public string Reason { get; } = reason;
}

/// <summary>Options for loading a bundle.</summary>
public sealed record BundleLoadOptions
{
    /// <summary>LSTM device.</summary>
    public InferenceDevice Device { get; init; } = InferenceDevice.Cpu;

    /// <summary>CUDA device id.</summary>
    public int DeviceId { get; init; }

    /// <summary>Tolerance of the golden-window check (absolute, on probabilities).</summary>
    public double GoldenTolerance { get; init; } = 1e-5;

    /// <summary>Batch size of the warm-up runs (the serving batch size); 0 skips warm-up.</summary>
    public int WarmupBatch { get; init; } = 256;

    /// <summary>OpenMP threads per XGBoost prediction (0: libxgboost's default).</summary>
    public int XgbThreads { get; init; } = 1;
}

/// <summary>Scores of one batch, one entry per window.</summary>
public sealed class ScoreBuffers(int capacity)
{
    /// <summary>LSTM probabilities.</summary>
    public float[] Lstm { get; } = new float[capacity];

    /// <summary>XGBoost probabilities of the newest steps.</summary>
    public float[] Xgb { get; } = new float[capacity];

    /// <summary>Ensemble scores.</summary>
    public double[] Ensemble { get; } = new double[capacity];

    /// <summary>Newest vectors gathered for XGBoost, [capacity, F] (scratch).</summary>
    internal float[]? Newest { get; set; }

    /// <summary>Capacity.</summary>
    public int Capacity { get; } = capacity;
}

/// <summary>
/// A bundle loaded and verified: both models, weights, thresholds and version as one unit, swapped in whole. Loading
/// checks every file's SHA-256, the feature spec against the one the scorer runs, the ONNX input/output shapes,
/// the XGBoost feature count, and reproduces the golden windows; then warms up. Scoring is thread-safe.
/// </summary>
public sealed class ModelBundle : IDisposable
{
    private readonly OnnxLstm _lstm;
    private readonly Booster _xgb;

    private ModelBundle(string directory, BundleManifest manifest, FeatureSpec spec, OnnxLstm lstm, Booster xgb)
    {
        Directory = directory;
        Manifest = manifest;
        Spec = spec;
        _lstm = lstm;
        _xgb = xgb;
    }

    /// <summary>Bundle directory.</summary>
    public string Directory { get; }

    /// <summary>The manifest.</summary>
    public BundleManifest Manifest { get; }

    /// <summary>Version.</summary>
    public string Version => Manifest.Version;

    /// <summary>The feature spec the bundle needs.</summary>
    public FeatureSpec Spec { get; }

    /// <summary>LSTM execution provider (CPU or CUDA).</summary>
    public string LstmProvider => _lstm.Provider;

    /// <summary>Why CUDA was not used, when it was asked for and unavailable.</summary>
    public string? CudaUnavailableReason => _lstm.CudaUnavailableReason;

    /// <summary>The XGBoost model (for explanations).</summary>
    public Booster Xgb => _xgb;

    /// <summary>Loads and verifies a bundle directory for a scorer running <paramref name="servingSpec"/>.</summary>
    /// <exception cref="BundleRejectedException">Anything wrong with the bundle, with the reason.</exception>
    public static ModelBundle Load(string directory, FeatureSpec servingSpec, BundleLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(servingSpec);
        options ??= new BundleLoadOptions();
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var manifestPath = Path.Combine(directory, BundleManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            throw new BundleRejectedException(name, $"no {BundleManifest.FileName} in {directory} (missing, or the directory is still being written)");
        }

        BundleManifest manifest;
        try
        {
            manifest = BundleManifest.Read(manifestPath);
        }
        catch (InvalidDataException e)
        {
            throw new BundleRejectedException(name, e.Message, e);
        }

        var version = manifest.Version;
        foreach (var (file, expected) in manifest.Files)
        {
            var path = Path.Combine(directory, file);
            if (!File.Exists(path))
            {
                throw new BundleRejectedException(version, $"file {file} listed in the manifest is missing");
            }

            var actual = BundleRegistry.Sha256(path);
            if (!string.Equals(actual, expected.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new BundleRejectedException(version, $"checksum mismatch for {file}: manifest {expected.Sha256}, file {actual} (corrupt or modified)");
            }
        }

        var f = manifest.FeatureSpec;
        if (!servingSpec.Matches(f.Name, f.Version, f.Dimension, f.Hash))
        {
            throw new BundleRejectedException(version,
                $"feature spec {f.Name} v{f.Version} (dimension {f.Dimension}, hash {f.Hash[..Math.Min(12, f.Hash.Length)]}) differs from the scorer's " +
                $"{servingSpec.Name} v{servingSpec.Version} (dimension {servingSpec.Dimension}, hash {servingSpec.ContentHash[..12]}); " +
                "train the bundle on this spec or run a scorer with the bundle's spec");
        }

        if (manifest.SequenceLength != FeatureSpec.WindowLength)
        {
            throw new BundleRejectedException(version, $"sequence length {manifest.SequenceLength}; the scorer keeps windows of {FeatureSpec.WindowLength}");
        }

        OnnxLstm? lstm = null;
        Booster? xgb = null;
        try
        {
            lstm = OnnxLstm.Load(Path.Combine(directory, manifest.LstmFile), FeatureSpec.WindowLength, servingSpec.Dimension, options.Device, options.DeviceId);
            xgb = Booster.Load(Path.Combine(directory, manifest.XgbFile), options.XgbThreads);
            if (xgb.NumFeatures != servingSpec.Dimension)
            {
                throw new InvalidDataException($"{manifest.XgbFile} expects {xgb.NumFeatures} features; the spec has {servingSpec.Dimension}");
            }

            var bundle = new ModelBundle(directory, manifest, servingSpec, lstm, xgb);
            bundle.VerifyGoldenWindows(options.GoldenTolerance);
            bundle.WarmUp(options.WarmupBatch);
            return bundle;
        }
        catch (Exception e) when (e is InvalidDataException or XgbException or IOException or InvalidOperationException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            lstm?.Dispose();
            xgb?.Dispose();
            throw new BundleRejectedException(version, e.Message, e);
        }
        catch (BundleRejectedException)
        {
            lstm?.Dispose();
            xgb?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Scores <paramref name="rows"/> windows ([rows, 7, F] in <paramref name="windows"/>): LSTM on each window,
    /// XGBoost on each window's newest step, and their weighted mean.
    /// </summary>
    public void Score(Memory<float> windows, int rows, ScoreBuffers output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (rows > output.Capacity)
        {
            throw new ArgumentException($"{rows} rows exceed the score buffers' capacity {output.Capacity}.");
        }

        if (rows == 0)
        {
            return;
        }

        var dim = Spec.Dimension;
        var windowSize = Spec.WindowSize;
        _lstm.Run(windows, rows, output.Lstm);
        var newest = output.Newest ??= new float[output.Capacity * dim];
        var source = windows.Span;
        for (var i = 0; i < rows; i++)
        {
            source.Slice((i * windowSize) + windowSize - dim, dim).CopyTo(newest.AsSpan(i * dim, dim));
        }

        _xgb.PredictDense(newest.AsSpan(0, rows * dim), rows, output.Xgb, iterationEnd: Manifest.XgbIterations); // 0 = every tree, as the manifest says
        var (wl, wx) = (Manifest.Ensemble.Lstm, Manifest.Ensemble.Xgb);
        for (var i = 0; i < rows; i++)
        {
            output.Ensemble[i] = (wl * output.Lstm[i]) + (wx * output.Xgb[i]);
        }
    }

    /// <summary>The threshold of a policy (<paramref name="fixedThreshold"/> for <see cref="ThresholdPolicy.Fixed"/>).</summary>
    public double Threshold(ThresholdPolicy policy, double? fixedThreshold = null) => policy switch
    {
        ThresholdPolicy.CostMin => Manifest.Thresholds.CostMin.Threshold,
        ThresholdPolicy.BestF1 => Manifest.Thresholds.BestF1,
        ThresholdPolicy.TargetRecall => Manifest.Thresholds.TargetRecall.Threshold,
        ThresholdPolicy.Fixed => fixedThreshold ?? throw new ArgumentException("The fixed policy needs a threshold value."),
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };

    /// <summary>Whether the bundle's models have been freed.</summary>
    public bool IsDisposed { get; private set; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }

        IsDisposed = true;
        _lstm.Dispose();
        _xgb.Dispose();
    }

    private void VerifyGoldenWindows(double tolerance)
    {
        var golden = Manifest.GoldenWindows;
        if (golden.Count == 0)
        {
            throw new InvalidDataException("the manifest has no golden windows; the parity check cannot run");
        }

        var windows = new float[golden.Count * Spec.WindowSize];
        for (var i = 0; i < golden.Count; i++)
        {
            var w = golden[i].Decode();
            if (w.Length != Spec.WindowSize)
            {
                throw new InvalidDataException($"golden window {i} has {w.Length} floats; expected {Spec.WindowSize}");
            }

            w.CopyTo(windows, i * Spec.WindowSize);
        }

        var scores = new ScoreBuffers(golden.Count);
        Score(windows, golden.Count, scores);
        for (var i = 0; i < golden.Count; i++)
        {
            var g = golden[i];
            var worst = Math.Max(Math.Abs(scores.Lstm[i] - g.Lstm), Math.Max(Math.Abs(scores.Xgb[i] - g.Xgb), Math.Abs(scores.Ensemble[i] - g.Ensemble)));
            if (!(worst <= tolerance))
            {
                throw new InvalidDataException(
                    $"golden window {i} not reproduced: lstm {scores.Lstm[i]:R} vs {g.Lstm:R}, xgb {scores.Xgb[i]:R} vs {g.Xgb:R}, " +
                    $"ensemble {scores.Ensemble[i]:R} vs {g.Ensemble:R} (tolerance {tolerance})");
            }
        }
    }

    private void WarmUp(int batch)
    {
        if (batch <= 0)
        {
            return;
        }

        var windows = new float[batch * Spec.WindowSize];
        var scores = new ScoreBuffers(batch);
        for (var i = 0; i < 3; i++)
        {
            Score(windows, batch, scores);
        }
    }
}
