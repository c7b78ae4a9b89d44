using System.Diagnostics;
using System.Globalization;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Trees;

/// <summary>Which evaluator scores a bundle's trees (configuration <c>Scoring:Trees</c>).</summary>
public enum TreeEvaluator
{
    /// <summary>The managed evaluator when it reproduces libxgboost on the load-time rows and is faster on them; else libxgboost.</summary>
    Auto,

    /// <summary>The managed evaluator; a bundle it cannot reproduce is refused.</summary>
    Managed,

    /// <summary>libxgboost's in-place prediction (the trainer's own library).</summary>
    Libxgboost,
}

/// <summary>The configuration spellings of <see cref="TreeEvaluator"/>: <c>auto</c>, <c>managed</c>, <c>libxgboost</c>.</summary>
public static class TreeEvaluatorNames
{
    /// <summary>The spelling of <paramref name="evaluator"/> in configuration, logs and the metric's tag.</summary>
    public static string Name(TreeEvaluator evaluator) => evaluator switch
    {
        TreeEvaluator.Auto => "auto",
        TreeEvaluator.Managed => "managed",
        TreeEvaluator.Libxgboost => "libxgboost",
        _ => throw new ArgumentOutOfRangeException(nameof(evaluator)),
    };

    /// <summary>Parses <c>auto</c>, <c>managed</c> or <c>libxgboost</c> (any case).</summary>
    public static bool TryParse(string? text, out TreeEvaluator evaluator)
    {
        foreach (var candidate in Enum.GetValues<TreeEvaluator>())
        {
            if (string.Equals(text, Name(candidate), StringComparison.OrdinalIgnoreCase))
            {
                evaluator = candidate;
                return true;
            }
        }

        evaluator = TreeEvaluator.Auto;
        return false;
    }
}

/// <summary>The evaluator a bundle scores its trees with, and why.</summary>
/// <param name="Evaluator"><see cref="TreeEvaluator.Managed"/> or <see cref="TreeEvaluator.Libxgboost"/>.</param>
/// <param name="Managed">The compiled managed evaluator when it was chosen.</param>
/// <param name="Reason">One line for the load log: what was compared and timed.</param>
/// <param name="FellBack">The managed evaluator was wanted but could not be used (unsupported model or a mismatch): worth a warning.</param>
public sealed record TreeChoice(TreeEvaluator Evaluator, ManagedTreeEnsemble? Managed, string Reason, bool FellBack)
{
    /// <summary>µs of libxgboost on the load-time rows (fastest of the timed runs), when timed.</summary>
    public double? LibxgboostMicroseconds { get; init; }

    /// <summary>µs of the managed evaluator on the load-time rows (fastest of the timed runs), when timed.</summary>
    public double? ManagedMicroseconds { get; init; }
}

/// <summary>What explains a bundle's alerts (each feature's TreeSHAP contribution), and why.</summary>
/// <param name="Managed">The managed <see cref="TreeShap"/> when chosen; null: libxgboost's <c>pred_contribs</c>.</param>
/// <param name="Reason">One line for the load log: what was compared and timed.</param>
/// <param name="FellBack">The managed TreeSHAP was wanted but could not be used (unsupported model or a mismatch): worth a warning.</param>
public sealed record ExplainerChoice(TreeShap? Managed, string Reason, bool FellBack)
{
    /// <summary><c>managed</c> or <c>libxgboost</c>, as in logs and the metric's tag.</summary>
    public string Name => Managed is null ? TreeEvaluatorNames.Name(TreeEvaluator.Libxgboost) : TreeEvaluatorNames.Name(TreeEvaluator.Managed);
}

/// <summary>
/// Chooses a bundle's tree evaluator at load (docs/ARCHITECTURE.md "Tree evaluation"): compiles the managed evaluator
/// from the model libxgboost loaded (its own JSON dump, so both see the same trees), checks that its margins and
/// probabilities equal libxgboost's within <see cref="Tolerance"/> on every given row (the bundle's golden windows)
/// and on probe rows built to sit on the model's split thresholds, then times both on the same rows (fastest of 5
/// alternating runs each).
/// </summary>
public static class TreeSelection
{
    /// <summary>Largest |managed − libxgboost| accepted on a margin or a probability (in practice they are equal bit for bit).</summary>
    public const double Tolerance = 1e-6;

    /// <summary>Fewest rows compared and timed (the warm-up batch when larger).</summary>
    public const int MinimumProbeRows = 64;

    /// <summary>Timed runs of each evaluator, alternating; the fastest of each are compared (a busy machine only ever slows a run down).</summary>
    private const int TimedRuns = 5;

    /// <summary>
    /// Chooses for <paramref name="booster"/> (rounds [0, <paramref name="iterationEnd"/>), 0 = all) as
    /// <paramref name="requested"/> says, checking on <paramref name="rows"/> (row-major, the model's feature count
    /// each) plus probe rows up to <paramref name="probeRows"/> rows in all.
    /// </summary>
    /// <exception cref="InvalidDataException"><paramref name="requested"/> is <see cref="TreeEvaluator.Managed"/> and the managed evaluator cannot serve this model (the message says why).</exception>
    public static TreeChoice Choose(Booster booster, int iterationEnd, TreeEvaluator requested, ReadOnlySpan<float> rows, int probeRows) =>
        Choose(booster, iterationEnd, requested, rows, probeRows, new ForestSource(booster, null));

    /// <summary>As the public overload, on the model as <paramref name="source"/> reads it (shared with <see cref="ChooseExplainer(Booster, int, TreeEvaluator, ReadOnlySpan{float}, ForestSource)"/>).</summary>
    internal static TreeChoice Choose(Booster booster, int iterationEnd, TreeEvaluator requested, ReadOnlySpan<float> rows, int probeRows, ForestSource source)
    {
        ArgumentNullException.ThrowIfNull(booster);
        if (requested == TreeEvaluator.Libxgboost)
        {
            return new TreeChoice(TreeEvaluator.Libxgboost, null, "libxgboost (Scoring:Trees=libxgboost)", false);
        }

        TreeChoice Refuse(string why) => requested == TreeEvaluator.Managed
            ? throw new InvalidDataException($"Scoring:Trees=managed, but {why}")
            : new TreeChoice(TreeEvaluator.Libxgboost, null, $"libxgboost: {why}", true);

        ManagedTreeEnsemble managed;
        XgbForest forest;
        try
        {
            forest = source.Read();
            managed = ManagedTreeEnsemble.Compile(forest, iterationEnd);
        }
        catch (Exception e) when (e is UnsupportedTreeModelException or InvalidDataException or ArgumentException or XgbException)
        {
            return Refuse($"the managed evaluator cannot read this model: {e.Message}");
        }

        var features = managed.Features;
        var check = Probes(forest, managed.Trees, features, rows, Math.Max(Math.Max(probeRows, MinimumProbeRows), rows.Length / features));
        var count = check.Length / features;
        var (libMargin, libProbability) = (new float[count], new float[count]);
        var (ownMargin, ownProbability) = (new float[count], new float[count]);
        booster.PredictDense(check, count, libMargin, outputMargin: true, iterationEnd: iterationEnd);
        booster.PredictDense(check, count, libProbability, iterationEnd: iterationEnd);
        managed.PredictMargins(check, count, ownMargin);
        managed.Predict(check, count, ownProbability);
        var worst = 0.0;
        for (var i = 0; i < count; i++)
        {
            var difference = Math.Max(Math.Abs((double)ownMargin[i] - libMargin[i]), Math.Abs((double)ownProbability[i] - libProbability[i]));
            if (!(difference <= Tolerance))
            {
                return Refuse(string.Create(CultureInfo.InvariantCulture,
                    $"the managed evaluator ({managed.Description}) differs from libxgboost on load-time row {i} of {count}: margin {ownMargin[i]:R} vs {libMargin[i]:R}, " +
                    $"probability {ownProbability[i]:R} vs {libProbability[i]:R} (tolerance {Tolerance})"));
            }

            worst = Math.Max(worst, difference);
        }

        var (lib, own) = Time(booster, managed, check, count, iterationEnd);
        var timing = string.Create(CultureInfo.InvariantCulture,
            $"{own:0.#} µs vs libxgboost {lib:0.#} µs per {count} rows; margins and probabilities equal libxgboost's on {count} load-time rows (max |difference| {worst:G3})");
        if (requested == TreeEvaluator.Auto && own >= lib)
        {
            return new TreeChoice(TreeEvaluator.Libxgboost, null, $"libxgboost: faster than the managed evaluator ({managed.Description}): managed {timing}", false)
            {
                LibxgboostMicroseconds = lib, ManagedMicroseconds = own,
            };
        }

        return new TreeChoice(TreeEvaluator.Managed, managed,
            $"managed ({managed.Description}{(requested == TreeEvaluator.Managed ? ", Scoring:Trees=managed" : "")}): {timing}", false)
        {
            LibxgboostMicroseconds = lib, ManagedMicroseconds = own,
        };
    }

    /// <summary>
    /// Chooses what computes the XGBoost contributions that explain alerts: the managed <see cref="TreeShap"/> unless
    /// <paramref name="requested"/> is <see cref="TreeEvaluator.Libxgboost"/>, this machine has no 256-bit vector unit,
    /// the model cannot be read, or its contributions differ from libxgboost's by more than
    /// <see cref="TreeShap.Tolerance"/> on up to half of <see cref="ExplainerCheckRows"/> of <paramref name="rows"/> (the
    /// golden windows' newest steps) and probe rows for the rest, or that comparison fails; libxgboost then explains,
    /// and the reason says why. Never throws for the model: the bundle is not refused over its explanations.
    /// </summary>
    public static ExplainerChoice ChooseExplainer(Booster booster, int iterationEnd, TreeEvaluator requested, ReadOnlySpan<float> rows) =>
        ChooseExplainer(booster, iterationEnd, requested, rows, new ForestSource(booster, null));

    /// <summary>As the public overload, on the model as <paramref name="source"/> reads it (read once for both choices at load).</summary>
    internal static ExplainerChoice ChooseExplainer(Booster booster, int iterationEnd, TreeEvaluator requested, ReadOnlySpan<float> rows, ForestSource source)
    {
        ArgumentNullException.ThrowIfNull(booster);
        if (requested == TreeEvaluator.Libxgboost)
        {
            return new ExplainerChoice(null, "libxgboost (Scoring:Trees=libxgboost)", false);
        }

        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            return new ExplainerChoice(null, "libxgboost: the managed TreeSHAP needs 256-bit vector instructions, which this machine lacks", false);
        }

        TreeShap shap;
        XgbForest forest;
        try
        {
            forest = source.Read();
            shap = TreeShap.Compile(forest, iterationEnd);
        }
        catch (Exception e) when (e is UnsupportedTreeModelException or InvalidDataException or ArgumentException or XgbException)
        {
            return new ExplainerChoice(null, $"libxgboost: the managed TreeSHAP cannot read this model: {e.Message}", true);
        }

        // Half the rows golden (real newest steps), the rest probes (values on split thresholds, NaN, ±∞), so both are
        // always compared. libxgboost builds a DMatrix for contributions, which refuses ±infinity: the probes take
        // ±MaxValue instead (the same side of every split).
        var features = shap.Features;
        var golden = Math.Min(rows.Length / features, ExplainerCheckRows / 2);
        var check = Probes(forest, shap.Trees, features, rows[..(golden * features)], ExplainerCheckRows);
        for (var k = 0; k < check.Length; k++)
        {
            check[k] = float.IsPositiveInfinity(check[k]) ? float.MaxValue : float.IsNegativeInfinity(check[k]) ? float.MinValue : check[k];
        }

        var count = check.Length / features;
        var lib = new float[count * (features + 1)];
        var own = new float[count * (features + 1)];
        try
        {
            booster.PredictContributions(check, count, lib, iterationEnd);
            shap.Contributions(check, count, own);
        }
        catch (Exception e) when (e is XgbException or InvalidOperationException or ArgumentException)
        {
            return new ExplainerChoice(null, $"libxgboost: the load-time comparison of the managed TreeSHAP failed: {e.Message}", true);
        }

        var worst = 0.0;
        for (var k = 0; k < lib.Length; k++)
        {
            var difference = Math.Abs((double)own[k] - lib[k]);
            if (!(difference <= TreeShap.Tolerance))
            {
                return new ExplainerChoice(null, string.Create(CultureInfo.InvariantCulture,
                    $"libxgboost: the managed TreeSHAP differs from libxgboost on load-time row {k / (features + 1)} of {count}, contribution {k % (features + 1)}: {own[k]:R} vs {lib[k]:R} (tolerance {TreeShap.Tolerance})"), true);
            }

            worst = Math.Max(worst, difference);
        }

        // Both warm now; the fastest of 2 alternating runs each on one pass's 8 rows (libxgboost takes ≈ 2 ms a row).
        var timed = Math.Min(count, 8);
        var (libMicroseconds, ownMicroseconds) = (double.MaxValue, double.MaxValue);
        for (var run = 0; run < 2; run++)
        {
            var clock = Stopwatch.StartNew();
            booster.PredictContributions(check.AsSpan(0, timed * features), timed, lib, iterationEnd);
            libMicroseconds = Math.Min(libMicroseconds, clock.Elapsed.TotalMicroseconds);
            clock.Restart();
            shap.Contributions(check.AsSpan(0, timed * features), timed, own);
            ownMicroseconds = Math.Min(ownMicroseconds, clock.Elapsed.TotalMicroseconds);
        }

        return new ExplainerChoice(shap, string.Create(CultureInfo.InvariantCulture,
            $"managed TreeSHAP ({shap.Trees} trees): {ownMicroseconds:0} µs vs libxgboost {libMicroseconds:0} µs per {timed} rows; contributions equal libxgboost's on {count} load-time rows ({golden} golden, {count - golden} probes; max |difference| {worst:G3})"), false);
    }

    /// <summary>Rows the managed TreeSHAP is compared with libxgboost on at load (libxgboost takes ≈ 2 ms per row for 300 trees).</summary>
    public const int ExplainerCheckRows = 16;

    /// <summary>
    /// <paramref name="rows"/> followed by probe rows up to <paramref name="total"/>: each a copy of a given row (zeros
    /// when none) with about a quarter of its features set, from a fixed seed, to a split threshold of the model, the
    /// float just below or above one, NaN, or ±infinity — the values where a wrong comparison or default direction
    /// would show.
    /// </summary>
    private static float[] Probes(XgbForest forest, int trees, int features, ReadOnlySpan<float> rows, int total)
    {
        var given = rows.Length / features;
        var result = new float[total * features];
        rows[..(given * features)].CopyTo(result);
        var thresholds = new List<float>[features];
        for (var f = 0; f < features; f++)
        {
            thresholds[f] = [];
        }

        foreach (var tree in forest.Trees.Take(trees))
        {
            for (var k = 0; k < tree.Left.Length; k++)
            {
                if (tree.Left[k] >= 0)
                {
                    thresholds[tree.Feature[k]].Add(tree.Value[k]);
                }
            }
        }

        var random = new Random(20_150_809);
        for (var r = given; r < total; r++)
        {
            var row = result.AsSpan(r * features, features);
            if (given > 0)
            {
                result.AsSpan((r % given) * features, features).CopyTo(row);
            }

            for (var f = 0; f < features; f++)
            {
                if (random.Next(4) != 0)
                {
                    continue;
                }

                var split = thresholds[f].Count > 0 ? thresholds[f][random.Next(thresholds[f].Count)] : 0f;
                row[f] = random.Next(8) switch
                {
                    0 or 1 or 2 => split,
                    3 => MathF.BitDecrement(split),
                    4 => MathF.BitIncrement(split),
                    5 => float.NaN,
                    6 => float.PositiveInfinity,
                    _ => float.NegativeInfinity,
                };
            }
        }

        return result;
    }

    /// <summary>The fastest µs of each evaluator on the rows, runs alternating so that both see the same machine.</summary>
    private static (double Libxgboost, double Managed) Time(Booster booster, ManagedTreeEnsemble managed, float[] rows, int count, int iterationEnd)
    {
        var output = new float[count];
        var lib = new double[TimedRuns];
        var own = new double[TimedRuns];
        for (var run = 0; run < TimedRuns; run++)
        {
            var start = Stopwatch.GetTimestamp();
            booster.PredictDense(rows, count, output, iterationEnd: iterationEnd);
            lib[run] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            start = Stopwatch.GetTimestamp();
            managed.Predict(rows, count, output);
            own[run] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return (lib.Min(), own.Min());
    }
}

/// <summary>
/// The booster's model as libxgboost dumps it (its own JSON, so managed code sees the trees libxgboost scores), read
/// at most once for the evaluator and the explainer of one load; <paramref name="editJson"/> changes it (tests provoke
/// mismatches with it). A read that throws is not kept: the next asks again and gets the same error.
/// </summary>
internal sealed class ForestSource(Booster booster, Func<byte[], byte[]>? editJson)
{
    private XgbForest? _forest;

    public XgbForest Read()
    {
        if (_forest is null)
        {
            var json = booster.SaveModelToBuffer("json");
            _forest = XgbForest.Parse(editJson is null ? json : editJson(json));
        }

        return _forest;
    }
}
