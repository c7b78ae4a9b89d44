using StreamFraud.Core.Features;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;
using StreamFraud.XgBoost;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// The data a scorer test runs on: a tiny real bundle (<c>v1</c>, threshold 0.4) trained on a history stream, the live
/// stream that follows it, and the alerts an independent offline computation expects for the live stream. The bundle
/// lives in a registry directory in a temporary directory, deleted on dispose.
/// </summary>
internal sealed class ScorerScenario : IDisposable
{
    /// <summary>The bundle's alert threshold (cost_min policy).</summary>
    public const double Threshold = 0.4;

    private readonly string _root;

    private ScorerScenario(string root, TinyBundle tiny, List<Core.Transaction> live)
    {
        _root = root;
        Tiny = tiny;
        Live = live;
        Expected = ExpectedAlerts(tiny, live, Threshold);
    }

    public TinyBundle Tiny { get; }

    /// <summary>The registry directory holding the bundle (<c>v1</c>).</summary>
    public string Registry => Path.GetDirectoryName(Tiny.Directory)!;

    public List<Core.Transaction> Live { get; }

    /// <summary>Per alert id: score, window hash and transaction id.</summary>
    public Dictionary<string, (double Score, string Hash, string TransactionId)> Expected { get; }

    /// <summary>
    /// 1500 history events (seed <paramref name="seed"/>) and <paramref name="events"/> live ones (seed + 1) over
    /// <paramref name="cards"/> cards; the bundle trained on the history, promoted to current when
    /// <paramref name="promote"/> (for a scorer reading the registry).
    /// </summary>
    public static ScorerScenario Create(string name, int seed, int cards, int events, bool promote = false)
    {
        var root = Directory.CreateTempSubdirectory($"sf-{name}-").FullName;
        try
        {
            var history = TinyBundle.Stream(seed, cards, count: 1500);
            var live = TinyBundle.Stream(seed + 1, cards, count: events, start: history[^1].EventTimeMs + 1000);
            var registry = Path.Combine(root, "registry");
            var tiny = TinyBundle.Create(Path.Combine(registry, "v1"), "v1", history, costMinThreshold: Threshold);
            if (promote)
            {
                new BundleRegistry(registry).Promote("v1");
            }

            return new ScorerScenario(root, tiny, live);
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    /// <summary>The bundle loaded for an in-process scoring loop (the caller disposes it).</summary>
    public ModelBundle LoadBundle(int warmupBatch = 16) =>
        ModelBundle.Load(Tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = warmupBatch });

    public void Deconstruct(out TinyBundle tiny, out List<Core.Transaction> live, out Dictionary<string, (double Score, string Hash, string TransactionId)> expected) =>
        (tiny, live, expected) = (Tiny, Live, Expected);

    /// <summary>
    /// The alerts a bundle must raise for <paramref name="live"/> scored in order from empty state, computed
    /// independently of the scorer: the offline featurizer in produce order (one card = one partition = same order),
    /// the C# LSTM forward pass and libxgboost, blended half and half.
    /// </summary>
    public static Dictionary<string, (double Score, string Hash, string TransactionId)> ExpectedAlerts(TinyBundle tiny, List<Core.Transaction> live, double threshold)
    {
        var spec = FeatureSpec.CardV1;
        var offline = new OfflineFeaturizer(spec);
        var windows = new float[live.Count * spec.WindowSize];
        for (var i = 0; i < live.Count; i++)
        {
            offline.Apply(live[i], windows.AsSpan(i * spec.WindowSize, spec.WindowSize));
        }

        var lstm = tiny.Lstm.Predict(windows);
        using var xgb = Booster.Load(tiny.XgbModel);
        var newest = new float[live.Count * spec.Dimension];
        for (var i = 0; i < live.Count; i++)
        {
            windows.AsSpan((i * spec.WindowSize) + spec.WindowSize - spec.Dimension, spec.Dimension).CopyTo(newest.AsSpan(i * spec.Dimension));
        }

        var xgbScores = xgb.PredictDense(newest, live.Count, iterationEnd: 0);
        var expected = new Dictionary<string, (double, string, string)>();
        for (var i = 0; i < live.Count; i++)
        {
            var score = (0.5 * lstm[i]) + (0.5 * xgbScores[i]);
            if (score >= threshold)
            {
                expected[FraudPipeline.AlertId(live[i].CardId, live[i].TransactionId)] =
                    (score, FraudPipeline.WindowHash(windows.AsSpan(i * spec.WindowSize, spec.WindowSize)), live[i].TransactionId);
            }
        }

        return expected;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
