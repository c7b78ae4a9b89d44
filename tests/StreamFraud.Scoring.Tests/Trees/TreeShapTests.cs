using StreamFraud.Scoring.Trees;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Trees;

/// <summary>
/// The managed TreeSHAP against two independent references: libxgboost's own <c>pred_contribs</c> (exact TreeSHAP,
/// the library that trained the models) on random rows with missing values, rows on split thresholds, deep unbalanced
/// trees, fewer rounds, several trees per round and several base scores; and, on small models, Shapley values
/// computed by brute force from their definition (every subset of features, the tree's expectation over the features
/// left out by its covers), which shares no code or algorithm with either.
/// </summary>
public sealed class TreeShapTests
{
    [Fact]
    public void Contributions_RandomRowsWithMissingValues_EqualLibxgboost()
    {
        using var booster = TreeModels.Train();
        var shap = Compile(booster);

        Assert.Equal(6, shap.Depth);
        Assert.True(HasRepeatedFeatureOnAPath(booster), "no path splits twice on a feature: the unwinding is not exercised");
        AssertSame(booster, shap, TreeModels.RandomRows(301, seed: 1), 301);
        AssertSame(booster, shap, TreeModels.RandomRows(1, seed: 2), 1);
    }

    [Fact]
    public void Contributions_ValuesOnSplitThresholds_EqualLibxgboost()
    {
        using var booster = TreeModels.Train();

        AssertSame(booster, Compile(booster), TreeModels.ThresholdRows(booster, 300, seed: 3), 300);
    }

    [Fact]
    public void Contributions_DeepUnbalancedTrees_EqualLibxgboost()
    {
        using var booster = TreeModels.Train(rounds: 15, rows: 4000, change: p => p with
        {
            MaxDepth = 0, MinChildWeight = 0.01, Extra = new Dictionary<string, string> { ["grow_policy"] = "lossguide", ["max_leaves"] = "200" },
        });
        var shap = Compile(booster);

        Assert.True(shap.Depth > 10, $"depth {shap.Depth}: the model is not deep enough to test this");
        AssertSame(booster, shap, TreeModels.RandomRows(100, seed: 4), 100);
        AssertSame(booster, shap, TreeModels.ThresholdRows(booster, 100, seed: 5), 100);
    }

    [Fact]
    public void Contributions_TreesThatAreOneLeaf_EqualLibxgboost()
    {
        // A split must gain more than gamma: none does, so every tree is its root leaf and only the bias moves.
        using var booster = TreeModels.Train(rounds: 5, change: p => p with { Gamma = 1e6 });
        var shap = Compile(booster);

        Assert.Equal(0, shap.Depth);
        AssertSame(booster, shap, TreeModels.RandomRows(20, seed: 14), 20);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.0137)]
    public void Contributions_BaseScores_EqualLibxgboost(double baseScore)
    {
        using var booster = TreeModels.Train(rounds: 10, change: p => p with { BaseScore = baseScore });

        AssertSame(booster, Compile(booster), TreeModels.RandomRows(100, seed: 6), 100);
    }

    [Fact]
    public void Contributions_FewerRoundsAndParallelTrees_EqualLibxgboost()
    {
        using var booster = TreeModels.Train(rounds: 6, change: p => p with { Subsample = 0.7, Extra = new Dictionary<string, string> { ["num_parallel_tree"] = "3" } });
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        var rows = TreeModels.RandomRows(50, seed: 7);

        foreach (var end in new[] { 0, 2, 5 })
        {
            var shap = TreeShap.Compile(forest, end);
            Assert.Equal(end == 0 ? 18 : end * 3, shap.Trees);
            AssertSame(booster, shap, rows, 50, end);
        }
    }

    [Fact]
    public void Contributions_SmallModels_EqualShapleyValuesByBruteForce()
    {
        foreach (var (rounds, depth, seed) in new[] { (3, 3, 1), (5, 4, 2), (2, 6, 3) })
        {
            using var booster = TreeModels.Train(rounds: rounds, rows: 800, seed: seed, change: p => p with { MaxDepth = depth });
            var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
            var shap = TreeShap.Compile(forest);
            var width = TreeModels.Columns + 1;
            var rows = TreeModels.RandomRows(20, seed: 10 + seed);
            var own = new float[20 * width];
            shap.Contributions(rows, 20, own);
            for (var r = 0; r < 20; r++)
            {
                var expected = BruteForceShapley(forest, rows.AsSpan(r * TreeModels.Columns, TreeModels.Columns).ToArray());
                for (var f = 0; f <= TreeModels.Columns; f++)
                {
                    Assert.True(Math.Abs(own[(r * width) + f] - expected[f]) <= 1e-5,
                        $"model ({rounds} rounds, depth {depth}) row {r} feature {f}: managed {own[(r * width) + f]:R}, brute force {expected[f]:R}");
                }
            }
        }
    }

    [Fact]
    public void Contributions_ARowsValues_DoNotDependOnTheRowsComputedWithIt()
    {
        // Rows share vector lanes (8 per pass) and skip work no lane needs; each row's values must be those of a call
        // with that row alone, bit for bit, whatever its neighbours and its place in the call.
        using var booster = TreeModels.Train();
        var shap = Compile(booster);
        var width = TreeModels.Columns + 1;
        var rows = TreeModels.RandomRows(21, seed: 13);
        var together = new float[21 * width];
        shap.Contributions(rows, 21, together);
        for (var r = 0; r < 21; r++)
        {
            var alone = new float[width];
            shap.Contributions(rows.AsSpan(r * TreeModels.Columns, TreeModels.Columns), 1, alone);
            Assert.Equal(alone, together.AsSpan(r * width, width).ToArray());
        }
    }

    [Fact]
    public void Compile_ModelWithoutCovers_IsUnsupported()
    {
        using var booster = TreeModels.Train(rounds: 3);
        var json = TreeModels.EditedJson(booster, model =>
        {
            foreach (var tree in TreeModels.TreesOf(model))
            {
                tree!.AsObject().Remove("sum_hessian");
            }
        });

        var e = Assert.Throws<UnsupportedTreeModelException>(() => TreeShap.Compile(XgbForest.Parse(json)));
        Assert.Contains("sum_hessian", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Contributions_ShortDestination_IsRefused()
    {
        using var booster = TreeModels.Train(rounds: 3);
        var shap = Compile(booster);

        var e = Assert.Throws<ArgumentException>(() => shap.Contributions(TreeModels.RandomRows(2, seed: 1), 2, new float[(2 * (TreeModels.Columns + 1)) - 1]));
        Assert.Contains("need 18", e.Message, StringComparison.Ordinal);
    }

    private static TreeShap Compile(Booster booster) => TreeShap.Compile(XgbForest.Parse(booster.SaveModelToBuffer("json")));

    private static void AssertSame(Booster booster, TreeShap shap, float[] rows, int count, int iterationEnd = 0)
    {
        var width = TreeModels.Columns + 1;
        // Every round, whatever the booster's best iteration (libxgboost's default when none is given).
        var end = iterationEnd == 0 ? booster.BoostedRounds : iterationEnd;
        // libxgboost's DMatrix refuses ±infinity (its in-place prediction, the scorer's, takes it); ±MaxValue takes the
        // same side of every split, so the managed result on the infinite rows must equal libxgboost's on these.
        var finite = rows.Select(x => float.IsPositiveInfinity(x) ? float.MaxValue : float.IsNegativeInfinity(x) ? float.MinValue : x).ToArray();
        var expected = booster.PredictContributions(finite, count, end).Values;
        var own = new float[count * width];
        var margins = new float[count];
        shap.Contributions(rows, count, own);
        booster.PredictDense(finite, count, margins, outputMargin: true, iterationEnd: end);
        var worst = 0.0;
        for (var r = 0; r < count; r++)
        {
            var sum = 0.0;
            for (var f = 0; f < width; f++)
            {
                var (a, b) = (own[(r * width) + f], expected[(r * width) + f]);
                worst = Math.Max(worst, Math.Abs((double)a - b));
                Assert.True(Math.Abs((double)a - b) <= TreeShap.Tolerance, $"row {r} feature {f}: managed {a:R}, libxgboost {b:R}");
                sum += a;
            }

            Assert.True(Math.Abs(sum - margins[r]) <= 1e-4, $"row {r}: contributions add up to {sum:R}, the margin is {margins[r]:R}");
        }

        Console.WriteLine($"TreeShap vs libxgboost: max |difference| {worst:G3} over {count} rows");
    }

    private static bool HasRepeatedFeatureOnAPath(Booster booster)
    {
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        bool Walk(XgbTree tree, int node, HashSet<int> seen)
        {
            if (tree.Left[node] < 0)
            {
                return false;
            }

            if (!seen.Add(tree.Feature[node]))
            {
                return true;
            }

            var found = Walk(tree, tree.Left[node], seen) || Walk(tree, tree.Right[node], seen);
            seen.Remove(tree.Feature[node]);
            return found;
        }

        return forest.Trees.Any(t => Walk(t, 0, []));
    }

    /// <summary>
    /// Shapley values from their definition: φ_i = Σ over subsets S of the other features of |S|! (n − |S| − 1)! / n!
    /// (v(S ∪ {i}) − v(S)), where v(S) is the sum over trees of the tree's expected value when only the features in S
    /// are known (a split on a known feature follows the row; a split on an unknown one averages both sides by cover).
    /// The bias is v(∅) plus the base margin. In double precision, every subset enumerated.
    /// </summary>
    private static double[] BruteForceShapley(XgbForest forest, float[] row)
    {
        var n = row.Length;
        var value = new double[1 << n];
        for (var mask = 0; mask < value.Length; mask++)
        {
            foreach (var tree in forest.Trees)
            {
                value[mask] += Expectation(tree, 0, row, mask);
            }
        }

        var factorial = new double[n + 1];
        factorial[0] = 1;
        for (var k = 1; k <= n; k++)
        {
            factorial[k] = factorial[k - 1] * k;
        }

        var phi = new double[n + 1];
        for (var i = 0; i < n; i++)
        {
            for (var mask = 0; mask < value.Length; mask++)
            {
                if ((mask & (1 << i)) != 0)
                {
                    continue;
                }

                var size = System.Numerics.BitOperations.PopCount((uint)mask);
                phi[i] += factorial[size] * factorial[n - size - 1] / factorial[n] * (value[mask | (1 << i)] - value[mask]);
            }
        }

        phi[n] = value[0] + forest.BaseMargin;
        return phi;
    }

    private static double Expectation(XgbTree tree, int node, ReadOnlySpan<float> row, int known)
    {
        if (tree.Left[node] < 0)
        {
            return tree.Value[node];
        }

        var (left, right) = (tree.Left[node], tree.Right[node]);
        var feature = tree.Feature[node];
        if ((known & (1 << feature)) != 0)
        {
            var x = row[feature];
            var goLeft = float.IsNaN(x) ? tree.DefaultLeft[node] : x < tree.Value[node];
            return Expectation(tree, goLeft ? left : right, row, known);
        }

        var cover = tree.Cover!;
        return ((Expectation(tree, left, row, known) * cover[left]) + (Expectation(tree, right, row, known) * cover[right])) / cover[node];
    }
}
