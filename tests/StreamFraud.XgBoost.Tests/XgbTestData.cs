
namespace StreamFraud.XgBoost.Tests;

/// <summary>Small seeded data sets and helpers shared by the XGBoost tests.</summary>
internal static class XgbTestData
{
    /// <summary>Uniform [0, 1) features; label = x0 &gt; 0.5.</summary>
    public static (float[] X, float[] Y) Separable(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * columns];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                x[(r * columns) + c] = random.NextSingle();
            }

            y[r] = x[r * columns] > 0.5f ? 1f : 0f;
        }

        return (x, y);
    }

    /// <summary>Uniform features with a weak signal in x0 and mostly noise labels (about 30% positives).</summary>
    public static (float[] X, float[] Y) Noisy(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * columns];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                x[(r * columns) + c] = random.NextSingle();
            }

            var p = 0.2 + (0.2 * x[r * columns]);
            y[r] = random.NextDouble() < p ? 1f : 0f;
        }

        return (x, y);
    }

    /// <summary>Short fast parameters for tests: few shallow trees, one thread (tests run alongside others).</summary>
    public static XgbParameters Quick(int rounds = 30) => new()
    {
        NumRounds = rounds,
        MaxDepth = 3,
        Eta = 0.3,
        EarlyStoppingRounds = null,
        Threads = 1,
    };

    public static double Sigmoid(double margin) => 1 / (1 + Math.Exp(-margin));

    public static double Logit(double p) => Math.Log(p / (1 - p));
}
