using StreamFraud.Contracts;
using StreamFraud.Scoring;

namespace StreamFraud.Kafka;

/// <summary>Maps the pipeline's alerts to the Avro contract.</summary>
public static class AlertRecords
{
    /// <summary>The <c>fraud-alert.avsc</c> record of an alert.</summary>
    public static FraudAlert ToRecord(Alert a) => new()
    {
        AlertId = a.AlertId, TransactionId = a.TransactionId, CardId = a.CardId, EventTimeMs = a.EventTimeMs, ScoredAtMs = a.ScoredAtMs,
        Score = a.Score, LstmScore = a.LstmScore, XgbScore = a.XgbScore, Threshold = a.Threshold,
        ThresholdPolicy = Core.Evaluation.ThresholdPolicyNames.ToName(a.Policy), ModelVersion = a.ModelVersion, WindowHash = a.WindowHash,
        WindowLength = a.WindowLength, Partition = a.Position.Partition, Offset = a.Position.Offset,
        TopFeatures = [.. a.TopFeatures.Select(f => new FeatureContribution { Name = f.Name, Value = f.Value, Contribution = f.Contribution })],
        InfluentialStepsBack = a.InfluentialStepsBack, InfluentialEventTimeMs = a.InfluentialEventTimeMs, InfluentialScoreDelta = a.InfluentialScoreDelta,
        MerchantId = a.MerchantId, Amount = a.Amount, Currency = a.Currency,
    };
}
