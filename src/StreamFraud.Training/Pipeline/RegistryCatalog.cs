using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Training.Pipeline;

/// <summary>One published bundle as <c>models list</c> shows it.</summary>
public sealed record RegistryEntry
{
    /// <summary>Version (directory name).</summary>
    public required string Version { get; init; }

    /// <summary>Build time; null when the manifest is unreadable.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Whether <c>current.json</c> names it.</summary>
    public bool IsCurrent { get; init; }

    /// <summary>Whether <c>current.json</c> names it as previous (the rollback target).</summary>
    public bool IsPrevious { get; init; }

    /// <summary>Feature spec name and version, e.g. <c>card v1</c>.</summary>
    public string? Spec { get; init; }

    /// <summary>Training input file.</summary>
    public string? Source { get; init; }

    /// <summary>Test ROC-AUC of the ensemble.</summary>
    public double? TestRocAuc { get; init; }

    /// <summary>Test average precision of the ensemble.</summary>
    public double? TestAveragePrecision { get; init; }

    /// <summary>Test card precision@100 of the ensemble.</summary>
    public double? TestCardPrecisionAt100 { get; init; }

    /// <summary>The served cost_min threshold.</summary>
    public double? CostMinThreshold { get; init; }

    /// <summary>Why the manifest could not be read, when it could not.</summary>
    public string? Problem { get; init; }
}

/// <summary>Reads a registry for <c>models list</c>.</summary>
public static class RegistryCatalog
{
    /// <summary>Every published version, oldest first, with its headline figures and pointer status.</summary>
    /// <exception cref="InvalidDataException"><c>current.json</c> exists but is not valid.</exception>
    public static IReadOnlyList<RegistryEntry> List(BundleRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var current = registry.ReadCurrent();
        var entries = new List<RegistryEntry>();
        foreach (var version in registry.Versions())
        {
            var isCurrent = current?.Version == version;
            var isPrevious = current?.Previous == version;
            try
            {
                var m = BundleManifest.Read(Path.Combine(registry.PathOf(version), BundleManifest.FileName));
                double? Get(string metric) =>
                    m.Metrics.TryGetValue(ModelNames.Test, out var split) && split.TryGetValue(ModelNames.Ensemble, out var model) &&
                    model.TryGetValue(metric, out var value)
                        ? value
                        : null;
                entries.Add(new RegistryEntry
                {
                    Version = version,
                    CreatedAt = m.CreatedAt,
                    IsCurrent = isCurrent,
                    IsPrevious = isPrevious,
                    Spec = $"{m.FeatureSpec.Name} v{m.FeatureSpec.Version}",
                    Source = m.TrainingData?.Source,
                    TestRocAuc = Get("roc_auc"),
                    TestAveragePrecision = Get("average_precision"),
                    TestCardPrecisionAt100 = Get("card_precision_at_100"),
                    CostMinThreshold = m.Thresholds.CostMin.Threshold,
                });
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                entries.Add(new RegistryEntry { Version = version, IsCurrent = isCurrent, IsPrevious = isPrevious, Problem = e.Message });
            }
        }

        return entries;
    }
}
