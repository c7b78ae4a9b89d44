namespace StreamFraud.Core.Labels;

/// <summary>Where a verdict comes from (the Avro enum <c>LabelSource</c> of <c>schemas/fraud-label.avsc</c>).</summary>
public enum LabelOrigin
{
    /// <summary>A card-network chargeback (<c>chargeback</c>).</summary>
    Chargeback = 0,

    /// <summary>A fraud analyst's decision (<c>analyst</c>).</summary>
    Analyst = 1,

    /// <summary>The cardholder reported it (<c>customer_claim</c>).</summary>
    CustomerClaim = 2,

    /// <summary>Anything else (<c>other</c>).</summary>
    Other = 3,
}

/// <summary>
/// A confirmed verdict on one earlier transaction, as the domain sees it: the fields of
/// <c>schemas/fraud-label.avsc</c> (topic <c>fraud-labels</c>) and of the labels CSV, independent of transport.
/// </summary>
/// <param name="TransactionId">The labelled transaction's id.</param>
/// <param name="CardId">The labelled transaction's card.</param>
/// <param name="MerchantId">The labelled transaction's merchant or terminal.</param>
/// <param name="EventTimeMs">When the labelled transaction happened, Unix ms UTC.</param>
/// <param name="LabelTimeMs">When the verdict became known, Unix ms UTC; never before <paramref name="EventTimeMs"/>.</param>
/// <param name="IsFraud">The verdict.</param>
/// <param name="Origin">Where it comes from.</param>
/// <param name="Amount">The labelled transaction's amount, when the source knows it.</param>
public sealed record TransactionLabel(
    string TransactionId,
    string CardId,
    string MerchantId,
    long EventTimeMs,
    long LabelTimeMs,
    bool IsFraud,
    LabelOrigin Origin = LabelOrigin.Other,
    double? Amount = null)
{
    /// <summary>The Avro symbol of <see cref="Origin"/> (<c>chargeback</c>, <c>analyst</c>, <c>customer_claim</c>, <c>other</c>).</summary>
    public static string OriginSymbol(LabelOrigin origin) => origin switch
    {
        LabelOrigin.Chargeback => "chargeback",
        LabelOrigin.Analyst => "analyst",
        LabelOrigin.CustomerClaim => "customer_claim",
        _ => "other",
    };

    /// <summary>The origin of an Avro symbol; false for anything else.</summary>
    public static bool TryParseOrigin(string? symbol, out LabelOrigin origin)
    {
        origin = symbol switch
        {
            "chargeback" => LabelOrigin.Chargeback,
            "analyst" => LabelOrigin.Analyst,
            "customer_claim" => LabelOrigin.CustomerClaim,
            "other" => LabelOrigin.Other,
            _ => (LabelOrigin)(-1),
        };
        return (int)origin >= 0;
    }
}
