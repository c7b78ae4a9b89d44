using System.Diagnostics;
using System.Globalization;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Trees;
using StreamFraud.Sim.Generation;

/// <summary>
/// The XGBoost stage alone and the whole model stage of one batch, libxgboost against the managed evaluator, with a
/// production-size bundle (300 trees of depth 6, LSTM 128/64): µs per batch and rows/s, medians of runs that alternate
/// between the two so that both see the same machine. Rows are real featurised events (the newest step of each window).
/// </summary>
internal static class TreesHarness
{
    public static void Run(string[] args)
    {
        var batchSize = Opt(args, "--batch", 512);
        var runs = Opt(args, "--runs", 15);
        var spec = SpecOption(args);
        var events = Events();
        var dir = Directory.CreateTempSubdirectory("sf-trees-bench-").FullName;
        try
        {
            ScoringHarness.BuildBundle(dir, spec, events).Dispose();
            using var lib = ModelBundle.Load(dir, spec, new BundleLoadOptions { WarmupBatch = batchSize, Trees = TreeEvaluator.Libxgboost });
            using var managed = ModelBundle.Load(dir, spec, new BundleLoadOptions { WarmupBatch = batchSize, Trees = TreeEvaluator.Managed });
            using var auto = ModelBundle.Load(dir, spec, new BundleLoadOptions { WarmupBatch = batchSize });
            var trees = managed.TreeChoice.Managed!;

            // Windows of events 50,000 on (the trees were trained on the first 50,000), and their newest steps.
            var set = TrainingSet.Build(spec, events);
            var windows = new float[batchSize * spec.WindowSize];
            var rows = new float[batchSize * spec.Dimension];
            for (var i = 0; i < batchSize; i++)
            {
                var w = windows.AsSpan(i * spec.WindowSize, spec.WindowSize);
                set.CopyWindow(set.Count - batchSize + i, w);
                w[^spec.Dimension..].CopyTo(rows.AsSpan(i * spec.Dimension));
            }

            var output = new float[batchSize];
            var scores = new ScoreBuffers(batchSize);
            var cases = new (string Name, Action Run)[]
            {
                ("trees, libxgboost", () => lib.Xgb.PredictDense(rows, batchSize, output, iterationEnd: lib.Manifest.XgbIterations)),
                ("trees, managed", () => trees.Predict(rows, batchSize, output)),
                ("models, libxgboost trees", () => lib.Score(windows, batchSize, scores)),
                ("models, managed trees", () => managed.Score(windows, batchSize, scores)),
                ("LSTM alone", () => managed.ScoreLstm(windows, batchSize, scores.Lstm)),
            };
            var times = cases.Select(_ => new List<double>()).ToArray();
            foreach (var (_, run) in cases)
            {
                run(); // first calls outside the figures
            }

            for (var r = 0; r < runs; r++)
            {
                for (var c = 0; c < cases.Length; c++)
                {
                    // Each run: as many batches as fit in 200 ms, at least 3.
                    var clock = Stopwatch.StartNew();
                    var n = 0;
                    while (n < 3 || clock.ElapsedMilliseconds < 200)
                    {
                        cases[c].Run();
                        n++;
                    }

                    times[c].Add(clock.Elapsed.TotalMicroseconds / n);
                }
            }

            var median = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"trees: {trees.Description}, {spec.Dimension} features, batch {batchSize}, {runs} alternating runs, {Environment.ProcessorCount} cores, libxgboost {lib.Xgb.BoostedRounds} rounds at 1 thread; auto chose {TreeEvaluatorNames.Name(auto.Trees)}"));
            for (var c = 0; c < cases.Length; c++)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {cases[c].Name,-26} median {median[c],9:N1} us/batch  {batchSize / median[c] * 1e6,12:N0} rows/s   (min {times[c].Min():N1}, max {times[c].Max():N1})"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  trees: managed {median[0] / median[1]:F1}x libxgboost; the trees run beside the LSTM ({median[4]:N0} us/batch alone), so their own time is {median[0] / (median[0] + median[4]) * 100:F0}% of LSTM + trees with libxgboost and {median[1] / (median[1] + median[4]) * 100:F0}% with the managed evaluator"));
            Console.WriteLine($"  load-time choice: {auto.TreeChoice.Reason}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Alert explanations: libxgboost's exact TreeSHAP (<c>pred_contribs</c>, a DMatrix per call, the trainer's library)
    /// against the managed <see cref="TreeShap"/> on the same rows of the production-size bundle, per call of 1, 4 and
    /// 16 alerts (an alert burst), medians of alternating runs; and the largest |difference| between the two on every row.
    /// </summary>
    public static void RunShap(string[] args)
    {
        var runs = Opt(args, "--runs", 7);
        var spec = SpecOption(args);
        var events = Events();
        var dir = Directory.CreateTempSubdirectory("sf-shap-bench-").FullName;
        try
        {
            ScoringHarness.BuildBundle(dir, spec, events).Dispose();
            using var bundle = ModelBundle.Load(dir, spec, new BundleLoadOptions { WarmupBatch = 64, Trees = TreeEvaluator.Libxgboost });
            var end = bundle.Manifest.XgbIterations;
            var forest = XgbForest.Parse(bundle.Xgb.SaveModelToBuffer("json"));
            var shap = TreeShap.Compile(forest, end);
            const int most = 16;
            var set = TrainingSet.Build(spec, events);
            var window = new float[spec.WindowSize];
            var rows = new float[most * spec.Dimension];
            for (var i = 0; i < most; i++)
            {
                set.CopyWindow(set.Count - 1 - (i * 97), window);
                window.AsSpan(spec.WindowSize - spec.Dimension).CopyTo(rows.AsSpan(i * spec.Dimension));
            }

            var width = spec.Dimension + 1;
            var lib = new float[most * width];
            var own = new float[most * width];
            bundle.Xgb.PredictContributions(rows, most, lib, end);
            shap.Contributions(rows, most, own);
            var worst = 0.0;
            for (var k = 0; k < lib.Length; k++)
            {
                worst = Math.Max(worst, Math.Abs((double)lib[k] - own[k]));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"shap: {shap.Trees} trees, depth {shap.Depth}, {spec.Dimension} features, {runs} alternating runs, {Environment.ProcessorCount} cores; max |managed - libxgboost| {worst:G3} over {most} rows"));
            foreach (var count in new[] { 1, 4, most })
            {
                var (libTimes, ownTimes) = (new List<double>(), new List<double>());
                for (var r = 0; r < runs; r++)
                {
                    libTimes.Add(Time(() => bundle.Xgb.PredictContributions(rows.AsSpan(0, count * spec.Dimension), count, lib, end)));
                    ownTimes.Add(Time(() => shap.Contributions(rows.AsSpan(0, count * spec.Dimension), count, own)));
                }

                var (l, o) = (libTimes.Order().ElementAt(runs / 2), ownTimes.Order().ElementAt(runs / 2));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {count,2} alerts per call: libxgboost {l,9:N1} us ({l / count,8:N1} per alert), managed {o,9:N1} us ({o / count,8:N1} per alert): {l / o:F1}x"));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>µs per call of <paramref name="run"/>: as many calls as fit in 200 ms, at least 3.</summary>
    private static double Time(Action run)
    {
        run();
        var clock = Stopwatch.StartNew();
        var n = 0;
        while (n < 3 || clock.ElapsedMilliseconds < 200)
        {
            run();
            n++;
        }

        return clock.Elapsed.TotalMicroseconds / n;
    }

    /// <summary><c>--spec v1|v2</c> (default v1).</summary>
    private static FeatureSpec SpecOption(string[] args) => Str(args, "--spec") switch
    {
        null or "v1" => FeatureSpec.CardV1,
        "v2" => FeatureSpec.CardV2,
        var other => throw new ArgumentException($"--spec must be v1 or v2, not '{other}'."),
    };

    /// <summary>The 60,000 events both harnesses train on (the first 50,000) and take rows from.</summary>
    private static List<StreamFraud.Core.Transaction> Events() =>
        new TransactionSimulator(new SimulationOptions { Cards = 20_000, Days = 7, Seed = 3 }).Generate().Take(60_000).ToList();

    private static int Opt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? Str(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
