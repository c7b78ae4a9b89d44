using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace StreamFraud.Scoring.Trees;

/// <summary>
/// Exact per-feature contributions (path-dependent TreeSHAP: Lundberg, Erion and Lee 2018, "Consistent individualized
/// feature attribution for tree ensembles", Algorithm 2) of an <see cref="XgbForest"/>, in managed code: the values
/// libxgboost's <c>pred_contribs</c> computes, for the scorer's alert explanations. Layout as libxgboost's: per row
/// the <see cref="Features"/> contributions, then the bias (the base margin plus each tree's cover-weighted mean leaf
/// value); a row's values add up to its margin. Immutable and thread-safe.
/// </summary>
/// <remarks>
/// <para>The algorithm follows each tree from the root, carrying the "unique path" of the features split on so far:
/// for each, the fraction of the training cover that passes the path's splits on it (zero fraction) and whether the
/// row passes them (one fraction, always 0 or 1), plus the permutation weights of the subsets of those features.
/// A feature split on a second time is unwound from the path and extended again with both fractions multiplied. At a
/// leaf, each path feature receives the leaf value times its one-minus-zero fraction times the path's weights
/// summed with that feature unwound. Every quantity is float32 as in libxgboost 1.7, summed per tree and then over
/// the trees in boosting order, so results match libxgboost to a few float32 roundings (the tests bound it).</para>
/// <para>Costs are what make it worth having: a one-fraction is 0 or 1, so the divisions by it in libxgboost's
/// unwinding become products with constants tabled at compile time, the unwound sums of all features the row does
/// not pass share one sum per leaf, and no allocation happens per tree or row (libxgboost allocates its path storage
/// for every tree of every row and builds a DMatrix per call).</para>
/// </remarks>
public sealed class TreeShap
{
    // All trees' reachable nodes in one set of arrays; a tree's root is _root[t]; a leaf has _left = -1.
    private readonly int[] _root;
    private readonly int[] _left;
    private readonly int[] _right;
    private readonly int[] _feature;
    private readonly float[] _value;        // threshold of a split, value of a leaf
    private readonly bool[] _defaultLeft;
    private readonly float[] _cover;

    // Per path length D (0 ≤ D ≤ Depth + 1) and position i < D + 1, at [D * _stride + i]:
    // (i + 1) / (D + 1), (D − i) / (D + 1), (D + 1) / (i + 1) and (D + 1) / (D − i).
    private readonly float[] _up;
    private readonly float[] _down;
    private readonly float[] _grow;
    private readonly float[] _shrink;
    private readonly int _stride;

    [ThreadStatic]
    private static Work? t_work;

    /// <summary>Rows computed together, one per lane of a 256-bit vector: the recursion does not depend on the row, only its fractions do.</summary>
    private const int Lanes = 8;

    private TreeShap(int features, int trees, int depth, float bias, List<int> roots, List<int> left, List<int> right,
        List<int> feature, List<float> value, List<bool> defaultLeft, List<float> cover)
    {
        Features = features;
        Trees = trees;
        Depth = depth;
        Bias = bias;
        _root = [.. roots];
        _left = [.. left];
        _right = [.. right];
        _feature = [.. feature];
        _value = [.. value];
        _defaultLeft = [.. defaultLeft];
        _cover = [.. cover];
        _stride = depth + 2;
        _up = new float[_stride * _stride];
        _down = new float[_stride * _stride];
        _grow = new float[_stride * _stride];
        _shrink = new float[_stride * _stride];
        for (var d = 0; d < _stride; d++)
        {
            for (var i = 0; i <= d && i < _stride; i++)
            {
                _up[(d * _stride) + i] = (i + 1) / (float)(d + 1);
                _down[(d * _stride) + i] = (d - i) / (float)(d + 1);
                _grow[(d * _stride) + i] = (d + 1) / (float)(i + 1);
                _shrink[(d * _stride) + i] = d == i ? 0 : (d + 1) / (float)(d - i);
            }
        }
    }

    /// <summary>
    /// Largest |managed − libxgboost| accepted on a contribution (log-odds) when a bundle is loaded; in practice they
    /// differ by a few float32 roundings (≈ 1e-6 on the production-size model).
    /// </summary>
    public const double Tolerance = 1e-4;

    /// <summary>Number of features (a row's length; its contributions are one longer, the bias last).</summary>
    public int Features { get; }

    /// <summary>Trees explained (those of the rounds compiled).</summary>
    public int Trees { get; }

    /// <summary>Depth of the deepest tree.</summary>
    public int Depth { get; }

    /// <summary>The bias every row's contributions end with: base margin plus each tree's mean leaf value weighted by cover.</summary>
    public float Bias { get; }

    /// <summary>
    /// Compiles the trees of rounds [0, <paramref name="iterationEnd"/>) of <paramref name="forest"/> (0: every
    /// round, as libxgboost's <c>iteration_end</c>).
    /// </summary>
    /// <exception cref="UnsupportedTreeModelException">The model stores no covers, or a node's cover is not positive (TreeSHAP weighs by it).</exception>
    public static TreeShap Compile(XgbForest forest, int iterationEnd = 0)
    {
        ArgumentNullException.ThrowIfNull(forest);
        ArgumentOutOfRangeException.ThrowIfNegative(iterationEnd);
        var count = iterationEnd == 0 ? forest.Trees.Count : (int)Math.Min(forest.Trees.Count, (long)iterationEnd * forest.TreesPerRound);
        var (roots, left, right, feature, value, defaultLeft, cover) = (new List<int>(), new List<int>(), new List<int>(), new List<int>(), new List<float>(), new List<bool>(), new List<float>());
        var depth = 0;
        var bias = 0f;
        for (var t = 0; t < count; t++)
        {
            var tree = forest.Trees[t];
            if (tree.Cover is null)
            {
                throw new UnsupportedTreeModelException($"tree {t} stores no covers (sum_hessian); TreeSHAP weighs each split by them");
            }

            depth = Math.Max(depth, tree.Depth);
            roots.Add(left.Count);
            var first = left.Count;

            // Breadth-first renumbering of the reachable nodes (XgbForest has checked that they form a tree).
            var order = new List<int> { 0 };
            var index = new Dictionary<int, int> { [0] = 0 };
            for (var k = 0; k < order.Count; k++)
            {
                var node = order[k];
                if (tree.Left[node] >= 0)
                {
                    foreach (var child in (ReadOnlySpan<int>)[tree.Left[node], tree.Right[node]])
                    {
                        index[child] = order.Count;
                        order.Add(child);
                    }
                }
            }

            foreach (var node in order)
            {
                var c = tree.Cover[node];
                if (!(c > 0) || !float.IsFinite(c))
                {
                    throw new UnsupportedTreeModelException($"tree {t}: node {node} has cover {c}; TreeSHAP needs positive covers");
                }

                var isLeaf = tree.Left[node] < 0;
                left.Add(isLeaf ? -1 : first + index[tree.Left[node]]);
                right.Add(isLeaf ? -1 : first + index[tree.Right[node]]);
                feature.Add(isLeaf ? 0 : tree.Feature[node]);
                value.Add(tree.Value[node]);
                defaultLeft.Add(!isLeaf && tree.DefaultLeft[node]);
                cover.Add(c);
            }

            bias += MeanValue(tree, 0);
        }

        bias += forest.BaseMargin;
        return new TreeShap(forest.Features, count, depth, bias, roots, left, right, feature, value, defaultLeft, cover);
    }

    /// <summary>
    /// The contributions of <paramref name="rows"/> rows of <paramref name="values"/> (row-major, <see cref="Features"/>
    /// each, NaN missing) into <paramref name="destination"/>: rows × (<see cref="Features"/> + 1), bias last.
    /// </summary>
    public void Contributions(ReadOnlySpan<float> values, int rows, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var width = Features + 1;
        if (values.Length < (long)rows * Features)
        {
            throw new ArgumentException($"{values.Length} values hold fewer than {rows} rows of {Features} features.", nameof(values));
        }

        if (destination.Length < (long)rows * width)
        {
            throw new ArgumentException($"destination holds {destination.Length} values; {rows} rows × ({Features} features + bias) need {(long)rows * width}.", nameof(destination));
        }

        if (rows == 0)
        {
            return;
        }

        // This thread's scratch, kept between calls (no allocation per batch of alerts); a call never re-enters it.
        var work = t_work is { } cached && cached.Fits(_stride, Features) ? cached : (t_work = new Work(_stride, Features));
        for (var first = 0; first < rows; first += Lanes)
        {
            var block = Math.Min(Lanes, rows - first);

            // The block's rows as columns, one lane per row (lanes past the block stay 0 and are never read back).
            Array.Clear(work.Columns);
            for (var r = 0; r < block; r++)
            {
                var row = values.Slice((first + r) * Features, Features);
                for (var f = 0; f < Features; f++)
                {
                    work.Columns[(f * Lanes) + r] = row[f];
                }
            }

            Array.Clear(work.Total);
            for (var t = 0; t < _root.Length; t++)
            {
                Array.Clear(work.Tree);
                Recurse(work, _root[t], 0, false, 0, 1f, Vector256<float>.One, -1);
                for (var f = 0; f < Features; f++)
                {
                    work.Total[f] += work.Tree[f];
                }
            }

            for (var r = 0; r < block; r++)
            {
                var phi = destination.Slice((first + r) * width, width);
                for (var f = 0; f < Features; f++)
                {
                    phi[f] = work.Total[f].GetElement(r);
                }

                phi[Features] = Bias;
            }
        }
    }

    /// <summary>Cover-weighted mean leaf value under <paramref name="node"/>, in libxgboost's float32 order.</summary>
    private static float MeanValue(XgbTree tree, int node)
    {
        if (tree.Left[node] < 0)
        {
            return tree.Value[node];
        }

        var cover = tree.Cover!;
        var result = MeanValue(tree, tree.Left[node]) * cover[tree.Left[node]];
        result += MeanValue(tree, tree.Right[node]) * cover[tree.Right[node]];
        result /= cover[node];
        return result;
    }

    /// <summary>
    /// One node of the recursion, for every row of the block at once: the parent's path (elements 0 …
    /// <paramref name="length"/> − 1) extended by the parent's split: <paramref name="zero"/> is the same for every
    /// row, <paramref name="one"/> is 1 in the lanes of the rows that took this side of it (and of its earlier splits
    /// on the feature), 0 in the others. The path lives at storage level <paramref name="level"/>: a left child copies
    /// its parent's path there from the level above (<paramref name="copy"/>), a right child, visited last, takes over
    /// its parent's storage in place, since the parent no longer needs it.
    /// </summary>
    private void Recurse(Work work, int node, int level, bool copy, int length, float zero, Vector256<float> one, int feature)
    {
        ref var path = ref work.Level(level, _stride);
        if (copy)
        {
            ref var parent = ref Unsafe.Subtract(ref path, _stride);
            for (var i = 0; i < length; i++)
            {
                Unsafe.Add(ref path, i) = Unsafe.Add(ref parent, i);
            }
        }

        Extend(ref path, length, zero, one, feature);
        var left = _left[node];
        if (left < 0)
        {
            Leaf(work, ref path, length, _value[node]);
            return;
        }

        var split = _feature[node];
        var x = work.Column(split);

        // Left where x < threshold; a missing value (NaN: false in any ordered comparison) where the split sends it.
        var goLeft = Vector256.LessThan(x, Vector256.Create(_value[node]));
        if (_defaultLeft[node])
        {
            goLeft |= ~Vector256.Equals(x, x);
        }

        var right = _right[node];
        var cover = _cover[node];
        var incomingZero = 1f;
        var incomingOne = Vector256<float>.One;
        var unique = length;
        for (var k = 1; k <= length; k++)
        {
            ref var element = ref Unsafe.Add(ref path, k);
            if (element.Feature == split)
            {
                incomingZero = element.Zero;
                incomingOne = element.One;
                Unwind(ref path, unique, k);
                unique--;
                break;
            }
        }

        Recurse(work, left, level + 1, true, unique + 1, _cover[left] / cover * incomingZero, incomingOne & goLeft, split);
        Recurse(work, right, level, false, unique + 1, _cover[right] / cover * incomingZero, Vector256.AndNot(incomingOne, goLeft), split);
    }

    /// <summary>Adds the element (<paramref name="feature"/>, zero, one) at position <paramref name="d"/> and updates the weights.</summary>
    private void Extend(ref Element path, int d, float zero, Vector256<float> one, int feature)
    {
        ref var added = ref Unsafe.Add(ref path, d);
        added.Feature = feature;
        added.Zero = zero;
        added.One = one;
        added.Weight = d == 0 ? Vector256<float>.One : Vector256<float>.Zero;
        var up = _up.AsSpan(d * _stride, d);
        var down = _down.AsSpan(d * _stride, d);
        var anyOne = one != Vector256<float>.Zero;
        for (var i = d - 1; i >= 0; i--)
        {
            ref var element = ref Unsafe.Add(ref path, i);
            if (anyOne)
            {
                Unsafe.Add(ref element, 1).Weight += one * element.Weight * up[i];
            }

            element.Weight = zero * element.Weight * down[i];
        }
    }

    /// <summary>Removes the element at <paramref name="k"/> from a path of elements 0 … <paramref name="d"/>, undoing its extension.</summary>
    private void Unwind(ref Element path, int d, int k)
    {
        ref var removed = ref Unsafe.Add(ref path, k);
        var passed = Vector256.Equals(removed.One, Vector256<float>.One);
        var zero = removed.Zero;
        var grow = _grow.AsSpan(d * _stride, d);
        var down = _down.AsSpan(d * _stride, d);
        var shrink = _shrink.AsSpan(d * _stride, d);
        var next = Unsafe.Add(ref path, d).Weight;
        for (var i = d - 1; i >= 0; i--)
        {
            // Rows that pass the element (one = 1) peel its share off from the top; the others divide out its zero fraction.
            ref var element = ref Unsafe.Add(ref path, i);
            var kept = element.Weight;
            var peeled = next * grow[i];
            next = kept - (peeled * zero * down[i]);
            element.Weight = Vector256.ConditionalSelect(passed, peeled, kept * shrink[i] / zero);
        }

        for (var i = k; i < d; i++)
        {
            ref var element = ref Unsafe.Add(ref path, i);
            ref var following = ref Unsafe.Add(ref element, 1);
            element.Feature = following.Feature;
            element.Zero = following.Zero;
            element.One = following.One;
        }
    }

    /// <summary>A leaf's share for each feature of the path (elements 1 … <paramref name="d"/>; element 0 is the root's placeholder).</summary>
    private void Leaf(Work work, ref Element path, int d, float value)
    {
        var grow = _grow.AsSpan(d * _stride, d);
        var down = _down.AsSpan(d * _stride, d);
        var shrink = _shrink.AsSpan(d * _stride, d);

        // A feature a row does not pass (one = 0) has the unwound sum Σ_i w_i (d + 1) / (d − i) divided by its zero
        // fraction z, and its share is that sum times (0 − z) times the leaf value: −value Σ_i w_i (d + 1) / (d − i),
        // the same for every such feature.
        var notPassed = Vector256<float>.Zero;
        for (var i = d - 1; i >= 0; i--)
        {
            notPassed += Unsafe.Add(ref path, i).Weight * shrink[i];
        }

        var notPassedShare = notPassed * -value;
        var top = Unsafe.Add(ref path, d).Weight;
        for (var k = 1; k <= d; k++)
        {
            ref var element = ref Unsafe.Add(ref path, k);
            ref var phi = ref work.Tree[element.Feature];
            var one = element.One;
            if (one == Vector256<float>.Zero)
            {
                phi += notPassedShare;
                continue;
            }

            var zero = element.Zero;
            var total = Vector256<float>.Zero;
            var next = top;
            for (var i = d - 1; i >= 0; i--)
            {
                var share = next * grow[i];
                total += share;
                next = Unsafe.Add(ref path, i).Weight - (share * zero * down[i]);
            }

            phi += Vector256.ConditionalSelect(Vector256.Equals(one, Vector256<float>.One), total * ((1f - zero) * value), notPassedShare);
        }
    }

    /// <summary>One element of a path: the same feature and zero fraction for every row, one fraction and weight per row.</summary>
    private struct Element
    {
        public Vector256<float> One;
        public Vector256<float> Weight;
        public float Zero;
        public int Feature;
    }

    /// <summary>
    /// Scratch of one call: path storage, one level per tree depth, the block's columns, and the contributions of the
    /// tree and of the trees so far.
    /// </summary>
    private sealed class Work(int stride, int features)
    {
        public bool Fits(int s, int f) => s == stride && f == features;

        private readonly Element[] _path = new Element[stride * stride];
        public readonly float[] Columns = new float[features * Lanes];
        public readonly Vector256<float>[] Tree = new Vector256<float>[features];
        public readonly Vector256<float>[] Total = new Vector256<float>[features];

        /// <summary>The first element of level <paramref name="level"/>'s path (each level holds <paramref name="stride"/> elements).</summary>
        public ref Element Level(int level, int stride) => ref _path[level * stride];

        public Vector256<float> Column(int feature) => Vector256.Create(Columns.AsSpan(feature * Lanes, Lanes));
    }
}
