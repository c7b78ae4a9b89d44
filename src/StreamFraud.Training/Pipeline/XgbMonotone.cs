using StreamFraud.Core.Features;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// XGBoost monotone constraints on the label-history features (<c>card</c> v2, FEATURES.md "Card v2"): the score may
/// only rise with the merchant's and the card's confirmed-fraud counts, fraud ratios and has-fraud flags, and only fall
/// as the days since their newest confirmed fraud grow. Every other feature — the transaction counts included — is
/// free. The training split holds few episodes of a merchant turning bad (four compromised-terminal episodes in the
/// README's 60-day run); unconstrained trees may learn from them a risk that falls somewhere as the known fraud rises,
/// while the constraint makes whatever an episode teaches about a ratio hold for every higher ratio.
/// </summary>
public static class XgbMonotone
{
    /// <summary>The constrained features by name: +1 = non-decreasing, −1 = non-increasing.</summary>
    public static IReadOnlyDictionary<string, int> LabelHistoryDirections { get; } = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["merchant_fraud_1d_log"] = 1,
        ["merchant_fraud_7d_log"] = 1,
        ["merchant_fraud_30d_log"] = 1,
        ["merchant_risk_1d"] = 1,
        ["merchant_risk_7d"] = 1,
        ["merchant_risk_30d"] = 1,
        ["merchant_has_fraud"] = 1,
        ["merchant_days_since_fraud_log"] = -1,
        ["card_fraud_1d_log"] = 1,
        ["card_fraud_7d_log"] = 1,
        ["card_fraud_30d_log"] = 1,
        ["card_has_fraud"] = 1,
        ["card_days_since_fraud_log"] = -1,
    };

    /// <summary>
    /// One direction per feature of <paramref name="spec"/> (the XGBoost columns), or null when the spec has none of the
    /// label-history features (card v1, an <c>.npz</c>'s <c>precomputed</c> spec).
    /// </summary>
    public static int[]? For(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var directions = new int[spec.Dimension];
        var any = false;
        for (var i = 0; i < spec.Features.Count; i++)
        {
            if (LabelHistoryDirections.TryGetValue(spec.Features[i].Name, out var direction))
            {
                directions[spec.Features[i].Index] = direction;
                any = true;
            }
        }

        return any ? directions : null;
    }

    /// <summary>The non-zero directions of <paramref name="directions"/> by feature name, in column order.</summary>
    public static IReadOnlyDictionary<string, int> Named(FeatureSpec spec, IReadOnlyList<int>? directions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        if (directions is not null)
        {
            foreach (var feature in spec.Features)
            {
                if (directions[feature.Index] != 0)
                {
                    named[feature.Name] = directions[feature.Index];
                }
            }
        }

        return named;
    }
}
