using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamFraud.Contracts;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Scoring;

namespace StreamFraud.Scorer.Loop;

/// <summary>A record to produce.</summary>
internal readonly record struct OutputRecord(string Topic, Message<byte[]?, byte[]?> Message);

/// <summary>An input message the scorer cannot use, with its DLQ class and reason.</summary>
internal readonly record struct DeadLetter(ConsumeResult<byte[]?, byte[]?> Source, string Class, string Reason);

/// <summary>
/// Builds a batch's output records: Avro alerts (live topic), the challenger's alerts (shadow topic), optional JSON
/// scores, and DLQ messages carrying the original key and value with the error headers.
/// </summary>
internal sealed class OutputBuilder(ScorerOptions options, IAsyncSerializer<FraudAlert> alerts, TimeProvider time)
{
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

    /// <summary>DLQ records: original key, value and timestamp, with error and source headers.</summary>
    public IEnumerable<OutputRecord> DeadLetters(IReadOnlyList<DeadLetter> deadLetters)
    {
        var now = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        foreach (var (m, errorClass, reason) in deadLetters)
        {
            var headers = new Headers
            {
                { "error.class", Encoding.UTF8.GetBytes(errorClass) },
                { "error.reason", Encoding.UTF8.GetBytes(reason) },
                { "source.topic", Encoding.UTF8.GetBytes(m.Topic) },
                { "source.partition", Encoding.UTF8.GetBytes(m.Partition.Value.ToString(CultureInfo.InvariantCulture)) },
                { "source.offset", Encoding.UTF8.GetBytes(m.Offset.Value.ToString(CultureInfo.InvariantCulture)) },
                { "error.time", Encoding.UTF8.GetBytes(now) },
            };
            yield return new OutputRecord(options.DlqTopic, new Message<byte[]?, byte[]?> { Key = m.Message.Key, Value = m.Message.Value, Headers = headers, Timestamp = m.Message.Timestamp });
        }
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
