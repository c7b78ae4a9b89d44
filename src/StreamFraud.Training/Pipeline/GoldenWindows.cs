using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Training.Pipeline;

/// <summary>Scores windows the way the trainer does: LSTM probabilities and XGBoost probabilities of the newest steps.</summary>
/// <param name="windows">[n, 7, F] row-major.</param>
/// <param name="count">n.</param>
public delegate (float[] Lstm, float[] Xgb) WindowScorer(float[] windows, int count);

/// <summary>
/// The manifest's golden windows: windows with the scores the trainer computed, which <c>ModelBundle.Load</c> must
/// reproduce within 1e-5 before a scorer serves the bundle.
/// </summary>
/// <remarks>
/// Chosen deterministically for a seed: for every padded length (1 to 6 real steps, which exercise the left
/// zero-padding) up to <c>max(4, count/16)</c> windows — from test first, then from any featurised row (context and
/// other splits too, since parity does not care where a window came from), and when the data has none (an
/// <c>.npz</c>'s chunks are always full), a test window with its oldest steps zeroed; then up to <c>count/8</c> test
/// frauds; the rest random test windows.
/// </remarks>
public static class GoldenWindows
{
    /// <summary>Chooses and scores up to <paramref name="count"/> windows.</summary>
    public static GoldenWindow[] Build(ExampleSource source, int[] test, int count, int seed, WindowScorer scorer, double lstmWeight, double xgbWeight)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        const int W = FeatureSpec.WindowLength;
        var size = source.Spec.WindowSize;
        var d = source.Spec.Dimension;
        var rng = new Random(seed);
        var chosen = new List<(int Example, int RealSteps)>();
        var used = new HashSet<int>();

        var testByLength = new List<int>[W + 1];
        var allByLength = new List<int>[W + 1];
        for (var r = 0; r <= W; r++)
        {
            testByLength[r] = [];
            allByLength[r] = [];
        }

        foreach (var i in test)
        {
            testByLength[source.RealSteps(i)].Add(i);
        }

        for (var i = 0; i < source.Count; i++)
        {
            allByLength[source.RealSteps(i)].Add(i);
        }

        var perLength = Math.Max(4, count / 16);
        for (var r = 1; r < W && chosen.Count < count; r++)
        {
            var wanted = Math.Min(perLength, count - chosen.Count);
            var taken = Take(testByLength[r], wanted, rng, used, chosen, r);
            taken += Take(allByLength[r], wanted - taken, rng, used, chosen, r);
            for (var k = taken; k < wanted && test.Length > 0; k++)
            {
                // No window of this length anywhere: a random test window with its oldest steps zeroed.
                chosen.Add((test[rng.Next(test.Length)], r));
            }
        }

        var frauds = test.Where(i => source.Label(i) > 0).ToList();
        Take(frauds, Math.Min(Math.Max(4, count / 8), count - chosen.Count), rng, used, chosen, null);
        Take([.. test], count - chosen.Count, rng, used, chosen, null);

        var n = chosen.Count;
        var windows = new float[n * size];
        var realSteps = new int[n];
        for (var j = 0; j < n; j++)
        {
            var (example, steps) = chosen[j];
            var window = windows.AsSpan(j * size, size);
            source.CopyWindow(example, window);
            var actual = source.RealSteps(example);
            if (steps < actual)
            {
                window[..((W - steps) * d)].Clear();
            }

            realSteps[j] = Math.Min(steps, actual);
        }

        var (lstm, xgb) = scorer(windows, n);
        var result = new GoldenWindow[n];
        for (var j = 0; j < n; j++)
        {
            result[j] = new GoldenWindow
            {
                Window = GoldenWindow.Encode(windows.AsSpan(j * size, size)),
                RealSteps = realSteps[j],
                Lstm = lstm[j],
                Xgb = xgb[j],
                Ensemble = (lstmWeight * lstm[j]) + (xgbWeight * xgb[j]),
            };
        }

        return result;
    }

    /// <summary>Draws up to <paramref name="wanted"/> unused items (partial Fisher–Yates on a copy).</summary>
    private static int Take(List<int> pool, int wanted, Random rng, HashSet<int> used, List<(int, int)> chosen, int? steps)
    {
        var items = pool.ToArray();
        var taken = 0;
        for (var i = 0; i < items.Length && taken < wanted; i++)
        {
            var j = i + rng.Next(items.Length - i);
            (items[i], items[j]) = (items[j], items[i]);
            if (used.Add(items[i]))
            {
                chosen.Add((items[i], steps ?? FeatureSpec.WindowLength));
                taken++;
            }
        }

        return taken;
    }
}
