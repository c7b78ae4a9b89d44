using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Clients;
using StreamFraud.Contracts;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;

namespace StreamFraud.Replay;

/// <summary>
/// The labels of a replay: where they come from (a labels CSV, the <c>fraud-labels</c> topic, or simulated from the
/// input's <c>is_fraud</c> after a delay) and, for a file or topic, every label read — the feed interleaves them by label
/// time with the transactions (<see cref="Backtest"/>), the report judges decisions by them (<see cref="ReplayReport"/>).
/// </summary>
public sealed class ReplayLabels
{
    private ReplayLabels(string kind, string description, IReadOnlyList<TransactionLabel>? read, LabelDelay? delay, long undecodable)
    {
        Kind = kind;
        Description = description;
        Read = read;
        Delay = delay;
        Undecodable = undecodable;
    }

    /// <summary><c>file</c>, <c>topic</c> or <c>simulated</c>.</summary>
    public string Kind { get; }

    /// <summary>One sentence for the report.</summary>
    public string Description { get; }

    /// <summary>Every label read (file or topic), in label-time order; null for simulated labels.</summary>
    public IReadOnlyList<TransactionLabel>? Read { get; }

    /// <summary>The delay of simulated labels; null otherwise.</summary>
    public LabelDelay? Delay { get; }

    /// <summary>Label messages that did not decode (topic).</summary>
    public long Undecodable { get; }

    /// <summary>A fresh feed of these labels for one pass (a feed is consumed by the pass).</summary>
    public LabelFeed NewFeed() => Read is { } labels ? LabelFeed.FromLabels(labels) : LabelFeed.FromDelay(Delay!);

    /// <summary>Labels simulated from the input's <c>is_fraud</c>: every applied fraud labelled after <paramref name="delay"/>.</summary>
    public static ReplayLabels Simulated(LabelDelay delay)
    {
        ArgumentNullException.ThrowIfNull(delay);
        return new ReplayLabels("simulated", $"simulated from the input's is_fraud: {delay.Description} (--label-delay {delay.Text})", null, delay, 0);
    }

    /// <summary>Labels given in memory (tests, callers with their own source).</summary>
    public static ReplayLabels Of(IEnumerable<TransactionLabel> labels, string description)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return new ReplayLabels("file", description, Sorted(labels), null, 0);
    }

    /// <summary>Reads a labels CSV whole.</summary>
    /// <exception cref="ReplayUsageException">The file is missing or malformed (the message names line and column).</exception>
    public static ReplayLabels FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new ReplayUsageException($"--labels {path}: no such file; pass a labels CSV ({LabelCsv.Header}).");
        }

        try
        {
            var labels = Sorted(LabelCsv.Read(path));
            return new ReplayLabels("file", $"labels file {Path.GetFileName(path)} ({labels.Count:N0} labels)", labels, null, 0);
        }
        catch (CanonicalCsvException e)
        {
            throw new ReplayUsageException($"--labels {path}: {e.Message}; fix the file (columns: {LabelCsv.Header}).");
        }
    }

    /// <summary>
    /// Reads the labels topic with a fresh consumer that never commits: every partition from the offset of
    /// <paramref name="since"/> (by message timestamp; a broker that cannot resolve timestamps costs a scan from the
    /// beginning) to its end as of the start. Labels are kept by their own <c>label_time</c> (at or after
    /// <paramref name="since"/>), whatever the message timestamps say.
    /// </summary>
    /// <returns>The labels, or null when the topic does not exist.</returns>
    public static ReplayLabels? FromTopic(KafkaClientSettings kafka, ISchemaRegistryClient registry, string topic, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        using var admin = new AdminClientBuilder(ReplayClients.Admin(kafka)).SetLogHandler((_, _) => { }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.SingleOrDefault();
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            return null;
        }

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(ReplayClients.Reader(kafka, "streamfraud-replay-labels"))
            .SetLogHandler((_, _) => { })
            .Build();
        var partitions = metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var starts = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(since))), TimeSpan.FromSeconds(30));
        var stopAt = new Dictionary<int, long>();
        var assignment = new List<TopicPartitionOffset>();
        foreach (var p in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10));
            var start = starts.Single(s => s.Partition == p.Partition).Offset.Value;
            if (start < 0)
            {
                start = marks.Low.Value;
            }

            if (start >= 0 && start < marks.High.Value)
            {
                stopAt[p.Partition.Value] = marks.High.Value;
                assignment.Add(new TopicPartitionOffset(p, start));
            }
        }

        var deserializer = new AvroDeserializer<FraudLabel>(registry).AsSyncOverAsync();
        var sinceMs = since.ToUnixTimeMilliseconds();
        var labels = new List<TransactionLabel>();
        long undecodable = 0;
        consumer.Assign(assignment);
        while (stopAt.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromSeconds(1));
            if (r is null || r.IsPartitionEOF)
            {
                TopicReplaySource.ForgetFinished(consumer, topic, stopAt);
                continue;
            }

            if (!stopAt.TryGetValue(r.Partition.Value, out var stop) || r.Offset.Value >= stop)
            {
                continue;
            }

            if (r.Offset.Value + 1 >= stop)
            {
                stopAt.Remove(r.Partition.Value);
            }

            FraudLabel record;
            try
            {
                record = deserializer.Deserialize(r.Message.Value, r.Message.Value is null, new SerializationContext(MessageComponentType.Value, topic, r.Message.Headers));
            }
            catch (Exception e) when (e is InvalidDataException or Avro.AvroException or SchemaRegistryException or ArgumentException or InvalidOperationException)
            {
                undecodable++;
                continue;
            }

            if (record is null || record.LabelTimeMs < sinceMs)
            {
                continue;
            }

            labels.Add(record.ToDomain());
        }

        var sorted = Sorted(labels);
        return new ReplayLabels("topic", $"topic {topic} ({sorted.Count:N0} labels with label_time from {since:yyyy-MM-dd HH:mm} UTC to the topic's end)", sorted, null, undecodable);
    }

    /// <summary>Stable sort by label time (equal times keep their order).</summary>
    private static List<TransactionLabel> Sorted(IEnumerable<TransactionLabel> labels) => [.. labels.OrderBy(l => l.LabelTimeMs)];
}
