using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scorer;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// <c>/metrics</c> of a running scorer that has not seen an event: runtime and process metrics, the per-partition lag,
/// and every counter already present at 0 for its known tag values, so dashboards and alert rules have a series (and
/// <c>rate()</c> a 0) from the start; the serving bundle's tree evaluator as a gauge.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_MetricsFromStart(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-metrics-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void PartitionLags_APartitionMovedAway_IsReportedAtZero()
    {
        var gauges = new InputGauges();
        gauges.SetPartitionLags([new PartitionLag("tx", 0, 5), new PartitionLag("tx", 1, 3)]);
        gauges.SetPartitionLags([new PartitionLag("tx", 1, 2)]); // partition 0 revoked
        var lags = gauges.PartitionLags()
            .ToDictionary(m => (int)m.Tags.ToArray().Single(t => t.Key == "partition").Value!, m => m.Value);
        Assert.Equal(new Dictionary<int, long> { [0] = 0, [1] = 2 }, lags);
    }

    [Fact]
    public async Task BeforeAnyEvent_RuntimeProcessPartitionLagAndEveryCounterAtZero()
    {
        using var scorer = await RunningScorer.StartAsync(stack, _root, "zeros", TinyBundle.Stream(seed: 91, cards: 20, count: 300), partitions: 3);

        // The per-partition lag is set by the loop after assignment; the counters are there from the first scrape.
        var metrics = await scorer.ScrapeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Enumerable.Range(0, 3).Any(p => RunningScorer.Value(metrics, "streamfraud_consumer_partition_lag", $"partition=\"{p}\"") is null) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            metrics = await scorer.ScrapeAsync();
        }

        var names = RunningScorer.MetricNames(metrics);
        // .NET runtime (System.Runtime meter) and process instrumentation.
        Assert.Contains(names, n => n.StartsWith("dotnet_gc_", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("dotnet_thread_pool_", StringComparison.Ordinal));
        Assert.Contains("process_cpu_time_seconds_total", names);
        Assert.Contains("process_memory_usage_bytes", names);

        // Lag per partition of the input topic, beside the summed gauge: an empty topic, nothing behind.
        for (var p = 0; p < 3; p++)
        {
            Assert.True(RunningScorer.Value(metrics, "streamfraud_consumer_partition_lag", $"topic=\"{scorer.Input}\"", $"partition=\"{p}\"") == 0, $"partition {p}:\n{metrics}");
        }

        Assert.Equal(0, RunningScorer.Value(metrics, "streamfraud_consumer_lag"));

        // Every counter at 0, for every known value of its tags.
        void Zero(string metric, params string[] labels) =>
            Assert.True(RunningScorer.Value(metrics, metric, labels) == 0, $"{metric}{{{string.Join(',', labels)}}} is not 0 at start:\n{metrics}");

        Zero("streamfraud_events_consumed_total");
        Zero("streamfraud_events_scored_total");
        Zero("streamfraud_events_duplicates_total");
        Zero("streamfraud_labels_consumed_total");
        Zero("streamfraud_alerts_emitted_total", "model_version=\"v1\"");
        Zero("streamfraud_model_swaps_total", "model_version=\"v1\"");
        foreach (var result in new[] { "true_positive", "false_positive", "false_negative", "true_negative" })
        {
            Zero("streamfraud_quality_results_total", "model_version=\"v1\"", $"result=\"{result}\"");
            Zero("streamfraud_quality_retractions_total", "model_version=\"v1\"", $"result=\"{result}\"");
        }

        foreach (var errorClass in new[] { DlqErrorClass.Undecodable, DlqErrorClass.UnknownSchema, DlqErrorClass.SchemaMismatch, DlqErrorClass.InvalidValue, DlqErrorClass.TooLarge, DlqErrorClass.ReusedTransactionId })
        {
            Zero("streamfraud_dlq_messages_total", $"error_class=\"{errorClass}\"");
        }

        foreach (var errorClass in new[] { DlqErrorClass.Undecodable, DlqErrorClass.InvalidValue, DlqErrorClass.ConflictingLabel })
        {
            Zero("streamfraud_labels_dlq_total", $"error_class=\"{errorClass}\"");
        }

        foreach (var stage in ErrorStages.All)
        {
            Zero("streamfraud_errors_total", $"stage=\"{stage}\"");
        }

        foreach (var outcome in new[] { "applied", "flipped", "duplicate", "superseded", "stale", "conflicting", "invalid" })
        {
            Zero("streamfraud_labels_outcomes_total", $"outcome=\"{outcome}\"");
        }

        foreach (var outcome in new[] { "both", "champion_only", "challenger_only" })
        {
            Zero("streamfraud_challenger_decisions_total", $"outcome=\"{outcome}\"");
        }

        foreach (var reason in RefusalKinds.All)
        {
            Zero("streamfraud_model_refusals_total", $"reason=\"{reason}\"");
        }

        // The serving version and LSTM path: a bundle without serving-path checks runs on ONNX Runtime, and the log says why.
        Assert.True(RunningScorer.Value(metrics, "streamfraud_model_serving", "model_version=\"v1\"", "lstm_path=\"onnxruntime\"") == 1, metrics);
        Assert.Contains("managed_fp32 not used (the bundle records no check of managed_fp32", scorer.Process.Output, StringComparison.Ordinal);

        // The serving bundle's tree evaluator, chosen at load, as a gauge and in the load log line.
        var evaluator = RunningScorer.Value(metrics, "streamfraud_model_trees", "model_version=\"v1\"", "evaluator=\"managed\"") is not null ? "managed" : "libxgboost";
        Assert.True(RunningScorer.Value(metrics, "streamfraud_model_trees", "model_version=\"v1\"", $"evaluator=\"{evaluator}\"") == 1, $"no streamfraud_model_trees series for v1:\n{metrics}");
        Assert.Contains($"Serving bundle v1 (LSTM path onnxruntime on CPU, trees on {evaluator}): {evaluator}", scorer.Process.Output, StringComparison.Ordinal);

        // Nothing was consumed: the zeros are not the trace of a batch.
        Assert.DoesNotContain("streamfraud_batch_size", metrics);
    }
}
