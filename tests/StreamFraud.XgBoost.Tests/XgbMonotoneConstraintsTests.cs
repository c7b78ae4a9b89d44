namespace StreamFraud.XgBoost.Tests;

/// <summary>
/// <see cref="XgbParameters.MonotoneConstraints"/> against the real libxgboost: on data whose fraud rate rises and then
/// falls along x0 and falls and then rises along x1, the unconstrained model follows the bumps, and the constrained one
/// is non-decreasing in x0 and non-increasing in x1 everywhere on a grid (brute force over the other columns too).
/// </summary>
public sealed class XgbMonotoneConstraintsTests
{
    private const int Columns = 3;
    private const int Rows = 4000;

    // x0: +1, x1: −1, x2: free.
    private static readonly int[] Directions = [1, -1, 0];

    [Fact]
    public void Train_WithoutConstraints_FollowsTheBumps()
    {
        // The teeth of the constrained test: the same data and parameters without constraints give a model that is
        // non-monotone in both columns, so the assertions below would fail without the constraint.
        using var booster = TrainOn(constraints: null);

        Assert.True(CountViolations(booster, column: 0, direction: 1) > 0, "unconstrained model unexpectedly non-decreasing in x0");
        Assert.True(CountViolations(booster, column: 1, direction: -1) > 0, "unconstrained model unexpectedly non-increasing in x1");
    }

    [Fact]
    public void Train_WithConstraints_PredictionsMonotoneAlongConstrainedColumnsOverAGrid()
    {
        using var booster = TrainOn(Directions);

        Assert.Equal(0, CountViolations(booster, column: 0, direction: 1));
        Assert.Equal(0, CountViolations(booster, column: 1, direction: -1));

        // Still a model of the data: at the bump (x0 = 0.3, x1 = 0.7) far above the flat part (x0 = 0.05, x1 = 0.95).
        var p = booster.PredictDense([0.3f, 0.7f, 0.5f, 0.05f, 0.95f, 0.5f], 2);
        Assert.True(p[0] > p[1] + 0.2, $"constrained model lost the signal: {p[0]} vs {p[1]}");
    }

    [Fact]
    public void Train_WithConstraints_SentToTheBooster()
    {
        using var booster = TrainOn(Directions, rounds: 1);

        Assert.Contains("\"monotone_constraints\":\"(1,-1,0)\"", booster.SaveJsonConfig().Replace(" ", "", StringComparison.Ordinal),
            StringComparison.Ordinal);
    }

    [Fact]
    public void MonotoneConstraints_Parameters_TupleOnlyWhenSomeDirectionIsSet()
    {
        static string? Sent(IReadOnlyList<int>? c) => new XgbParameters { MonotoneConstraints = c }.ToBoosterParameters(1)
            .Where(p => p.Key == "monotone_constraints").Select(p => p.Value).SingleOrDefault();

        Assert.Equal("(0,1,-1)", Sent([0, 1, -1]));
        Assert.Null(Sent(null));
        Assert.Null(Sent([0, 0, 0]));
        Assert.Throws<ArgumentException>(() => new XgbParameters { MonotoneConstraints = [0, 2] }.Validate());
    }

    [Fact]
    public void Train_ConstraintsOfTheWrongLength_ThrowsArgumentException()
    {
        var (x, y) = BumpData(100, seed: 3);
        using var train = DMatrix.FromDense(x, 100, Columns, y);

        var e = Assert.Throws<ArgumentException>(() =>
            XgbTrainer.Train(train, train, XgbTestData.Quick(rounds: 1) with { MonotoneConstraints = [1, -1] }));

        Assert.Contains("2 directions", e.Message, StringComparison.Ordinal);
    }

    private static Booster TrainOn(IReadOnlyList<int>? constraints, int rounds = 60)
    {
        var (x, y) = BumpData(Rows, seed: 21);
        var (vx, vy) = BumpData(Rows / 2, seed: 22);
        using var train = DMatrix.FromDense(x, Rows, Columns, y);
        using var validation = DMatrix.FromDense(vx, Rows / 2, Columns, vy);
        var parameters = XgbTestData.Quick(rounds) with { MaxDepth = 4, MonotoneConstraints = constraints };
        return XgbTrainer.Train(train, validation, parameters).Booster;
    }

    /// <summary>
    /// Uniform [0, 1) columns; P(y = 1) is 0.05 except 0.6 where x0 ∈ [0.2, 0.4) (lower again above) and 0.3 more where
    /// x1 ∈ [0.6, 0.8) (lower again above); x2 is noise.
    /// </summary>
    private static (float[] X, float[] Y) BumpData(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * Columns];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < Columns; c++)
            {
                x[(r * Columns) + c] = random.NextSingle();
            }

            var x0 = x[r * Columns];
            var x1 = x[(r * Columns) + 1];
            var p = 0.05 + (x0 is >= 0.2f and < 0.4f ? 0.55 : 0) + (x1 is >= 0.6f and < 0.8f ? 0.3 : 0);
            y[r] = random.NextDouble() < p ? 1f : 0f;
        }

        return (x, y);
    }

    /// <summary>
    /// Over a grid of the other two columns (21 × 21 values), walks <paramref name="column"/> over 201 values in [0, 1]
    /// and counts the steps where the prediction moves against <paramref name="direction"/>.
    /// </summary>
    private static int CountViolations(Booster booster, int column, int direction)
    {
        const int Steps = 201;
        const int Fixed = 21;
        var others = Enumerable.Range(0, Columns).Where(c => c != column).ToArray();
        var rows = new float[Fixed * Fixed * Steps * Columns];
        var r = 0;
        for (var a = 0; a < Fixed; a++)
        {
            for (var b = 0; b < Fixed; b++)
            {
                for (var s = 0; s < Steps; s++, r++)
                {
                    rows[(r * Columns) + others[0]] = a / (float)(Fixed - 1);
                    rows[(r * Columns) + others[1]] = b / (float)(Fixed - 1);
                    rows[(r * Columns) + column] = s / (float)(Steps - 1);
                }
            }
        }

        var predictions = booster.PredictDense(rows, r);
        var violations = 0;
        for (var line = 0; line < Fixed * Fixed; line++)
        {
            for (var s = 1; s < Steps; s++)
            {
                var step = predictions[(line * Steps) + s] - predictions[(line * Steps) + s - 1];
                if (direction > 0 ? step < 0 : step > 0)
                {
                    violations++;
                }
            }
        }

        return violations;
    }
}
