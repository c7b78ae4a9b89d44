using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamFraud.Contracts;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Scoring;

namespace StreamFraud.Scorer.Loop;

/// <summary>A record to produce; a DLQ record names the dead letter it carries (replaced by a reference when rejected).</summary>
internal readonly record struct OutputRecord(string Topic, Message<byte[]?, byte[]?> Message, DeadLetter? DeadLetter = null);

/// <summary>
/// An input message the scorer cannot use, with its DLQ class and reason. <paramref name="ReferenceOnly"/>: the DLQ
/// gets a reference record (position, sizes, SHA-256) instead of a copy of the message.
/// </summary>
internal readonly record struct DeadLetter(ConsumeResult<byte[]?, byte[]?> Source, string Class, string Reason, bool ReferenceOnly = false);

/// <summary>
/// Builds a batch's output records: Avro alerts (live topic), the challenger's alerts (shadow topic), optional JSON
/// scores, and DLQ messages carrying the original key and value with the error headers.
/// </summary>
internal sealed class OutputBuilder(ScorerOptions options, IAsyncSerializer<FraudAlert> alerts, TimeProvider time)
{
    /// <summary>Keys longer than this are left out of a reference record (their SHA-256 is kept).</summary>
    private const int MaxReferenceKeyBytes = 1024;

    /// <summary>The scorer's options (topics, input size limit).</summary>
    public ScorerOptions Options => options;

    /// <summary>
    /// The records of one publish of the batch protocol. Serialising may call the Schema Registry (first use of a
    /// subject) and throw on an outage: the caller retries it.
    /// </summary>
    public async Task<List<OutputRecord>> BuildAsync(WindowBatch batch, BatchResult result, IReadOnlyList<DeadLetter> deadLetters)
    {
        var records = new List<OutputRecord>(result.Alerts.Count + deadLetters.Count);
        foreach (var alert in result.Alerts)
        {
            records.Add(await AlertAsync(alert, options.AlertsTopic).ConfigureAwait(true));
        }

        foreach (var shadow in result.Shadows)
        {
            foreach (var alert in shadow.Alerts)
            {
                records.Add(await AlertAsync(alert, options.ShadowTopic).ConfigureAwait(true));
            }
        }

        if (options.ScoresTopic is { } scores)
        {
            AddScores(records, scores, batch, result);
        }

        records.AddRange(DeadLetters(deadLetters));
        return records;
    }

    /// <summary>
    /// DLQ records: original key, value and timestamp, with error and source headers — or, for a dead letter marked
    /// <see cref="DeadLetter.ReferenceOnly"/>, its <see cref="Reference"/>.
    /// </summary>
    public IEnumerable<OutputRecord> DeadLetters(IReadOnlyList<DeadLetter> deadLetters)
    {
        foreach (var d in deadLetters)
        {
            if (d.ReferenceOnly)
            {
                yield return Reference(d, null);
                continue;
            }

            var m = d.Source;
            yield return new OutputRecord(
                options.DlqTopic,
                new Message<byte[]?, byte[]?> { Key = m.Message.Key, Value = m.Message.Value, Headers = ErrorHeaders(d), Timestamp = m.Message.Timestamp },
                d);
        }
    }

    /// <summary>
    /// A DLQ record standing for an input the DLQ cannot hold (over <c>Scorer:MaxInputBytes</c>, or rejected by the
    /// broker, e.g. "message size too large"): the usual error and source headers plus <c>dlq.reference=true</c>, the
    /// sizes and SHA-256 of the original key and value, and the same facts as a JSON value. The original stays in the
    /// input topic at its offset (until retention removes it). <paramref name="rejection"/>: why the copy was refused.
    /// </summary>
    public OutputRecord Reference(DeadLetter deadLetter, Error? rejection)
    {
        var m = deadLetter.Source;
        var key = m.Message.Key;
        var value = m.Message.Value;
        var valueSha = value is null ? "" : Convert.ToHexStringLower(SHA256.HashData(value));
        var keySha = key is null ? "" : Convert.ToHexStringLower(SHA256.HashData(key));
        var headers = ErrorHeaders(deadLetter);
        headers.Add("dlq.reference", "true"u8.ToArray());
        headers.Add("source.key.bytes", Encoding.UTF8.GetBytes((key?.Length ?? 0).ToString(CultureInfo.InvariantCulture)));
        headers.Add("source.value.bytes", Encoding.UTF8.GetBytes((value?.Length ?? 0).ToString(CultureInfo.InvariantCulture)));
        headers.Add("source.value.sha256", Encoding.UTF8.GetBytes(valueSha));
        if (rejection is not null)
        {
            headers.Add("dlq.rejected", Encoding.UTF8.GetBytes($"{rejection.Code}: {rejection.Reason}"));
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(new
        {
            reference = true,
            error_class = deadLetter.Class,
            reason = deadLetter.Reason,
            source_topic = m.Topic,
            source_partition = m.Partition.Value,
            source_offset = m.Offset.Value,
            source_timestamp = m.Message.Timestamp.UnixTimestampMs,
            key_bytes = key?.Length ?? 0,
            key_sha256 = keySha,
            value_bytes = value?.Length ?? 0,
            value_sha256 = valueSha,
            dlq_rejected = rejection is null ? null : $"{rejection.Code}: {rejection.Reason}",
        });
        var message = new Message<byte[]?, byte[]?>
        {
            Key = key is { Length: <= MaxReferenceKeyBytes } ? key : null, Value = json, Headers = headers, Timestamp = m.Message.Timestamp,
        };
        return new OutputRecord(options.DlqTopic, message, deadLetter with { ReferenceOnly = true });
    }

    /// <summary>Bytes of a message as the size limit counts them: key, value, header names and values.</summary>
    public static long SizeOf(Message<byte[]?, byte[]?> message)
    {
        long size = (message.Key?.Length ?? 0) + (message.Value?.Length ?? 0);
        if (message.Headers is { } headers)
        {
            foreach (var h in headers)
            {
                size += Encoding.UTF8.GetByteCount(h.Key) + (h.GetValueBytes()?.Length ?? 0);
            }
        }

        return size;
    }

    private Headers ErrorHeaders(DeadLetter d)
    {
        var m = d.Source;
        return new Headers
        {
            { "error.class", Encoding.UTF8.GetBytes(d.Class) },
            { "error.reason", Encoding.UTF8.GetBytes(d.Reason) },
            { "source.topic", Encoding.UTF8.GetBytes(m.Topic) },
            { "source.partition", Encoding.UTF8.GetBytes(m.Partition.Value.ToString(CultureInfo.InvariantCulture)) },
            { "source.offset", Encoding.UTF8.GetBytes(m.Offset.Value.ToString(CultureInfo.InvariantCulture)) },
            { "error.time", Encoding.UTF8.GetBytes(time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)) },
        };
    }

    private async Task<OutputRecord> AlertAsync(Alert alert, string topic) => new(topic, new Message<byte[]?, byte[]?>
    {
        Key = Encoding.UTF8.GetBytes(alert.CardId),
        Value = await alerts.SerializeAsync(AlertRecords.ToRecord(alert), new SerializationContext(MessageComponentType.Value, topic)).ConfigureAwait(true),
    });

    private static void AddScores(List<OutputRecord> records, string topic, WindowBatch batch, BatchResult result)
    {
        for (var b = 0; b < result.Events.Count; b++)
        {
            var e = result.Events[b];
            if (double.IsNaN(e.Score))
            {
                continue;
            }

            var tx = batch.Event(b);
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                transaction_id = tx.TransactionId, card_id = tx.CardId, event_time = tx.EventTimeMs, score = e.Score,
                lstm_score = e.Lstm, xgb_score = e.Xgb, threshold = result.Threshold, alert = e.Score >= result.Threshold,
                model_version = result.ModelVersion,
            });
            records.Add(new OutputRecord(topic, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(tx.CardId), Value = json }));
        }
    }
}
