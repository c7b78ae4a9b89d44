using System.Diagnostics;
using System.Globalization;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Sim.Generation;
using StreamFraud.Training.Lstm;

// Throughput harnesses. Each prints the median of several runs: compare ratios measured in one run on a noisy machine.
var harnesses = new Dictionary<string, (string Help, Action<string[]> Run)>
{
    ["features"] = ("offline TrainingSet.Build and online load→apply→write rates over simulated events [--cards N --days D --runs R]", Features),
    ["lstm"] = ("LSTM training throughput (forward+backward+Adam), sequences/s [--features F --sequences N --epochs E]", Lstm),
    ["reload"] = ("batch latency p50/p99 without swaps and while bundles are swapped every --every ms [--batches N --batch B]", args => ScoringHarness.Reload(args).GetAwaiter().GetResult()),
    ["e2e"] = ("the scorer's Kafka loop in this process against an external broker, registry and Redis (DevStack app): the broker's ceiling (a bare consumer), events/s, CPU-us and allocations per event, then p50/p99 latency at half that rate [--bootstrap H:P (default $STREAMFRAUD_KAFKA_BOOTSTRAP) --schema-registry URL --redis H:P --events N (measured, default 80000) --warmup-events W (unmeasured first, default 100000: JIT tiering settles; the 'JIT in window' line shows what is left; the DevStack's mock broker keeps about 5 MB per partition, ~190,000 of these events: more is refused) --lstm-path P --lstm-threads N --zero-steps skip|run --batch B --batch-timeout-ms T (default Scorer:BatchTimeout's) --latency-events N (0: skip)]", args => EndToEndHarness.Run(args).GetAwaiter().GetResult()),
    ["lstm-serve"] = ("LSTM serving windows/s and CPU-us per window at one batch: ONNX Runtime fp32 against managed_fp32, managed_int16 and managed_bf16 (where AMX-BF16 runs) [--features F --batch B --rounds R]", LstmServeHarness.Run),
    ["scoring"] = ("FraudPipeline events/s, CPU-us and bytes per event, batch latency with a production-size bundle [--batch B --events N --warm-events W (first apply the W events before them, unmeasured: cards with a history) --redis HOST:PORT --spec v1|v2|both --lstm-path auto|onnxruntime|managed_fp32|managed_int16|managed_bf16|both|P1,P2,.. --trees auto|managed|libxgboost --overlap on|off|both --zero-steps skip|run|both (a window's leading zero steps: start from the precomputed zero state, or run them; the same scores) --lstm-threads N (0: every core) --rounds R --warmup W (unmeasured rounds, default 2: after one, the first measured round still had 4–8x the slow batches of later ones) --slow-ms T (print each measured batch slower than T ms: stages, alerts, GCs)]", args => ScoringHarness.Run(args).GetAwaiter().GetResult()),
    ["shap"] = ("Alert explanations: libxgboost's exact TreeSHAP vs the managed TreeSHAP, 300 trees of depth 6, per call of 1, 4 and 16 alerts, and their largest difference [--runs R --spec v1|v2]", TreesHarness.RunShap),
    ["trees"] = ("XGBoost stage and model stage per batch, libxgboost vs the managed tree evaluator, 300 trees of depth 6 [--batch B --runs R --spec v1|v2]", TreesHarness.Run),
};

if (args.Length == 0 || !harnesses.TryGetValue(args[0], out var harness))
{
    Console.WriteLine("usage: dotnet run -c Release --project tests/StreamFraud.Benchmarks -- HARNESS [options]");
    foreach (var (name, (help, _)) in harnesses)
    {
        Console.WriteLine($"  {name,-10} {help}");
    }

    return args.Length == 0 || args[0] is "help" or "--help" ? 0 : 2;
}

try
{
    harness.Run(args[1..]);
}
catch (HarnessUsageException e)
{
    // Options the harness cannot run with (the message says which and what to ask for instead).
    Console.Error.WriteLine($"{args[0]}: {e.Message}");
    return 2;
}

return 0;

static int Option(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

static void Features(string[] args)
{
    var cards = Option(args, "--cards", 5000);
    var days = Option(args, "--days", 30);
    var runs = Option(args, "--runs", 5);
    var events = new TransactionSimulator(new SimulationOptions { Cards = cards, Days = days, Seed = 1 }).Generate().ToList();
    var spec = FeatureSpec.CardV1;
    Console.WriteLine($"features: {events.Count:N0} simulated events over {cards:N0} cards, spec {spec.Name} v{spec.Version} (dimension {spec.Dimension}), {runs} runs");
    TrainingSet.Build(spec, events.Take(20_000)); // JIT warm-up
    var offline = new List<double>();
    var online = new List<double>();
    long stateBytes = 0;
    for (var run = 0; run < runs; run++)
    {
        var sw = Stopwatch.StartNew();
        var set = TrainingSet.Build(spec, events, events.Count);
        offline.Add(set.Count / sw.Elapsed.TotalSeconds);

        // The scorer's per-event work: deserialise the card's state, apply, serialise (a dictionary plays Redis).
        var store = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var state = new CardState(spec);
        var window = new float[spec.WindowSize];
        var buffer = new byte[spec.MaxStateSize];
        sw.Restart();
        for (var i = 0; i < events.Count; i++)
        {
            var tx = events[i];
            state.Load(store.GetValueOrDefault(tx.CardId) ?? []);
            if (state.TryApply(tx, new SourcePosition(0, i, SourcePosition.OfflineSource), window).IsApplied)
            {
                var n = state.Write(buffer);
                store[tx.CardId] = buffer.AsSpan(0, n).ToArray();
            }
        }

        online.Add(events.Count / sw.Elapsed.TotalSeconds);
        stateBytes = store.Values.Sum(v => (long)v.Length) / store.Count;
    }

    Console.WriteLine($"  offline TrainingSet.Build      median {Median(offline):N0} events/s   (runs: {string.Join(", ", offline.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))})");
    Console.WriteLine($"  online load→apply→write        median {Median(online):N0} events/s   (runs: {string.Join(", ", online.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))})");
    Console.WriteLine($"  state size                     {stateBytes:N0} bytes/card average, {spec.MaxStateSize:N0} max");
}

static void Lstm(string[] args)
{
    var features = Option(args, "--features", 80);
    var sequences = Option(args, "--sequences", 20_000);
    var epochs = Option(args, "--epochs", 5);
    var rng = new Random(1);
    var windows = new float[sequences * 7 * features];
    for (var i = 0; i < windows.Length; i++)
    {
        windows[i] = (float)((rng.NextDouble() * 2) - 1);
    }

    var labels = new byte[sequences];
    for (var i = 0; i < sequences; i++)
    {
        labels[i] = (byte)(rng.Next(100) == 0 || i < 2 ? 1 : 0);
    }

    var validation = new LstmDataset(windows[..(1000 * 7 * features)], labels[..1000], 7, features);
    var trainer = new LstmTrainer(new LstmOptions { MaxEpochs = epochs, EarlyStoppingPatience = epochs + 1 });
    Console.WriteLine($"lstm: F={features}, T=7, hidden 128/64, batch 256, {sequences:N0} sequences, {epochs} epochs, {Environment.ProcessorCount} cores");
    var result = trainer.Train(new LstmDataset(windows, labels, 7, features), validation,
        r => Console.WriteLine($"  epoch {r.Epoch}: {r.SequencesPerSecond:N0} sequences/s"));
    Console.WriteLine($"  median {Median(result.History.Select(h => h.SequencesPerSecond).ToList()):N0} sequences/s per epoch (training only; validation excluded)");
}

/// <summary>A harness refuses its options: the message says why and what to ask for instead (printed without a stack trace).</summary>
internal sealed class HarnessUsageException(string message) : Exception(message);
