using StreamFraud.Scoring.Trees;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Trees;

/// <summary>
/// The managed evaluator against libxgboost's own in-place prediction (the reference: the library that trained the
/// models): margins bit for bit and probabilities within <see cref="TreeSelection.Tolerance"/>, for each kernel this
/// machine runs, on random rows with missing values, on values exactly at split thresholds, deep unbalanced trees,
/// several base scores, fewer rounds than the model has, several trees per round and a monotone-constrained model.
/// Row counts that are not multiples of 16 or 8 (509, 7, 100) exercise the vector kernels' partial last block.
/// </summary>
public sealed class ManagedTreeEnsembleTests
{
    public static TheoryData<TreeKernel> Kernels => TreeModels.Kernels();

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PredictMargins_RandomRowsWithMissingValues_EqualLibxgboost(TreeKernel kernel)
    {
        using var booster = TreeModels.Train();
        var ensemble = Compile(booster, kernel);

        Assert.Equal(6, ensemble.Depth);
        AssertSame(booster, ensemble, TreeModels.RandomRows(509, seed: 1), 509);
        AssertSame(booster, ensemble, TreeModels.RandomRows(7, seed: 2), 7);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PredictMargins_ValuesOnSplitThresholds_EqualLibxgboost(TreeKernel kernel)
    {
        using var booster = TreeModels.Train();
        var rows = TreeModels.ThresholdRows(booster, 1000, seed: 3);

        AssertSame(booster, Compile(booster, kernel), rows, 1000);
    }

    [Fact]
    public void PredictMargins_DeepUnbalancedTrees_WalkedAndEqualLibxgboost()
    {
        // Loss-guided growth without a depth limit grows long one-sided branches.
        using var booster = TreeModels.Train(rounds: 15, rows: 4000, change: p => p with
        {
            MaxDepth = 0, MinChildWeight = 0, Extra = new Dictionary<string, string> { ["grow_policy"] = "lossguide", ["max_leaves"] = "200" },
        });
        var ensemble = ManagedTreeEnsemble.Compile(XgbForest.Parse(booster.SaveModelToBuffer("json")));

        Assert.True(ensemble.Depth > ManagedTreeEnsemble.MaxVectorDepth, $"depth {ensemble.Depth}: the model is not deep enough to test this");
        Assert.Equal(TreeKernel.Walk, ensemble.Kernel);
        AssertSame(booster, ensemble, TreeModels.RandomRows(300, seed: 4), 300);
        AssertSame(booster, ensemble, TreeModels.ThresholdRows(booster, 300, seed: 5), 300);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PredictMargins_ShallowAndUnbalancedTrees_EqualLibxgboost(TreeKernel kernel)
    {
        // Depths 1 to 5 (the AVX2 kernel permutes leaves up to depth 3 and gathers from 16- and 32-leaf tables at 4
        // and 5), and depth-6 trees whose leaves stop at every depth (few rows per leaf allowed, strong pruning).
        foreach (var depth in new[] { 1, 2, 3, 4, 5 })
        {
            using var shallow = TreeModels.Train(rounds: 10, change: p => p with { MaxDepth = depth });
            Assert.Equal(depth, Compile(shallow, kernel).Depth);
            AssertSame(shallow, Compile(shallow, kernel), TreeModels.RandomRows(100, seed: 6 + depth), 100);
        }

        using var ragged = TreeModels.Train(rounds: 30, rows: 600, change: p => p with { Gamma = 1, MinChildWeight = 3 });
        AssertSame(ragged, Compile(ragged, kernel), TreeModels.RandomRows(100, seed: 7), 100);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.1)]
    [InlineData(0.9)]
    [InlineData(0.0137)]
    public void PredictMargins_BaseScores_EqualLibxgboost(double baseScore)
    {
        using var booster = TreeModels.Train(rounds: 10, change: p => p with { BaseScore = baseScore });
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));

        Assert.Equal((float)baseScore, forest.BaseScore);
        foreach (var kernel in TreeModels.KernelList)
        {
            AssertSame(booster, ManagedTreeEnsemble.Compile(forest, 0, kernel), TreeModels.RandomRows(200, seed: 8), 200);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Compile_IterationEndBelowAllRounds_EqualsLibxgboostIterationEnd(TreeKernel kernel)
    {
        using var booster = TreeModels.Train(rounds: 30);
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        var rows = TreeModels.RandomRows(64, seed: 9);

        foreach (var end in new[] { 1, 7, 29, 30 })
        {
            var ensemble = ManagedTreeEnsemble.Compile(forest, end, kernel);
            Assert.Equal(end, ensemble.Trees);
            AssertSame(booster, ensemble, rows, 64, end);
        }

        // Fewer rounds really change the margins (the comparison above is not vacuous).
        Assert.NotEqual(booster.PredictDense(rows, 64, outputMargin: true, iterationEnd: 7), booster.PredictDense(rows, 64, outputMargin: true, iterationEnd: 0));
    }

    [Fact]
    public void Compile_SeveralTreesPerRound_RoundsCountWholeRounds()
    {
        using var booster = TreeModels.Train(rounds: 6, change: p => p with { Subsample = 0.7, Extra = new Dictionary<string, string> { ["num_parallel_tree"] = "3" } });
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        var rows = TreeModels.RandomRows(80, seed: 10);

        Assert.Equal(3, forest.TreesPerRound);
        Assert.Equal(18, forest.Trees.Count);
        foreach (var kernel in TreeModels.KernelList)
        {
            var ensemble = ManagedTreeEnsemble.Compile(forest, 2, kernel);
            Assert.Equal(6, ensemble.Trees);
            AssertSame(booster, ensemble, rows, 80, 2);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PredictMargins_MonotoneConstrainedModel_EqualLibxgboost(TreeKernel kernel)
    {
        using var booster = TreeModels.Train(change: p => p with { MonotoneConstraints = [1, -1, 0, 0, 1, 0, 0, 0] });

        Assert.Contains("\"monotone_constraints\":\"(1,-1,0,0,1,0,0,0)\"", booster.SaveJsonConfig().Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        AssertSame(booster, Compile(booster, kernel), TreeModels.RandomRows(200, seed: 11), 200);
        AssertSame(booster, Compile(booster, kernel), TreeModels.ThresholdRows(booster, 200, seed: 12), 200);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void FlippedDefaultDirections_Differ(TreeKernel kernel)
    {
        // The teeth of the missing-value tests: the same trees with every default direction flipped give other margins
        // on rows with NaN, so an evaluator that ignored default_left would fail them.
        using var booster = TreeModels.Train();
        var json = TreeModels.EditedJson(booster, model =>
        {
            foreach (var tree in TreeModels.TreesOf(model))
            {
                var flags = tree!["default_left"]!.AsArray();
                for (var i = 0; i < flags.Count; i++)
                {
                    flags[i] = 1 - flags[i]!.GetValue<int>();
                }
            }
        });
        var rows = TreeModels.RandomRows(200, seed: 13);

        var flipped = Margins(ManagedTreeEnsemble.Compile(XgbForest.Parse(json), 0, kernel), rows, 200);
        Assert.NotEqual(booster.PredictDense(rows, 200, outputMargin: true, iterationEnd: 0), flipped);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ThresholdsOneFloatLower_Differ(TreeKernel kernel)
    {
        // The teeth of the threshold tests: moving every threshold down by one float changes what x == threshold does
        // (x < t becomes false), so an evaluator comparing with <= instead of < would fail them.
        using var booster = TreeModels.Train();
        var json = TreeModels.EditedJson(booster, model =>
        {
            foreach (var tree in TreeModels.TreesOf(model))
            {
                var left = tree!["left_children"]!.AsArray();
                var conditions = tree["split_conditions"]!.AsArray();
                for (var i = 0; i < conditions.Count; i++)
                {
                    if (left[i]!.GetValue<int>() >= 0)
                    {
                        conditions[i] = MathF.BitDecrement(conditions[i]!.GetValue<float>());
                    }
                }
            }
        });
        var rows = TreeModels.ThresholdRows(booster, 300, seed: 14);

        var lowered = Margins(ManagedTreeEnsemble.Compile(XgbForest.Parse(json), 0, kernel), rows, 300);
        Assert.NotEqual(booster.PredictDense(rows, 300, outputMargin: true, iterationEnd: 0), lowered);
    }

    [Fact]
    public void VectorProblem_InfiniteThresholdsDeepTreesOrAMissingInstructionSet_NamedPerKernel()
    {
        // Root splits feature 0 at +inf: the ±inf stand-ins for NaN would go the wrong way, so the kernel refuses it.
        XgbTree[] infinite = [new([1, -1, -1], [2, -1, -1], [0, 0, 0], [float.PositiveInfinity, -0.5f, 0.5f], [true, false, false])];
        var chain = new XgbTree([1, -1, 3, -1, 5, -1, 7, -1, 9, -1, 11, -1, 13, -1, -1], [2, -1, 4, -1, 6, -1, 8, -1, 10, -1, 12, -1, 14, -1, -1],
            new int[15], Enumerable.Range(0, 15).Select(i => i * 0.1f).ToArray(), new bool[15]);

        Assert.Equal(7, chain.Depth);
        using var booster = TreeModels.Train(rounds: 3);
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        Assert.Throws<ArgumentException>(() => ManagedTreeEnsemble.VectorProblem([chain], 7, TreeKernel.Walk));
        foreach (var (kernel, supported, lacks) in new[] { (TreeKernel.Avx512, ManagedTreeEnsemble.Avx512Supported, "lacks AVX-512F/CD"), (TreeKernel.Avx2, ManagedTreeEnsemble.Avx2Supported, "lacks AVX2") })
        {
            if (!supported)
            {
                Assert.Contains(lacks, ManagedTreeEnsemble.VectorProblem([chain], 7, kernel), StringComparison.Ordinal);
                var e = Assert.Throws<ArgumentException>(() => ManagedTreeEnsemble.Compile(forest, 0, kernel));
                Assert.Contains(lacks, e.Message, StringComparison.Ordinal);
                continue;
            }

            Assert.Contains("split threshold of Infinity", ManagedTreeEnsemble.VectorProblem(infinite, 1, kernel), StringComparison.Ordinal);
            Assert.Contains("trees 7 deep", ManagedTreeEnsemble.VectorProblem([chain], 7, kernel), StringComparison.Ordinal);
            Assert.Null(ManagedTreeEnsemble.VectorProblem([infinite[0] with { Value = [0.5f, -0.5f, 0.5f] }], 1, kernel));
        }

        // Auto takes the widest kernel this processor runs.
        var auto = ManagedTreeEnsemble.Compile(forest);
        Assert.Equal(ManagedTreeEnsemble.Avx512Supported ? TreeKernel.Avx512 : ManagedTreeEnsemble.Avx2Supported ? TreeKernel.Avx2 : TreeKernel.Walk, auto.Kernel);
    }

    private static ManagedTreeEnsemble Compile(Booster booster, TreeKernel kernel) =>
        ManagedTreeEnsemble.Compile(XgbForest.Parse(booster.SaveModelToBuffer("json")), 0, kernel);

    private static float[] Margins(ManagedTreeEnsemble ensemble, float[] rows, int count)
    {
        var margins = new float[count];
        ensemble.PredictMargins(rows, count, margins);
        return margins;
    }

    /// <summary>Margins identical to libxgboost's, probabilities within the tolerance.</summary>
    private static void AssertSame(Booster booster, ManagedTreeEnsemble ensemble, float[] rows, int count, int iterationEnd = 0)
    {
        var expectedMargins = booster.PredictDense(rows, count, outputMargin: true, iterationEnd: iterationEnd);
        var expected = booster.PredictDense(rows, count, iterationEnd: iterationEnd);
        var probabilities = new float[count];
        ensemble.Predict(rows, count, probabilities);

        Assert.Equal(expectedMargins, Margins(ensemble, rows, count));
        for (var i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(expected[i] - probabilities[i]) <= TreeSelection.Tolerance, $"row {i}: {probabilities[i]:R} vs libxgboost {expected[i]:R}");
        }
    }
}
