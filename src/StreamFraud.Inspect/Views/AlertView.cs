using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;

namespace StreamFraud.Inspect.Views;

/// <summary>
/// Alerts (<c>fraud-alerts</c>, <c>fraud-alerts.shadow</c>, a backtest's alerts topic): when, which card, how much,
/// the score and its two parts against the threshold and its policy, the model version, and why — the top XGBoost
/// feature contributions and the earlier transaction that moved the LSTM most. The amount is the alert's own (its
/// <c>amount</c> and <c>currency</c>); for alerts of scorers that did not write it yet, it is looked up in the scored
/// transaction (<see cref="TransactionLookup"/>), as is the whole transaction for <c>--json</c>.
/// </summary>
/// <param name="registry">Registry client.</param>
/// <param name="lookup">Where the scored transactions are looked up; null with <c>--no-lookup</c>.</param>
public sealed class AlertView(ISchemaRegistryClient registry, TransactionLookup? lookup) : RecordView
{
    private readonly AvroDeserializer<FraudAlert> _deserializer = new(registry);
    private readonly Dictionary<(int, long), (FraudAlert?, string?)> _decoded = [];
    private bool _lookupWarned;

    /// <inheritdoc />
    public override LineTable Table { get; } = new(
        ("EVENT TIME (UTC)", 19), ("CARD", 12), ("TRANSACTION", 20), ("AMOUNT", 14), ("SCORE", 6), ("LSTM", 6), ("XGB", 6),
        ("THRESHOLD", 9), ("POLICY", 8), ("MODEL", 22), ("WHY (top XGBoost features: value, log-odds contribution; the earlier transaction that moved the LSTM most)", 0));

    /// <inheritdoc />
    public override string? Render(ConsumeResult<byte[]?, byte[]?> record, bool json)
    {
        ArgumentNullException.ThrowIfNull(record);
        var (alert, problem) = _decoded.Remove((record.Partition.Value, record.Offset.Value), out var early)
            ? early
            : Decode(_deserializer, record.Message.Value, record.Topic, "a fraud alert");
        if (alert is null)
        {
            if (json)
            {
                return JsonLine.Object(w =>
                {
                    JsonLine.Kafka(w, record);
                    w.WriteString("error", problem);
                });
            }

            Warnings.Add($"{record.Topic} partition {record.Partition.Value} offset {record.Offset.Value}: not an alert ({problem})");
            return null;
        }

        // A row needs the transaction only for an alert without its own amount; --json shows the whole transaction.
        var found = json || alert.Amount is null ? lookup?.Find(alert.Partition, alert.Offset, alert.TransactionId) : null;
        return json ? Json(record, alert, found) : Row(alert, found);
    }

    /// <summary>Alerts are merged by event time (the message timestamp is when the scorer produced them); the decoded
    /// alert is kept for <see cref="Render"/>.</summary>
    public override long OrderKey(ConsumeResult<byte[]?, byte[]?> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var decoded = Decode(_deserializer, record.Message.Value, record.Topic, "a fraud alert");
        _decoded[(record.Partition.Value, record.Offset.Value)] = decoded;
        return decoded.Item1?.EventTimeMs ?? record.Message.Timestamp.UnixTimestampMs;
    }

    /// <summary>The WHY column: top features, then the influential earlier transaction.</summary>
    public static string Explain(FraudAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var why = new StringBuilder();
        why.AppendJoin(", ", alert.TopFeatures.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Name}={FeatureValue(f.Value)} ({f.Contribution:+0.000;-0.000;0.000})")));
        if (alert.InfluentialStepsBack is { } back)
        {
            why.Append(why.Length > 0 ? "; " : "");
            var at = alert.InfluentialEventTimeMs is { } t ? " at " + When(t, alert.EventTimeMs) : "";
            why.Append(string.Create(CultureInfo.InvariantCulture, $"earlier tx {back} back{at} moved LSTM {alert.InfluentialScoreDelta ?? double.NaN:+0.000;-0.000;0.000}"));
        }
        else
        {
            why.Append(why.Length > 0 ? "; " : "").Append("first transaction of its window");
        }

        return why.ToString();
    }

    /// <summary>A feature value: up to 3 decimals, or 3 significant digits when smaller.</summary>
    public static string FeatureValue(double v) =>
        !double.IsFinite(v) ? "n/a"
        : v != 0 && Math.Abs(v) < 0.001 ? v.ToString("G3", CultureInfo.InvariantCulture)
        : v.ToString("0.###", CultureInfo.InvariantCulture);

    private string Row(FraudAlert a, LookupResult? found)
    {
        var amount = "-";
        if (a.Amount is { } own)
        {
            amount = LineTable.Money(own, a.Currency);
        }
        else if (found is { Transaction: { } t })
        {
            amount = LineTable.Money(t.Amount, t.Currency);
        }
        else if (found is { Problem: { } p })
        {
            amount = "?";
            if (!_lookupWarned)
            {
                _lookupWarned = true;
                Warnings.Add($"amount unknown for alert {a.AlertId}: {p} (later misses are shown as '?'; --json gives each reason)");
            }
        }

        return Table.Row(
            LineTable.Time(a.EventTimeMs), a.CardId, a.TransactionId, amount,
            LineTable.Number(a.Score), LineTable.Number(a.LstmScore), LineTable.Number(a.XgbScore),
            LineTable.Number(a.Threshold, 6), a.ThresholdPolicy, a.ModelVersion, Explain(a));
    }

    private string Json(ConsumeResult<byte[]?, byte[]?> record, FraudAlert a, LookupResult? found) => JsonLine.Object(w =>
    {
        JsonLine.Kafka(w, record);
        w.WriteString("alert_id", a.AlertId);
        w.WriteString("transaction_id", a.TransactionId);
        w.WriteString("card_id", a.CardId);
        JsonLine.Time(w, "event_time", a.EventTimeMs);
        JsonLine.Time(w, "scored_at", a.ScoredAtMs);
        JsonLine.Number(w, "score", a.Score);
        JsonLine.Number(w, "lstm_score", a.LstmScore);
        JsonLine.Number(w, "xgb_score", a.XgbScore);
        JsonLine.Number(w, "threshold", a.Threshold);
        w.WriteString("threshold_policy", a.ThresholdPolicy);
        w.WriteString("model_version", a.ModelVersion);
        w.WriteString("window_hash", a.WindowHash);
        w.WriteNumber("window_length", a.WindowLength);
        w.WriteNumber("partition", a.Partition);
        w.WriteNumber("offset", a.Offset);
        JsonLine.Text(w, "merchant_id", a.MerchantId);
        JsonLine.Number(w, "amount", a.Amount);
        JsonLine.Text(w, "currency", a.Currency);
        w.WriteStartArray("top_features");
        foreach (var f in a.TopFeatures)
        {
            w.WriteStartObject();
            w.WriteString("name", f.Name);
            JsonLine.Number(w, "value", f.Value);
            JsonLine.Number(w, "contribution", f.Contribution);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (a.InfluentialStepsBack is { } back)
        {
            w.WriteNumber("influential_steps_back", back);
        }
        else
        {
            w.WriteNull("influential_steps_back");
        }

        JsonLine.Time(w, "influential_event_time", a.InfluentialEventTimeMs);
        JsonLine.Number(w, "influential_score_delta", a.InfluentialScoreDelta);
        WriteTransaction(w, found);
    });

    /// <summary><c>transaction</c> (the scored transaction, or null) and <c>transaction_lookup</c> (<c>found</c>,
    /// <c>off</c>, or why it was not found).</summary>
    private void WriteTransaction(Utf8JsonWriter w, LookupResult? found)
    {
        if (found is { Transaction: { } t })
        {
            w.WriteStartObject("transaction");
            w.WriteString("topic", lookup!.Topic);
            w.WriteString("merchant_id", t.MerchantId);
            JsonLine.Number(w, "amount", t.Amount);
            w.WriteString("currency", t.Currency);
            JsonLine.Time(w, "event_time", t.EventTimeMs);
            JsonLine.Text(w, "mcc", t.Mcc);
            JsonLine.Text(w, "country", t.Country);
            JsonLine.Text(w, "channel", t.Channel);
            w.WriteEndObject();
            w.WriteString("transaction_lookup", "found");
        }
        else
        {
            w.WriteNull("transaction");
            w.WriteString("transaction_lookup", found?.Problem ?? "off (--no-lookup)");
        }
    }

    /// <summary>An earlier time: the clock time on the alert's day, else the date too.</summary>
    private static string When(long ms, long alertMs)
    {
        var t = DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime;
        return t.Date == DateTimeOffset.FromUnixTimeMilliseconds(alertMs).UtcDateTime.Date
            ? t.ToString("HH:mm:ss", CultureInfo.InvariantCulture)
            : t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lookup?.Dispose();
        }
    }
}
