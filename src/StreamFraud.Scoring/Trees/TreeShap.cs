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

        var path = new Path(_stride);
        var tree = new float[width];
        for (var r = 0; r < rows; r++)
        {
            var row = values.Slice(r * Features, Features);
            var phi = destination.Slice(r * width, width);
            phi.Clear();
            for (var t = 0; t < _root.Length; t++)
            {
                tree.AsSpan().Clear();
                Recurse(row, tree, path, _root[t], 0, 0, 1f, 1f, -1);
                for (var f = 0; f < Features; f++)
                {
                    phi[f] += tree[f];
                }
            }

            phi[Features] = Bias;
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
    /// One node of the recursion: the parent's path (elements 0 … <paramref name="length"/> − 1 at level
    /// <paramref name="level"/> − 1) copied to this level and extended by the parent's split.
    /// </summary>
    private void Recurse(ReadOnlySpan<float> row, float[] phi, Path path, int node, int level, int length, float zero, float one, int feature)
    {
        var at = level * _stride;
        if (level > 0)
        {
            var from = at - _stride;
            Array.Copy(path.Feature, from, path.Feature, at, length);
            Array.Copy(path.Zero, from, path.Zero, at, length);
            Array.Copy(path.One, from, path.One, at, length);
            Array.Copy(path.Weight, from, path.Weight, at, length);
        }

        Extend(path, at, length, zero, one, feature);
        var left = _left[node];
        if (left < 0)
        {
            Leaf(phi, path, at, length, _value[node]);
            return;
        }

        var split = _feature[node];
        var x = row[split];
        var right = _right[node];
        var goLeft = float.IsNaN(x) ? _defaultLeft[node] : x < _value[node];
        var (hot, cold) = goLeft ? (left, right) : (right, left);
        var cover = _cover[node];
        var hotZero = _cover[hot] / cover;
        var coldZero = _cover[cold] / cover;
        var incomingZero = 1f;
        var incomingOne = 1f;
        var unique = length;
        for (var k = 1; k <= length; k++)
        {
            if (path.Feature[at + k] == split)
            {
                incomingZero = path.Zero[at + k];
                incomingOne = path.One[at + k];
                Unwind(path, at, unique, k);
                unique--;
                break;
            }
        }

        Recurse(row, phi, path, hot, level + 1, unique + 1, hotZero * incomingZero, incomingOne, split);
        Recurse(row, phi, path, cold, level + 1, unique + 1, coldZero * incomingZero, 0f, split);
    }

    /// <summary>Adds the element (<paramref name="feature"/>, zero, one) at position <paramref name="d"/> and updates the weights.</summary>
    private void Extend(Path path, int at, int d, float zero, float one, int feature)
    {
        var w = path.Weight;
        path.Feature[at + d] = feature;
        path.Zero[at + d] = zero;
        path.One[at + d] = one;
        w[at + d] = d == 0 ? 1f : 0f;
        var c = d * _stride;
        for (var i = d - 1; i >= 0; i--)
        {
            if (one != 0)
            {
                w[at + i + 1] += one * w[at + i] * _up[c + i];
            }

            w[at + i] = zero * w[at + i] * _down[c + i];
        }
    }

    /// <summary>Removes the element at <paramref name="k"/> from a path of elements 0 … <paramref name="d"/>, undoing its extension.</summary>
    private void Unwind(Path path, int at, int d, int k)
    {
        var w = path.Weight;
        var one = path.One[at + k];
        var zero = path.Zero[at + k];
        var c = d * _stride;
        var next = w[at + d];
        for (var i = d - 1; i >= 0; i--)
        {
            if (one != 0)
            {
                var kept = w[at + i];
                w[at + i] = next * _grow[c + i];
                next = kept - (w[at + i] * zero * _down[c + i]);
            }
            else
            {
                w[at + i] = w[at + i] * _shrink[c + i] / zero;
            }
        }

        for (var i = k; i < d; i++)
        {
            path.Feature[at + i] = path.Feature[at + i + 1];
            path.Zero[at + i] = path.Zero[at + i + 1];
            path.One[at + i] = path.One[at + i + 1];
        }
    }

    /// <summary>A leaf's share for each feature of the path (elements 1 … <paramref name="d"/>; element 0 is the root's placeholder).</summary>
    private void Leaf(float[] phi, Path path, int at, int d, float value)
    {
        var w = path.Weight;
        var c = d * _stride;

        // A feature the row does not pass (one = 0): Σ_i w_i (d + 1) / (d − i), divided by its zero fraction.
        var notPassed = 0f;
        for (var i = d - 1; i >= 0; i--)
        {
            notPassed += w[at + i] * _shrink[c + i];
        }

        for (var k = 1; k <= d; k++)
        {
            var zero = path.Zero[at + k];
            float total;
            if (path.One[at + k] != 0)
            {
                total = 0f;
                var next = w[at + d];
                for (var i = d - 1; i >= 0; i--)
                {
                    var share = next * _grow[c + i];
                    total += share;
                    next = w[at + i] - (share * zero * _down[c + i]);
                }

                phi[path.Feature[at + k]] += total * (1f - zero) * value;
            }
            else
            {
                total = notPassed / zero;
                phi[path.Feature[at + k]] += total * -zero * value;
            }
        }
    }

    /// <summary>Path storage, one level per tree depth: feature, zero fraction, one fraction and weight of each element.</summary>
    private sealed class Path(int stride)
    {
        public readonly int[] Feature = new int[stride * stride];
        public readonly float[] Zero = new float[stride * stride];
        public readonly float[] One = new float[stride * stride];
        public readonly float[] Weight = new float[stride * stride];
    }
}
