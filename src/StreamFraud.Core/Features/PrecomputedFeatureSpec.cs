using System.Collections.Concurrent;
using System.Globalization;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// Spec <c>precomputed:N</c>: the vector is the event's own <see cref="Transaction.Features"/> array (the <c>.npz</c>
/// path of docs/ARCHITECTURE.md), unchanged. The card state keeps only the window; there are no aggregates.
/// </summary>
/// <remarks>
/// An event whose <c>features</c> is missing, has a length other than N, or holds a NaN or infinity is
/// <see cref="ApplyStatus.Invalid"/> (a DLQ case), never an exception. No <c>is_real</c> feature is added: padding is
/// told apart by the real-step count returned with the window.
/// </remarks>
public sealed class PrecomputedFeatureSpec : FeatureSpec
{
    /// <summary>Name prefix; the full name is <c>precomputed:N</c>.</summary>
    public const string NamePrefix = "precomputed:";

    /// <summary>The spec version.</summary>
    public const int SpecVersion = 1;

    /// <summary>Largest supported N.</summary>
    public const int MaxDimension = 4096;

    private static readonly ConcurrentDictionary<int, PrecomputedFeatureSpec> Cache = new();

    private PrecomputedFeatureSpec(int dimension)
        : base(NamePrefix + dimension.ToString(CultureInfo.InvariantCulture), SpecVersion, BuildDefinitions(dimension),
            "vector=event.features\nrequire=length-equals-dimension,finite\n")
    {
    }

    internal override int AggregateSize => 0;

    /// <summary>The <c>precomputed:N</c> spec (one shared instance per N).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not in 1..<see cref="MaxDimension"/>.</exception>
    public static PrecomputedFeatureSpec Create(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, MaxDimension);
        return Cache.GetOrAdd(dimension, static d => new PrecomputedFeatureSpec(d));
    }

    internal override CardAggregates? CreateAggregates() => null;

    internal override string? Featurize(CardState state, Transaction tx, RiskRing? merchant, RiskRing? card, Span<float> vector)
    {
        var features = tx.Features;
        if (features is null)
        {
            return $"transaction has no features array; spec {Name} needs {Dimension} values";
        }

        if (features.Length != Dimension)
        {
            return $"features has {features.Length} values; spec {Name} needs {Dimension}";
        }

        for (var i = 0; i < features.Length; i++)
        {
            if (!float.IsFinite(features[i]))
            {
                return $"features[{i}] is not a finite number";
            }
        }

        features.CopyTo(vector);
        return null;
    }

    private static FeatureDefinition[] BuildDefinitions(int dimension)
    {
        var defs = new FeatureDefinition[dimension];
        for (var i = 0; i < dimension; i++)
        {
            defs[i] = new FeatureDefinition(i, "f" + i.ToString(CultureInfo.InvariantCulture), "precomputed",
                float.MinValue, float.MaxValue, $"features[{i}] of the event, as given.");
        }

        return defs;
    }
}
