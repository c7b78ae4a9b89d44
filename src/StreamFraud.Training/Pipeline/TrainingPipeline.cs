using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Training.Lstm.Onnx;
using StreamFraud.Training.Lstm;
using StreamFraud.XgBoost;

namespace StreamFraud.Training.Pipeline;

/// <summary>What a training run produced.</summary>
public sealed record TrainingOutcome
{
    /// <summary>The published version.</summary>
    public required string Version { get; init; }

    /// <summary><c>&lt;registry&gt;/&lt;version&gt;</c>.</summary>
    public required string BundleDirectory { get; init; }

    /// <summary>The manifest as written.</summary>
    public required BundleManifest Manifest { get; init; }

    /// <summary>The report as written.</summary>
    public required TrainingReport Report { get; init; }

    /// <summary>The new pointer when the run promoted the bundle; null otherwise.</summary>
    public CurrentPointer? Current { get; init; }
}

/// <summary>
/// The trainer: input → features and windows → split → LSTM and XGBoost → ensemble → thresholds and metrics →
/// bundle. The bundle is built in a hidden staging directory of the registry, loaded back with
/// <see cref="ModelBundle.Load"/> (the scorer's own verification: checksums, spec, shapes, golden windows) and only
/// then published by one rename; <see cref="TrainingOptions.Promote"/> then repoints <c>current.json</c>.
/// </summary>
public static class TrainingPipeline
{
    /// <summary>Runs one training.</summary>
    /// <exception cref="TrainingException">Anything the user can fix (input, dates, classes, missing libxgboost).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing is published.</exception>
    public static TrainingOutcome Run(TrainingOptions options, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        observer ??= NullTrainingObserver.Instance;
        var run = new Execution(options, observer, cancellationToken);
        return run.Execute();
    }

    /// <summary>The manifest's headline metrics: per split and model, the ranking metrics and the cost_min outcome.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>> Headline(
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, ModelMetrics>> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var result = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>>();
        foreach (var (split, models) in metrics)
        {
            var perModel = new Dictionary<string, IReadOnlyDictionary<string, double>>();
            foreach (var (model, m) in models)
            {
                var values = new Dictionary<string, double>
                {
                    ["roc_auc"] = m.RocAuc,
                    ["average_precision"] = m.AveragePrecision,
                };
                if (m.CardPrecisionAt100 is { } cp)
                {
                    values["card_precision_at_100"] = cp;
                }

                var c = m.Thresholds.CostMin;
                values["cost_min_threshold"] = c.Threshold;
                values["cost_min_precision"] = c.Precision;
                values["cost_min_recall"] = c.Recall;
                values["cost_min_cost"] = c.Cost;
                perModel[model] = values;
            }

            result[split] = perModel;
        }

        return result;
    }

    /// <summary>A version name: <c>yyyyMMdd-HHmmss-</c> and six hex digits of a hash of the models and input.</summary>
    public static string MakeVersion(DateTimeOffset createdAt, params string[] contentHashes)
    {
        ArgumentNullException.ThrowIfNull(contentHashes);
        var text = string.Join('\n', contentHashes) + "\n" + createdAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..6];
        return createdAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + hash;
    }

    /// <summary>Model inputs of one split.</summary>
    private sealed class SplitData
    {
        public SplitData(ExampleSource source, int[] examples)
        {
            var size = source.Spec.WindowSize;
            var d = source.Spec.Dimension;
            Count = examples.Length;
            Windows = new float[(long)Count * size];
            Newest = new float[(long)Count * d];
            Labels = new byte[Count];
            FloatLabels = new float[Count];
            for (var k = 0; k < Count; k++)
            {
                var i = examples[k];
                source.CopyWindow(i, Windows.AsSpan(k * size, size));
                source.Newest(i).CopyTo(Newest.AsSpan(k * d, d));
                Labels[k] = source.Label(i) > 0 ? (byte)1 : (byte)0;
                FloatLabels[k] = Labels[k];
            }

            Lstm = new LstmDataset(Windows, Labels, FeatureSpec.WindowLength, d);
        }

        public int Count { get; }

        /// <summary>[Count, 7, F]; dropped once the LSTM no longer needs it.</summary>
        public float[] Windows { get; private set; }

        public float[] Newest { get; }

        public byte[] Labels { get; }

        public float[] FloatLabels { get; }

        public LstmDataset Lstm { get; private set; }

        /// <summary>Lets the collector take the windows (the largest array of a run) once training is done.</summary>
        public void ReleaseWindows()
        {
            Windows = [];
            Lstm = null!;
        }
    }

    /// <summary>What the bundle's LSTM path check needs from the run: the scored paths and validation's XGBoost scores and labels.</summary>
    private sealed record Admission(LstmPathAdmission Paths, float[] ValidationXgb, byte[] ValidationLabels);

    private sealed class Execution(TrainingOptions options, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        private readonly List<string> _warnings = [];
        private readonly Dictionary<string, double> _timings = [];
        private readonly Stopwatch _total = Stopwatch.StartNew();

        public TrainingOutcome Execute()
        {
            try
            {
                XgbLibrary.EnsureLoaded();
            }
            catch (DllNotFoundException e)
            {
                throw new TrainingException(e.Message, e);
            }

            // 1. Features.
            var featuring = options.ToCsvFeaturing();
            var input = Stage(TrainingStage.Featurising, "featurise", $"reading {Path.GetFileName(options.InputPath)}",
                () => InputLoader.Load(options.InputPath, featuring, observer, cancellationToken),
                r => $"{r.Description.Rows:N0} rows, {r.Description.Frauds:N0} frauds, spec {r.Examples.Spec.Name} v{r.Examples.Spec.Version}" +
                     (r.Description.Labels is { } l ? $"; labels {l.Source} ({l.Applied:N0} applied, {l.Flipped:N0} flipped, {l.NotReached:N0} after the last transaction)" : ""));
            foreach (var w in input.Warnings)
            {
                Warn(w);
            }

            var source = input.Examples;
            var spec = source.Spec;

            // 2. Split.
            var mode = options.Split ?? (input.Description.Format == InputFormat.Npz ? SplitMode.Random : SplitMode.Time);
            if (mode == SplitMode.Random && input.Description.Format == InputFormat.Csv)
            {
                Warn("--split random on a CSV mixes periods: the models see the future of the test events, so the test " +
                     "figures are optimistic; use the default time split for figures you can trust");
            }

            if (options.Split is null && input.Description.Format == InputFormat.Npz)
            {
                Warn("an .npz has no event times: using the notebook's random split (--split random)");
            }

            var (plan, train, validation, test) = Stage(TrainingStage.Splitting, "split", "splitting",
                () =>
                {
                    var p = SplitPlanner.Plan(source, mode, options.Bounds, options.Seed);
                    return (p, new SplitData(source, p.Train), new SplitData(source, p.Validation), new SplitData(source, p.Test));
                },
                r => $"train {r.Item2.Count:N0}, validation {r.Item3.Count:N0}, test {r.Item4.Count:N0}");

            // 3. LSTM.
            var lstmOptions = options.ToLstmOptions();
            var lstm = Stage(TrainingStage.Lstm, "lstm",
                $"LSTM {options.Hidden1}/{options.Hidden2}, up to {options.Epochs} epochs on {train.Count:N0} windows",
                () => new LstmTrainer(lstmOptions).Train(train.Lstm, validation.Lstm, observer.EpochCompleted, cancellationToken),
                r => $"best epoch {r.BestEpoch} of {r.History.Count} ({r.StopReason}), validation AP {r.BestValidationAveragePrecision:0.0000}");
            var validationLstm = lstm.Model.Predict(validation.Windows, options.Threads);
            var testLstm = lstm.Model.Predict(test.Windows, options.Threads);

            // The serving paths' admission: the reference (ONNX Runtime fp32 on the exported model) and every faster
            // path score validation now, while its windows exist; the check itself needs the ensemble and the golden
            // windows and runs when the bundle is written.
            var onnx = LstmOnnxExporter.ToBytes(lstm.Model);
            var clock = Stopwatch.StartNew();
            LstmPathAdmission paths;
            try
            {
                paths = LstmPathAdmission.Score(onnx, validation.Windows, validation.Count, spec.Dimension, options.Threads);
            }
            catch (InvalidDataException e)
            {
                throw new TrainingException($"ONNX Runtime cannot load the exported LSTM ({e.Message}). This is a trainer bug; report it with the input file", e);
            }

            _timings["lstm_paths"] = clock.Elapsed.TotalSeconds;
            train.ReleaseWindows();
            validation.ReleaseWindows();
            test.ReleaseWindows();

            // 4. XGBoost on each window's newest vector.
            var d = spec.Dimension;
            var monotone = options.XgbMonotone == false ? null : XgbMonotone.For(spec);
            if (options.XgbMonotone == true && monotone is null)
            {
                Warn($"--xgb-monotone on: spec {spec.Name} v{spec.Version} has no label-history features to constrain; XGBoost is trained unconstrained");
            }

            var parameters = new XgbParameters
            {
                MonotoneConstraints = monotone,
                NumRounds = options.XgbRounds,
                EarlyStoppingRounds = options.XgbEarlyStoppingRounds,
                Seed = options.Seed,
                Threads = options.Threads ?? 0,
            };
            XgbTrainResult xgb;
            using (var dtrain = DMatrix.FromDense(train.Newest, train.Count, d, train.FloatLabels))
            using (var dvalidation = DMatrix.FromDense(validation.Newest, validation.Count, d, validation.FloatLabels))
            {
                xgb = Stage(TrainingStage.Xgb, "xgb", $"XGBoost, up to {options.XgbRounds} rounds on {train.Count:N0} rows" +
                    (monotone is null ? "" : $", monotone in {monotone.Count(c => c != 0)} label-history features"),
                    () => XgbTrainer.Train(dtrain, dvalidation, parameters,
                        (round, t, v) => observer.BoostingRound(round, options.XgbRounds, t, v), cancellationToken),
                    r => $"best round {r.BestIteration} of {r.RoundsTrained}, validation aucpr {r.BestScore:0.0000}");
            }

            using var booster = xgb.Booster;
            var iterations = xgb.BestIteration + 1;
            var validationXgb = booster.PredictDense(validation.Newest, validation.Count, iterationEnd: iterations);
            var testXgb = booster.PredictDense(test.Newest, test.Count, iterationEnd: iterations);

            // 5. Ensemble, thresholds, metrics.
            var (metrics, ensemble, testScores, scenarios) = Stage(TrainingStage.Evaluating, "evaluate",
                "thresholds and metrics",
                () => Evaluate(source, plan, validation, validationLstm, validationXgb, testLstm, testXgb),
                r => $"test AP ensemble {r.Item1[ModelNames.Test][ModelNames.Ensemble].AveragePrecision:0.0000}");

            var served = metrics[ModelNames.Validation][ModelNames.Ensemble].Thresholds;
            if (double.IsPositiveInfinity(served.CostMin.Threshold))
            {
                Warn("on validation the cheapest ensemble threshold flags nothing (cost_min = ∞): the models do not pay " +
                     $"for their false alarms at cost_fn {options.Thresholds.CostFalseNegative} / cost_fp {options.Thresholds.CostFalsePositive}");
            }

            // 6. Bundle.
            observer.StageStarted(TrainingStage.Bundling, "writing, self-checking and publishing the bundle");
            clock.Restart();
            var admission = new Admission(paths, validationXgb, validation.Labels);
            var outcome = Publish(input, plan, lstm, onnx, admission, xgb, booster, metrics, ensemble, testScores, scenarios, monotone);
            observer.StageCompleted(TrainingStage.Bundling, clock.Elapsed, $"published {outcome.Version}");
            return outcome;
        }

        private (Dictionary<string, IReadOnlyDictionary<string, ModelMetrics>>, ReportEnsemble, SplitScores, ScenarioReport?) Evaluate(
            ExampleSource source, SplitPlan plan, SplitData validation, float[] validationLstm, float[] validationXgb, float[] testLstm, float[] testXgb)
        {
            var ensemble = new ReportEnsemble { Lstm = 0.5, Xgb = 0.5 };
            if (options.SearchWeights)
            {
                var labels = validation.Labels.Select(b => b != 0).ToArray();
                var (w, trials) = Evaluator.SearchWeight(validationLstm, validationXgb, labels);
                ensemble = new ReportEnsemble { Lstm = w, Xgb = 1 - w, Searched = true, Search = trials };
            }

            var validationScores = new SplitScores(ModelNames.Validation, source, plan.Validation, validationLstm, validationXgb,
                SplitScores.Combine(validationLstm, validationXgb, ensemble.Lstm, ensemble.Xgb));
            var testScores = new SplitScores(ModelNames.Test, source, plan.Test, testLstm, testXgb,
                SplitScores.Combine(testLstm, testXgb, ensemble.Lstm, ensemble.Xgb));
            var metrics = Evaluator.Metrics(validationScores, testScores, options.Thresholds);
            var scenarios = source.HasScenarios ? Evaluator.Scenarios(testScores, metrics[ModelNames.Validation], ScenarioNames(source)) : null;
            return (metrics, ensemble, testScores, scenarios);
        }

        /// <summary>Every scenario of the input's frauds, so the report lists one that the test split happens to lack too.</summary>
        private static SortedSet<string> ScenarioNames(ExampleSource source)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < source.Count; i++)
            {
                if (source.Label(i) > 0 && source.Scenario(i) is { } name)
                {
                    names.Add(name);
                }
            }

            return names;
        }

        private TrainingOutcome Publish(
            LoadedInput input, SplitPlan plan, LstmTrainingResult lstm, byte[] onnx, Admission admission,
            XgbTrainResult xgb, Booster booster, Dictionary<string, IReadOnlyDictionary<string, ModelMetrics>> metrics,
            ReportEnsemble ensemble, SplitScores testScores, ScenarioReport? scenarios, int[]? monotone)
        {
            var source = input.Examples;
            var spec = source.Spec;
            var registry = new BundleRegistry(options.RegistryPath);
            string staging;
            try
            {
                staging = registry.CreateStagingDirectory();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TrainingException($"--registry {options.RegistryPath}: cannot create a bundle there ({e.Message})", e);
            }

            try
            {
                var createdAt = options.Clock.GetUtcNow();
                var lstmFile = Path.Combine(staging, "lstm.onnx");
                var xgbFile = Path.Combine(staging, "xgb.json");
                File.WriteAllBytes(lstmFile, onnx); // the bytes the serving paths were checked on
                booster.SaveModel(xgbFile);
                var version = MakeVersion(createdAt, BundleRegistry.Sha256(lstmFile), BundleRegistry.Sha256(xgbFile), input.Description.Sha256);

                IReadOnlyList<string> plots = [];
                if (options.Plots)
                {
                    try
                    {
                        plots = CurvePlots.Write(staging, testScores);
                    }
                    catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
                    {
                        Warn("the PR/ROC plots were skipped: SkiaSharp's native library could not be loaded " +
                             $"({e.GetBaseException().Message}); the package SkiaSharp.NativeAssets.Linux.NoDependencies provides it");
                    }
                }

                var d = spec.Dimension;
                (float[], float[]) Score(float[] windows, int count)
                {
                    var newest = new float[count * d];
                    for (var j = 0; j < count; j++)
                    {
                        windows.AsSpan(((j + 1) * spec.WindowSize) - d, d).CopyTo(newest.AsSpan(j * d, d));
                    }

                    return (lstm.Model.Predict(windows, options.Threads), booster.PredictDense(newest, count, iterationEnd: xgb.BestIteration + 1));
                }

                var golden = GoldenWindows.Build(source, plan.Test, options.GoldenWindows, options.Seed, Score, ensemble.Lstm, ensemble.Xgb);
                var lstmPaths = admission.Paths.Check(admission.ValidationXgb, admission.ValidationLabels, ensemble.Lstm, ensemble.Xgb, golden);
                foreach (var check in lstmPaths.Where(c => !c.Admitted))
                {
                    Warn($"the LSTM serving path {check.Path} is not admitted, so scorers serve this bundle on ONNX Runtime: {check.Reason}");
                }

                var specRef = new FeatureSpecRef(spec.Name, spec.Version, spec.Dimension, spec.ContentHash);
                var report = new TrainingReport
                {
                    Version = version,
                    CreatedAt = createdAt,
                    Data = input.Description,
                    Split = new ReportSplit
                    {
                        Mode = plan.Mode == SplitMode.Time ? "time" : "random",
                        Description = plan.Description,
                        Ranges = plan.TrainRange is { } tr
                            ? new Dictionary<string, ReportRange>
                            {
                                ["train"] = new(tr.From, tr.To),
                                [ModelNames.Validation] = new(plan.ValidationRange!.Value.From, plan.ValidationRange.Value.To),
                                [ModelNames.Test] = new(plan.TestRange!.Value.From, plan.TestRange.Value.To),
                            }
                            : null,
                        Counts = new Dictionary<string, SplitCounts>
                        {
                            ["train"] = SplitPlanner.Count(source, plan.Train),
                            [ModelNames.Validation] = SplitPlanner.Count(source, plan.Validation),
                            [ModelNames.Test] = SplitPlanner.Count(source, plan.Test),
                        },
                        ContextRows = plan.ContextRows,
                        UnusedRows = plan.UnusedRows,
                        Seed = plan.Seed,
                        Notes = plan.Notes,
                    },
                    Settings = new ReportSettings
                    {
                        Seed = options.Seed,
                        Epochs = options.Epochs,
                        Hidden1 = options.Hidden1,
                        Hidden2 = options.Hidden2,
                        Loss = options.Loss == LstmLossKind.Focal ? "focal" : "bce",
                        Oversample = options.OversampleRatio is { } ratio and > 0 ? ratio.ToString("R", CultureInfo.InvariantCulture) : "none",
                        XgbRounds = options.XgbRounds,
                        XgbEarlyStoppingRounds = options.XgbEarlyStoppingRounds,
                        XgbMonotone = monotone is not null,
                        XgbMonotoneConstraints = XgbMonotone.Named(spec, monotone),
                        CostFn = options.Thresholds.CostFalseNegative,
                        CostFp = options.Thresholds.CostFalsePositive,
                        TargetRecall = options.Thresholds.TargetRecall,
                        SearchWeights = options.SearchWeights,
                        FeatureSpec = specRef,
                    },
                    Ensemble = ensemble,
                    Thresholds = metrics[ModelNames.Validation].ToDictionary(
                        p => p.Key,
                        p => new ReportThresholds(p.Value.Thresholds.CostMin.Threshold, p.Value.Thresholds.BestF1.Threshold, p.Value.Thresholds.TargetRecall.Threshold)),
                    Metrics = metrics,
                    Scenarios = scenarios,
                    History = new ReportHistory
                    {
                        Lstm = new LstmHistory
                        {
                            BestEpoch = lstm.BestEpoch,
                            StopReason = lstm.StopReason,
                            Parameters = lstm.Model.ParameterCount,
                            Epochs = [.. lstm.History.Select(e => new EpochRow(e.Epoch, e.Loss, e.TrainAveragePrecision, e.ValidationAveragePrecision,
                                e.LearningRate, e.Sequences, e.SequencesPerSecond, e.EpochTime.TotalSeconds, e.Improved))],
                        },
                        Xgb = new XgbHistory
                        {
                            BestIteration = xgb.BestIteration,
                            BestScore = xgb.BestScore,
                            RoundsTrained = xgb.RoundsTrained,
                            StoppedEarly = xgb.StoppedEarly,
                            ScalePosWeight = xgb.ScalePosWeight,
                            Rounds = [.. xgb.History.Select(r => new RoundRow(r.Round, r.Train, r.Validation))],
                        },
                    },
                    TimingsSeconds = Timings(),
                    Plots = plots,
                    Warnings = _warnings,
                    LstmPaths = lstmPaths,
                };
                report.Write(Path.Combine(staging, TrainingReport.FileName));
                File.WriteAllText(Path.Combine(staging, MarkdownReport.FileName), MarkdownReport.Render(report), new UTF8Encoding(false));

                var served = metrics[ModelNames.Validation][ModelNames.Ensemble].Thresholds;
                var manifest = new BundleManifest
                {
                    Version = version,
                    CreatedAt = createdAt,
                    FeatureSpec = specRef,
                    SequenceLength = FeatureSpec.WindowLength,
                    Files = Directory.EnumerateFiles(staging)
                        .Where(f => Path.GetFileName(f) != BundleManifest.FileName)
                        .Order(StringComparer.Ordinal)
                        .ToDictionary(f => Path.GetFileName(f), f => new BundleFile(BundleRegistry.Sha256(f), new FileInfo(f).Length)),
                    XgbIterations = xgb.BestIteration + 1,
                    Ensemble = new EnsembleWeights(ensemble.Lstm, ensemble.Xgb),
                    Thresholds = new BundleThresholds
                    {
                        BestF1 = served.BestF1.Threshold,
                        CostMin = new CostThreshold(served.CostMin.Threshold, options.Thresholds.CostFalseNegative, options.Thresholds.CostFalsePositive),
                        TargetRecall = new RecallThreshold(served.TargetRecall.Threshold, options.Thresholds.TargetRecall),
                    },
                    DefaultPolicy = ThresholdPolicyNames.CostMin,
                    Metrics = Headline(metrics),
                    TrainingData = new TrainingDataInfo
                    {
                        Source = input.Description.FileName,
                        Rows = input.Description.Rows,
                        Frauds = input.Description.Frauds,
                        From = input.Description.From,
                        To = input.Description.To,
                        Sha256 = input.Description.Sha256,
                        Split = plan.Description,
                    },
                    GoldenWindows = golden,
                    LstmPaths = lstmPaths,
                };
                manifest.Write(Path.Combine(staging, BundleManifest.FileName));

                // Self-check: exactly what a scorer does before serving, before anyone can see the bundle.
                try
                {
                    using var check = ModelBundle.Load(staging, spec, new BundleLoadOptions { WarmupBatch = 16 });
                }
                catch (BundleRejectedException e)
                {
                    throw new TrainingException(
                        $"the new bundle failed its self-check and was not published: {e.Reason}. This is a trainer bug; report it with the input file", e);
                }

                string directory;
                try
                {
                    directory = registry.Publish(staging, version);
                }
                catch (IOException e)
                {
                    throw new TrainingException($"publishing {version} failed: {e.Message}", e);
                }

                var current = options.Promote ? registry.Promote(version, "trained and promoted by StreamFraud.Trainer") : null;
                return new TrainingOutcome { Version = version, BundleDirectory = directory, Manifest = manifest, Report = report, Current = current };
            }
            catch
            {
                TryDelete(staging);
                throw;
            }
        }

        private Dictionary<string, double> Timings()
        {
            var result = new Dictionary<string, double>(_timings)
            {
                ["total_until_report"] = _total.Elapsed.TotalSeconds,
            };
            return result;
        }

        private T Stage<T>(TrainingStage stage, string key, string description, Func<T> work, Func<T, string> summary)
        {
            cancellationToken.ThrowIfCancellationRequested();
            observer.StageStarted(stage, description);
            var clock = Stopwatch.StartNew();
            var result = work();
            _timings[key] = clock.Elapsed.TotalSeconds;
            observer.StageCompleted(stage, clock.Elapsed, summary(result));
            return result;
        }

        private void Warn(string message)
        {
            _warnings.Add(message);
            observer.Warning(message);
        }

        private static void TryDelete(string directory)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A leftover hidden .staging-* directory is never listed as a version; nothing else to do.
            }
        }
    }
}
