using StreamFraud.Training.Lstm;
using Xunit.Abstractions;

namespace StreamFraud.Training.Tests.Lstm;

/// <summary>
/// Back-propagation against central finite differences (five-point stencil) on the same network in float64: every parameter of both LSTM
/// layers (input and recurrent weights, biases) and the dense layer, with dropout active (fixed masks) and windows whose
/// leading steps are zero padding.
/// </summary>
public class LstmGradientTests(ITestOutputHelper output)
{
    private const ulong DropoutSeed = 1234;

    [Theory]
    [InlineData(3, 5, 5, 3, LstmLossKind.Focal)] // sizes off every vector width: scalar tails
    [InlineData(4, 7, 8, 4, LstmLossKind.Focal)] // multiples of Vector<double>.Count: vector path
    [InlineData(3, 5, 5, 3, LstmLossKind.CrossEntropy)]
    public void Backward_EveryParameter_MatchesCentralFiniteDifferences(int features, int steps, int hidden1, int hidden2, LstmLossKind loss)
    {
        const int rows = 6;
        var layout = new LstmLayout(features, steps, hidden1, hidden2);
        var net = new LstmNetwork<double>(layout, RandomParameters<double>(layout, 7), 0.3f, 0.2f);
        var ws = new LstmWorkspace<double>(layout, rows, training: true);
        var (windows, labels) = PaddedWindows(layout, rows, seed: 3);
        ws.Load(windows, Enumerable.Range(0, rows).ToArray());

        double Loss()
        {
            ws.Forward(net, true, DropoutSeed);
            double sum = 0;
            for (var r = 0; r < rows; r++)
            {
                sum += LstmLoss.Evaluate(loss, 3, 0.9, ws.Logits[r], labels[r] != 0, out _);
            }

            return sum / rows;
        }

        ws.Forward(net, true, DropoutSeed);
        var dLogits = new double[rows];
        for (var r = 0; r < rows; r++)
        {
            LstmLoss.Evaluate(loss, 3, 0.9, ws.Logits[r], labels[r] != 0, out var d);
            dLogits[r] = d / rows;
        }

        ws.Backward(net, dLogits);
        var analytic = (double[])ws.Gradient.Clone();

        // Five-point central difference: truncation error O(h⁴), so h can stay large enough to keep rounding small.
        const double h = 1e-4;
        var p = net.Parameters;
        var worst = 0.0;
        var worstName = string.Empty;
        var checkedCount = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var saved = p[i];
            double At(double delta)
            {
                p[i] = saved + delta;
                return Loss();
            }

            var numeric = ((8 * (At(h) - At(-h))) - (At(2 * h) - At(-2 * h))) / (12 * h);
            p[i] = saved;
            var scale = Math.Max(Math.Abs(numeric), Math.Abs(analytic[i]));
            var error = scale < 1e-9 ? Math.Abs(numeric - analytic[i]) : Math.Abs(numeric - analytic[i]) / scale;
            if (error > worst)
            {
                worst = error;
                worstName = Describe(layout, i);
            }

            checkedCount++;
        }

        output.WriteLine($"{loss} F={features} T={steps} H={hidden1}/{hidden2}: {checkedCount} parameters, max relative error {worst:E2} at {worstName}");
        Assert.True(worst <= 1e-3, $"max relative error {worst:E3} at {worstName}");
        // Every tensor must actually receive gradient (a zero block would pass the comparison trivially).
        foreach (var (name, offset, length) in Blocks(layout))
        {
            Assert.True(analytic.AsSpan(offset, length).ToArray().Any(g => Math.Abs(g) > 1e-8), $"{name} has no gradient");
        }
    }

    [Theory]
    [InlineData(5, 4, 16, 16, 37)] // fused AVX-512 cell kernels, GEMM edge tiles
    [InlineData(6, 7, 12, 6, 19)] // generic TensorPrimitives cell path
    public void ForwardBackward_SinglePrecision_MatchesDoublePrecision(int features, int steps, int hidden1, int hidden2, int rows)
    {
        var layout = new LstmLayout(features, steps, hidden1, hidden2);
        var p64 = RandomParameters<double>(layout, 9);
        var p32 = p64.Select(v => (float)v).ToArray();
        var net64 = new LstmNetwork<double>(layout, p32.Select(v => (double)v).ToArray(), 0.3f, 0.2f);
        var net32 = new LstmNetwork<float>(layout, p32, 0.3f, 0.2f);
        var ws64 = new LstmWorkspace<double>(layout, rows, true);
        var ws32 = new LstmWorkspace<float>(layout, rows, true);
        var (windows, _) = PaddedWindows(layout, rows, seed: 4);
        var samples = Enumerable.Range(0, rows).ToArray();
        ws64.Load(windows, samples);
        ws32.Load(windows, samples);

        ws64.Forward(net64, true, DropoutSeed);
        ws32.Forward(net32, true, DropoutSeed);
        var d64 = Enumerable.Range(0, rows).Select(r => Math.Sin(r + 1) / rows).ToArray();
        var d32 = d64.Select(v => (float)v).ToArray();
        ws64.Backward(net64, d64);
        ws32.Backward(net32, d32);

        for (var r = 0; r < rows; r++)
        {
            Assert.True(Math.Abs(ws64.Logits[r] - ws32.Logits[r]) < 1e-5, $"logit {r}: {ws64.Logits[r]} vs {ws32.Logits[r]}");
        }

        var gMax = ws64.Gradient.Max(Math.Abs);
        for (var i = 0; i < ws64.Gradient.Length; i++)
        {
            Assert.True(
                Math.Abs(ws64.Gradient[i] - ws32.Gradient[i]) <= 1e-4 * gMax,
                $"{Describe(layout, i)}: {ws64.Gradient[i]} vs {ws32.Gradient[i]} (max |g| {gMax})");
        }
    }

    /// <summary>Keras-style initial weights plus noise on every parameter, so no gradient is structurally zero.</summary>
    internal static T[] RandomParameters<T>(LstmLayout layout, int seed)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var p = new T[layout.ParameterCount];
        LstmInitializer.Initialize<T>(layout, p, seed);
        var rng = new Random(seed);
        for (var i = 0; i < p.Length; i++)
        {
            p[i] += T.CreateChecked((rng.NextDouble() - 0.5) * 0.6);
        }

        return p;
    }

    /// <summary>Random windows [rows, T, F]; rows 0 and 1 have 2 and T−1 leading all-zero (padding) steps.</summary>
    internal static (float[] Windows, byte[] Labels) PaddedWindows(LstmLayout layout, int rows, int seed)
    {
        var rng = new Random(seed);
        var windows = new float[rows * layout.WindowSize];
        var labels = new byte[rows];
        for (var r = 0; r < rows; r++)
        {
            var padding = r switch { 0 => 2, 1 => layout.Steps - 1, _ => 0 };
            for (var t = padding; t < layout.Steps; t++)
            {
                for (var f = 0; f < layout.Features; f++)
                {
                    windows[(r * layout.WindowSize) + (t * layout.Features) + f] = (float)(rng.NextDouble() * 2 - 1);
                }
            }

            labels[r] = (byte)(r % 2);
        }

        return (windows, labels);
    }

    private static IEnumerable<(string Name, int Offset, int Length)> Blocks(LstmLayout l) =>
    [
        ("W1", l.W1, l.Features * l.Gates1),
        ("U1", l.U1, l.Hidden1 * l.Gates1),
        ("b1", l.B1, l.Gates1),
        ("W2", l.W2, l.Hidden1 * l.Gates2),
        ("U2", l.U2, l.Hidden2 * l.Gates2),
        ("b2", l.B2, l.Gates2),
        ("wd", l.Wd, l.Hidden2),
        ("bd", l.Bd, 1),
    ];

    private static string Describe(LstmLayout l, int index)
    {
        foreach (var (name, offset, length) in Blocks(l))
        {
            if (index >= offset && index < offset + length)
            {
                return $"{name}[{index - offset}]";
            }
        }

        return $"#{index}";
    }
}
