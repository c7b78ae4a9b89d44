using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Features;

/// <summary>
/// The identity and the code of one way of turning a transaction plus its card's state into a feature vector
/// (docs/ARCHITECTURE.md "Windows and features"). A model bundle records <see cref="Name"/>, <see cref="Version"/>,
/// <see cref="Dimension"/> and <see cref="ContentHash"/>; the scorer refuses a bundle unless <see cref="Matches"/>.
/// </summary>
/// <remarks>
/// Three specs exist: <see cref="CardFeatureSpecV1"/> (<c>card</c> v1, engineered from the event and card state),
/// <see cref="CardFeatureSpecV2"/> (<c>card</c> v2: v1 plus the merchant's and the card's label history) and
/// <see cref="PrecomputedFeatureSpec"/> (<c>precomputed:N</c>, the event's own <c>features</c> array). Instances are
/// immutable and thread-safe; per-card mutable state lives in <see cref="CardState"/>. See <c>FEATURES.md</c>.
/// </remarks>
public abstract class FeatureSpec
{
    /// <summary>Transactions per window, the current one included (docs/ARCHITECTURE.md).</summary>
    public const int WindowLength = 7;

    /// <summary>
    /// Version of the binary card-state layout <see cref="CardState.Write"/> produces (<c>FEATURES.md</c> "Binary state
    /// layout"). <see cref="CardState.Load"/> also reads format 1 (before source identities and content hashes).
    /// </summary>
    public const int StateFormatVersion = 2;

    /// <summary>
    /// The <c>state-format</c> line of <see cref="CanonicalDefinition"/>: the layout the spec's features were defined
    /// with. Format 2 only adds delivery metadata (source identity, content hash) that no feature reads, so it keeps
    /// this at 1: content hashes, bundles trained before and the fingerprints in stored states stay valid. A layout
    /// change that alters what features see must raise it (and is a new spec version).
    /// </summary>
    internal const int DefinitionStateFormat = 1;

    private protected FeatureSpec(string name, int version, IReadOnlyList<FeatureDefinition> features, string parameters)
    {
        Name = name;
        Version = version;
        Features = features;
        Dimension = features.Count;
        for (var i = 0; i < features.Count; i++)
        {
            if (features[i].Index != i)
            {
                throw new InvalidOperationException($"Feature '{features[i].Name}' is listed at {i} but claims index {features[i].Index}.");
            }
        }

        var text = new StringBuilder();
        text.Append("spec=").Append(name).Append('\n');
        text.Append("version=").Append(version.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("dimension=").Append(Dimension.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("window=").Append(WindowLength.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("state-format=").Append(DefinitionStateFormat.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append(parameters);
        foreach (var f in features)
        {
            text.Append("feature.").Append(f.Index.ToString(CultureInfo.InvariantCulture)).Append('=').Append(f.Name).Append('\n');
        }

        CanonicalDefinition = text.ToString();
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalDefinition));
        ContentHash = Convert.ToHexStringLower(digest);
        Fingerprint = BinaryPrimitives.ReadUInt32LittleEndian(digest);
    }

    /// <summary>Spec name: <c>card</c> or <c>precomputed:N</c>.</summary>
    public string Name { get; }

    /// <summary>Spec version; a changed definition of any feature is a new version.</summary>
    public int Version { get; }

    /// <summary>Floats per transaction vector.</summary>
    public int Dimension { get; }

    /// <summary>Floats per window: <see cref="WindowLength"/> × <see cref="Dimension"/>.</summary>
    public int WindowSize => WindowLength * Dimension;

    /// <summary>
    /// Lowercase hex SHA-256 of <see cref="CanonicalDefinition"/>: names, parameters, version, window length and state
    /// format. Stable across runs and machines; documentation wording is not part of it.
    /// </summary>
    public string ContentHash { get; }

    /// <summary>The exact text <see cref="ContentHash"/> is computed over (one <c>key=value</c> per line).</summary>
    public string CanonicalDefinition { get; }

    /// <summary>One entry per vector position, in order.</summary>
    public IReadOnlyList<FeatureDefinition> Features { get; }

    /// <summary>Largest serialised <see cref="CardState"/> of this spec (a full window), in bytes.</summary>
    public int MaxStateSize => CardState.HeaderSize + (WindowLength * EntrySize) + AggregateSize;

    /// <summary>First four bytes of the content hash (little-endian); stamped into every serialised state.</summary>
    internal uint Fingerprint { get; }

    /// <summary>Bytes of one serialised window entry: id hash, content hash, event time, offset, partition, source, vector.</summary>
    internal int EntrySize => CardState.EntryHeaderSize + (4 * Dimension);

    /// <summary>Bytes of the spec's running aggregates in a serialised state (0 when it keeps none).</summary>
    internal abstract int AggregateSize { get; }

    /// <summary>The <c>card</c> v1 spec.</summary>
    public static CardFeatureSpecV1 CardV1 => CardFeatureSpecV1.Instance;

    /// <summary>The <c>card</c> v2 spec (v1 plus merchant and card label features).</summary>
    public static CardFeatureSpecV2 CardV2 => CardFeatureSpecV2.Instance;

    /// <summary>Index of the feature named <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name)
    {
        for (var i = 0; i < Features.Count; i++)
        {
            if (string.Equals(Features[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Whether a bundle's recorded spec is exactly this one (name, version, dimension and content hash).</summary>
    public bool Matches(string name, int version, int dimension, string contentHash) =>
        string.Equals(name, Name, StringComparison.Ordinal) && version == Version && dimension == Dimension &&
        string.Equals(contentHash, ContentHash, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The spec this code runs for a recorded name and version: <c>card</c> v1, or <c>precomputed:N</c> v1 with
    /// 1 ≤ N ≤ <see cref="PrecomputedFeatureSpec.MaxDimension"/>.
    /// </summary>
    public static bool TryResolve(string name, int version, [NotNullWhen(true)] out FeatureSpec? spec, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(name);
        spec = null;
        if (string.Equals(name, CardFeatureSpecV1.SpecName, StringComparison.Ordinal))
        {
            if (version == CardFeatureSpecV1.SpecVersion)
            {
                spec = CardFeatureSpecV1.Instance;
                error = null;
                return true;
            }

            if (version == CardFeatureSpecV2.SpecVersion)
            {
                spec = CardFeatureSpecV2.Instance;
                error = null;
                return true;
            }

            error = $"feature spec '{name}' version {version} is not implemented (this build runs versions {CardFeatureSpecV1.SpecVersion} and {CardFeatureSpecV2.SpecVersion})";
            return false;
        }

        if (name.StartsWith(PrecomputedFeatureSpec.NamePrefix, StringComparison.Ordinal))
        {
            var digits = name.AsSpan(PrecomputedFeatureSpec.NamePrefix.Length);
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ||
                n < 1 || n > PrecomputedFeatureSpec.MaxDimension || digits.Length != n.ToString(CultureInfo.InvariantCulture).Length)
            {
                error = $"feature spec '{name}': expected precomputed:N with N in 1..{PrecomputedFeatureSpec.MaxDimension}";
                return false;
            }

            if (version != PrecomputedFeatureSpec.SpecVersion)
            {
                error = $"feature spec '{name}' version {version} is not implemented (this build runs version {PrecomputedFeatureSpec.SpecVersion})";
                return false;
            }

            spec = PrecomputedFeatureSpec.Create(n);
            error = null;
            return true;
        }

        error = $"unknown feature spec '{name}' (known: {CardFeatureSpecV1.SpecName}, {PrecomputedFeatureSpec.NamePrefix}N)";
        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} v{Version} (dimension {Dimension}, hash {ContentHash[..12]})";

    /// <summary>Fresh running aggregates for a new card, or null when the spec keeps none.</summary>
    internal abstract CardAggregates? CreateAggregates();

    /// <summary>
    /// Validates <paramref name="tx"/>, writes its vector into <paramref name="vector"/> (length
    /// <see cref="Dimension"/>) from the state as it was before this transaction, then folds the transaction into the
    /// state's aggregates. Returns null on success, or a reason and leaves the state untouched. The caller has
    /// already ruled out duplicates and appends the window entry afterwards. <paramref name="merchant"/> and
    /// <paramref name="card"/> are the entities' risk rings as they are before this transaction (null: no history);
    /// only specs with <see cref="UsesEntityRisk"/> read them.
    /// </summary>
    internal abstract string? Featurize(CardState state, Transaction tx, RiskRing? merchant, RiskRing? card, Span<float> vector);

    /// <summary>
    /// Whether vectors read the merchant's and the card's risk rings (<c>card</c> v2): stores then load the rings of a
    /// batch's entities, count applied transactions on them and apply labels (<c>FEATURES.md</c> "Entity risk state").
    /// </summary>
    public virtual bool UsesEntityRisk => false;
}

/// <summary>One position of a feature vector, as documented in <c>FEATURES.md</c>.</summary>
/// <param name="Index">Position in the vector.</param>
/// <param name="Name">Stable snake_case name (part of the content hash).</param>
/// <param name="Group">Family: amount, time, history, amount-stats, velocity, novelty, hashed, precomputed.</param>
/// <param name="Min">Smallest value the feature takes (inclusive).</param>
/// <param name="Max">Largest value the feature takes (inclusive); may be +∞ for pass-through vectors.</param>
/// <param name="Definition">What it is, in one sentence.</param>
public sealed record FeatureDefinition(int Index, string Name, string Group, double Min, double Max, string Definition);
