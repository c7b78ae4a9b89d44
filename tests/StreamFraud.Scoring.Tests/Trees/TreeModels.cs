using System.Text;
using System.Text.Json.Nodes;
using StreamFraud.Scoring.Trees;
using StreamFraud.XgBoost;

namespace StreamFraud.Scoring.Tests.Trees;

/// <summary>Boosters trained by the real libxgboost on seeded data, and rows to compare the evaluators on.</summary>
internal static class TreeModels
{
    public const int Columns = 8;

    /// <summary>Kernels this machine runs: the walk always, AVX-512 and AVX2 where the processor has them.</summary>
    public static TreeKernel[] KernelList =>
        [TreeKernel.Walk, .. ManagedTreeEnsemble.Avx512Supported ? [TreeKernel.Avx512] : Array.Empty<TreeKernel>(), .. ManagedTreeEnsemble.Avx2Supported ? [TreeKernel.Avx2] : Array.Empty<TreeKernel>()];

    /// <summary><see cref="KernelList"/> as theory data.</summary>
    public static TheoryData<TreeKernel> Kernels() => [.. KernelList];

    /// <summary>
    /// A booster on <see cref="Columns"/> uniform features with about 15% missing values (so splits learn both default
    /// directions) and labels from a non-linear rule with noise; <paramref name="change"/> adjusts the parameters.
    /// </summary>
    public static Booster Train(int rounds = 40, int rows = 3000, int seed = 7, Func<XgbParameters, XgbParameters>? change = null)
    {
        var (x, y) = Data(rows, seed);
        using var train = DMatrix.FromDense(x, rows, Columns, y);
        var parameters = new XgbParameters
        {
            NumRounds = rounds, MaxDepth = 6, Eta = 0.3, EarlyStoppingRounds = null, EvaluateTrainingSet = false, Threads = 1, Seed = seed,
        };
        return XgbTrainer.Train(train, train, change?.Invoke(parameters) ?? parameters).Booster;
    }

    public static (float[] X, float[] Y) Data(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * Columns];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * Columns, Columns);
            for (var c = 0; c < Columns; c++)
            {
                row[c] = random.NextDouble() < 0.15 ? float.NaN : random.NextSingle();
            }

            var score = (float.IsNaN(row[0]) ? 0.7 : row[0]) + (0.5 * Math.Sin(6 * (float.IsNaN(row[1]) ? 0.1 : row[1]))) + (float.IsNaN(row[2]) ? 0.4 : 0) + (0.3 * random.NextDouble());
            y[r] = score > 0.9 ? 1 : 0;
        }

        return (x, y);
    }

    /// <summary>Rows unlike the training rows' distribution: uniform on [-0.5, 1.5), a quarter of the values missing.</summary>
    public static float[] RandomRows(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * Columns];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = random.Next(4) == 0 ? float.NaN : (2 * random.NextSingle()) - 0.5f;
        }

        return x;
    }

    /// <summary>
    /// Rows whose values sit exactly on the model's split thresholds, one float below or above one, or are NaN or
    /// ±infinity: where a comparison written the wrong way round (≤ for &lt;) or a wrong default direction shows.
    /// </summary>
    public static float[] ThresholdRows(Booster booster, int rows, int seed)
    {
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));
        var thresholds = Enumerable.Range(0, Columns).Select(_ => new List<float>()).ToArray();
        foreach (var tree in forest.Trees)
        {
            for (var k = 0; k < tree.Left.Length; k++)
            {
                if (tree.Left[k] >= 0)
                {
                    thresholds[tree.Feature[k]].Add(tree.Value[k]);
                }
            }
        }

        var random = new Random(seed);
        var x = new float[rows * Columns];
        for (var i = 0; i < x.Length; i++)
        {
            var candidates = thresholds[i % Columns];
            var t = candidates.Count > 0 ? candidates[random.Next(candidates.Count)] : 0.5f;
            x[i] = random.Next(10) switch
            {
                < 6 => t,
                6 => MathF.BitDecrement(t),
                7 => MathF.BitIncrement(t),
                8 => float.NaN,
                _ => random.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
            };
        }

        return x;
    }

    /// <summary>The booster's model as XGBoost JSON with <paramref name="edit"/> applied to it.</summary>
    public static byte[] EditedJson(Booster booster, Action<JsonObject> edit)
    {
        var model = JsonNode.Parse(booster.SaveModelToBuffer("json"))!.AsObject();
        edit(model);
        return Encoding.UTF8.GetBytes(model.ToJsonString());
    }

    /// <summary>The trees array of a model's JSON.</summary>
    public static JsonArray TreesOf(JsonObject model) => model["learner"]!["gradient_booster"]!["model"]!["trees"]!.AsArray();
}
