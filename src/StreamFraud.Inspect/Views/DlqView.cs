using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;

namespace StreamFraud.Inspect.Views;

/// <summary>
/// Dead letters (<c>transactions.dlq</c>, <c>fraud-labels.dlq</c>): when and why a message was refused (the
/// <c>error.*</c> headers), where it came from (<c>source.*</c>), and what it held — the transaction or label it
/// decodes to when its Avro is readable (an <c>invalid_value</c> or <c>reused_transaction_id</c> one), else a preview
/// of its bytes; a reference record (<c>dlq.reference=true</c>, for a message too large to copy) shows the original's
/// size and SHA-256.
/// </summary>
/// <param name="registry">Registry client.</param>
public sealed class DlqView(ISchemaRegistryClient registry) : RecordView
{
    private const int PreviewBytes = 48;
    private readonly AvroDeserializer<Transaction> _transactions = new(registry);
    private readonly AvroDeserializer<FraudLabel> _labels = new(registry);

    /// <inheritdoc />
    public override LineTable Table { get; } = new(
        ("ERROR TIME (UTC)", 19), ("CLASS", 21), ("SOURCE", 24), ("VALUE", 52), ("REASON", 0));

    /// <inheritdoc />
    public override string? Render(ConsumeResult<byte[]?, byte[]?> record, bool json)
    {
        ArgumentNullException.ThrowIfNull(record);
        var headers = Headers(record.Message.Headers);
        string? H(string name) => headers.TryGetValue(name, out var v) ? v : null;
        var reference = H("dlq.reference") == "true";
        var value = record.Message.Value;
        object? decoded = null;
        string? problem = null;
        if (!reference)
        {
            (decoded, problem) = Decode(_transactions, value, record.Topic, "a transaction");
            if (decoded is null)
            {
                var (label, labelProblem) = Decode(_labels, value, record.Topic, "a fraud label");
                (decoded, problem) = label is null ? ((object?)null, problem + "; nor as a fraud label: " + labelProblem) : (label, (string?)null);
            }
        }

        var errorTime = DateTimeOffset.TryParse(H("error.time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t.ToUnixTimeMilliseconds()
            : record.Message.Timestamp.UnixTimestampMs;
        if (json)
        {
            return JsonLine.Object(w =>
            {
                JsonLine.Kafka(w, record);
                JsonLine.Text(w, "error_class", H("error.class"));
                JsonLine.Text(w, "error_reason", H("error.reason"));
                JsonLine.Time(w, "error_time", errorTime);
                JsonLine.Text(w, "source_topic", H("source.topic"));
                WriteLong(w, "source_partition", H("source.partition"));
                WriteLong(w, "source_offset", H("source.offset"));
                w.WriteBoolean("reference", reference);
                w.WriteStartObject("headers");
                foreach (var (name, text) in headers)
                {
                    w.WriteString(name, text);
                }

                w.WriteEndObject();
                w.WriteNumber("value_bytes", value?.Length ?? 0);
                WriteDecoded(w, decoded);
                JsonLine.Text(w, "value_problem", reference ? null : problem);
                JsonLine.Text(w, "value_preview", decoded is null && !reference ? Preview(value) : null);
            });
        }

        var source = $"{H("source.topic") ?? "?"}[{H("source.partition") ?? "?"}]@{H("source.offset") ?? "?"}";
        var shown = reference
            ? $"reference: {H("source.value.bytes") ?? "?"} bytes, sha256 {Short(H("source.value.sha256"))}"
            : decoded switch
            {
                Transaction x => string.Create(CultureInfo.InvariantCulture, $"tx {x.TransactionId} card {x.CardId} {x.Amount:0.00} {x.Currency} {LineTable.Time(x.EventTimeMs)}"),
                FraudLabel l => $"label tx {l.TransactionId} card {l.CardId} {(l.IsFraud ? "fraud" : "legitimate")} {l.Source}",
                _ => Preview(value),
            };
        return Table.Row(LineTable.Time(errorTime), H("error.class") ?? "?", source, shown, H("error.reason") ?? "");
    }

    private static void WriteDecoded(Utf8JsonWriter w, object? decoded)
    {
        switch (decoded)
        {
            case Transaction x:
                w.WriteStartObject("value");
                w.WriteString("kind", "transaction");
                w.WriteString("transaction_id", x.TransactionId);
                w.WriteString("card_id", x.CardId);
                w.WriteString("merchant_id", x.MerchantId);
                JsonLine.Number(w, "amount", x.Amount);
                w.WriteString("currency", x.Currency);
                JsonLine.Time(w, "event_time", x.EventTimeMs is >= -62135596800000 and <= 253402300799999 ? x.EventTimeMs : null);
                JsonLine.Text(w, "mcc", x.Mcc);
                JsonLine.Text(w, "country", x.Country);
                JsonLine.Text(w, "channel", x.Channel);
                w.WriteEndObject();
                break;
            case FraudLabel l:
                w.WriteStartObject("value");
                w.WriteString("kind", "fraud_label");
                w.WriteString("transaction_id", l.TransactionId);
                w.WriteString("card_id", l.CardId);
                w.WriteString("merchant_id", l.MerchantId);
                JsonLine.Time(w, "event_time", l.EventTimeMs);
                JsonLine.Time(w, "label_time", l.LabelTimeMs);
                w.WriteBoolean("is_fraud", l.IsFraud);
                w.WriteString("source", l.Source.ToString());
                JsonLine.Number(w, "amount", l.Amount);
                w.WriteEndObject();
                break;
            default:
                w.WriteNull("value");
                break;
        }
    }

    private static void WriteLong(Utf8JsonWriter w, string name, string? text)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            w.WriteNumber(name, n);
        }
        else
        {
            JsonLine.Text(w, name, text);
        }
    }

    /// <summary>Headers as text (the DLQ writes UTF-8); the last value of a repeated name wins.</summary>
    private static SortedDictionary<string, string> Headers(Headers? headers)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var h in headers ?? [])
        {
            result[h.Key] = h.GetValueBytes() is { } bytes ? JsonLine.Key(bytes) ?? "" : "";
        }

        return result;
    }

    /// <summary>The first bytes: as text when they are printable UTF-8, else as hex.</summary>
    private static string Preview(byte[]? value)
    {
        if (value is null)
        {
            return "null value";
        }

        var head = value.AsSpan(0, Math.Min(value.Length, PreviewBytes));
        var more = value.Length > PreviewBytes ? $"… ({value.Length:N0} bytes)" : "";
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(head);
            if (!text.Any(c => char.IsControl(c) && c is not ('\t' or '\n' or '\r')))
            {
                return "text: " + text.ReplaceLineEndings(" ") + more;
            }
        }
        catch (DecoderFallbackException)
        {
            // binary: hex below
        }

        return "hex: " + Convert.ToHexStringLower(head) + more;
    }

    private static string Short(string? sha) => sha is { Length: > 16 } ? sha[..16] + "…" : sha ?? "?";
}
