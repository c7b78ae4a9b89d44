using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamFraud.Scoring.Trees;

/// <summary>How <see cref="ManagedTreeEnsemble"/> evaluates its trees (tests pin one; serving takes <see cref="Auto"/>).</summary>
public enum TreeKernel
{
    /// <summary><see cref="Avx512"/> where this machine and the model allow it, else <see cref="Avx2"/>, else <see cref="Walk"/>.</summary>
    Auto,

    /// <summary>
    /// Leaf bit vectors, 16 rows per AVX-512 register: needs AVX-512F and CD, trees at most
    /// <see cref="ManagedTreeEnsemble.MaxVectorDepth"/> deep and finite thresholds.
    /// </summary>
    Avx512,

    /// <summary>The trees as XGBoost stores them, one row at a time, following child links (any tree).</summary>
    Walk,

    /// <summary>
    /// <see cref="Avx512"/>'s leaf bit vectors with 8 rows per AVX2 register, for processors without AVX-512 (AMD
    /// before Zen 4, Intel client cores): the same trees (at most <see cref="ManagedTreeEnsemble.MaxVectorDepth"/>
    /// deep, finite thresholds), the lowest leaf bit found through the exponent of its float, the leaf by a lane permute
    /// up to depth 3 and a gather beyond.
    /// </summary>
    Avx2,
}

/// <summary>
/// A managed evaluator of an <see cref="XgbForest"/> whose margins are libxgboost's bit for bit: the same float32
/// comparisons (left when <c>x &lt; threshold</c>; NaN takes the split's default direction) and the same float32 sums
/// in the same order — the base margin, then each tree's leaf in boosting order, as libxgboost 1.7's CPU predictor
/// adds them. Immutable and thread-safe; no allocation per call.
/// </summary>
/// <remarks>
/// <para>The AVX-512 kernel is QuickScorer's idea (Lucchese et al., SIGIR 2015) turned to rows: 16 rows sit in one
/// register, one per lane. Each tree keeps a bit per leaf for every row (64 leaves in two 32-bit words for depth 6),
/// all set at first. Each split of the tree is then compared for all 16 rows at once (one load of the feature's
/// column, one compare with the threshold), and where a row goes right the leaves of the split's left subtree are
/// cleared (one masked AND). The row's leaf is the lowest bit left (leaves numbered left to right): the left-most leaf
/// not excluded is the one the row's path ends in. No branches depend on the data, no gathers, and only the splits
/// that exist are visited (trees of a real model are far from complete). The AVX2 kernel does the same with 8 rows per
/// register; lacking a vector leading-zero count and wide permutes, it reads the lowest bit from a float's exponent
/// and gathers leaves of trees deeper than 3.</para>
/// <para>Missing values: the rows are transposed per block (16 or 8 rows) into two column copies, NaN as −∞ in one and +∞
/// in the other; a default-left split reads the first (−∞ ≥ t is false: left), a default-right split the second
/// (+∞ ≥ t: right). For any other value, <c>x ≥ t</c> is <c>!(x &lt; t)</c>, XGBoost's rule. This needs finite
/// thresholds, which the compiler checks.</para>
/// <para>Leaves are stored per tree as a complete level of 2^D values (a leaf above depth D repeated over the leaves
/// beneath it), so a leaf index is a lane permute (<c>vpermps</c>/<c>vpermt2ps</c>) into the tree's table.</para>
/// </remarks>
public sealed unsafe class ManagedTreeEnsemble
{
    /// <summary>Deepest tree the vector kernels (AVX-512, AVX2) take (2^6 = 64 leaf bits per row); deeper ensembles are walked.</summary>
    public const int MaxVectorDepth = 6;

    private const int Lanes = 16; // rows per block of the AVX-512 kernel; the AVX2 kernel's blocks are 8 rows

    /// <summary>Largest scratch (the two column copies of one block) taken from the stack; beyond it, the array pool.</summary>
    private const int MaxStackColumnsBytes = 64 * 1024;

    // Vector kernels' layout: per tree the splits whose left subtree lies in the low 32 leaves, then those in the high 32
    // (_splitStart[2t], [2t+1], [2t+2]); per tree 2^D leaves, left to right.
    private Split[] _splits = [];
    private int[] _splitStart = [];
    private float[] _leaves = [];

    // Walk layout: the trees' own nodes, concatenated, child links absolute; a leaf has left = -1.
    private WalkNode[] _nodes = [];
    private int[] _roots = [];

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

    /// <summary>The margin before any tree: logit of the base score.</summary>
    public float BaseMargin { get; }

    /// <summary>The kernel in use (never <see cref="TreeKernel.Auto"/>).</summary>
    public TreeKernel Kernel { get; }

    /// <summary>A short description for logs, e.g. <c>300 trees, depth 6, avx512</c>.</summary>
    public string Description => $"{Trees} trees, depth {Depth}, {Kernel.ToString().ToLowerInvariant()}";

    /// <summary>Whether this processor runs the AVX-512 kernel.</summary>
    public static bool Avx512Supported => Avx512F.IsSupported && Avx512CD.IsSupported;

    /// <summary>Whether this processor runs the AVX2 kernel.</summary>
    public static bool Avx2Supported => Avx2.IsSupported;

    /// <summary>
    /// Compiles the trees of rounds [0, <paramref name="iterationEnd"/>) of <paramref name="forest"/> (0: every round,
    /// as libxgboost's <c>iteration_end</c>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="kernel"/> cannot run this model on this machine (the message says why).</exception>
    public static ManagedTreeEnsemble Compile(XgbForest forest, int iterationEnd = 0, TreeKernel kernel = TreeKernel.Auto)
    {
        ArgumentNullException.ThrowIfNull(forest);
        ArgumentOutOfRangeException.ThrowIfNegative(iterationEnd);
        var count = iterationEnd == 0 ? forest.Trees.Count : (int)Math.Min(forest.Trees.Count, (long)iterationEnd * forest.TreesPerRound);
        var trees = forest.Trees.Take(count).ToArray();
        var depth = trees.Length == 0 ? 0 : trees.Max(t => t.Depth);
        if (kernel == TreeKernel.Auto)
        {
            // The widest vector kernel this processor runs, unless the trees rule vector kernels out (one scan of them).
            var widest = Avx512Supported ? TreeKernel.Avx512 : Avx2Supported ? TreeKernel.Avx2 : TreeKernel.Walk;
            kernel = widest != TreeKernel.Walk && VectorProblem(trees, depth, widest) is null ? widest : TreeKernel.Walk;
        }
        else if (kernel != TreeKernel.Walk && VectorProblem(trees, depth, kernel) is { } vectorProblem)
        {
            throw new ArgumentException($"the {(kernel == TreeKernel.Avx512 ? "AVX-512" : "AVX2")} kernel cannot run: {vectorProblem}", nameof(kernel));
        }

        var ensemble = new ManagedTreeEnsemble(forest.Features, trees.Length, depth, forest.BaseMargin, kernel);
        if (kernel != TreeKernel.Walk)
        {
            ensemble.CompileVector(trees);
        }
        else
        {
            ensemble.CompileWalk(trees);
        }

        return ensemble;
    }

    /// <summary>Why the AVX-512 kernel cannot run these trees here, or null.</summary>
    public static string? VectorProblem(IReadOnlyList<XgbTree> trees, int depth) => VectorProblem(trees, depth, TreeKernel.Avx512);

    /// <summary>Why the vector <paramref name="kernel"/> (<see cref="TreeKernel.Avx512"/> or <see cref="TreeKernel.Avx2"/>) cannot run these trees here, or null.</summary>
    public static string? VectorProblem(IReadOnlyList<XgbTree> trees, int depth, TreeKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(trees);
        if (kernel == TreeKernel.Avx512 && !Avx512Supported)
        {
            return "this processor lacks AVX-512F/CD";
        }

        if (kernel == TreeKernel.Avx2 && !Avx2Supported)
        {
            return "this processor lacks AVX2";
        }

        if (kernel is not (TreeKernel.Avx512 or TreeKernel.Avx2))
        {
            throw new ArgumentException($"{kernel} is not a vector kernel.", nameof(kernel));
        }

        if (depth > MaxVectorDepth)
        {
            return $"trees {depth} deep (the kernel takes up to {MaxVectorDepth})";
        }

        foreach (var tree in trees)
        {
            for (var k = 0; k < tree.Left.Length; k++)
            {
                if (tree.Left[k] >= 0 && !float.IsFinite(tree.Value[k]))
                {
                    return $"a split threshold of {tree.Value[k]} (missing values are sent by comparing with ±infinity)";
                }
            }
        }

        return null;
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

        if (rows == 0)
        {
            return;
        }

        fixed (float* x = values)
        fixed (float* m = margins)
        {
            if (Kernel is TreeKernel.Avx512 or TreeKernel.Avx2)
            {
                VectorRows(x, rows, m);
            }
            else
            {
                WalkRows(x, rows, m);
            }
        }
    }

    /// <summary>
    /// Writes the probability of each row: the sigmoid of its margin in single precision, as libxgboost's
    /// <c>binary:logistic</c> computes it.
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

    private void CompileVector(XgbTree[] trees)
    {
        var depth = Depth;
        var width = 1 << depth;
        var lanes = BlockRows;
        var splits = new List<Split>();
        var starts = new int[(2 * trees.Length) + 1];
        var leaves = new float[(trees.Length * width) + (Lanes * 4)]; // a 16- or 8-wide load at the last table's end stays inside
        for (var t = 0; t < trees.Length; t++)
        {
            var tree = trees[t];
            FillLeaves(tree, 0, 0, 0, depth, leaves.AsSpan(t * width, width));
            for (var half = 0; half < 2; half++)
            {
                starts[(2 * t) + half] = splits.Count;
                var queue = new Queue<(int Node, int Level, int Index)>();
                queue.Enqueue((0, 0, 0));
                while (queue.Count > 0)
                {
                    var (node, level, index) = queue.Dequeue();
                    if (tree.Left[node] < 0)
                    {
                        continue;
                    }

                    // The node's subtree spans leaves [index * 2^(D-level), ...); its left half is what going right excludes.
                    var size = 1 << (depth - level - 1);
                    var first = index * 2 * size;
                    if (first / 32 == half)
                    {
                        var cleared = (size == 32 ? uint.MaxValue : ((1u << size) - 1)) << (first % 32);
                        var column = ((tree.DefaultLeft[node] ? 0 : Features) + tree.Feature[node]) * lanes;
                        splits.Add(new Split(column, tree.Value[node], ~cleared));
                    }

                    queue.Enqueue((tree.Left[node], level + 1, 2 * index));
                    queue.Enqueue((tree.Right[node], level + 1, (2 * index) + 1));
                }
            }
        }

        starts[2 * trees.Length] = splits.Count;
        _splits = [.. splits];
        _splitStart = starts;
        _leaves = leaves;
    }

    /// <summary>Writes the leaves under <paramref name="node"/> (at <paramref name="level"/>, position <paramref name="index"/> in it) into a complete level of 2^depth.</summary>
    private static void FillLeaves(XgbTree tree, int node, int level, int index, int depth, Span<float> leaves)
    {
        if (tree.Left[node] < 0)
        {
            var span = 1 << (depth - level);
            leaves.Slice(index * span, span).Fill(tree.Value[node]);
            return;
        }

        FillLeaves(tree, tree.Left[node], level + 1, 2 * index, depth, leaves);
        FillLeaves(tree, tree.Right[node], level + 1, (2 * index) + 1, depth, leaves);
    }

    private void CompileWalk(XgbTree[] trees)
    {
        var nodes = new WalkNode[trees.Sum(t => t.Left.Length)];
        var roots = new int[trees.Length];
        var offset = 0;
        for (var t = 0; t < trees.Length; t++)
        {
            var tree = trees[t];
            roots[t] = offset;
            for (var k = 0; k < tree.Left.Length; k++)
            {
                nodes[offset + k] = tree.Left[k] < 0
                    ? new WalkNode(-1, -1, 0, tree.Value[k], false)
                    : new WalkNode(offset + tree.Left[k], offset + tree.Right[k], tree.Feature[k], tree.Value[k], tree.DefaultLeft[k]);
            }

            offset += tree.Left.Length;
        }

        _nodes = nodes;
        _roots = roots;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised from the first call: load-time timing must see the real speed
    private void WalkRows(float* values, int rows, float* margins)
    {
        fixed (WalkNode* nodes = _nodes)
        fixed (int* roots = _roots)
        {
            for (var r = 0; r < rows; r++)
            {
                var row = values + ((long)r * Features);
                var margin = BaseMargin;
                for (var t = 0; t < Trees; t++)
                {
                    var node = nodes + roots[t];
                    while (node->Left >= 0)
                    {
                        var x = row[node->Feature];
                        // XGBoost: a missing value takes the default child; otherwise left when x < threshold.
                        var left = float.IsNaN(x) ? node->DefaultLeft : x < node->Value;
                        node = nodes + (left ? node->Left : node->Right);
                    }

                    margin += node->Value;
                }

                margins[r] = margin;
            }
        }
    }

    /// <summary>Rows per block of the vector kernel in use: 16 (AVX-512) or 8 (AVX2).</summary>
    private int BlockRows => Kernel == TreeKernel.Avx2 ? 8 : Lanes;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised from the first call: load-time timing must see the real speed
    private void VectorRows(float* values, int rows, float* margins)
    {
        var features = Features;
        var lanes = BlockRows;
        var columnsLength = 2 * features * lanes;
        float[]? rented = null;
        Span<float> columns = columnsLength * sizeof(float) <= MaxStackColumnsBytes
            ? stackalloc float[columnsLength]
            : (rented = ArrayPool<float>.Shared.Rent(columnsLength));
        try
        {
            fixed (float* c = columns)
            {
                var tail = stackalloc float[Lanes];
                for (var first = 0; first < rows; first += lanes)
                {
                    var count = Math.Min(lanes, rows - first);
                    Transpose(values + ((long)first * features), count, features, lanes, c);
                    var destination = count == lanes ? margins + first : tail; // a partial block goes through the tail
                    if (lanes == Lanes)
                    {
                        Block(c).Store(destination);
                    }
                    else
                    {
                        Block256(c).Store(destination);
                    }

                    if (count < lanes)
                    {
                        new Span<float>(tail, count).CopyTo(new Span<float>(margins + first, count));
                    }
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The margins of the 16 rows whose columns are in <paramref name="columns"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised from the first call: load-time timing must see the real speed
    private Vector512<float> Block(float* columns)
    {
        var depth = Depth;
        var width = 1 << depth;
        var margin = Vector512.Create(BaseMargin);
        fixed (Split* splits = _splits)
        fixed (int* starts = _splitStart)
        fixed (float* leaves = _leaves)
        {
            var split = splits;
            var table = leaves;
            for (var t = 0; t < Trees; t++)
            {
                var low = Vector512<uint>.AllBitsSet;
                var high = Vector512<uint>.AllBitsSet;
                for (var end = splits + starts[(2 * t) + 1]; split < end; split++)
                {
                    var right = Vector512.GreaterThanOrEqual(Vector512.Load(columns + split->Column), Vector512.Create(split->Threshold)).AsUInt32();
                    low = Vector512.ConditionalSelect(right, low & Vector512.Create(split->Keep), low);
                }

                for (var end = splits + starts[(2 * t) + 2]; split < end; split++)
                {
                    var right = Vector512.GreaterThanOrEqual(Vector512.Load(columns + split->Column), Vector512.Create(split->Threshold)).AsUInt32();
                    high = Vector512.ConditionalSelect(right, high & Vector512.Create(split->Keep), high);
                }

                // The lowest leaf bit left: 31 - lzcnt(x & -x) in the low word, else 32 + that in the high word (the
                // right-most leaf is never cleared, so a row always has one).
                var lowLeaf = Vector512.Create(31u) - Avx512CD.LeadingZeroCount(low & (Vector512<uint>.Zero - low));
                var highLeaf = Vector512.Create(63u) - Avx512CD.LeadingZeroCount(high & (Vector512<uint>.Zero - high));
                var leaf = Vector512.ConditionalSelect(Vector512.Equals(low, Vector512<uint>.Zero), highLeaf, lowLeaf).AsInt32();
                margin += LookUp(table, depth, leaf);
                table += width;
            }
        }

        return margin;
    }

    /// <summary>The margins of the 8 rows whose columns are in <paramref name="columns"/>: <see cref="Block"/> on AVX2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised from the first call: load-time timing must see the real speed
    private Vector256<float> Block256(float* columns)
    {
        var depth = Depth;
        var width = 1 << depth;
        var margin = Vector256.Create(BaseMargin);
        fixed (Split* splits = _splits)
        fixed (int* starts = _splitStart)
        fixed (float* leaves = _leaves)
        {
            var split = splits;
            var table = leaves;
            for (var t = 0; t < Trees; t++)
            {
                var low = Vector256<uint>.AllBitsSet;
                var high = Vector256<uint>.AllBitsSet;
                for (var end = splits + starts[(2 * t) + 1]; split < end; split++)
                {
                    var right = Vector256.GreaterThanOrEqual(Vector256.Load(columns + split->Column), Vector256.Create(split->Threshold)).AsUInt32();
                    low = Vector256.ConditionalSelect(right, low & Vector256.Create(split->Keep), low);
                }

                for (var end = splits + starts[(2 * t) + 2]; split < end; split++)
                {
                    var right = Vector256.GreaterThanOrEqual(Vector256.Load(columns + split->Column), Vector256.Create(split->Threshold)).AsUInt32();
                    high = Vector256.ConditionalSelect(right, high & Vector256.Create(split->Keep), high);
                }

                // AVX2 has no vector lzcnt: the lowest bit left, x & -x = 2^i, converted to float has exponent 127 + i
                // (2^31 reads as −2^31, the same exponent under the sign bit).
                var leaf = Vector256.ConditionalSelect(
                    Vector256.Equals(low, Vector256<uint>.Zero),
                    LowestBit(high) + Vector256.Create(32u),
                    LowestBit(low)).AsInt32();
                margin += depth switch
                {
                    0 => Vector256.Create(*table),
                    <= 3 => Avx2.PermuteVar8x32(Vector256.Load(table), leaf),
                    _ => Avx2.GatherVector256(table, leaf, 4),
                };
                table += width;
            }
        }

        return margin;
    }

    /// <summary>The index of each lane's lowest set bit (any value for a lane of 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> LowestBit(Vector256<uint> x) =>
        ((Vector256.ConvertToSingle((x & (Vector256<uint>.Zero - x)).AsInt32()).AsUInt32() >> 23) & Vector256.Create(0xFFu)) - Vector256.Create(127u);

    /// <summary>
    /// <paramref name="count"/> rows to two column copies of <paramref name="lanes"/> rows, [feature][lane] each: NaN
    /// as −∞ in the first (read by default-left splits), as +∞ in the second (default-right). Lanes past
    /// <paramref name="count"/> are 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised from the first call: load-time timing must see the real speed
    private static void Transpose(float* rows, int count, int features, int lanes, float* columns)
    {
        // Rows read in order, as before the AVX2 kernel; a partial block's missing lanes are zeroed.
        for (var r = 0; r < count; r++)
        {
            var row = rows + (r * features);
            for (var f = 0; f < features; f++)
            {
                columns[(f * lanes) + r] = row[f];
            }
        }

        for (var r = count; r < lanes; r++)
        {
            for (var f = 0; f < features; f++)
            {
                columns[(f * lanes) + r] = 0f;
            }
        }

        // features × lanes is a multiple of 8: the NaN stand-ins 8 values at a time, for either kernel.
        var high = columns + (features * lanes);
        for (var at = 0; at < features * lanes; at += 8)
        {
            var v = Vector256.Load(columns + at);
            var nan = ~Vector256.Equals(v, v);
            Vector256.ConditionalSelect(nan, Vector256.Create(float.NegativeInfinity), v).Store(columns + at);
            Vector256.ConditionalSelect(nan, Vector256.Create(float.PositiveInfinity), v).Store(high + at);
        }
    }

    /// <summary>Entry <paramref name="k"/> of each lane from a table of 2^<paramref name="level"/> entries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LookUp(float* table, int level, Vector512<int> k) =>
        level switch
        {
            0 => Vector512.Create(*table),
            <= 4 => Avx512F.PermuteVar16x32(Vector512.Load(table), k),
            5 => Avx512F.PermuteVar16x32x2(Vector512.Load(table), k, Vector512.Load(table + 16)),
            _ => Vector512.ConditionalSelect(
                Vector512.GreaterThan(k, Vector512.Create(31)).AsSingle(),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table + 32), k, Vector512.Load(table + 48)),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table), k, Vector512.Load(table + 16))),
        };

    /// <summary>A split for the vector kernels: where its feature's column starts, its threshold, the leaf bits it keeps when a row goes right.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Split(int Column, float Threshold, uint Keep);

    /// <summary>A node for the walk kernel; a leaf has <see cref="Left"/> = -1 and its value in <see cref="Value"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct WalkNode(int Left, int Right, int Feature, float Value, bool DefaultLeft);
}
