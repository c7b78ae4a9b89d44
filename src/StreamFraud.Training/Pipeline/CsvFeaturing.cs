using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// How the trainer featurises a canonical CSV: the spec (<c>--spec</c>) and, for a spec that reads the label history
/// (<see cref="FeatureSpec.UsesEntityRisk"/>: <c>card</c> v2), where the labels come from — a labels CSV
/// (<c>--labels</c>) replayed by label time, or labels simulated from the CSV's own <c>is_fraud</c> after a delay
/// (<c>--label-delay</c>, default 7 days). Either way <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Core.Transaction}, LabelFeed, int)"/>
/// hands a row only the labels whose label time is before its event time, as the scorer sees them.
/// </summary>
public sealed record CsvFeaturing
{
    /// <summary>The spec of a CSV when <c>--spec</c> is not given: <c>card</c> v2.</summary>
    public static FeatureSpec DefaultSpec => FeatureSpec.CardV2;

    /// <summary>The spec (<c>card</c> v1 or v2).</summary>
    public FeatureSpec Spec { get; init; } = DefaultSpec;

    /// <summary>Whether the spec was chosen explicitly (an <c>.npz</c>, which keeps its own spec, then refuses it).</summary>
    public bool SpecGiven { get; init; }

    /// <summary>Labels CSV (<c>--labels</c>); null = simulated labels when the spec reads labels.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>Delay of simulated labels (<c>--label-delay</c>); null = <see cref="LabelDelay.Default"/>.</summary>
    public LabelDelay? LabelDelay { get; init; }

    /// <summary>Whether the spec reads labels (then every CSV run has a label source: the file or simulated ones).</summary>
    public bool UsesLabels => Spec.UsesEntityRisk;

    /// <summary>The delay simulated labels get.</summary>
    public LabelDelay EffectiveDelay => LabelDelay ?? Core.Labels.LabelDelay.Default;

    /// <summary>The spec's flag value (<c>v1</c>, <c>v2</c>).</summary>
    public static string FlagValue(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return "v" + spec.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The spec a <c>--spec</c> value names (<c>v1</c>, <c>v2</c>, any case), or null.</summary>
    public static FeatureSpec? ParseSpec(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "v1" or "1" => FeatureSpec.CardV1,
        "v2" or "2" => FeatureSpec.CardV2,
        _ => null,
    };

    /// <summary>Null when the settings fit together, else what is wrong, naming the flags.</summary>
    public string? Problem()
    {
        if (Spec is not (CardFeatureSpecV1 or CardFeatureSpecV2))
        {
            return $"--spec must be v1 or v2 (a CSV is featurised with spec card; got {Spec})";
        }

        if (LabelsPath is not null && LabelDelay is not null)
        {
            return "--label-delay simulates labels from the CSV's is_fraud; with --labels the file's own label times are used: give one of them";
        }

        if (!UsesLabels && (LabelsPath is not null || LabelDelay is not null))
        {
            var given = LabelsPath is not null ? "--labels" : "--label-delay";
            return $"{given} feeds the label-history features of --spec v2; spec {Spec.Name} v{Spec.Version} reads no labels: drop {given} or use --spec v2";
        }

        return null;
    }

    /// <summary>The problem of giving these settings for an <c>.npz</c> input (it keeps its own spec), or null.</summary>
    public string? NpzProblem(string inputFlag)
    {
        var given = new List<string>();
        if (SpecGiven)
        {
            given.Add("--spec");
        }

        if (LabelsPath is not null)
        {
            given.Add("--labels");
        }

        if (LabelDelay is not null)
        {
            given.Add("--label-delay");
        }

        return given.Count == 0
            ? null
            : $"{string.Join(", ", given)} apply to a CSV input; --input {inputFlag} is an .npz, whose vectors are precomputed (spec precomputed:F): drop {(given.Count == 1 ? "it" : "them")}";
    }
}
