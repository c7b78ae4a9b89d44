using System.Diagnostics;
using StreamFraud.Core.Features;
using Xunit.Abstractions;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// Rough throughput of the offline path (TrainingSet.Build) and of the scorer's per-event state round trip. Numbers
/// go to the test output; the assertions only catch order-of-magnitude regressions (tests run in parallel).
/// </summary>
public class ThroughputTests(ITestOutputHelper output)
{
    [Fact]
    public void OfflineAndOnline_300kEvents_ReportEventsPerSecond()
    {
        var spec = FeatureSpec.CardV1;
        var (arrivals, stats) = SyntheticStream.Generate(seed: 1, cards: 10_000, events: 300_000, lateFraction: 0.01, duplicateFraction: 0.001);

        TrainingSet.Build(spec, arrivals.Take(20_000)); // warm-up (JIT)
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var set = TrainingSet.Build(spec, arrivals, arrivals.Count);
        var offlineSeconds = sw.Elapsed.TotalSeconds;
        var offlineRate = stats.Events / offlineSeconds;
        process.Refresh();
        var offlineCpu = (process.TotalProcessorTime - cpu).TotalSeconds;
        cpu = process.TotalProcessorTime;

        var redis = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var state = new CardState(spec);
        var window = new float[spec.WindowSize];
        var buffer = new byte[spec.MaxStateSize];
        sw.Restart();
        for (var i = 0; i < arrivals.Count; i++)
        {
            var tx = arrivals[i];
            state.Load(redis.GetValueOrDefault(tx.CardId) ?? []);
            if (state.TryApply(tx, new SourcePosition(0, i), window).IsApplied)
            {
                var n = state.Write(buffer);
                redis[tx.CardId] = buffer.AsSpan(0, n).ToArray();
            }
        }

        var onlineRate = arrivals.Count / sw.Elapsed.TotalSeconds;
        process.Refresh();
        var onlineCpu = (process.TotalProcessorTime - cpu).TotalSeconds;
        var bytes = redis.Values.Sum(v => (long)v.Length);
        // Process CPU time too: on a shared machine wall-clock rates swing with load; per-CPU-second rates less so
        // (they include GC threads and, when other tests run in parallel, their work: run this test alone to read it).
        output.WriteLine($"offline TrainingSet.Build: {stats.Events:N0} events in {offlineSeconds:F2} s = {offlineRate:N0} events/s wall, {stats.Events / offlineCpu:N0} per CPU-second ({set.Count:N0} rows)");
        output.WriteLine($"online load→apply→write (+ dictionary as Redis): {onlineRate:N0} events/s wall, {arrivals.Count / onlineCpu:N0} per CPU-second; state {bytes / (double)redis.Count:F0} bytes/card average, {spec.MaxStateSize} max");
        // Floors far below the measured figures (FEATURES.md): they only catch an accidental order-of-magnitude loss
        // (say, an allocation or a LINQ query per event) and must not fail on a busy CI machine.
        Assert.True(offlineRate > 10_000, $"offline {offlineRate:N0} events/s");
        Assert.True(onlineRate > 10_000, $"online {onlineRate:N0} events/s");
    }
}
