using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// How an alert threshold is chosen. Every policy yields one number <c>t</c>; the product alerts on
/// <c>score &gt;= t</c>. The registry/manifest spellings are in <see cref="ThresholdPolicyNames"/>; JSON uses them
/// whatever the serializer options.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<ThresholdPolicy>))]
public enum ThresholdPolicy
{
    /// <summary><c>cost_min</c>: minimises <c>cost_fn · FN + cost_fp · FP</c> on validation (the default policy).</summary>
    [JsonStringEnumMemberName(ThresholdPolicyNames.CostMin)]
    CostMin,

    /// <summary><c>best_f1</c>: maximises F1 on validation.</summary>
    [JsonStringEnumMemberName(ThresholdPolicyNames.BestF1)]
    BestF1,

    /// <summary><c>target_recall</c>: the highest threshold whose validation recall reaches the target.</summary>
    [JsonStringEnumMemberName(ThresholdPolicyNames.TargetRecall)]
    TargetRecall,

    /// <summary><c>fixed</c>: a threshold set by an operator, not chosen from data.</summary>
    [JsonStringEnumMemberName(ThresholdPolicyNames.Fixed)]
    Fixed,
}

/// <summary>The snake_case names of <see cref="ThresholdPolicy"/> used in manifests, reports and command lines.</summary>
public static class ThresholdPolicyNames
{
    /// <summary>Name of <see cref="ThresholdPolicy.CostMin"/>.</summary>
    public const string CostMin = "cost_min";

    /// <summary>Name of <see cref="ThresholdPolicy.BestF1"/>.</summary>
    public const string BestF1 = "best_f1";

    /// <summary>Name of <see cref="ThresholdPolicy.TargetRecall"/>.</summary>
    public const string TargetRecall = "target_recall";

    /// <summary>Name of <see cref="ThresholdPolicy.Fixed"/>.</summary>
    public const string Fixed = "fixed";

    /// <summary>The policy a bundle applies unless told otherwise (docs/ARCHITECTURE.md "Model bundle and registry").</summary>
    public const ThresholdPolicy Default = ThresholdPolicy.CostMin;

    /// <summary>The policies chosen from validation data, in report order.</summary>
    public static IReadOnlyList<ThresholdPolicy> DataDriven { get; } =
        [ThresholdPolicy.CostMin, ThresholdPolicy.BestF1, ThresholdPolicy.TargetRecall];

    /// <summary>The manifest spelling of <paramref name="policy"/>, e.g. <c>cost_min</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="policy"/> is not a defined value.</exception>
    public static string ToName(this ThresholdPolicy policy) => policy switch
    {
        ThresholdPolicy.CostMin => CostMin,
        ThresholdPolicy.BestF1 => BestF1,
        ThresholdPolicy.TargetRecall => TargetRecall,
        ThresholdPolicy.Fixed => Fixed,
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown threshold policy"),
    };

    /// <summary>
    /// Parses a policy name. Matching ignores case and accepts <c>-</c> for <c>_</c> (<c>cost-min</c> on a command
    /// line); the canonical spelling is the one <see cref="ToName"/> returns.
    /// </summary>
    /// <param name="name">Name to parse.</param>
    /// <param name="policy">The policy when the name is known.</param>
    /// <returns><see langword="true"/> when <paramref name="name"/> names a policy.</returns>
    public static bool TryParse([NotNullWhen(true)] string? name, out ThresholdPolicy policy)
    {
        policy = default;
        if (name is null)
        {
            return false;
        }

        var normalized = name.Trim().Replace('-', '_');
        foreach (var candidate in Enum.GetValues<ThresholdPolicy>())
        {
            if (string.Equals(normalized, candidate.ToName(), StringComparison.OrdinalIgnoreCase))
            {
                policy = candidate;
                return true;
            }
        }

        return false;
    }

    /// <summary>Parses a policy name (see <see cref="TryParse"/>).</summary>
    /// <exception cref="FormatException"><paramref name="name"/> is not a policy; the message lists the valid names.</exception>
    public static ThresholdPolicy Parse(string name) =>
        TryParse(name, out var policy)
            ? policy
            : throw new FormatException(
                $"unknown threshold policy '{name}'; expected one of {CostMin}, {BestF1}, {TargetRecall}, {Fixed}");
}
