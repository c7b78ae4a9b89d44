using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamFraud.Scoring.Trees;

/// <summary>How <see cref="ManagedTreeEnsemble"/> walks its trees (tests pin one; serving takes <see cref="Auto"/>).</summary>
public enum TreeKernel
{
    /// <summary>The fastest this machine and model allow: <see cref="Avx512"/> when AVX-512F is present and every tree is at most <see cref="ManagedTreeEnsemble.MaxPerfectDepth"/> deep, else <see cref="Scalar"/> or <see cref="Walk"/>.</summary>
    Auto,

    /// <summary>Complete trees in level order, 16 rows at a time in AVX-512 registers.</summary>
    Avx512,

    /// <summary>Complete trees in level order, one row at a time, branch-free.</summary>
    Scalar,

    /// <summary>The trees as XGBoost stores them, one row at a time, following child links (any depth).</summary>
    Walk,
}

/// <summary>
/// A managed evaluator of an <see cref="XgbForest"/> whose margins are libxgboost's, bit for bit: the same float32
/// comparisons (left when <c>x &lt; threshold</c>; NaN follows the node's default direction) and the same float32
/// sums in the same order (the base margin, then each tree's leaf in boosting order), the order libxgboost 1.7's
/// CPU predictor adds them in. Immutable and thread-safe once compiled.
/// </summary>
/// <remarks>
/// <para>Layout: every tree is padded to a complete binary tree of the ensemble's depth D (a leaf above depth D becomes
/// a subtree whose leaves all carry its value, under dummy splits), stored in level order: node k's children are
/// 2k+1 and 2k+2, so a row's path is an index computed without branches. Per tree, 2^D packed split entries (feature
/// index, and the default direction in the sign bit), 2^D thresholds and 2^D leaves — 3 KiB for depth 6, so 300
/// trees sit in L2 and stream in order.</para>
/// <para>The AVX-512 kernel takes 16 rows per register. A level's nodes come from the tree's table by a lane
/// permute (<c>vpermps</c> over 16 entries, <c>vpermt2ps</c> over 32, two of them over 64) instead of a gather, so
/// the only gather per level is the feature value of each row. Deeper levels (D &gt; 6) gather the node too.
/// Trees deeper than <see cref="MaxPerfectDepth"/> (2^D entries each) are walked by child links instead.</para>
/// </remarks>
public sealed unsafe class ManagedTreeEnsemble
{
    /// <summary>Deepest tree stored complete; a deeper ensemble is walked (<see cref="TreeKernel.Walk"/>).</summary>
    public const int MaxPerfectDepth = 10;

    private const int Lanes = 16;
    private const int DefaultRightBit = unchecked((int)0x80000000);

    // Complete layout: per tree 2^D entries each (internal nodes 0..2^D-2 in level order, one pad), 2^D leaves.
    // Arrays carry Lanes * 4 extra entries so a 16-wide load at a table's end stays inside.
    private int[] _split = [];
    private float[] _threshold = [];
    private float[] _leaf = [];

    // Walk layout: the trees' own nodes, concatenated; child links are absolute.
    private int[] _walkLeft = [];
    private int[] _walkRight = [];
    private int[] _walkSplit = [];
    private float[] _walkValue = [];
    private int[] _walkRoot = [];

    private ManagedTreeEnsemble(int features, int trees, int depth, float baseMargin, TreeKernel kernel)
    {
        Features = features;
        Trees = trees;
        Depth = depth;
        BaseMargin = baseMargin;
        Kernel = kernel;
    }

    /// <summary>Features per row.</summary>
    public int Features { get; }

    /// <summary>Trees evaluated (those of the rounds compiled).</summary>
    public int Trees { get; }

    /// <summary>Depth of the deepest tree.</summary>
    public int Depth { get; }

    /// <summary>The margin before any tree (logit of the base score).</summary>
    public float BaseMargin { get; }

    /// <summary>The kernel in use (never <see cref="TreeKernel.Auto"/>).</summary>
    public TreeKernel Kernel { get; }

    /// <summary>A short description for logs, e.g. <c>300 trees, depth 6, avx512</c>.</summary>
    public string Description => $"{Trees} trees, depth {Depth}, {Kernel.ToString().ToLowerInvariant()}";

    /// <summary>
    /// Compiles the trees of rounds [0, <paramref name="iterationEnd"/>) (0: every round, as libxgboost's
    /// <c>iteration_end</c>) of <paramref name="forest"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A kernel this machine or model cannot run.</exception>
    public static ManagedTreeEnsemble Compile(XgbForest forest, int iterationEnd = 0, TreeKernel kernel = TreeKernel.Auto)
    {
        ArgumentNullException.ThrowIfNull(forest);
        ArgumentOutOfRangeException.ThrowIfNegative(iterationEnd);
        var count = iterationEnd == 0 ? forest.Trees.Count : Math.Min(forest.Trees.Count, checked(iterationEnd * forest.TreesPerRound));
        var trees = forest.Trees.Take(count).ToArray();
        var depth = trees.Length == 0 ? 0 : trees.Max(t => t.Depth);
        if (kernel == TreeKernel.Auto)
        {
            kernel = depth > MaxPerfectDepth ? TreeKernel.Walk : Avx512F.IsSupported ? TreeKernel.Avx512 : TreeKernel.Scalar;
        }

        if (kernel != TreeKernel.Walk && depth > MaxPerfectDepth)
        {
            throw new ArgumentException($"trees {depth} deep exceed the complete layout's {MaxPerfectDepth}; use the walk kernel", nameof(kernel));
        }

        if (kernel == TreeKernel.Avx512 && !Avx512F.IsSupported)
        {
            throw new ArgumentException("this processor has no AVX-512F", nameof(kernel));
        }

        return kernel == TreeKernel.Walk
            ? CompileWalk(forest, trees, depth)
            : CompileComplete(forest, trees, depth, kernel);
    }

    /// <summary>
    /// Writes the margin (log-odds, before the sigmoid) of each of <paramref name="rows"/> rows of
    /// <paramref name="values"/> (row-major, <see cref="Features"/> per row; NaN is missing) to <paramref name="margins"/>.
    /// </summary>
    public void PredictMargins(ReadOnlySpan<float> values, int rows, Span<float> margins)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if ((long)rows * Features > values.Length || margins.Length < rows)
        {
            throw new ArgumentException($"{rows} rows of {Features} features need {(long)rows * Features} values and {rows} outputs; got {values.Length} and {margins.Length}.");
        }

        fixed (float* x = values)
        fixed (float* m = margins)
        {
            switch (Kernel)
            {
                case TreeKernel.Walk:
                    WalkRows(x, 0, rows, m);
                    break;
                case TreeKernel.Avx512:
                    var blocks = rows / Lanes;
                    Avx512Rows(x, blocks, m);
                    CompleteRows(x, blocks * Lanes, rows, m);
                    break;
                default:
                    CompleteRows(x, 0, rows, m);
                    break;
            }
        }
    }

    /// <summary>
    /// Writes the probability of each row: the sigmoid of its margin, in single precision as libxgboost's
    /// <c>binary:logistic</c> computes it (<c>1 / (1 + expf(-margin))</c>).
    /// </summary>
    public void Predict(ReadOnlySpan<float> values, int rows, Span<float> probabilities)
    {
        PredictMargins(values, rows, probabilities);
        for (var i = 0; i < rows; i++)
        {
            probabilities[i] = Sigmoid(probabilities[i]);
        }
    }

    /// <summary>libxgboost 1.7's <c>common::Sigmoid</c>: <c>1.0f / (1.0f + expf(-x))</c>.</summary>
    public static float Sigmoid(float margin) => 1f / (1f + MathF.Exp(-margin));

    private static ManagedTreeEnsemble CompileComplete(XgbForest forest, XgbTree[] trees, int depth, TreeKernel kernel)
    {
        var stride = 1 << depth;
        var padding = Lanes * 4;
        var split = new int[(trees.Length * stride) + padding];
        var threshold = new float[split.Length];
        var leaf = new float[split.Length];
        for (var t = 0; t < trees.Length; t++)
        {
            Fill(trees[t], 0, 0, 0, depth, split.AsSpan(t * stride, stride), threshold.AsSpan(t * stride, stride), leaf.AsSpan(t * stride, stride));
        }

        return new ManagedTreeEnsemble(forest.Features, trees.Length, depth, forest.BaseMargin, kernel)
        {
            _split = split, _threshold = threshold, _leaf = leaf,
        };
    }

    /// <summary>Writes the subtree at <paramref name="node"/> into complete slot <paramref name="slot"/> of level <paramref name="level"/>.</summary>
    private static void Fill(XgbTree tree, int node, int slot, int level, int depth, Span<int> split, Span<float> threshold, Span<float> leaf)
    {
        if (level == depth)
        {
            leaf[slot - ((1 << depth) - 1)] = tree.Value[node]; // a leaf (its value, repeated over the padding below it)
            return;
        }

        var isLeaf = tree.Left[node] < 0;
        if (isLeaf)
        {
            // A dummy split: both sides lead to copies of this leaf, so any feature value (NaN too) gives its value.
            split[slot] = 0;
            threshold[slot] = 0;
            Fill(tree, node, (2 * slot) + 1, level + 1, depth, split, threshold, leaf);
            Fill(tree, node, (2 * slot) + 2, level + 1, depth, split, threshold, leaf);
            return;
        }

        split[slot] = tree.Feature[node] | (tree.DefaultLeft[node] ? 0 : DefaultRightBit);
        threshold[slot] = tree.Value[node];
        Fill(tree, tree.Left[node], (2 * slot) + 1, level + 1, depth, split, threshold, leaf);
        Fill(tree, tree.Right[node], (2 * slot) + 2, level + 1, depth, split, threshold, leaf);
    }

    private static ManagedTreeEnsemble CompileWalk(XgbForest forest, XgbTree[] trees, int depth)
    {
        var total = trees.Sum(t => t.Left.Length);
        var left = new int[total];
        var right = new int[total];
        var split = new int[total];
        var value = new float[total];
        var roots = new int[trees.Length];
        var offset = 0;
        for (var t = 0; t < trees.Length; t++)
        {
            var tree = trees[t];
            roots[t] = offset;
            for (var k = 0; k < tree.Left.Length; k++)
            {
                var isLeaf = tree.Left[k] < 0;
                left[offset + k] = isLeaf ? -1 : offset + tree.Left[k];
                right[offset + k] = isLeaf ? -1 : offset + tree.Right[k];
                split[offset + k] = isLeaf ? 0 : tree.Feature[k] | (tree.DefaultLeft[k] ? 0 : DefaultRightBit);
                value[offset + k] = tree.Value[k];
            }

            offset += tree.Left.Length;
        }

        return new ManagedTreeEnsemble(forest.Features, trees.Length, depth, forest.BaseMargin, TreeKernel.Walk)
        {
            _walkLeft = left, _walkRight = right, _walkSplit = split, _walkValue = value, _walkRoot = roots,
        };
    }

    /// <summary>Whether a row at this split goes right: <c>!(x &lt; t)</c> for a known value, the default direction for NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool GoesRight(float x, float threshold, int split) =>
        x >= threshold || (float.IsNaN(x) && split < 0);

    private void CompleteRows(float* values, int from, int to, float* margins)
    {
        var depth = Depth;
        var stride = 1 << depth;
        var leafBase = stride - 1;
        fixed (int* split = _split)
        fixed (float* threshold = _threshold)
        fixed (float* leaf = _leaf)
        {
            for (var r = from; r < to; r++)
            {
                var row = values + ((long)r * Features);
                var margin = BaseMargin;
                for (var t = 0; t < Trees; t++)
                {
                    var s = split + (t * stride);
                    var th = threshold + (t * stride);
                    var k = 0;
                    for (var level = 0; level < depth; level++)
                    {
                        var entry = s[k];
                        k = (2 * k) + 1 + (GoesRight(row[entry & int.MaxValue], th[k], entry) ? 1 : 0);
                    }

                    margin += leaf[(t * stride) + k - leafBase];
                }

                margins[r] = margin;
            }
        }
    }

    private void WalkRows(float* values, int from, int to, float* margins)
    {
        fixed (int* left = _walkLeft)
        fixed (int* right = _walkRight)
        fixed (int* split = _walkSplit)
        fixed (float* value = _walkValue)
        {
            for (var r = from; r < to; r++)
            {
                var row = values + ((long)r * Features);
                var margin = BaseMargin;
                for (var t = 0; t < Trees; t++)
                {
                    var k = _walkRoot[t];
                    while (left[k] >= 0)
                    {
                        var entry = split[k];
                        k = GoesRight(row[entry & int.MaxValue], value[k], entry) ? right[k] : left[k];
                    }

                    margin += value[k];
                }

                margins[r] = margin;
            }
        }
    }

    /// <summary>
    /// 16 rows per block: each lane one row, every lane through the same tree at once. Four blocks go through each
    /// tree together: a level is a chain of dependent steps (look-up, gather, compare) whose latency four independent
    /// chains hide.
    /// </summary>
    private void Avx512Rows(float* values, int blocks, float* margins)
    {
        var depth = Depth;
        var stride = 1 << depth;
        var features = Features;
        var block = (long)Lanes * features;
        // Lane i reads row i of its half-block: offsets 0, F, 2F, ... 7F for both halves (the high half's base is 8 rows on).
        var rowOffsets = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * features;
        fixed (int* split = _split)
        fixed (float* threshold = _threshold)
        fixed (float* leaf = _leaf)
        {
            var b = 0;
            for (; b + 4 <= blocks; b += 4)
            {
                var x0 = values + (b * block);
                var x1 = x0 + block;
                var x2 = x1 + block;
                var x3 = x2 + block;
                var m0 = Vector512.Create(BaseMargin);
                var (m1, m2, m3) = (m0, m0, m0);
                for (var t = 0; t < Trees; t++)
                {
                    var s = split + (t * stride);
                    var th = threshold + (t * stride);
                    var k0 = Vector512<int>.Zero; // index within the level
                    var (k1, k2, k3) = (k0, k0, k0);
                    if (depth == 6)
                    {
                        Level(s, th, 0, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        Level(s, th, 1, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        Level(s, th, 2, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        Level(s, th, 3, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        Level(s, th, 4, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        Level(s, th, 5, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                    }
                    else
                    {
                        for (var level = 0; level < depth; level++)
                        {
                            Level(s, th, level, ref k0, ref k1, ref k2, ref k3, x0, x1, x2, x3, features, rowOffsets);
                        }
                    }

                    var l = leaf + (t * stride);
                    m0 += LookUp(l, depth, k0);
                    m1 += LookUp(l, depth, k1);
                    m2 += LookUp(l, depth, k2);
                    m3 += LookUp(l, depth, k3);
                }

                m0.Store(margins + (b * Lanes));
                m1.Store(margins + ((b + 1) * Lanes));
                m2.Store(margins + ((b + 2) * Lanes));
                m3.Store(margins + ((b + 3) * Lanes));
            }

            for (; b < blocks; b++)
            {
                var x0 = values + (b * block);
                var m0 = Vector512.Create(BaseMargin);
                for (var t = 0; t < Trees; t++)
                {
                    var s = split + (t * stride);
                    var th = threshold + (t * stride);
                    var k0 = Vector512<int>.Zero;
                    for (var level = 0; level < depth; level++)
                    {
                        var first = (1 << level) - 1;
                        k0 = Step(s + first, th + first, level, k0, x0, features, rowOffsets);
                    }

                    m0 += LookUp(leaf + (t * stride), depth, k0);
                }

                m0.Store(margins + (b * Lanes));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Level(int* s, float* th, int level, ref Vector512<int> k0, ref Vector512<int> k1, ref Vector512<int> k2, ref Vector512<int> k3, float* x0, float* x1, float* x2, float* x3, int features, Vector256<int> rowOffsets)
    {
        var first = (1 << level) - 1;
        k0 = Step(s + first, th + first, level, k0, x0, features, rowOffsets);
        k1 = Step(s + first, th + first, level, k1, x1, features, rowOffsets);
        k2 = Step(s + first, th + first, level, k2, x2, features, rowOffsets);
        k3 = Step(s + first, th + first, level, k3, x3, features, rowOffsets);
    }

    /// <summary>One level for 16 rows at <paramref name="rows"/>: the index of each lane's node in the next level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Step(int* split, float* threshold, int level, Vector512<int> k, float* rows, int features, Vector256<int> rowOffsets)
    {
        var entry = LookUp(split, level, k);
        var t = LookUp(threshold, level, k);
        var feature = entry & Vector512.Create(int.MaxValue);
        var x = Vector512.Create(
            Avx2.GatherVector256(rows, rowOffsets + feature.GetLower(), 4),
            Avx2.GatherVector256(rows + (8 * features), rowOffsets + feature.GetUpper(), 4));
        // Right when x >= t (false for NaN), or when x is NaN and the default is right (the sign bit).
        var right = Avx512F.CompareGreaterThanOrEqual(x, t).AsInt32()
            | (Avx512F.CompareUnordered(x, x).AsInt32() & Vector512.ShiftRightArithmetic(entry, 31));
        return (k << 1) - right; // right is all ones (-1) or 0
    }

    /// <summary>Entry <paramref name="k"/> of each lane from a table of 2^<paramref name="level"/> entries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LookUp(float* table, int level, Vector512<int> k) =>
        level switch
        {
            0 => Vector512.Create(*table),
            <= 4 => Avx512F.PermuteVar16x32(Vector512.Load(table), k),
            5 => Avx512F.PermuteVar16x32x2(Vector512.Load(table), k, Vector512.Load(table + 16)),
            6 => Vector512.ConditionalSelect(
                Vector512.GreaterThan(k, Vector512.Create(31)).AsSingle(),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table + 32), k, Vector512.Load(table + 48)),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table), k, Vector512.Load(table + 16))),
            _ => Vector512.Create(Avx2.GatherVector256(table, k.GetLower(), 4), Avx2.GatherVector256(table, k.GetUpper(), 4)),
        };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> LookUp(int* table, int level, Vector512<int> k) => LookUp((float*)table, level, k).AsInt32();
}
