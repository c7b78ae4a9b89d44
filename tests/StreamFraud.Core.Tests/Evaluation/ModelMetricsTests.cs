using StreamFraud.Core.Evaluation;

namespace StreamFraud.Core.Tests.Evaluation;

public class ModelMetricsTests
{
    [Fact]
    public void ChoosingThresholdsThenAtThresholds_ValidationThresholdsAppliedToTest()
    {
        // Validation: the hand example of ThresholdSearchTests (cost_min 0.2, best_f1 0.8, target_recall 0.2).
        var validation = ScoreCurve.Create([0.9, 0.8, 0.8, 0.5, 0.5, 0.2], [true, true, false, false, false, true]);
        var v = ModelMetrics.ChoosingThresholds(validation, cardPrecisionAt100: 0.25);

        Assert.Equal(6, v.Count);
        Assert.Equal(3, v.Positives);
        Assert.Equal(5.5 / 9.0, v.RocAuc, 15);
        Assert.Equal(13.0 / 18.0, v.AveragePrecision, 15);
        Assert.Equal(0.25, v.CardPrecisionAt100);
        Assert.Equal(0.2, v.Thresholds.CostMin.Threshold);
        Assert.Equal(0.8, v.Thresholds.BestF1.Threshold);
        Assert.Equal(0.2, v.Thresholds.TargetRecall.Threshold);

        // Test: 0.85 fraud, 0.8 legit, 0.3 fraud, 0.1 legit. At 0.8: TP 1 FP 1 FN 1; at 0.2: TP 2 FP 1 TN 1.
        var test = ScoreCurve.Create([0.85, 0.8, 0.3, 0.1], [true, false, true, false]);
        var t = ModelMetrics.AtThresholds(test, v.Thresholds);

        Assert.Null(t.CardPrecisionAt100);
        Assert.Equal(0.8, t.Thresholds.BestF1.Threshold);
        Assert.Equal(new ConfusionMatrix(1, 1, 1, 1), t.Thresholds.BestF1.Confusion);
        Assert.Equal(new ConfusionMatrix(2, 1, 1, 0), t.Thresholds.CostMin.Confusion);
        Assert.Equal(1.0, t.Thresholds.CostMin.Cost);
        Assert.Equal(0.75, t.RocAuc, 15); // pairs: 0.85>0.8, 0.85>0.1, 0.3<0.8, 0.3>0.1 -> 3/4
    }
}

public class EvaluationJsonTests
{
    private static readonly System.Text.Json.JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    [Fact]
    public void ModelMetrics_SnakeCaseJson_ReportKeysAndRoundTrip()
    {
        // cost_fn 1, cost_fp 5 on 0.9 legit / 0.5 fraud / 0.1 legit: flagging nothing is cheapest (+inf threshold).
        var curve = ScoreCurve.Create([0.9, 0.5, 0.1], [false, true, false]);
        var metrics = ModelMetrics.ChoosingThresholds(curve, new ThresholdSettings(1, 5), cardPrecisionAt100: 0.5);

        var json = System.Text.Json.JsonSerializer.Serialize(metrics, Options);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var root = doc.RootElement;

        Assert.Equal(0.5, root.GetProperty("roc_auc").GetDouble());
        Assert.Equal(0.5, root.GetProperty("average_precision").GetDouble());
        Assert.Equal(0.5, root.GetProperty("card_precision_at_100").GetDouble());
        var costMin = root.GetProperty("thresholds").GetProperty("cost_min");
        Assert.Equal("cost_min", costMin.GetProperty("policy").GetString());
        Assert.Equal("Infinity", costMin.GetProperty("threshold").GetString());
        Assert.Equal(1, costMin.GetProperty("confusion").GetProperty("false_negatives").GetInt64());
        Assert.Equal(5, costMin.GetProperty("settings").GetProperty("cost_false_positive").GetDouble());
        Assert.Equal(1, costMin.GetProperty("cost").GetDouble());
        Assert.False(root.GetProperty("thresholds").TryGetProperty("all", out _));

        var back = System.Text.Json.JsonSerializer.Deserialize<ModelMetrics>(json, Options);
        Assert.Equal(metrics, back);
    }

    [Fact]
    public void ThresholdPolicy_DefaultOptions_SerializesManifestSpelling()
    {
        Assert.Equal("\"target_recall\"", System.Text.Json.JsonSerializer.Serialize(ThresholdPolicy.TargetRecall));
        Assert.Equal(ThresholdPolicy.BestF1, System.Text.Json.JsonSerializer.Deserialize<ThresholdPolicy>("\"best_f1\""));
    }
}
