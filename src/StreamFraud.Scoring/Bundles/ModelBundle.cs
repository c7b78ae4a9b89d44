using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Scoring.Trees;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Bundles;

/// <summary>
/// The classes of refusal, the <c>reason</c> tag of <c>streamfraud.model.refusals</c> (few values, so the metric stays
/// cheap); the message says the rest.
/// </summary>
public static class RefusalKinds
{
    /// <summary><c>manifest.json</c> missing a field, out of range, undecodable or not JSON.</summary>
    public const string Manifest = "manifest";

    /// <summary>The manifest's SHA-256 differs from the one recorded at promotion, or none was recorded.</summary>
    public const string ManifestDigest = "manifest_digest";

    /// <summary>A version (current.json, pin, manifest) that is not a plain name.</summary>
    public const string VersionName = "version_name";

    /// <summary>A bundle file or directory that is a link, FIFO, device or outside the bundle.</summary>
    public const string FileType = "file_type";

    /// <summary>A file whose size differs from the manifest's, or over <c>Models:MaxFileBytes</c>.</summary>
    public const string FileSize = "file_size";

    /// <summary>A file whose SHA-256 differs from the manifest's.</summary>
    public const string Checksum = "checksum";

    /// <summary>The bundle, its manifest or a listed file does not exist.</summary>
    public const string MissingFile = "missing_file";

    /// <summary>Trained on another feature spec or window length.</summary>
    public const string FeatureSpec = "feature_spec";

    /// <summary>The golden windows are not reproduced.</summary>
    public const string GoldenWindow = "golden_window";

    /// <summary>ONNX Runtime or libxgboost cannot load a model, or its shapes differ.</summary>
    public const string Model = "model";

    /// <summary>
    /// <c>Scoring:LstmPath</c> demands a serving path the bundle does not admit, or that does not reproduce its golden
    /// windows here (with <c>auto</c> the bundle is served on ONNX Runtime instead).
    /// </summary>
    public const string LstmPath = "lstm_path";

    /// <summary>Loading took longer than <c>Models:LoadTimeout</c>.</summary>
    public const string Timeout = "timeout";

    /// <summary>Anything else (an unexpected error while loading).</summary>
    public const string Other = "other";

    /// <summary>Every class, in declaration order (the counter is recorded at 0 for each, so each has a series).</summary>
    public static IReadOnlyList<string> All { get; } =
        [Manifest, ManifestDigest, VersionName, FileType, FileSize, Checksum, MissingFile, FeatureSpec, GoldenWindow, LstmPath, Model, Timeout, Other];
}

/// <summary>Why a bundle was refused; the serving bundle is unaffected.</summary>
public sealed class BundleRejectedException : Exception
{
    /// <summary>A refusal of <paramref name="version"/>, classed as <paramref name="kind"/> (<see cref="RefusalKinds"/>).</summary>
    public BundleRejectedException(string version, string reason, string kind, Exception? inner = null)
        : base($"Bundle {BundleNames.Printable(version ?? "")} refused: {reason}", inner)
    {
        Version = version ?? "";
        Reason = reason;
        Kind = kind;
    }

    /// <summary>A refusal classed <see cref="RefusalKinds.Other"/>.</summary>
    public BundleRejectedException(string version, string reason, Exception? inner = null)
        : this(version, reason, RefusalKinds.Other, inner)
    {
    }

    /// <summary>The refused version (or directory name), as given: print it with <see cref="BundleNames.Printable"/>.</summary>
    public string Version { get; }

    /// <summary>The reason, for logs.</summary>
    public string Reason { get; }

    /// <summary>The class of reason (<see cref="RefusalKinds"/>), for metrics.</summary>
    public string Kind { get; }
}

/// <summary>Options for loading a bundle.</summary>
public sealed record BundleLoadOptions
{
    /// <summary>Default <see cref="MaxFileBytes"/>: 512 MiB.</summary>
    public const long DefaultMaxFileBytes = 512L << 20;

    /// <summary>Default <see cref="LoadTimeout"/>: 60 s.</summary>
    public static readonly TimeSpan DefaultLoadTimeout = TimeSpan.FromSeconds(60);

    /// <summary>LSTM device.</summary>
    public InferenceDevice Device { get; init; } = InferenceDevice.Cpu;

    /// <summary>CUDA device id.</summary>
    public int DeviceId { get; init; }

    /// <summary>The LSTM serving path asked for (<c>Scoring:LstmPath</c>; <see cref="LstmPathChoice.Auto"/> by default).</summary>
    public LstmPathChoice LstmPath { get; init; } = LstmPathChoice.Auto;

    /// <summary>Cores one LSTM run may use on CPU, either path (<c>Scoring:LstmThreads</c>; 0: every core).</summary>
    public int LstmThreads { get; init; }

    /// <summary>Tolerance of the golden-window check (absolute, on probabilities).</summary>
    public double GoldenTolerance { get; init; } = 1e-5;

    /// <summary>Batch size of the warm-up runs (the serving batch size); 0 skips warm-up.</summary>
    public int WarmupBatch { get; init; } = 256;

    /// <summary>OpenMP threads per XGBoost prediction (0: libxgboost's default).</summary>
    public int XgbThreads { get; init; } = 1;

    /// <summary>
    /// Which evaluator scores the trees (<c>Scoring:Trees</c>): <see cref="TreeEvaluator.Auto"/> takes the managed one
    /// when it reproduces libxgboost on the golden windows and probe rows and is faster; <see cref="TreeEvaluator.Managed"/>
    /// refuses a bundle it cannot reproduce; <see cref="TreeEvaluator.Libxgboost"/> never tries it.
    /// </summary>
    public TreeEvaluator Trees { get; init; } = TreeEvaluator.Auto;

    /// <summary>Largest bundle file accepted, checked before it is read (<c>Models:MaxFileBytes</c>).</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    /// <summary>
    /// Longest a load may take, from the first read to the end of warm-up (<c>Models:LoadTimeout</c>);
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever. A load past it is refused and abandoned on its thread.
    /// </summary>
    public TimeSpan LoadTimeout { get; init; } = DefaultLoadTimeout;

    /// <summary>Called as each step of a load begins (<c>manifest</c>, <c>hash FILE</c>, <c>models</c>, <c>trees</c>, <c>golden</c>, <c>warmup</c>); for tests.</summary>
    internal Action<string>? OnStep { get; init; }

    /// <summary>Changes the XGBoost JSON the managed tree evaluator is compiled from; for tests that provoke a mismatch.</summary>
    internal Func<byte[], byte[]>? EditTreesJson { get; init; }
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
/// treats the bundle as untrusted input (docs/ARCHITECTURE.md "Model bundle and registry"): the manifest against its
/// recorded digest and every field of it, each file a regular file of the stated size before its SHA-256, the
/// feature spec against the one the scorer runs, the ONNX input/output shapes, the XGBoost feature count, the golden
/// windows reproduced, then a warm-up — all within a timeout, and any failure is a <see cref="BundleRejectedException"/>.
/// Scoring is thread-safe.
/// </summary>
public sealed class ModelBundle : IDisposable
{
    private readonly Booster _xgb;
    private OnnxLstm? _lstm;      // ONNX Runtime: the reference, and the path unless _managed is set (then disposed after load)
    private ManagedLstm? _managed; // a managed path (_managedPath), when chosen and verified at load
    private string? _managedPath;
    private readonly TreeChoice _trees;
    private readonly ManagedTreeEnsemble? _managedTrees;
    private readonly ExplainerChoice _explainer;

    private ModelBundle(string directory, BundleManifest manifest, FeatureSpec spec, OnnxLstm lstm, Booster xgb, TreeChoice trees, ExplainerChoice explainer)
    {
        _explainer = explainer;
        Directory = directory;
        Manifest = manifest;
        Spec = spec;
        _lstm = lstm;
        _xgb = xgb;
        LstmProvider = lstm.Provider;
        CudaUnavailableReason = lstm.CudaUnavailableReason;
        _trees = trees;
        _managedTrees = trees.Managed;
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
    public string LstmProvider { get; }

    /// <summary>Why CUDA was not used, when it was asked for and unavailable.</summary>
    public string? CudaUnavailableReason { get; }

    /// <summary>The LSTM serving path in use: <see cref="LstmPaths.OnnxRuntime"/>, <see cref="LstmPaths.ManagedFp32"/>, <see cref="LstmPaths.ManagedInt16"/> or <see cref="LstmPaths.ManagedBf16"/>.</summary>
    public string LstmPath => _managedPath ?? LstmPaths.OnnxRuntime;

    /// <summary>The managed LSTM serving the bundle (null on ONNX Runtime): its step counts, and the harness's A/B switch.</summary>
    internal ManagedLstm? ManagedLstm => _managed;

    /// <summary>
    /// Why faster LSTM paths were not used on CPU under <see cref="LstmPathChoice.Auto"/>, each with its reason, and
    /// the path that serves instead (null when the fastest candidate serves, or not applicable).
    /// </summary>
    public string? LstmPathNote { get; private set; }

    /// <summary>The XGBoost model (libxgboost: explanations, and scoring unless <see cref="Trees"/> is managed).</summary>
    public Booster Xgb => _xgb;

    /// <summary>Which evaluator scores the trees: <see cref="TreeEvaluator.Managed"/> or <see cref="TreeEvaluator.Libxgboost"/>.</summary>
    public TreeEvaluator Trees => _trees.Evaluator;

    /// <summary>How <see cref="Trees"/> was chosen (what was compared and timed), for the load log.</summary>
    public TreeChoice TreeChoice => _trees;

    /// <summary>What computes the XGBoost contributions that explain alerts (<see cref="Explain"/>), and why.</summary>
    public ExplainerChoice Explainer => _explainer;

    /// <summary>SHA-256 of the manifest bytes this bundle was loaded from (lower-case hex).</summary>
    public string ManifestSha256 { get; private init; } = "";

    /// <summary>
    /// Loads and verifies a bundle directory for a scorer running <paramref name="servingSpec"/>, on a thread of its
    /// own within <see cref="BundleLoadOptions.LoadTimeout"/>. When <paramref name="expectedManifestSha256"/> is given
    /// (the digest <c>current.json</c> recorded at promotion), the manifest must hash to it.
    /// </summary>
    /// <exception cref="BundleRejectedException">Anything wrong with the bundle, with the reason; no other exception escapes.</exception>
    public static ModelBundle Load(string directory, FeatureSpec servingSpec, BundleLoadOptions? options = null, string? expectedManifestSha256 = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(servingSpec);
        options ??= new BundleLoadOptions();
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var timeout = options.LoadTimeout;
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            return LoadGuarded(name, directory, servingSpec, options, expectedManifestSha256, CancellationToken.None);
        }

        // The load runs on its own thread so that the caller can give up on it: a read blocked in the kernel (a hung
        // network file system, a file swapped for a FIFO after it was inspected) or a native call that never returns
        // cannot be cancelled, so it is abandoned, not awaited. The token stops a merely slow load at its next step or
        // chunk; a load that finishes after all is disposed at once.
        using var abandon = new CancellationTokenSource();
        var done = new TaskCompletionSource<ModelBundle>(TaskCreationOptions.RunContinuationsAsynchronously);
        var token = abandon.Token;
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(LoadGuarded(name, directory, servingSpec, options, expectedManifestSha256, token));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { Name = $"bundle-load {name}", IsBackground = true };
        thread.Start();
        if (!((IAsyncResult)done.Task).AsyncWaitHandle.WaitOne(timeout))
        {
            abandon.Cancel();
            _ = done.Task.ContinueWith(
                t =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        t.Result.Dispose();
                    }
                    else
                    {
                        _ = t.Exception; // observed: nobody waits for an abandoned load
                    }
                },
                CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            throw new BundleRejectedException(name,
                $"loading took longer than {timeout.TotalSeconds:0.###} s (Models:LoadTimeout) and was abandoned; its thread is left behind because a " +
                "blocked read cannot be cancelled. Check the storage of the registry (a hung mount, a file that never delivers data), or raise " +
                "Models:LoadTimeout for a very large model",
                RefusalKinds.Timeout);
        }

        return done.Task.GetAwaiter().GetResult();
    }

    private static ModelBundle LoadGuarded(string name, string directory, FeatureSpec servingSpec, BundleLoadOptions options, string? expectedManifestSha256, CancellationToken cancellationToken)
    {
        try
        {
            return LoadVerified(name, directory, servingSpec, options, expectedManifestSha256, cancellationToken);
        }
        catch (BundleRejectedException)
        {
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw; // abandoned after its timeout: nobody waits for this outcome
        }
        catch (Exception e) when (e is InvalidDataException or XgbException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new BundleRejectedException(name, e.Message, RefusalKinds.Model, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BundleRejectedException(name, $"reading the bundle failed: {e.Message}", RefusalKinds.MissingFile, e);
        }
        catch (Exception e)
        {
            // A bundle is untrusted input: whatever it provokes is a refusal, never an exception that stops the
            // watcher or the scorer. The type is kept in the reason so that a real bug stays visible.
            throw new BundleRejectedException(name, $"unexpected {e.GetType().Name} while loading: {e.Message}", RefusalKinds.Other, e);
        }
    }

    private static ModelBundle LoadVerified(string name, string directory, FeatureSpec servingSpec, BundleLoadOptions options, string? expectedManifestSha256, CancellationToken cancellationToken)
    {
        Step(options, "manifest", cancellationToken);
        var dir = BundleFiles.Inspect(directory);
        if (dir.Kind != FileKind.Directory)
        {
            throw dir.Kind == FileKind.Missing
                ? new BundleRejectedException(name, $"no bundle directory {directory}", RefusalKinds.MissingFile)
                : new BundleRejectedException(name, $"{directory} is a {dir.Description}, not a directory; a version must be a real directory inside the registry", RefusalKinds.FileType);
        }

        var manifestPath = Path.Combine(directory, BundleManifest.FileName);
        switch (BundleFiles.RegularFileProblem(manifestPath, BundleManifest.FileName, null, ManifestValidator.MaxManifestBytes, out var manifestEntry))
        {
            case null:
                break;
            case var _ when manifestEntry.Kind == FileKind.Missing:
                throw new BundleRejectedException(name, $"no {BundleManifest.FileName} in {directory} (missing, or the directory is still being written)", RefusalKinds.MissingFile);
            case var problem:
                throw new BundleRejectedException(name, problem, manifestEntry.Kind == FileKind.Regular ? RefusalKinds.FileSize : RefusalKinds.FileType);
        }

        var manifestBytes = BundleFiles.ReadExactly(manifestPath, manifestEntry.Length, cancellationToken);
        var manifestSha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(manifestBytes));
        if (expectedManifestSha256 is not null && !string.Equals(manifestSha, expectedManifestSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BundleRejectedException(name,
                $"{BundleManifest.FileName} has SHA-256 {manifestSha} but {BundleRegistry.CurrentFile} recorded {BundleNames.Printable(expectedManifestSha256)} " +
                "when the version was promoted: the manifest was changed or replaced since. Restore it, or check the bundle and promote it again " +
                "('models promote VERSION' records the new digest)",
                RefusalKinds.ManifestDigest);
        }

        var manifest = ManifestValidator.Parse(manifestBytes, options.MaxFileBytes, out var problems)
            ?? throw new BundleRejectedException(name, $"{BundleManifest.FileName}: {string.Join("; ", problems)}",
                problems.Any(p => p.StartsWith("version ", StringComparison.Ordinal)) ? RefusalKinds.VersionName : RefusalKinds.Manifest);
        var version = manifest.Version;

        var f = manifest.FeatureSpec;
        if (!servingSpec.Matches(f.Name, f.Version, f.Dimension, f.Hash))
        {
            throw new BundleRejectedException(version,
                $"feature spec {f.Name} v{f.Version} (dimension {f.Dimension}, hash {f.Hash[..Math.Min(12, f.Hash.Length)]}) differs from the scorer's " +
                $"{servingSpec.Name} v{servingSpec.Version} (dimension {servingSpec.Dimension}, hash {servingSpec.ContentHash[..12]}); " +
                "train the bundle on this spec or run a scorer with the bundle's spec",
                RefusalKinds.FeatureSpec);
        }

        if (manifest.SequenceLength != FeatureSpec.WindowLength)
        {
            throw new BundleRejectedException(version, $"sequence length {manifest.SequenceLength}; the scorer keeps windows of {FeatureSpec.WindowLength}", RefusalKinds.FeatureSpec);
        }

        // Every file: a plain name (checked with the manifest), a regular file directly in the bundle directory, of
        // exactly the size the manifest states and under the cap — all before a byte of it is read — then its
        // SHA-256 over exactly that many bytes. The two models are kept in memory and loaded from the verified bytes.
        var full = Path.GetFullPath(directory);
        byte[]? lstmBytes = null, xgbBytes = null;
        foreach (var (file, expected) in manifest.Files.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var path = Path.GetFullPath(Path.Combine(full, file));
            if (!string.Equals(Path.GetDirectoryName(path), Path.TrimEndingDirectorySeparator(full), StringComparison.Ordinal))
            {
                throw new BundleRejectedException(version, $"file {BundleNames.Printable(file)} resolves outside the bundle directory", RefusalKinds.FileType);
            }

            if (BundleFiles.RegularFileProblem(path, $"file {file}", expected.Bytes, options.MaxFileBytes, out var entry) is { } problem)
            {
                throw entry.Kind switch
                {
                    FileKind.Missing => new BundleRejectedException(version, $"file {file} listed in the manifest is missing", RefusalKinds.MissingFile),
                    FileKind.Regular => new BundleRejectedException(version, problem, RefusalKinds.FileSize),
                    _ => new BundleRejectedException(version, problem, RefusalKinds.FileType),
                };
            }

            Step(options, $"hash {file}", cancellationToken);
            string actual;
            if (file == manifest.LstmFile || file == manifest.XgbFile)
            {
                var bytes = BundleFiles.ReadExactly(path, entry.Length, cancellationToken);
                actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
                if (file == manifest.LstmFile)
                {
                    lstmBytes = bytes;
                }

                if (file == manifest.XgbFile)
                {
                    xgbBytes = bytes;
                }
            }
            else
            {
                actual = BundleFiles.Sha256Exactly(path, entry.Length, cancellationToken);
            }

            if (!string.Equals(actual, expected.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new BundleRejectedException(version, $"checksum mismatch for {file}: manifest {expected.Sha256}, file {actual} (corrupt or modified)", RefusalKinds.Checksum);
            }
        }

        Step(options, "models", cancellationToken);
        OnnxLstm? lstm = null;
        Booster? xgb = null;
        try
        {
            lstm = OnnxLstm.Load(lstmBytes!, Path.Combine(directory, manifest.LstmFile), FeatureSpec.WindowLength, servingSpec.Dimension, options.Device, options.DeviceId, options.LstmThreads);
            xgb = Booster.Load(xgbBytes!, options.XgbThreads);
            if (xgb.NumFeatures != servingSpec.Dimension)
            {
                throw new InvalidDataException($"{manifest.XgbFile} expects {xgb.NumFeatures} features; the spec has {servingSpec.Dimension}");
            }

            Step(options, "trees", cancellationToken);
            var golden = GoldenNewestSteps(manifest, servingSpec);
            var model = new ForestSource(xgb, options.EditTreesJson);
            var trees = TreeSelection.Choose(xgb, manifest.XgbIterations, options.Trees, golden, options.WarmupBatch, model);
            var explainer = TreeSelection.ChooseExplainer(xgb, manifest.XgbIterations, options.Trees, golden, model);
            var bundle = new ModelBundle(directory, manifest, servingSpec, lstm, xgb, trees, explainer) { ManifestSha256 = manifestSha };
            var managedPaths = bundle.ChooseLstmPath(lstmBytes!, options);
            Step(options, "golden", cancellationToken);
            bundle.VerifyGoldenWindows(options, managedPaths);

            Step(options, "warmup", cancellationToken);
            bundle.WarmUp(options.WarmupBatch);
            return bundle;
        }
        catch (Exception e) when (e is InvalidDataException or XgbException or InvalidOperationException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            lstm?.Dispose();
            xgb?.Dispose();
            throw new BundleRejectedException(version, e.Message, RefusalKinds.Model, e);
        }
        catch
        {
            lstm?.Dispose();
            xgb?.Dispose();
            throw;
        }
    }

    private static void Step(BundleLoadOptions options, string step, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        options.OnStep?.Invoke(step);
    }

    /// <summary>
    /// Exact TreeSHAP contributions of <paramref name="rows"/> newest steps (row-major, F each) into
    /// <paramref name="destination"/> (rows × (F + 1), bias last; each row adds up to its XGBoost margin), from the
    /// rounds the bundle scores with, by the <see cref="Explainer"/> chosen at load.
    /// </summary>
    public void Explain(ReadOnlySpan<float> steps, int rows, Span<float> destination)
    {
        if (_explainer.Managed is { } shap)
        {
            shap.Contributions(steps, rows, destination);
        }
        else
        {
            _xgb.PredictContributions(steps, rows, destination, Manifest.XgbIterations);
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
        var newest = output.Newest ??= new float[output.Capacity * dim];
        var source = windows.Span;
        for (var i = 0; i < rows; i++)
        {
            source.Slice((i * windowSize) + windowSize - dim, dim).CopyTo(newest.AsSpan(i * dim, dim));
        }

        // The trees run beside the LSTM (they read the copy above, the LSTM the windows; each writes its own buffer):
        // on a parallel LSTM path they fill the cores its workers leave idle while the last chunks finish.
        var trees = Task.Run(() => ScoreTrees(newest, rows, output.Xgb));
        try
        {
            ScoreLstm(windows, rows, output.Lstm);
        }
        catch
        {
            // The buffers are the trees' until they are done; the LSTM's error is the one that goes up.
            trees.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
            throw;
        }

        trees.GetAwaiter().GetResult();

        var (wl, wx) = (Manifest.Ensemble.Lstm, Manifest.Ensemble.Xgb);
        for (var i = 0; i < rows; i++)
        {
            output.Ensemble[i] = (wl * output.Lstm[i]) + (wx * output.Xgb[i]);
        }
    }

    private void ScoreTrees(float[] newest, int rows, float[] margins)
    {
        if (_managedTrees is { } trees)
        {
            trees.Predict(newest.AsSpan(0, rows * Spec.Dimension), rows, margins); // compiled for the manifest's rounds
        }
        else
        {
            _xgb.PredictDense(newest.AsSpan(0, rows * Spec.Dimension), rows, margins, iterationEnd: Manifest.XgbIterations); // 0 = every tree, as the manifest says
        }
    }

    /// <summary>
    /// LSTM probabilities alone for <paramref name="rows"/> windows ([rows, 7, F]) on the path in use (explanations);
    /// a window's score does not depend on the other windows of the call.
    /// </summary>
    public void ScoreLstm(Memory<float> windows, int rows, Memory<float> scores)
    {
        if (_managed is { } managed)
        {
            managed.Run(windows, rows, scores);
        }
        else
        {
            (_lstm ?? throw new ObjectDisposedException(nameof(ModelBundle))).Run(windows, rows, scores);
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
        _lstm?.Dispose();
        _xgb.Dispose();
    }

    /// <summary>
    /// Lists the managed LSTM paths to try before the golden check: none on CUDA or when ONNX Runtime is asked for;
    /// the demanded path alone; under <see cref="LstmPathChoice.Auto"/> every <see cref="LstmPaths.Candidates"/> path
    /// (fastest first) the bundle admits (<see cref="LstmPaths.AdmissionProblem"/>) and the model allows (the trainer's
    /// graph). Under auto a path left out is a note; a demanded path left out refuses the bundle.
    /// </summary>
    private List<(string Path, ManagedLstm Lstm)> ChooseLstmPath(byte[] onnx, BundleLoadOptions options)
    {
        var chosen = new List<(string Path, ManagedLstm Lstm)>();
        if (options.LstmPath == LstmPathChoice.OnnxRuntime || (options.LstmPath == LstmPathChoice.Auto && LstmProvider != "CPU"))
        {
            return chosen;
        }

        IReadOnlyList<string> paths = LstmPaths.Name(options.LstmPath) is { } demanded ? [demanded] : LstmPaths.AutoCandidates;
        foreach (var path in paths)
        {
            string? problem;
            ManagedLstm? managed = null;
            if (LstmProvider != "CPU")
            {
                problem = $"the LSTM runs on {LstmProvider} and {path} is a CPU path";
            }
            else if (LstmPaths.RunProblem(path) is { } cannot)
            {
                problem = cannot; // before the bundle's record: the reason that holds for every bundle here
            }
            else if (LstmPaths.AdmissionProblem(Manifest, path) is { } refused)
            {
                problem = refused;
            }
            else
            {
                managed = ManagedLstm.TryCreate(onnx, FeatureSpec.WindowLength, Spec.Dimension, options.LstmThreads, LstmPaths.Precision(path), out problem);
            }

            if (managed is null)
            {
                NotUsed(options, path, problem ?? "unknown");
            }
            else
            {
                chosen.Add((path, managed));
            }
        }

        return chosen;
    }

    /// <summary>A managed path is not served: the bundle is refused when it was demanded, else the reason is noted.</summary>
    private void NotUsed(BundleLoadOptions options, string path, string problem)
    {
        if (LstmPaths.Name(options.LstmPath) == path)
        {
            throw new BundleRejectedException(Version,
                $"Scoring:LstmPath is {path} but {problem}; serve it with Scoring:LstmPath=auto (another admitted path or ONNX Runtime) or retrain it",
                RefusalKinds.LstmPath);
        }

        var note = $"{path} not used ({problem})";
        LstmPathNote = LstmPathNote is null ? note : $"{LstmPathNote}; {note}";
    }

    /// <summary>
    /// The golden check on the paths chosen, fastest first: the first managed path that passes serves (and the ONNX
    /// Runtime session is freed, nothing else runs on it); one that fails is dropped with its reason (auto) or refuses
    /// the bundle (demanded); with none left ONNX Runtime is checked and serves.
    /// </summary>
    private void VerifyGoldenWindows(BundleLoadOptions options, List<(string Path, ManagedLstm Lstm)> managedPaths)
    {
        foreach (var (path, managed) in managedPaths)
        {
            _managed = managed;
            _managedPath = path;
            try
            {
                VerifyGoldenWindows(options.GoldenTolerance, Math.Max(options.GoldenTolerance, LstmPaths.GoldenTolerance(path)));
                _lstm?.Dispose();
                _lstm = null;
                if (LstmPathNote is not null)
                {
                    LstmPathNote += $"; the LSTM runs on {path}";
                }

                return;
            }
            catch (InvalidDataException e)
            {
                _managed = null;
                _managedPath = null;
                NotUsed(options, path, $"it does not reproduce the golden windows here: {e.Message}");
            }
            catch (Exception e) when (e is not OperationCanceledException and not BundleRejectedException)
            {
                // A managed path that fails outright (a defect on some shape) must not cost the bundle ONNX Runtime.
                _managed = null;
                _managedPath = null;
                NotUsed(options, path, $"it failed on the golden windows: {e.GetType().Name}: {e.Message}");
            }
        }

        if (LstmPathNote is not null)
        {
            LstmPathNote += "; the LSTM runs on ONNX Runtime";
        }

        try
        {
            VerifyGoldenWindows(options.GoldenTolerance, options.GoldenTolerance);
        }
        catch (InvalidDataException e)
        {
            throw new BundleRejectedException(Version, e.Message, RefusalKinds.GoldenWindow, e);
        }
    }

    /// <summary>The newest step of each golden window of the right size, row after row (a malformed window is reported by the golden check).</summary>
    private static float[] GoldenNewestSteps(BundleManifest manifest, FeatureSpec spec)
    {
        var rows = new List<float>();
        foreach (var golden in manifest.GoldenWindows)
        {
            var window = golden.Decode();
            if (window.Length == spec.WindowSize)
            {
                rows.AddRange(window[(spec.WindowSize - spec.Dimension)..]);
            }
        }

        return [.. rows];
    }

    private void VerifyGoldenWindows(double tolerance, double lstmTolerance)
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

        var ensembleTolerance = Math.Max(tolerance, (Math.Abs(Manifest.Ensemble.Lstm) * lstmTolerance) + (Math.Abs(Manifest.Ensemble.Xgb) * tolerance));
        var scores = new ScoreBuffers(golden.Count);
        Score(windows, golden.Count, scores);
        for (var i = 0; i < golden.Count; i++)
        {
            var g = golden[i];
            // The LSTM path's own tolerance applies to the LSTM (and its share of the ensemble), never to the trees.
            var ok = Math.Abs(scores.Lstm[i] - g.Lstm) <= lstmTolerance && Math.Abs(scores.Xgb[i] - g.Xgb) <= tolerance
                && Math.Abs(scores.Ensemble[i] - g.Ensemble) <= ensembleTolerance;
            if (!ok)
            {
                throw new InvalidDataException(
                    $"golden window {i} not reproduced: lstm {scores.Lstm[i]:R} vs {g.Lstm:R}, xgb {scores.Xgb[i]:R} vs {g.Xgb:R}, " +
                    $"ensemble {scores.Ensemble[i]:R} vs {g.Ensemble:R} (tolerance {tolerance}{(lstmTolerance > tolerance ? $", {lstmTolerance} for the LSTM on {LstmPath}" : "")})");
            }
        }
    }

    private void WarmUp(int batch)
    {
        if (batch <= 0)
        {
            return;
        }

        // Windows with 1 to 7 non-zero steps, as real batches have: all-zero ones would start every window of the
        // managed LSTM at its last step (ManagedLstm.Run) and leave its other code paths cold.
        var windows = new float[batch * Spec.WindowSize];
        var steps = FeatureSpec.WindowLength;
        for (var r = 0; r < batch; r++)
        {
            var row = windows.AsSpan(r * Spec.WindowSize, Spec.WindowSize);
            for (var t = steps - 1 - (r % steps); t < steps; t++)
            {
                for (var f = 0; f < Spec.Dimension; f++)
                {
                    row[(t * Spec.Dimension) + f] = (0.25f * (((r + t + f) % 5) - 2)) + 0.1f; // never 0
                }
            }
        }

        var scores = new ScoreBuffers(batch);
        for (var i = 0; i < 3; i++)
        {
            Score(windows, batch, scores);
        }
    }
}
