using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using StreamFraud.Contracts;
using StreamFraud.Core.Labels;
using StreamFraud.Kafka;

namespace StreamFraud.Inspect.Views;

/// <summary>
/// Fraud labels (<c>fraud-labels</c>): when the verdict became known, on which card and transaction, fraud or
/// legitimate, from which source, the amount when the source gave one, and when the transaction happened. A label the
/// scorer would dead-letter (<see cref="LabelRules.Validate"/>: a label before its transaction, an over-long id…) is
/// shown with the reason.
/// </summary>
/// <param name="registry">Registry client.</param>
public sealed class LabelView(ISchemaRegistryClient registry) : RecordView
{
    private readonly AvroDeserializer<FraudLabel> _deserializer = new(registry);

    /// <inheritdoc />
    public override LineTable Table { get; } = new(
        ("LABEL TIME (UTC)", 19), ("CARD", 12), ("TRANSACTION", 20), ("VERDICT", 10), ("SOURCE", 14), ("AMOUNT", 12),
        ("TRANSACTION TIME", 19), ("MERCHANT / NOTE", 0));

    /// <inheritdoc />
    public override string? Render(ConsumeResult<byte[]?, byte[]?> record, bool json)
    {
        ArgumentNullException.ThrowIfNull(record);
        var (label, problem) = Decode(_deserializer, record.Message.Value, record.Topic, "a fraud label");
        if (label is null)
        {
            if (json)
            {
                return JsonLine.Object(w =>
                {
                    JsonLine.Kafka(w, record);
                    w.WriteString("error", problem);
                });
            }

            Warnings.Add($"{record.Topic} partition {record.Partition.Value} offset {record.Offset.Value}: not a fraud label ({problem})");
            return null;
        }

        var invalid = LabelRules.Validate(LabelRecords.ToDomain(label));
        var source = label.Source.ToString();
        if (json)
        {
            return JsonLine.Object(w =>
            {
                JsonLine.Kafka(w, record);
                w.WriteString("transaction_id", label.TransactionId);
                w.WriteString("card_id", label.CardId);
                w.WriteString("merchant_id", label.MerchantId);
                JsonLine.Time(w, "event_time", label.EventTimeMs);
                JsonLine.Time(w, "label_time", label.LabelTimeMs);
                w.WriteBoolean("is_fraud", label.IsFraud);
                w.WriteString("source", source);
                JsonLine.Number(w, "amount", label.Amount);
                JsonLine.Text(w, "invalid", invalid);
            });
        }

        return Table.Row(
            LineTable.Time(label.LabelTimeMs), label.CardId, label.TransactionId, label.IsFraud ? "fraud" : "legitimate", source,
            label.Amount is { } amount ? LineTable.Money(amount, null) : "-", LineTable.Time(label.EventTimeMs),
            label.MerchantId + (invalid is null ? "" : $"  (invalid: {invalid})"));
    }
}
