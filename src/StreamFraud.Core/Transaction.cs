namespace StreamFraud.Core;

/// <summary>
/// One card transaction as the domain sees it: the fields of <c>schemas/transaction.avsc</c> and of the canonical CSV
/// (docs/ARCHITECTURE.md "Topics and contracts"), independent of how it was transported.
/// </summary>
/// <param name="TransactionId">Unique id of the transaction; the idempotence key of window appends.</param>
/// <param name="CardId">Card id; the Kafka key and the window key.</param>
/// <param name="MerchantId">Merchant id.</param>
/// <param name="Amount">Amount in <paramref name="Currency"/>; finite and non-negative when valid.</param>
/// <param name="Currency">ISO-4217 currency code.</param>
/// <param name="EventTimeMs">Event time, Unix epoch milliseconds UTC (Avro <c>timestamp-millis</c>).</param>
/// <param name="Mcc">Merchant category code (four digits), when known.</param>
/// <param name="Country">ISO-3166 alpha-2 country of the merchant/terminal, when known.</param>
/// <param name="Channel">Channel (<c>pos</c>, <c>ecom</c>, <c>atm</c>, ...), when known.</param>
/// <param name="Features">Pre-engineered feature vector (spec <c>precomputed:N</c>), when present.</param>
/// <param name="IsFraud">Label, present in history and backtests only.</param>
/// <param name="FraudScenario">Name of the generated fraud scenario, when labelled fraud from the simulator.</param>
public sealed record Transaction(
    string TransactionId,
    string CardId,
    string MerchantId,
    double Amount,
    string Currency,
    long EventTimeMs,
    string? Mcc = null,
    string? Country = null,
    string? Channel = null,
    float[]? Features = null,
    bool? IsFraud = null,
    string? FraudScenario = null)
{
    /// <summary>Event time as a UTC <see cref="DateTimeOffset"/>.</summary>
    public DateTimeOffset EventTime => DateTimeOffset.FromUnixTimeMilliseconds(EventTimeMs);
}
