using System.Diagnostics;
using System.Globalization;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Training.Lstm;

/// <summary>
/// LSTM serving throughput at one batch size (production LSTM 128/64 over 7 steps): ONNX Runtime fp32 (the
/// reference) against the managed fp32 path, each with every core and with one, alternating, medians of --rounds;
/// wall windows/s and process CPU-µs per window, and the largest score difference from ONNX Runtime.
/// </summary>
internal static class LstmServeHarness
{
    public static void Run(string[] args)
    {
        var features = Opt(args, "--features", 56);
        var batch = Opt(args, "--batch", 512);
        var rounds = Opt(args, "--rounds", 3);
        var reps = Opt(args, "--reps", 40);
        var model = LstmModel.CreateInitial(features, new LstmOptions { Seed = 7 });
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        var onnx = stream.ToArray();
        using var ort = OnnxLstm.Load(onnx, "lstm.onnx", model.SequenceLength, features);
        using var ort1 = OnnxLstm.Load(onnx, "lstm.onnx", model.SequenceLength, features, intraOpThreads: 1);
        var managed = ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 0, out var problem) ?? throw new InvalidOperationException(problem);
        var managed1 = ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 1, out problem) ?? throw new InvalidOperationException(problem);
        var int16 = ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 0, LstmPrecision.Int16, out problem) ?? throw new InvalidOperationException(problem);
        var int16x1 = ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 1, LstmPrecision.Int16, out problem) ?? throw new InvalidOperationException(problem);
        var bf16 = AmxBf16.Available ? ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 0, LstmPrecision.Bf16, out problem) : null;
        var bf16x1 = AmxBf16.Available ? ManagedLstm.TryCreate(onnx, model.SequenceLength, features, 1, LstmPrecision.Bf16, out problem) : null;
        var rng = new Random(1);
        var windows = new float[batch * model.SequenceLength * features];
        for (var i = 0; i < windows.Length; i++)
        {
            windows[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var scores = new float[batch];
        var candidates = new List<(string Name, Action Run)>
        {
            ($"onnxruntime x{Environment.ProcessorCount}", () => ort.Run(windows, batch, scores)),
            ($"managed_fp32 x{managed.Threads}", () => managed.Run(windows, batch, scores)),
            ($"managed_int16 x{int16.Threads}", () => int16.Run(windows, batch, scores)),
            ("onnxruntime x1", () => ort1.Run(windows, batch, scores)),
            ("managed_fp32 x1", () => managed1.Run(windows, batch, scores)),
            ("managed_int16 x1", () => int16x1.Run(windows, batch, scores)),
        };
        if (bf16 is not null && bf16x1 is not null)
        {
            candidates.Insert(3, ($"managed_bf16 x{bf16.Threads}", () => bf16.Run(windows, batch, scores)));
            candidates.Add(("managed_bf16 x1", () => bf16x1.Run(windows, batch, scores)));
        }
        var reference = new float[batch];
        ort.Run(windows, batch, reference);
        var mine = new float[batch];
        managed.Run(windows, batch, mine);
        var worst = reference.Zip(mine, (a, b) => Math.Abs(a - b)).Max();
        int16.Run(windows, batch, mine);
        var worst16 = reference.Zip(mine, (a, b) => Math.Abs(a - b)).Max();
        var worstBf16 = double.NaN;
        if (bf16 is not null)
        {
            bf16.Run(windows, batch, mine);
            worstBf16 = reference.Zip(mine, (a, b) => Math.Abs(a - b)).Max();
        }

        var wall = candidates.ToDictionary(c => c.Name, _ => new List<double>());
        var cpu = candidates.ToDictionary(c => c.Name, _ => new List<double>());
        foreach (var c in candidates)
        {
            for (var i = 0; i < 5; i++)
            {
                c.Run(); // warm-up
            }
        }

        for (var round = 0; round < rounds; round++)
        {
            foreach (var c in candidates)
            {
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < reps; i++)
                {
                    c.Run();
                }

                wall[c.Name].Add(batch * reps / sw.Elapsed.TotalSeconds);
                cpu[c.Name].Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / (batch * reps));
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lstm-serve: F={features}, T={model.SequenceLength}, hidden {model.Hidden1}/{model.Hidden2}, batch {batch}, {Environment.ProcessorCount} cores, {managed.KernelName}, {rounds} rounds alternating, medians"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  max |managed_fp32 - onnxruntime| = {worst:G3} (tolerance {LstmPaths.ManagedFp32Tolerance}), max |managed_int16 - onnxruntime| = {worst16:G3} ({int16.KernelName}), max |managed_bf16 - onnxruntime| = {(bf16 is null ? "- (" + AmxBf16.Problem + ")" : worstBf16.ToString("G3", CultureInfo.InvariantCulture))}"));
        foreach (var (name, r) in wall)
        {
            var c = cpu[name];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-18} {Median(r),10:N0} windows/s  {Median(c),6:F1} CPU-us/window   (runs: {string.Join(", ", r.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))})"));
        }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static int Opt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
