using System.Globalization;
using System.Text.Json;

namespace StreamFraud.Scoring.Trees;

/// <summary>A model the managed evaluator does not handle (libxgboost keeps serving it); the message says why.</summary>
public sealed class UnsupportedTreeModelException(string message) : Exception(message);

/// <summary>One regression tree as XGBoost stores it: parallel node arrays, node 0 the root.</summary>
/// <param name="Left">Left child of each node; -1 marks a leaf.</param>
/// <param name="Right">Right child of each node.</param>
/// <param name="Feature">Split feature of each internal node.</param>
/// <param name="Value">Split threshold of an internal node (go left when x &lt; threshold), the leaf value of a leaf.</param>
/// <param name="DefaultLeft">Where a missing value (NaN) goes at each internal node.</param>
public sealed record XgbTree(int[] Left, int[] Right, int[] Feature, float[] Value, bool[] DefaultLeft)
{
    /// <summary>
    /// Cover of each node (<c>sum_hessian</c>: the training rows' hessian sum that reached it), what TreeSHAP weighs a
    /// split's two sides by; null when the model does not store it.
    /// </summary>
    public float[]? Cover { get; init; }

    /// <summary>Depth of the deepest leaf reachable from the root (0: the root is a leaf).</summary>
    public int Depth
    {
        get
        {
            var deepest = 0;
            var stack = new Stack<(int Node, int Depth)>();
            stack.Push((0, 0));
            while (stack.Count > 0)
            {
                var (node, depth) = stack.Pop();
                if (Left[node] < 0)
                {
                    deepest = Math.Max(deepest, depth);
                }
                else
                {
                    stack.Push((Left[node], depth + 1));
                    stack.Push((Right[node], depth + 1));
                }
            }

            return deepest;
        }
    }
}

/// <summary>
/// A binary:logistic gradient-boosted tree ensemble read from XGBoost's JSON model (the documented schema libxgboost
/// writes with <c>XGBoosterSaveModelToBuffer</c> and <c>{"format":"json"}</c>): trees in boosting order, each with
/// its nodes, and the base score. Only what prediction needs is kept; anything the managed evaluator would evaluate
/// differently from libxgboost (categorical splits, multi-class or multi-target outputs, vector leaves, DART's tree
/// weights, other objectives) is an <see cref="UnsupportedTreeModelException"/>, never a silent approximation.
/// </summary>
public sealed class XgbForest
{
    private XgbForest(IReadOnlyList<XgbTree> trees, int treesPerRound, int features, float baseScore, string objective)
    {
        Trees = trees;
        TreesPerRound = treesPerRound;
        Features = features;
        BaseScore = baseScore;
        Objective = objective;
    }

    /// <summary>The trees in boosting order (the order libxgboost adds their leaves in).</summary>
    public IReadOnlyList<XgbTree> Trees { get; }

    /// <summary>Trees per boosting round (<c>num_parallel_tree</c>).</summary>
    public int TreesPerRound { get; }

    /// <summary>Number of features (<c>num_feature</c>).</summary>
    public int Features { get; }

    /// <summary>The base score as stored (a probability for binary:logistic).</summary>
    public float BaseScore { get; }

    /// <summary>The objective's name (<c>binary:logistic</c>).</summary>
    public string Objective { get; }

    /// <summary>
    /// The margin every row starts from: logit(<see cref="BaseScore"/>) in single precision, as libxgboost's
    /// <c>LogisticRegression::ProbToMargin</c> computes it (<c>-logf(1/base_score - 1)</c>).
    /// </summary>
    public float BaseMargin => -MathF.Log((1f / BaseScore) - 1f);

    /// <summary>Reads a model from XGBoost's JSON.</summary>
    /// <exception cref="UnsupportedTreeModelException">A model the managed evaluator does not handle.</exception>
    /// <exception cref="InvalidDataException">Not a well-formed XGBoost JSON model.</exception>
    public static XgbForest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            return Parse(document.RootElement);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"not a readable XGBoost JSON model: {e.Message}", e);
        }
    }

    private static XgbForest Parse(JsonElement root)
    {
        var learner = root.GetProperty("learner");
        var parameters = learner.GetProperty("learner_model_param");
        var objective = learner.GetProperty("objective").GetProperty("name").GetString() ?? "";
        if (objective != "binary:logistic")
        {
            throw new UnsupportedTreeModelException($"objective {objective}; the managed evaluator handles binary:logistic");
        }

        if (Int(parameters, "num_class", 0) > 1 || Int(parameters, "num_target", 1) != 1)
        {
            throw new UnsupportedTreeModelException("a multi-class or multi-target model; the managed evaluator handles one output");
        }

        var features = Int(parameters, "num_feature", 0);
        if (features < 1)
        {
            throw new InvalidDataException($"num_feature {features}: a model of no features");
        }

        var baseScore = float.Parse(parameters.GetProperty("base_score").GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!(baseScore is > 0 and < 1))
        {
            throw new UnsupportedTreeModelException($"base_score {baseScore} is not a probability in (0, 1)");
        }

        var booster = learner.GetProperty("gradient_booster");
        var boosterName = booster.GetProperty("name").GetString();
        if (boosterName != "gbtree")
        {
            throw new UnsupportedTreeModelException($"booster {boosterName}; the managed evaluator handles gbtree (DART weighs its trees, gblinear has none)");
        }

        var model = booster.GetProperty("model");
        var treeParameters = model.GetProperty("gbtree_model_param");
        var perRound = Int(treeParameters, "num_parallel_tree", 1);
        if (Int(treeParameters, "size_leaf_vector", 0) != 0)
        {
            throw new UnsupportedTreeModelException("vector leaves (size_leaf_vector > 0)");
        }

        if (model.GetProperty("tree_info").EnumerateArray().Any(g => g.GetInt32() != 0))
        {
            throw new UnsupportedTreeModelException("trees of several output groups");
        }

        var trees = new List<XgbTree>();
        foreach (var tree in model.GetProperty("trees").EnumerateArray())
        {
            trees.Add(ParseTree(tree, trees.Count, features));
        }

        if (trees.Count != Int(treeParameters, "num_trees", trees.Count) || perRound < 1 || trees.Count % perRound != 0)
        {
            throw new InvalidDataException($"{trees.Count} trees do not match num_trees {Int(treeParameters, "num_trees", trees.Count)} and num_parallel_tree {perRound}");
        }

        return new XgbForest(trees, perRound, features, baseScore, objective);
    }

    private static XgbTree ParseTree(JsonElement tree, int index, int features)
    {
        var left = Ints(tree, "left_children");
        var right = Ints(tree, "right_children");
        var feature = Ints(tree, "split_indices");
        var value = tree.GetProperty("split_conditions").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var defaultLeft = tree.GetProperty("default_left").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.True || (v.ValueKind == JsonValueKind.Number && v.GetInt32() != 0)).ToArray();
        var n = left.Length;
        if (n == 0 || right.Length != n || feature.Length != n || value.Length != n || defaultLeft.Length != n)
        {
            throw new InvalidDataException($"tree {index}: node arrays of different lengths");
        }

        if (tree.TryGetProperty("split_type", out var types) && types.EnumerateArray().Any(t => t.GetInt32() != 0))
        {
            throw new UnsupportedTreeModelException($"tree {index} has categorical splits");
        }

        // Reachable nodes only (a pruned tree keeps deleted nodes in its arrays): every child in range, each node
        // reached once (a tree, not a graph), internal nodes on a feature the model has.
        var seen = new bool[n];
        var stack = new Stack<int>();
        stack.Push(0);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if ((uint)node >= (uint)n || seen[node])
            {
                throw new InvalidDataException($"tree {index}: node {node} is out of range or reached twice");
            }

            seen[node] = true;
            if (left[node] < 0)
            {
                if (!float.IsFinite(value[node]))
                {
                    throw new InvalidDataException($"tree {index}: leaf {node} has value {value[node]}");
                }

                continue;
            }

            if ((uint)feature[node] >= (uint)features)
            {
                throw new InvalidDataException($"tree {index}: node {node} splits on feature {feature[node]} of {features}");
            }

            stack.Push(right[node]);
            stack.Push(left[node]);
        }

        float[]? cover = null;
        if (tree.TryGetProperty("sum_hessian", out var hessians) && hessians.ValueKind == JsonValueKind.Array)
        {
            cover = hessians.EnumerateArray().Select(v => v.GetSingle()).ToArray();
            if (cover.Length != n)
            {
                throw new InvalidDataException($"tree {index}: {cover.Length} sum_hessian values for {n} nodes");
            }
        }

        return new XgbTree(left, right, feature, value, defaultLeft) { Cover = cover };
    }

    private static int[] Ints(JsonElement tree, string name) => tree.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    // libxgboost writes its parameters as strings ("num_feature": "56").
    private static int Int(JsonElement parent, string name, int fallback) =>
        !parent.TryGetProperty(name, out var value) ? fallback
        : value.ValueKind == JsonValueKind.String ? int.Parse(value.GetString()!, NumberStyles.Integer, CultureInfo.InvariantCulture)
        : value.GetInt32();
}
