using System.Diagnostics;
using System.Diagnostics.Metrics;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Quality;
using StreamFraud.Kafka;

namespace StreamFraud.Scorer;

/// <summary>
/// The scorer's instruments (OpenTelemetry picks up the <c>StreamFraud.Scorer</c> meter): created once, with units and
/// descriptions; names follow <c>streamfraud.*</c>. Every counter is recorded at 0 for each of its known tag values as
/// soon as it exists (and for each model version when it starts serving), so dashboards and alert rules see a series
/// (and <c>rate()</c> a 0) before the first event, error or refusal: the meter provider must already listen when this
/// is created (<c>ScorerHost.AddScorer</c> resolves it first), since measurements made before are not seen.
/// </summary>
public sealed class ScorerMetrics : IDisposable
{
    /// <summary>Meter name.</summary>
    public const string MeterName = "StreamFraud.Scorer";

    private static readonly string[] OutcomeNames = ["applied", "flipped", "duplicate", "superseded", "stale", "conflicting", "invalid"];
    private static readonly string[] ResultNames = ["true_positive", "false_positive", "false_negative", "true_negative"];
    private static readonly string[] AgreementNames = ["both", "champion_only", "challenger_only"];

    private static readonly string[] TransactionDlqClasses =
    [
        DlqErrorClass.Undecodable, DlqErrorClass.UnknownSchema, DlqErrorClass.SchemaMismatch, DlqErrorClass.InvalidValue,
        DlqErrorClass.TooLarge, DlqErrorClass.ReusedTransactionId,
    ];

    private static readonly string[] LabelDlqClasses =
    [
        DlqErrorClass.Undecodable, DlqErrorClass.UnknownSchema, DlqErrorClass.SchemaMismatch, DlqErrorClass.InvalidValue,
        DlqErrorClass.TooLarge, DlqErrorClass.ConflictingLabel,
    ];

    private readonly Meter _meter;
    private string _modelVersion = "";
    private string _lstmPath = "";

    /// <summary>Creates the instruments on a meter from <paramref name="factory"/> (or a standalone meter).</summary>
    public ScorerMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        EventsConsumed = _meter.CreateCounter<long>("streamfraud.events.consumed", "{event}", "Messages read from the input topic.");
        EventsScored = _meter.CreateCounter<long>("streamfraud.events.scored", "{event}", "Events scored (duplicates re-scored included).");
        Duplicates = _meter.CreateCounter<long>("streamfraud.events.duplicates", "{event}", "Redelivered events recognised by the window store.");
        Alerts = _meter.CreateCounter<long>("streamfraud.alerts.emitted", "{alert}", "Alerts produced to the alerts topic, by model.version.");
        Dlq = _meter.CreateCounter<long>("streamfraud.dlq.messages", "{message}", "Messages sent to the dead-letter topic, by error class.");
        Errors = _meter.CreateCounter<long>("streamfraud.errors", "{error}", "Transient failures retried (Redis, broker, registry, overlapped reads), by stage.");
        BatchSize = _meter.CreateHistogram<int>("streamfraud.batch.size", "{event}", "Events per batch.");
        BatchDuration = _meter.CreateHistogram<double>("streamfraud.batch.duration", "s", "Wall time of a batch from decode to stored offsets.");
        StageDuration = _meter.CreateHistogram<double>("streamfraud.stage.duration", "s", "Time per batch stage: poll (collecting the batch from the consumer), decode, redis (window reads), models, explain, publish (alerts and DLQ acknowledged), writes (the rest of the batch protocol: window states written, and output records built, shadow scoring, decision records, conflicts re-scored), commit (offsets or the Kafka transaction).");
        Score = _meter.CreateHistogram<double>("streamfraud.score", "1", "Ensemble scores.");
        Agreement = _meter.CreateCounter<long>("streamfraud.challenger.decisions", "{event}", "Alert decisions of champion and challenger on the same windows: both, champion_only, challenger_only.");
        _meter.CreateObservableGauge("streamfraud.consumer.lag", () => Input.Lag, "{message}",
            "High watermark minus the next offset to process (after the last finished batch, else the group's committed offset), summed over assigned partitions; updated while paused.");
        _meter.CreateObservableGauge("streamfraud.consumer.partition.lag", Input.PartitionLags, "{message}",
            "streamfraud.consumer.lag per assigned partition (tags topic, partition); 0 for a partition this scorer held before, so max by partition over scorers is the holder's lag.");
        _meter.CreateObservableGauge("streamfraud.consumer.oldest_unprocessed_age", OldestUnprocessedAge, "s",
            "Age (by Kafka timestamp) of the oldest message read but not yet finished; 0 when no batch is in flight. Grows while the scorer is stuck.");
        _meter.CreateObservableGauge("streamfraud.partitions.assigned", () => Input.Assigned, "{partition}", "Partitions assigned to this scorer.");
        _meter.CreateObservableGauge("streamfraud.model.serving", ServingMeasurement, "1",
            "The serving model version, where its LSTM runs and the LSTM serving path in use (tags model.version, lstm.device: cpu or cuda, lstm.path: onnxruntime, managed_fp32, managed_int16 or managed_bf16).");

        LabelsConsumed = _meter.CreateCounter<long>("streamfraud.labels.consumed", "{message}", "Messages read from the labels topic.");
        LabelOutcomes = _meter.CreateCounter<long>("streamfraud.labels.outcomes", "{label}",
            "Labels applied by the label store, by outcome: applied, flipped, duplicate, superseded, stale, conflicting, invalid.");
        LabelsDlq = _meter.CreateCounter<long>("streamfraud.labels.dlq", "{message}", "Label messages sent to the labels dead-letter topic, by error class.");
        _meter.CreateObservableGauge("streamfraud.labels.consumer.lag", () => LabelInput.Lag, "{message}",
            "Labels consumer: high watermark minus the next offset to process, summed over its assigned partitions.");
        _meter.CreateObservableGauge("streamfraud.labels.consumer.partition.lag", LabelInput.PartitionLags, "{message}",
            "Labels consumer: streamfraud.labels.consumer.lag per assigned partition (tags topic, partition).");
        _meter.CreateObservableGauge("streamfraud.labels.partitions.assigned", () => LabelInput.Assigned, "{partition}", "Partitions of the labels topic assigned to this scorer.");
        QualityResults = _meter.CreateCounter<long>("streamfraud.quality.results", "{transaction}",
            "Labelled transactions joined with the scorer's decision, by model.version and result: true_positive, false_positive (confirmed), false_negative, true_negative.");
        QualityRetractions = _meter.CreateCounter<long>("streamfraud.quality.retractions", "{transaction}",
            "Results taken back because a newer label flipped the verdict (subtract from streamfraud.quality.results), by model.version and result.");
        _meter.CreateObservableGauge("streamfraud.quality.precision", () => Quality(q => q.Precision), "1",
            "Confirmed precision TP / (TP + FP) over labelled alerts, per model.version, from this process's labels since it started.");
        _meter.CreateObservableGauge("streamfraud.quality.recall", () => Quality(q => q.Recall), "1",
            "Delayed-label recall TP / (TP + FN) over labelled frauds, per model.version, from this process's labels since it started.");
        _meter.CreateObservableGauge("streamfraud.quality.cost", () => Quality(q => q.Cost), "1",
            "Confirmed cost 10 x FN + 1 x FP per model.version, from this process's labels since it started.");
        RecordZeros();
    }

    /// <summary>Gauges of the transaction consumer.</summary>
    public InputGauges Input { get; } = new();

    /// <summary>Gauges of the labels consumer.</summary>
    public InputGauges LabelInput { get; } = new();

    /// <summary>Net confirmed counts per model version behind the quality gauges.</summary>
    public QualityTally QualityTally { get; } = new();

    /// <summary>Label messages read.</summary>
    public Counter<long> LabelsConsumed { get; }

    /// <summary>Label store outcomes (tag <c>outcome</c>).</summary>
    public Counter<long> LabelOutcomes { get; }

    /// <summary>Labels DLQ messages (tag <c>error.class</c>).</summary>
    public Counter<long> LabelsDlq { get; }

    /// <summary>Joined results (tags <c>model.version</c>, <c>result</c>).</summary>
    public Counter<long> QualityResults { get; }

    /// <summary>Retracted results (tags <c>model.version</c>, <c>result</c>).</summary>
    public Counter<long> QualityRetractions { get; }

    /// <summary>The metric tag value of a label outcome.</summary>
    public static string OutcomeName(LabelOutcome outcome) => OutcomeNames[(int)outcome];

    /// <summary>The metric tag value of a quality result.</summary>
    public static string ResultName(QualityResult result) => ResultNames[(int)result];

    /// <summary>Counts a quality change on the counters and the tally behind the gauges.</summary>
    public void Record(QualityChange change)
    {
        QualityTally.Add(change);
        var tags = new TagList { { "model.version", change.ModelVersion }, { "result", ResultName(change.Result) } };
        (change.Delta > 0 ? QualityResults : QualityRetractions).Add(Math.Abs(change.Delta), tags);
    }

    /// <summary>Messages read.</summary>
    public Counter<long> EventsConsumed { get; }

    /// <summary>Events scored.</summary>
    public Counter<long> EventsScored { get; }

    /// <summary>Duplicates recognised.</summary>
    public Counter<long> Duplicates { get; }

    /// <summary>Alerts produced.</summary>
    public Counter<long> Alerts { get; }

    /// <summary>DLQ messages.</summary>
    public Counter<long> Dlq { get; }

    /// <summary>Retried transient errors.</summary>
    public Counter<long> Errors { get; }

    /// <summary>Batch sizes.</summary>
    public Histogram<int> BatchSize { get; }

    /// <summary>Batch durations.</summary>
    public Histogram<double> BatchDuration { get; }

    /// <summary>Stage durations (tag <c>stage</c>).</summary>
    public Histogram<double> StageDuration { get; }

    /// <summary>Score distribution.</summary>
    public Histogram<double> Score { get; }

    /// <summary>Champion/challenger agreement (tag <c>outcome</c>).</summary>
    public Counter<long> Agreement { get; }

    /// <summary>The transaction consumer's lag gauge's value.</summary>
    public long Lag => Input.Lag;

    /// <summary>Updates the transaction consumer's lag gauge.</summary>
    public void SetLag(long lag) => Input.SetLag(lag);

    /// <summary>Sets the Kafka timestamp (Unix ms) of the oldest transaction message in flight; null when none is.</summary>
    public void SetOldestUnprocessed(long? unixMs) => Input.SetOldestUnprocessed(unixMs);

    /// <summary>Where the serving bundle's LSTM runs (<c>cpu</c>, <c>cuda</c>), for the <c>lstm.device</c> tag of
    /// <c>streamfraud.model.serving</c>.</summary>
    public Func<string> LstmDevice { get; set; } = () => "none";

    /// <summary>Seconds since the oldest transaction message in flight was written (0 when none is).</summary>
    public double OldestUnprocessedAge() => Input.OldestUnprocessedAge();

    /// <summary>Updates the transaction consumer's assigned-partitions gauge.</summary>
    public void SetAssigned(int count) => Input.SetAssigned(count);

    /// <summary>
    /// Updates the serving-version gauge; a version seen for the first time gets its per-version counters (alerts,
    /// quality results and retractions) at 0.
    /// </summary>
    public void SetModelVersion(string version, string lstmPath = "")
    {
        if (string.Equals(version, Volatile.Read(ref _modelVersion), StringComparison.Ordinal))
        {
            Volatile.Write(ref _lstmPath, lstmPath);
            return;
        }

        // One immutable pair read by the gauge: the path before the version, so a scrape never pairs a new version with
        // the previous bundle's path for long (both are rewritten on the next batch anyway).
        Volatile.Write(ref _lstmPath, lstmPath);
        Volatile.Write(ref _modelVersion, version);
        var tag = new KeyValuePair<string, object?>("model.version", version);
        Alerts.Add(0, tag);
        foreach (var result in ResultNames)
        {
            var tags = new TagList { tag, { "result", result } };
            QualityResults.Add(0, tags);
            QualityRetractions.Add(0, tags);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();

    private Measurement<int> ServingMeasurement() => new(1,
        new KeyValuePair<string, object?>("model.version", Volatile.Read(ref _modelVersion)),
        new KeyValuePair<string, object?>("lstm.device", LstmDevice()),
        new KeyValuePair<string, object?>("lstm.path", Volatile.Read(ref _lstmPath)));

    /// <summary>Every counter at 0 for each known value of its tags (per-version counters: <see cref="SetModelVersion"/>).</summary>
    private void RecordZeros()
    {
        EventsConsumed.Add(0);
        EventsScored.Add(0);
        Duplicates.Add(0);
        LabelsConsumed.Add(0);
        foreach (var name in TransactionDlqClasses)
        {
            Dlq.Add(0, new KeyValuePair<string, object?>("error.class", name));
        }

        foreach (var name in LabelDlqClasses)
        {
            LabelsDlq.Add(0, new KeyValuePair<string, object?>("error.class", name));
        }

        foreach (var stage in ErrorStages.All)
        {
            Errors.Add(0, new KeyValuePair<string, object?>("stage", stage));
        }

        foreach (var name in OutcomeNames)
        {
            LabelOutcomes.Add(0, new KeyValuePair<string, object?>("outcome", name));
        }

        foreach (var name in AgreementNames)
        {
            Agreement.Add(0, new KeyValuePair<string, object?>("outcome", name));
        }
    }

    private IEnumerable<Measurement<double>> Quality(Func<QualityCounts, double> value)
    {
        foreach (var counts in QualityTally.Snapshot())
        {
            var v = value(counts);
            if (!double.IsNaN(v))
            {
                yield return new Measurement<double>(v, new KeyValuePair<string, object?>("model.version", counts.ModelVersion));
            }
        }
    }
}

/// <summary>
/// The <c>stage</c> tags of <c>streamfraud.errors</c>: where a transient failure was retried. The label consumer's
/// stages carry the prefix <see cref="LabelsPrefix"/>.
/// </summary>
public static class ErrorStages
{
    /// <summary>Decoding through the Schema Registry.</summary>
    public const string Decode = "decode";

    /// <summary>Registering or looking up the output schemas.</summary>
    public const string Registry = "registry";

    /// <summary>Writing alerts' decision records (live quality).</summary>
    public const string Decisions = "decisions";

    /// <summary>Reading or writing card windows.</summary>
    public const string Redis = "redis";

    /// <summary>Producing alerts, scores and DLQ records.</summary>
    public const string Produce = "produce";

    /// <summary>Exactly-once: sending offsets to or committing the Kafka transaction.</summary>
    public const string Transaction = "transaction";

    /// <summary>
    /// A batch's reads or scoring, run alongside the previous batch's write (at-least-once mode), failed; the batch
    /// is prepared again on its own once that write has settled.
    /// </summary>
    public const string Overlap = "overlap";

    /// <summary>The label consumer applying a batch to the label store.</summary>
    public const string Apply = "apply";

    /// <summary>The label consumer joining labels with decision records.</summary>
    public const string Quality = "quality";

    /// <summary>The label consumer restarted after an unexpected failure.</summary>
    public const string Loop = "loop";

    /// <summary>Prefix of the label consumer's stages.</summary>
    public const string LabelsPrefix = "labels.";

    /// <summary>Every stage tag either consumer can record.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Decode, Registry, Decisions, Redis, Produce, Transaction, Overlap,
        LabelsPrefix + Decode, LabelsPrefix + Apply, LabelsPrefix + Quality, LabelsPrefix + Produce, LabelsPrefix + Loop,
    ];
}

/// <summary>One partition's lag for the per-partition gauges.</summary>
/// <param name="Topic">Topic.</param>
/// <param name="Partition">Partition.</param>
/// <param name="Lag">High watermark minus the next offset to process.</param>
public readonly record struct PartitionLag(string Topic, int Partition, long Lag);

/// <summary>
/// The gauges of one Kafka consumer of the scorer (transactions, labels): lag (summed and per partition), assigned
/// partitions and the oldest message in flight. Written by the consumer's thread, read by the metrics exporter and
/// readiness checks.
/// </summary>
public sealed class InputGauges
{
    private readonly Lock _partitionGate = new();
    private readonly HashSet<(string Topic, int Partition)> _partitionsSeen = [];
    private PartitionLag[] _partitionLags = [];
    private int _partitionCount;
    private long _lag;
    private int _assigned;
    private long _oldestUnprocessedMs = long.MinValue;

    /// <summary>High watermark minus the next offset to process, summed over the assigned partitions.</summary>
    public long Lag => Interlocked.Read(ref _lag);

    /// <summary>
    /// The lag of each assigned partition whose positions are known, and 0 for every partition reported before but not
    /// now (moved to another scorer), as gauge measurements tagged <c>topic</c> and <c>partition</c> (read at scrape
    /// time). The zeros keep a moved partition's last lag from lingering: the exporter may repeat a series its callback
    /// stopped reporting.
    /// </summary>
    public IEnumerable<Measurement<long>> PartitionLags()
    {
        lock (_partitionGate)
        {
            var measurements = new List<Measurement<long>>(_partitionsSeen.Count);
            var current = new HashSet<(string, int)>();
            for (var i = 0; i < _partitionCount; i++)
            {
                var p = _partitionLags[i];
                current.Add((p.Topic, p.Partition));
                measurements.Add(Measure(p.Lag, p.Topic, p.Partition));
            }

            foreach (var (topic, partition) in _partitionsSeen)
            {
                if (!current.Contains((topic, partition)))
                {
                    measurements.Add(Measure(0, topic, partition));
                }
            }

            return measurements;
        }

        static Measurement<long> Measure(long lag, string topic, int partition) =>
            new(lag, new KeyValuePair<string, object?>("topic", topic), new KeyValuePair<string, object?>("partition", partition));
    }

    /// <summary>Replaces the per-partition lags (a partition not listed any more is reported at 0).</summary>
    public void SetPartitionLags(ReadOnlySpan<PartitionLag> lags)
    {
        lock (_partitionGate)
        {
            if (_partitionLags.Length < lags.Length)
            {
                _partitionLags = new PartitionLag[lags.Length];
            }

            lags.CopyTo(_partitionLags);
            _partitionCount = lags.Length;
            foreach (var p in lags)
            {
                _partitionsSeen.Add((p.Topic, p.Partition));
            }
        }
    }

    /// <summary>Partitions assigned.</summary>
    public int Assigned => Volatile.Read(ref _assigned);

    /// <summary>Updates the lag.</summary>
    public void SetLag(long lag) => Interlocked.Exchange(ref _lag, lag);

    /// <summary>Updates the assigned partitions.</summary>
    public void SetAssigned(int count) => Volatile.Write(ref _assigned, count);

    /// <summary>Sets the Kafka timestamp (Unix ms) of the oldest message in flight; null when none is.</summary>
    public void SetOldestUnprocessed(long? unixMs) => Interlocked.Exchange(ref _oldestUnprocessedMs, unixMs ?? long.MinValue);

    /// <summary>Seconds since the oldest message in flight was written (0 when none is).</summary>
    public double OldestUnprocessedAge()
    {
        var ms = Interlocked.Read(ref _oldestUnprocessedMs);
        return ms == long.MinValue ? 0 : Math.Max(0, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ms) / 1000.0);
    }
}
