using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.Scoring.Tests.Trees;

/// <summary>
/// The tree evaluator chosen at bundle load (<c>Scoring:Trees</c>): auto takes the faster of two evaluators that agree,
/// managed scores as libxgboost does, a managed evaluator that disagrees or cannot read the model falls back to
/// libxgboost under auto and refuses the bundle under managed, and the choice is logged and gauged.
/// </summary>
public sealed class TreeSelectionTests : IDisposable
{
    private static readonly BundleLoadOptions Fast = new() { WarmupBatch = 64 };
    private readonly string _root = Directory.CreateTempSubdirectory("sf-trees-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Load_Auto_TakesTheFasterOfTwoEvaluatorsThatAgree()
    {
        var tiny = Make("auto");
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast);
        var choice = bundle.TreeChoice;

        Assert.NotNull(choice.ManagedMicroseconds);
        Assert.NotNull(choice.LibxgboostMicroseconds);
        Assert.Equal(choice.ManagedMicroseconds < choice.LibxgboostMicroseconds ? TreeEvaluator.Managed : TreeEvaluator.Libxgboost, bundle.Trees);
        Assert.False(choice.FellBack);
        // Checked on the 32 golden windows' newest steps and probe rows up to the warm-up batch.
        Assert.Contains("equal libxgboost's on 64 load-time rows", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Managed_ScoresAsTheLibxgboostBundleDoes()
    {
        var tiny = Make("m");
        using var managed = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast with { Trees = TreeEvaluator.Managed });
        using var reference = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast with { Trees = TreeEvaluator.Libxgboost });
        var windows = Windows(tiny, count: 300, seed: 5);
        var (a, b) = (new ScoreBuffers(300), new ScoreBuffers(300));

        managed.Score(windows, 300, a);
        reference.Score(windows, 300, b);

        Assert.Equal(TreeEvaluator.Managed, managed.Trees);
        Assert.StartsWith("managed (", managed.TreeChoice.Reason, StringComparison.Ordinal);
        Assert.Equal(TreeEvaluator.Libxgboost, reference.Trees);
        Assert.Equal("libxgboost (Scoring:Trees=libxgboost)", reference.TreeChoice.Reason);
        Assert.Null(reference.TreeChoice.ManagedMicroseconds); // never compiled nor timed
        for (var i = 0; i < 300; i++)
        {
            Assert.True(Math.Abs(a.Xgb[i] - b.Xgb[i]) <= TreeSelection.Tolerance, $"window {i}: managed {a.Xgb[i]:R}, libxgboost {b.Xgb[i]:R}");
            Assert.Equal(b.Lstm[i], a.Lstm[i]);
        }

        Assert.Contains(b.Xgb.Take(300), p => p > 0.01f && p < 0.99f); // not a degenerate model whose scores agree trivially
    }

    [Fact]
    public void Load_ManagedEvaluatorDisagrees_AutoFallsBack_ManagedRefuses()
    {
        // Every default direction flipped in the trees the managed evaluator compiles: the probe rows' missing values
        // then take other paths than in libxgboost.
        var tiny = Make("flip");
        var options = Fast with { EditTreesJson = FlipDefaults };

        using (var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, options))
        {
            Assert.Equal(TreeEvaluator.Libxgboost, bundle.Trees);
            Assert.True(bundle.TreeChoice.FellBack);
            Assert.Contains("differs from libxgboost on load-time row", bundle.TreeChoice.Reason, StringComparison.Ordinal);
            // The managed TreeSHAP compiles the same edited trees; half its load-time rows are probes, whose missing
            // values take the flipped directions, so it differs too and libxgboost explains.
            Assert.Null(bundle.Explainer.Managed);
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            {
                Assert.True(bundle.Explainer.FellBack);
                Assert.Contains("the managed TreeSHAP differs from libxgboost on load-time row", bundle.Explainer.Reason, StringComparison.Ordinal);
            }
        }

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, options with { Trees = TreeEvaluator.Managed }));
        Assert.Equal(RefusalKinds.Model, e.Kind);
        Assert.Contains("Scoring:Trees=managed, but the managed evaluator", e.Reason, StringComparison.Ordinal);
        Assert.Contains("differs from libxgboost on load-time row", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ModelTheManagedEvaluatorDoesNotRead_AutoFallsBack_ManagedRefuses()
    {
        // DART weighs its trees at prediction; libxgboost serves it, the managed evaluator says it does not.
        var tiny = Make("dart", p => p with { Extra = new Dictionary<string, string> { ["booster"] = "dart", ["rate_drop"] = "0.1" } });

        using (var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast))
        {
            Assert.Equal(TreeEvaluator.Libxgboost, bundle.Trees);
            Assert.True(bundle.TreeChoice.FellBack);
            Assert.Contains("cannot read this model: booster dart", bundle.TreeChoice.Reason, StringComparison.Ordinal);
            Assert.Null(bundle.Explainer.Managed);
        }

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast with { Trees = TreeEvaluator.Managed }));
        Assert.Equal(RefusalKinds.Model, e.Kind);
        Assert.Contains("Scoring:Trees=managed, but the managed evaluator cannot read this model: booster dart", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void BundleManager_ServingBundle_TreesInTheLogLineAndTheGauge()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        var history = TinyBundle.Stream(seed: 91, cards: 30, count: 500);
        foreach (var version in new[] { "v1", "v2" })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, version, history, seed: version == "v1" ? 1 : 2);
            registry.Publish(staging, version);
        }

        registry.Promote("v1");
        using var meter = new Meter($"test-{Guid.NewGuid():N}");
        using var listener = new MeterListener();
        var series = new List<string>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == meter && instrument.Name == "streamfraud.model.trees")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
            series.Add($"{string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))}:{value}"));
        listener.Start();
        var log = new ListLogger();
        var options = new BundleManagerOptions { Debounce = TimeSpan.Zero, Load = Fast with { Trees = TreeEvaluator.Managed } };
        using var manager = new BundleManager(registry, FeatureSpec.CardV1, options, logger: log, meter: meter);

        listener.RecordObservableInstruments();
        Assert.Empty(series); // nothing served yet
        manager.LoadInitial();
        listener.RecordObservableInstruments();
        Assert.Equal([$"model.version=v1,evaluator=managed,explainer={ExpectedExplainer}:1"], series);
        Assert.Contains(log.Lines, l => l.StartsWith("Information: Serving bundle v1 (LSTM path ", StringComparison.Ordinal)
            && l.Contains(" on CPU, trees on managed): managed (", StringComparison.Ordinal)
            && l.Contains($"; explanations on {ExpectedExplainer}: ", StringComparison.Ordinal));

        registry.Promote("v2");
        Assert.True(manager.CheckOnce());
        series.Clear();
        listener.RecordObservableInstruments();
        Assert.Equal([$"model.version=v2,evaluator=managed,explainer={ExpectedExplainer}:1"], series);
    }

    [Fact]
    public void Load_Explainer_ManagedTreeShapExplainsAsLibxgboostDoes_UnlessLibxgboostIsAskedFor()
    {
        var tiny = Make("explain");
        using var auto = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast);
        using var reference = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast with { Trees = TreeEvaluator.Libxgboost });
        var dim = FeatureSpec.CardV1.Dimension;
        var size = FeatureSpec.CardV1.WindowSize;
        var windows = Windows(tiny, count: 40, seed: 9);
        var steps = new float[40 * dim];
        for (var i = 0; i < 40; i++)
        {
            windows.AsSpan((i * size) + size - dim, dim).CopyTo(steps.AsSpan(i * dim));
        }

        var (own, lib) = (new float[40 * (dim + 1)], new float[40 * (dim + 1)]);
        auto.Explain(steps, 40, own);
        reference.Explain(steps, 40, lib);

        Assert.Equal(ExpectedExplainer, auto.Explainer.Name);
        Assert.False(auto.Explainer.FellBack);
        if (auto.Explainer.Managed is not null)
        {
            Assert.Contains($"contributions equal libxgboost's on {TreeSelection.ExplainerCheckRows} load-time rows", auto.Explainer.Reason, StringComparison.Ordinal);
        }

        Assert.Null(reference.Explainer.Managed);
        Assert.Equal("libxgboost (Scoring:Trees=libxgboost)", reference.Explainer.Reason);
        for (var k = 0; k < own.Length; k++)
        {
            Assert.True(Math.Abs(own[k] - lib[k]) <= TreeShap.Tolerance, $"row {k / (dim + 1)}, contribution {k % (dim + 1)}: {own[k]:R} vs libxgboost {lib[k]:R}");
        }

        Assert.Contains(lib, c => Math.Abs(c) > 0.01f); // contributions that say something
    }

    [Fact]
    public void Load_ManagedTreeShapDisagrees_LibxgboostExplains_TreesUnaffected()
    {
        // The covers of every left child tripled in the model the managed code compiles: margins do not use covers,
        // so the managed evaluator still agrees, but TreeSHAP weighs each split by them and its contributions differ.
        var tiny = Make("covers");
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, Fast with { Trees = TreeEvaluator.Managed, EditTreesJson = TripleLeftCovers });

        Assert.Equal(TreeEvaluator.Managed, bundle.Trees);
        Assert.Null(bundle.Explainer.Managed);
        Assert.Equal("libxgboost", bundle.Explainer.Name);
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            Assert.True(bundle.Explainer.FellBack);
            Assert.Contains("libxgboost: the managed TreeSHAP differs from libxgboost on load-time row 0 of ", bundle.Explainer.Reason, StringComparison.Ordinal);
        }
    }

    /// <summary>The explainer a bundle gets here: the managed TreeSHAP wherever 256-bit vectors run.</summary>
    private static string ExpectedExplainer => System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "managed" : "libxgboost";

    private TinyBundle Make(string name, Func<XgBoost.XgbParameters, XgBoost.XgbParameters>? xgb = null) =>
        TinyBundle.Create(Path.Combine(_root, name), name, TinyBundle.Stream(seed: 17, cards: 40, count: 800), xgb: xgb);

    private static byte[] FlipDefaults(byte[] json)
    {
        var model = JsonNode.Parse(json)!.AsObject();
        foreach (var tree in TreeModels.TreesOf(model))
        {
            var flags = tree!["default_left"]!.AsArray();
            for (var i = 0; i < flags.Count; i++)
            {
                flags[i] = 1 - flags[i]!.GetValue<int>();
            }
        }

        return Encoding.UTF8.GetBytes(model.ToJsonString());
    }

    private static byte[] TripleLeftCovers(byte[] json)
    {
        var model = JsonNode.Parse(json)!.AsObject();
        foreach (var tree in TreeModels.TreesOf(model))
        {
            var left = tree!["left_children"]!.AsArray();
            var covers = tree["sum_hessian"]!.AsArray();
            foreach (var child in left.Select(c => c!.GetValue<int>()).Where(c => c >= 0))
            {
                covers[child] = covers[child]!.GetValue<float>() * 3;
            }
        }

        return Encoding.UTF8.GetBytes(model.ToJsonString());
    }

    /// <summary>Golden windows with every value scaled by a random factor in [0.5, 1.5) and one in ten missing.</summary>
    private static float[] Windows(TinyBundle tiny, int count, int seed)
    {
        var random = new Random(seed);
        var size = FeatureSpec.CardV1.WindowSize;
        var windows = new float[count * size];
        for (var i = 0; i < count; i++)
        {
            var source = tiny.Manifest.GoldenWindows[i % tiny.Manifest.GoldenWindows.Count].Decode();
            for (var j = 0; j < size; j++)
            {
                windows[(i * size) + j] = random.Next(10) == 0 ? float.NaN : source[j] * (0.5f + random.NextSingle());
            }
        }

        return windows;
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}
