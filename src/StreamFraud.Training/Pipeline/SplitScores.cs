namespace StreamFraud.Training.Pipeline;

/// <summary>The three models' scores on one split, with what is needed to evaluate them.</summary>
public sealed class SplitScores
{
    /// <summary>Model names in report order.</summary>
    public static IReadOnlyList<string> Models { get; } = [ModelNames.Lstm, ModelNames.Xgb, ModelNames.Ensemble];

    /// <summary>Creates the scores of one split.</summary>
    public SplitScores(string split, ExampleSource source, int[] examples, float[] lstm, float[] xgb, double[] ensemble)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(examples);
        if (lstm.Length != examples.Length || xgb.Length != examples.Length || ensemble.Length != examples.Length)
        {
            throw new ArgumentException("one score per example and model is needed");
        }

        Split = split;
        Examples = examples;
        Lstm = lstm;
        Xgb = xgb;
        Ensemble = ensemble;
        Labels = new bool[examples.Length];
        Scenarios = new string?[examples.Length];
        CardIds = new string[examples.Length];
        EventTimesMs = new long[examples.Length];
        HasEventTimes = source.HasEventTimes;
        for (var k = 0; k < examples.Length; k++)
        {
            var i = examples[k];
            Labels[k] = source.Label(i) > 0;
            Scenarios[k] = source.Scenario(i);
            CardIds[k] = source.CardId(i);
            EventTimesMs[k] = source.EventTimeMs(i);
        }
    }

    /// <summary><c>validation</c> or <c>test</c>.</summary>
    public string Split { get; }

    /// <summary>Example indices (into the <see cref="ExampleSource"/>).</summary>
    public int[] Examples { get; }

    /// <summary>LSTM probabilities.</summary>
    public float[] Lstm { get; }

    /// <summary>XGBoost probabilities.</summary>
    public float[] Xgb { get; }

    /// <summary>Ensemble scores, computed exactly as the scorer does (<c>wl · lstm + wx · xgb</c> in double).</summary>
    public double[] Ensemble { get; }

    /// <summary>Per example, fraud.</summary>
    public bool[] Labels { get; }

    /// <summary>Per example, fraud scenario.</summary>
    public string?[] Scenarios { get; }

    /// <summary>Per example, card id.</summary>
    public string[] CardIds { get; }

    /// <summary>Per example, event time.</summary>
    public long[] EventTimesMs { get; }

    /// <summary>Whether the examples have event times (card precision@100 per day needs them).</summary>
    public bool HasEventTimes { get; }

    /// <summary>Number of examples.</summary>
    public int Count => Examples.Length;

    /// <summary>The scores of <paramref name="model"/> widened to double.</summary>
    public double[] ScoresOf(string model) => model switch
    {
        ModelNames.Lstm => [.. Lstm.Select(s => (double)s)],
        ModelNames.Xgb => [.. Xgb.Select(s => (double)s)],
        ModelNames.Ensemble => Ensemble,
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "unknown model"),
    };

    /// <summary>The scorer's ensemble: <c>wl · lstm + wx · xgb</c>, each float widened to double (as <c>ModelBundle.Score</c>).</summary>
    public static double[] Combine(ReadOnlySpan<float> lstm, ReadOnlySpan<float> xgb, double lstmWeight, double xgbWeight)
    {
        var result = new double[lstm.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = (lstmWeight * lstm[i]) + (xgbWeight * xgb[i]);
        }

        return result;
    }
}

/// <summary>Model names used as keys in reports and manifests.</summary>
public static class ModelNames
{
    /// <summary>The LSTM on the 7-step window.</summary>
    public const string Lstm = "lstm";

    /// <summary>XGBoost on the newest step.</summary>
    public const string Xgb = "xgb";

    /// <summary>Their weighted mean.</summary>
    public const string Ensemble = "ensemble";

    /// <summary>Split names.</summary>
    public const string Validation = "validation";

    /// <summary>Split names.</summary>
    public const string Test = "test";
}
