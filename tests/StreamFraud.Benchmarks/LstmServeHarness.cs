using System.Diagnostics;
using System.Globalization;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Training.Lstm;

/// <summary>LSTM serving throughput at one batch size: ONNX Runtime against the managed paths.</summary>
internal static class LstmServeHarness
{
    public static void Run(string[] args)
    {
        var features = Opt(args, "--features", 56);
        var batch = Opt(args, "--batch", 512);
        var rounds = Opt(args, "--rounds", 3);
        var reps = Opt(args, "--reps", 40);
        var model = LstmModel.CreateInitial(features, new LstmOptions { Seed = 7 });
        var onnx = new MemoryStream();
        model.ExportOnnx(onnx);
        using var ort = OnnxLstm.Load(onnx.ToArray(), "lstm.onnx", model.SequenceLength, features);
        var rng = new Random(1);
        var windows = new float[batch * model.SequenceLength * features];
        for (var i = 0; i < windows.Length; i++)
        {
            windows[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var scores = new float[batch];
        var managed2 = ManagedLstm.TryCreate(onnx.ToArray(), model.SequenceLength, features, 2, out var problem) ?? throw new InvalidOperationException(problem);
        var managed1 = ManagedLstm.TryCreate(onnx.ToArray(), model.SequenceLength, features, 1, out problem) ?? throw new InvalidOperationException(problem);
        var candidates = new List<(string Name, Action Run)>
        {
            ("onnxruntime cpu", () => ort.Run(windows, batch, scores)),
            ("managed x2", () => managed2.Run(windows, batch, scores)),
            ("managed x1", () => managed1.Run(windows, batch, scores)),
            ("trainer forward x2", () => model.Predict(windows, scores, 2)),
            ("trainer forward x1", () => model.Predict(windows, scores, 1)),
        };
        var results = candidates.ToDictionary(c => c.Name, _ => new List<double>());
        var cpuPerWindow = candidates.ToDictionary(c => c.Name, _ => new List<double>());
        foreach (var c in candidates)
        {
            for (var i = 0; i < 5; i++)
            {
                c.Run();
            }
        }

        for (var round = 0; round < rounds; round++)
        {
            foreach (var c in candidates)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < reps; i++)
                {
                    c.Run();
                }

                results[c.Name].Add(batch * reps / sw.Elapsed.TotalSeconds);
                cpuPerWindow[c.Name].Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / (batch * reps));
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lstm-serve: F={features}, T={model.SequenceLength}, hidden {model.Hidden1}/{model.Hidden2}, batch {batch}, {Environment.ProcessorCount} cores, medians of {rounds}"));
        foreach (var (name, r) in results)
        {
            r.Sort();
            var cpu = cpuPerWindow[name];
            cpu.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-22} {r[r.Count / 2],10:N0} windows/s  {cpu[cpu.Count / 2],6:F1} CPU-us/window   (runs: {string.Join(", ", r.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))})"));
        }
    }

    private static int Opt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
