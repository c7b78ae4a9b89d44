using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Redis;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Trees;
using StreamFraud.Sim.Generation;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;
using StreamFraud.XgBoost;

/// <summary>
/// The scoring path's throughput and batch latency with a production-size bundle (LSTM 128/64 on the spec's features,
/// 300 XGBoost trees of depth 6) for spec <c>card</c> v1 or v2 (--spec): in-memory state, or a Redis server with
/// --redis. Untrained weights cost the same as trained ones. --lstm-path both alternates ONNX Runtime and the managed
/// fp32 path in one run (the bundle records the trainer's admission check, computed the trainer's way).
/// </summary>
internal static class ScoringHarness
{
    public static async Task Run(string[] args)
    {
        var batchSize = Opt(args, "--batch", 512);
        var count = Opt(args, "--events", 100_000);
        var warmEvents = Opt(args, "--warm-events", 0);
        var rounds = Opt(args, "--rounds", 3);
        var redis = Str(args, "--redis");
        var warmup = Opt(args, "--warmup", 2);
        var lstmThreads = Opt(args, "--lstm-threads", 0);
        var slowMs = Opt(args, "--slow-ms", 0);
        FeatureSpec[] specs = Str(args, "--spec") switch
        {
            null or "v1" => [FeatureSpec.CardV1],
            "v2" => [FeatureSpec.CardV2],
            "both" => [FeatureSpec.CardV1, FeatureSpec.CardV2],
            var other => throw new ArgumentException($"--spec must be v1, v2 or both, not '{other}'."),
        };
        var pathText = Str(args, "--lstm-path") ?? "auto";
        // A comma list of paths alternates them in one run; "both" is onnxruntime,managed_fp32.
        var pathNames = (pathText == "both" ? "onnxruntime,managed_fp32" : pathText).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var paths = pathNames.Select(p => LstmPaths.TryParseChoice(p, out var one) ? one
            : throw new ArgumentException($"--lstm-path must be {LstmPaths.ChoiceList}, both, or a comma list of them, not '{pathText}'.")).ToArray();
        var treesText = Str(args, "--trees") ?? "auto";
        if (!TreeEvaluatorNames.TryParse(treesText, out var trees))
        {
            throw new ArgumentException($"--trees must be auto, managed or libxgboost, not '{treesText}'.");
        }

        bool[] zeroSkips = (Str(args, "--zero-steps") ?? "skip") switch
        {
            "skip" => [true],
            "run" => [false],
            "both" => [false, true],
            var other => throw new ArgumentException($"--zero-steps must be skip, run or both, not '{other}'."),
        };
        bool[] overlaps = (Str(args, "--overlap") ?? "on") switch
        {
            "on" => [true],
            "off" => [false],
            "both" => [false, true],
            var other => throw new ArgumentException($"--overlap must be on, off or both, not '{other}'."),
        };
        // The bundle is always trained on the stream's first 50,000 events (fewer may hold no fraud at all, which
        // libxgboost refuses); the first --events of the same stream are scored.
        // --warm-events N: each round first applies the N events before the measured ones to the same store, unmeasured,
        // so cards start with a history (the default, 0, measures the simulation's first events: mostly new cards).
        var history = new TransactionSimulator(new SimulationOptions { Cards = 20_000, Days = warmEvents > 0 ? 21 : 7, Seed = 3 }).Generate().Take(Math.Max(warmEvents + count, 50_000)).ToList();
        var warm = history.Take(warmEvents).ToList();
        var events = history.Skip(warmEvents).Take(count).ToList();
        if (events.Count < count)
        {
            throw new ArgumentException($"the simulation has {history.Count:N0} events: fewer than --warm-events + --events.");
        }
        var dir = Directory.CreateTempSubdirectory("sf-bench-").FullName;
        try
        {
            var bundles = new List<ModelBundle>();
            foreach (var spec in specs)
            {
                var specDir = Directory.CreateDirectory(Path.Combine(dir, $"v{spec.Version}")).FullName;
                // Trees from the first 50,000 events, or with --warm-events the last 50,000 (a 3-week simulation's first days hold no fraud).
                BuildBundle(specDir, spec, warm.Count > 0 ? history.Skip(Math.Max(0, history.Count - 50_000)).ToList() : history).Dispose();
                foreach (var p in paths)
                {
                    foreach (var skip in zeroSkips)
                    {
                        var bundle = ModelBundle.Load(specDir, spec, new BundleLoadOptions { WarmupBatch = batchSize, LstmPath = p, Trees = trees, LstmThreads = lstmThreads });
                        if (bundle.ManagedLstm is { } managed)
                        {
                            managed.SkipLeadingZeroSteps = skip;
                        }
                        else if (skip && zeroSkips.Length > 1)
                        {
                            bundle.Dispose(); // ONNX Runtime runs every step: one mode is enough
                            continue;
                        }

                        bundles.Add(bundle);
                    }
                }
            }

            using var mux = redis is null ? null : await ConnectionMultiplexer.ConnectAsync(redis + ",allowAdmin=true"); // admin: INFO cpu
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scoring: {events.Count:N0} events{(warm.Count > 0 ? $" after {warm.Count:N0} unmeasured on the same store" : "")}, batch {batchSize}, store {(redis is null ? "in-memory" : "redis " + redis)}, {Environment.ProcessorCount} cores, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, {warmup} warm-up + {rounds} rounds alternating, medians"));
            var modes = bundles.SelectMany(b => overlaps.Select(o => (Bundle: b, Overlap: o))).ToList();
            var runs = modes.ToDictionary(m => m, _ => new List<Figures>());
            var steps = modes.ToDictionary(m => m, _ => (Run: 0L, Full: 0L)); // LSTM steps of the measured rounds
            for (var round = -warmup; round < rounds; round++)
            {
                foreach (var mode in modes)
                {
                    var spec = mode.Bundle.Spec;
                    var prefix = $"bench:{Guid.NewGuid():N}:";
                    IWindowStore store = mux is null
                        ? new InMemoryWindowStore(spec)
                        : new RedisWindowStore(mux.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
                    if (warm.Count > 0)
                    {
                        await Measure(mode.Bundle, store, warm, batchSize, mode.Overlap, 0);
                    }

                    var stepsBefore = mode.Bundle.ManagedLstm?.StepsRun ?? default;
                    var redisBefore = await RedisCpuSeconds(mux);
                    var machineBefore = MachineTime.Read();
                    var figures = await Measure(mode.Bundle, store, events, batchSize, mode.Overlap, round >= 0 ? slowMs : 0, firstOffset: warm.Count); // offsets after the warm events
                    var steal = MachineTime.StealSince(machineBefore);
                    var stepsAfter = mode.Bundle.ManagedLstm?.StepsRun ?? default;
                    figures = figures with { RedisCpuUs = (await RedisCpuSeconds(mux) - redisBefore) * 1e6 / events.Count, Steal = steal };
                    await DeleteKeys(mux, prefix);
                    if (round >= 0)
                    {
                        runs[mode].Add(figures);
                        var (run, full) = steps[mode];
                        steps[mode] = (run + stepsAfter.Run - stepsBefore.Run, full + stepsAfter.Full - stepsBefore.Full);
                    }
                }
            }

            foreach (var mode in modes)
            {
                var (bundle, overlap) = mode;
                var r = runs[mode];
                double M(Func<Figures, double> f) => r.Select(f).Order().ElementAt(r.Count / 2);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  spec {bundle.Spec.Name} v{bundle.Spec.Version} ({bundle.Spec.Dimension} features), LSTM path {bundle.LstmPath} ({(lstmThreads > 0 ? lstmThreads : Environment.ProcessorCount)} threads) on {bundle.LstmProvider}{(bundle.LstmPathNote is { } note ? $" ({note})" : "")}, commit {(overlap ? "overlapped with the next batch" : "before the next batch")}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    throughput       {M(f => f.EventsPerSecond):N0} events/s ({r[0].Alerts:N0} alerts)   (runs: {string.Join(", ", r.Select(f => f.EventsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))})"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    per event        {M(f => f.CpuUs):F1} CPU-us (this process, all threads; JIT compiling {M(f => f.JitUs):F1} us per event in the same span, an upper bound on its CPU), {M(f => f.Bytes):F0} managed bytes allocated"));
                if (mux is not null)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    redis-server     {M(f => f.RedisCpuUs):F1} CPU-us per event (its INFO cpu, user + sys)"));
                }

                // What limits the wall figure: the cores kept busy (CPU per event × events/s, this process and redis-server),
                // and the share of the machine's time its hypervisor gave to others meanwhile (then every figure reads slower).
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    cores busy       {M(f => (f.CpuUs + f.RedisCpuUs) * f.EventsPerSecond / 1e6):F2} of {Environment.ProcessorCount} ({(mux is null ? "this process" : "this process + redis-server")}, median of the rounds); {MachineTime.Format(M(f => f.Steal))} of the machine's CPU time (/proc/stat)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    batch latency    p50 {M(f => f.P50):F1} ms, p99 {M(f => f.P99):F1} ms"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    time per stage   windows {M(f => f.Windows):F1}%, models {M(f => f.Models):F1}%, alerts+explanations {M(f => f.Explain):F1}%"));
                if (bundle.ManagedLstm is { } lstm)
                {
                    var (run, full) = steps[mode];
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"    LSTM steps       {(double)run / Math.Max(1, full):P1} of the {lstm.Steps} per window multiplied ({(lstm.SkipLeadingZeroSteps ? "leading zero steps skipped: a card with fewer transactions than steps" : "every step run")})"));
                }
            }

            foreach (var bundle in bundles)
            {
                bundle.Dispose();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record Figures(double EventsPerSecond, double CpuUs, double Bytes, double P50, double P99, double Windows, double Models, double Explain, long Alerts)
    {
        public double RedisCpuUs { get; init; }

        /// <summary>Time the JIT spent compiling over the same span as <c>CpuUs</c> (JitInfo: elapsed, an upper bound on its CPU), per event.</summary>
        public double JitUs { get; init; }

        /// <summary>Stolen share of the machine's CPU time over the round (<see cref="MachineTime"/>; NaN where unknown).</summary>
        public double Steal { get; init; } = double.NaN;
    }

    /// <summary>
    /// Deletes a round's keys (unmeasured), so that redis-server does not grow from run to run: a database left with
    /// millions of keys by earlier runs slows every later one (rehashing, memory).
    /// </summary>
    private static async Task DeleteKeys(ConnectionMultiplexer? mux, string prefix)
    {
        if (mux is null)
        {
            return;
        }

        // Primaries only, one key per command (a cluster refuses a multi-key DEL across slots), pipelined 1,000 at a time.
        var db = mux.GetDatabase();
        foreach (var server in mux.GetServers().Where(s => !s.IsReplica))
        {
            var pending = new List<Task>(1000);
            await foreach (var key in server.KeysAsync(pattern: prefix + "*", pageSize: 1000))
            {
                pending.Add(db.KeyDeleteAsync(key));
                if (pending.Count == 1000)
                {
                    await Task.WhenAll(pending);
                    pending.Clear();
                }
            }

            await Task.WhenAll(pending);
        }
    }

    /// <summary>The Redis server's own CPU seconds so far (INFO cpu: used_cpu_user + used_cpu_sys); 0 without Redis.</summary>

    private static async Task<double> RedisCpuSeconds(ConnectionMultiplexer? mux)
    {
        if (mux is null)
        {
            return 0;
        }

        var info = await mux.GetServers()[0].InfoAsync("cpu");
        return info.SelectMany(g => g).Where(p => p.Key is "used_cpu_user" or "used_cpu_sys").Sum(p => double.Parse(p.Value, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// One pass over the events. With <paramref name="slowMs"/> &gt; 0 every batch slower than that is printed with its
    /// anatomy: stage times, alerts, and the garbage collections of each generation that ran during it (the batch p99 of
    /// a 60,000-event round is its second-slowest batch, so these lines are what p99 is made of).
    /// </summary>
    private static async Task<Figures> Measure(ModelBundle bundle, IWindowStore store, List<Transaction> events, int batchSize, bool overlap, int slowMs, long firstOffset = 0)
    {
        var spec = bundle.Spec;
        var pipeline = new FraudPipeline(store, () => bundle, new ScoringOptions(), capacity: batchSize);
        WindowBatch[] batches = [new(spec, batchSize), new(spec, batchSize)]; // overlapped: the one in flight is kept
        var turn = 0;
        var latencies = new List<double>();
        var slow = new List<string>(); // printed after the pass, so printing is not timed
        var stages = new double[3];
        long alerts = 0;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var total = Stopwatch.StartNew();
        for (var start = 0; start < events.Count; start += batchSize)
        {
            var batch = batches[turn++ % 2];
            batch.Clear();
            for (var i = start; i < Math.Min(events.Count, start + batchSize); i++)
            {
                batch.Add(events[i], new SourcePosition(0, firstOffset + i, SourcePosition.OfflineSource));
            }

            var (gen0, gen1, gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var clock = Stopwatch.StartNew();
            var result = overlap ? await pipeline.RunOverlappedAsync(batch, static (_, _, _) => Task.CompletedTask) : await pipeline.RunBatchAsync(batch);
            latencies.Add(clock.Elapsed.TotalMilliseconds);
            if (slowMs > 0 && clock.Elapsed.TotalMilliseconds > slowMs)
            {
                var t = result.Timings;
                slow.Add(string.Create(CultureInfo.InvariantCulture,
                    $"      slow batch {start / batchSize,3}: {clock.Elapsed.TotalMilliseconds,5:F1} ms = windows {t.Windows.TotalMilliseconds:F1} + models {t.Models.TotalMilliseconds:F1} + explanations {t.Explain.TotalMilliseconds:F1} ({result.Alerts.Count} alerts) + rest; GCs gen0/1/2 {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}"));
            }

            stages[0] += result.Timings.Windows.TotalMilliseconds;
            stages[1] += result.Timings.Models.TotalMilliseconds;
            stages[2] += result.Timings.Explain.TotalMilliseconds;
            alerts += result.Alerts.Count;
        }

        await pipeline.FlushAsync();
        var seconds = total.Elapsed.TotalSeconds;
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / events.Count;
        var jitUs = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalMicroseconds / events.Count;
        var allocated = (double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / events.Count;
        latencies.Sort();
        var n = latencies.Count;
        if (slow.Count > 0)
        {
            Console.WriteLine($"    slow batches of spec {spec.Name} v{spec.Version}, LSTM path {bundle.LstmPath}, overlap {(overlap ? "on" : "off")} ({slow.Count} of {n} over {slowMs} ms):");
            slow.ForEach(Console.WriteLine);
        }

        return new Figures(events.Count / seconds, cpuUs, allocated, latencies[n / 2], latencies[Math.Min(n - 1, (int)(n * 0.99))],
            stages[0] / seconds / 10, stages[1] / seconds / 10, stages[2] / seconds / 10, alerts) { JitUs = jitUs };
    }

    /// <summary>Batch latency with no swaps, then while a watcher swaps between three bundles (each swap loads one).</summary>
    public static async Task Reload(string[] args)
    {
        var batchSize = Opt(args, "--batch", 512);
        var batches = Opt(args, "--batches", 150);
        var every = Opt(args, "--every", 300);
        var spec = FeatureSpec.CardV1;
        var events = new TransactionSimulator(new SimulationOptions { Cards = 20_000, Days = 14, Seed = 4 }).Generate().Take(batchSize * batches * 2).ToList();
        var root = Directory.CreateTempSubdirectory("sf-reload-bench-").FullName;
        try
        {
            var registry = new BundleRegistry(Path.Combine(root, "registry"));
            foreach (var v in new[] { "a", "b", "c" })
            {
                var staging = registry.CreateStagingDirectory();
                BuildBundle(staging, spec, events, v).Dispose();
                registry.Publish(staging, v);
            }

            registry.Promote("a");
            using var manager = new BundleManager(registry, spec, new BundleManagerOptions { Debounce = TimeSpan.Zero, Load = new BundleLoadOptions { WarmupBatch = batchSize } });
            manager.LoadInitial();
            var pipeline = new FraudPipeline(new InMemoryWindowStore(spec), manager, new ScoringOptions(), capacity: batchSize);
            var batch = new WindowBatch(spec, batchSize);
            var next = 0;

            async Task<List<double>> Measure(int count)
            {
                var latencies = new List<double>(count);
                for (var b = 0; b < count; b++)
                {
                    batch.Clear();
                    for (var i = 0; i < batchSize; i++, next++)
                    {
                        batch.Add(events[next], new SourcePosition(0, next, SourcePosition.OfflineSource));
                    }

                    var clock = Stopwatch.StartNew();
                    await pipeline.RunBatchAsync(batch);
                    latencies.Add(clock.Elapsed.TotalMilliseconds);
                }

                latencies.Sort();
                return latencies;
            }

            var baseline = await Measure(batches);
            using var stop = new CancellationTokenSource();
            var order = new[] { "b", "c", "a" };
            var swapper = Task.Run(async () =>
            {
                for (var k = 0; !stop.IsCancellationRequested; k++)
                {
                    await Task.Delay(every);
                    registry.Promote(order[k % 3]);
                    manager.CheckOnce(); // loads and verifies on this thread, swaps between batches
                }
            });
            var during = await Measure(batches);
            await stop.CancelAsync();
            await swapper;
            string P(List<double> l, double q) => l[Math.Min(l.Count - 1, (int)(l.Count * q))].ToString("F1", CultureInfo.InvariantCulture);
            Console.WriteLine($"reload: batch {batchSize}, {batches} batches each, swap every {every} ms, {manager.Swaps} swaps ({manager.Loads} loads), {Environment.ProcessorCount} cores");
            Console.WriteLine($"  no swaps        p50 {P(baseline, 0.5)} ms, p99 {P(baseline, 0.99)} ms");
            Console.WriteLine($"  during swaps    p50 {P(during, 0.5)} ms, p99 {P(during, 0.99)} ms   (p99 ratio {during[(int)(during.Count * 0.99)] / baseline[(int)(baseline.Count * 0.99)]:F2})");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    internal static ModelBundle BuildBundle(string dir, FeatureSpec spec, List<Transaction> events, string version = "bench", TreeEvaluator trees = TreeEvaluator.Auto,
        LstmPathChoice lstmPath = LstmPathChoice.Auto, int lstmThreads = 0)
    {
        var lstm = LstmModel.CreateInitial(spec.Dimension, new LstmOptions { Seed = version.Aggregate(17, (h, c) => (h * 31) + c) & 0xffff /* stable across runs, unlike string.GetHashCode */ });
        lstm.ExportOnnx(Path.Combine(dir, "lstm.onnx"));
        var set = TrainingSet.Build(spec, events.Take(50_000));
        var labels = new float[set.Count];
        for (var i = 0; i < set.Count; i++)
        {
            labels[i] = set.Labels[i] == 1 ? 1 : 0;
        }

        using var train = DMatrix.FromDense(set.Vectors, set.Count, spec.Dimension, labels);
        using var booster = XgbTrainer.Train(train, train, new XgbParameters { NumRounds = 300, EarlyStoppingRounds = null, EvaluateTrainingSet = false }).Booster;
        booster.SaveModel(Path.Combine(dir, "xgb.json"));
        var windows = new float[64 * spec.WindowSize];
        for (var i = 0; i < 64; i++)
        {
            set.CopyWindow(i, windows.AsSpan(i * spec.WindowSize, spec.WindowSize));
        }

        var l = lstm.Predict(windows);
        var newest = new float[64 * spec.Dimension];
        for (var i = 0; i < 64; i++)
        {
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var x = booster.PredictDense(newest, 64, iterationEnd: 0);
        var golden = Enumerable.Range(0, 64).Select(i => new GoldenWindow
        {
            Window = GoldenWindow.Encode(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)), Lstm = l[i], Xgb = x[i], Ensemble = (0.5 * l[i]) + (0.5 * x[i]),
        }).ToList();

        // The serving paths checked as the trainer checks them, on up to 5,000 windows spread over the set (frauds included)
        // standing in for validation.
        var check = Math.Min(5000, set.Count);
        var checkWindows = new float[check * spec.WindowSize];
        var checkNewest = new float[check * spec.Dimension];
        var checkLabels = new byte[check];
        for (var i = 0; i < check; i++)
        {
            var row = (int)((long)i * set.Count / check);
            set.CopyWindow(row, checkWindows.AsSpan(i * spec.WindowSize, spec.WindowSize));
            checkWindows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(checkNewest.AsSpan(i * spec.Dimension));
            checkLabels[i] = set.Labels[row] == 1 ? (byte)1 : (byte)0;
        }

        var lstmPaths = LstmPathAdmission.Score(File.ReadAllBytes(Path.Combine(dir, "lstm.onnx")), checkWindows, check, spec.Dimension, null)
            .Check(booster.PredictDense(checkNewest, check, iterationEnd: 0), checkLabels, 0.5, 0.5, golden);
        new BundleManifest
        {
            Version = version,
            CreatedAt = DateTimeOffset.UtcNow,
            FeatureSpec = new FeatureSpecRef(spec.Name, spec.Version, spec.Dimension, spec.ContentHash),
            Files = new Dictionary<string, BundleFile>
            {
                ["lstm.onnx"] = new(BundleRegistry.Sha256(Path.Combine(dir, "lstm.onnx")), new FileInfo(Path.Combine(dir, "lstm.onnx")).Length),
                ["xgb.json"] = new(BundleRegistry.Sha256(Path.Combine(dir, "xgb.json")), new FileInfo(Path.Combine(dir, "xgb.json")).Length),
            },
            Thresholds = new BundleThresholds { BestF1 = 0.5, CostMin = new CostThreshold(0.5, 10, 1), TargetRecall = new RecallThreshold(0.4, 0.7) },
            GoldenWindows = golden,
            LstmPaths = lstmPaths,
        }.Write(Path.Combine(dir, BundleManifest.FileName));
        return ModelBundle.Load(dir, spec, new BundleLoadOptions { WarmupBatch = 512, Trees = trees, LstmPath = lstmPath, LstmThreads = lstmThreads });
    }

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
