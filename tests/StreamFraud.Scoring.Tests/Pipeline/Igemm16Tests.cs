using StreamFraud.Scoring.Lstm;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// The int16 product of the <c>managed_int16</c> LSTM path against a brute-force reference: the quantization rules
/// recomputed independently, the integer sums in int64, the same fp32 epilogue; both kernels must equal it bit for bit.
/// </summary>
public sealed class Igemm16Tests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 },
        { 8, 32, 2 },
        { 37, 45, 19 },    // ragged tiles, odd k (a padded pair)
        { 64, 512, 56 },   // x_t · W1 at spec card v1
        { 64, 512, 128 },  // h1 · R1
        { 13, 256, 75 },   // spec card v2, a partial chunk
        { 9, 33, 255 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Multiply_RandomShapes_EqualsBruteForce_BothKernels(int m, int n, int k)
    {
        var rng = new Random((m * 1000) + (n * 10) + k);
        var a = new float[m * k];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)((rng.NextDouble() * 2) - 1) * (i % 7 == 0 ? 9 : 1); // some large features
        }

        a.AsSpan(0, k).Clear(); // a zero row: scale 0, products 0
        var b = new float[k * n];
        for (var i = 0; i < b.Length; i++)
        {
            b[i] = (float)((rng.NextDouble() * 2) - 1) * 0.3f;
        }

        var c0 = new float[m * n];
        for (var i = 0; i < c0.Length; i++)
        {
            c0[i] = (float)rng.NextDouble();
        }

        var packedB = new int[Igemm16.PackedBLength(k, n)];
        var colScales = new float[n];
        Igemm16.QuantizePackB(b, n, k, n, packedB, colScales);
        var packedA = new int[Igemm16.PackedALength(m, k)];
        var rowScales = new float[m];
        Igemm16.QuantizePackA(a, k, m, k, packedA, rowScales);

        // The reference: quantize by the documented rules, sum in int64.
        var qmax = Igemm16.WeightMax(k);
        var (qa, ra) = Quantize(a, m, k, rowMajor: true, Igemm16.ActivationMax);
        var (qb, cb) = Quantize(b, n, k, rowMajor: false, qmax);
        Assert.Equal(ra, rowScales);
        Assert.Equal(cb, colScales);
        Assert.Equal(0f, rowScales[0]);
        var expectedSet = new float[m * n];
        var expectedAdd = new float[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                long sum = 0;
                for (var p = 0; p < k; p++)
                {
                    sum += (long)qa[(i * k) + p] * qb[(p * n) + j];
                }

                Assert.InRange(sum, int.MinValue, int.MaxValue);
                var v = (float)(int)sum * (ra[i] * cb[j]);
                expectedSet[(i * n) + j] = v;
                expectedAdd[(i * n) + j] = c0[(i * n) + j] + v;
            }
        }

        foreach (var accelerated in Igemm16.Accelerated ? new[] { false, true } : [false])
        {
            var set = (float[])c0.Clone();
            Igemm16.Multiply(packedA, rowScales, packedB, colScales, m, n, k, set, n, accumulate: false, accelerated);
            Assert.Equal(expectedSet, set);
            var add = (float[])c0.Clone();
            Igemm16.Multiply(packedA, rowScales, packedB, colScales, m, n, k, add, n, accumulate: true, accelerated);
            Assert.Equal(expectedAdd, add);
        }

        // And the product is close to the fp32 one: each operand is within half a quantization step.
        for (var i = 1; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double exact = 0, bound = 0;
                for (var p = 0; p < k; p++)
                {
                    exact += (double)a[(i * k) + p] * b[(p * n) + j];
                    bound += (Math.Abs(a[(i * k) + p]) * cb[j] / 2) + (Math.Abs(b[(p * n) + j]) * ra[i] / 2) + (ra[i] * cb[j] / 4);
                }

                Assert.InRange(expectedSet[(i * n) + j], exact - bound - 1e-5, exact + bound + 1e-5);
            }
        }
    }

    [Theory]
    [InlineData(56)]
    [InlineData(128)]
    [InlineData(255)]
    [InlineData(1024)]
    public void Multiply_EveryOperandAtItsLargest_NeverOverflows(int k)
    {
        // All activations at +max, all weights at ±max with one sign per column: the largest sums possible.
        const int m = 8;
        const int n = 32;
        var a = Enumerable.Repeat(1f, m * k).ToArray();
        var b = new float[k * n];
        for (var p = 0; p < k; p++)
        {
            for (var j = 0; j < n; j++)
            {
                b[(p * n) + j] = j % 2 == 0 ? 1f : -1f;
            }
        }

        var packedA = new int[Igemm16.PackedALength(m, k)];
        var packedB = new int[Igemm16.PackedBLength(k, n)];
        var rowScales = new float[m];
        var colScales = new float[n];
        Igemm16.QuantizePackA(a, k, m, k, packedA, rowScales);
        Igemm16.QuantizePackB(b, n, k, n, packedB, colScales);
        Assert.True((long)k * Igemm16.ActivationMax * Igemm16.WeightMax(k) <= int.MaxValue);
        foreach (var accelerated in Igemm16.Accelerated ? new[] { false, true } : [false])
        {
            var c = new float[m * n];
            Igemm16.Multiply(packedA, rowScales, packedB, colScales, m, n, k, c, n, accumulate: false, accelerated);
            for (var j = 0; j < n; j++)
            {
                // Σ of k products 1·(±1): exact up to the fp32 rounding of the scales.
                Assert.Equal(j % 2 == 0 ? k : -k, c[j], k * 1e-6);
            }
        }
    }

    [Fact]
    public void QuantizePackA_RowWithNaN_HasNaNScale_SoItsProductsAreNaN()
    {
        var a = new float[] { 1, 2, float.NaN, 4, 0.5f, 0.25f, 0, 1 };
        var packedA = new int[Igemm16.PackedALength(2, 4)];
        var scales = new float[2];
        Igemm16.QuantizePackA(a, 4, 2, 4, packedA, scales);
        Assert.True(float.IsNaN(scales[0]));
        Assert.Equal(1f / Igemm16.ActivationMax, scales[1]);
        var packedB = new int[Igemm16.PackedBLength(4, 1)];
        var colScales = new float[1];
        Igemm16.QuantizePackB(new float[] { 1, 1, 1, 1 }, 1, 4, 1, packedB, colScales);
        var c = new float[2];
        Igemm16.Multiply(packedA, scales, packedB, colScales, 2, 1, 4, c, 1, accumulate: false);
        Assert.True(float.IsNaN(c[0]));
        Assert.Equal(1.75f, c[1], 1e-3f);
    }

    /// <summary>Symmetric quantization by rows of a row-major m×k (A) or by columns of a row-major k×n (B), written from the spec.</summary>
    private static (int[] Q, float[] Scales) Quantize(float[] x, int count, int k, bool rowMajor, int qmax)
    {
        var q = new int[x.Length];
        var scales = new float[count];
        for (var v = 0; v < count; v++)
        {
            int At(int p) => rowMajor ? (v * k) + p : (p * count) + v;
            var max = 0f;
            for (var p = 0; p < k; p++)
            {
                max = Math.Max(max, Math.Abs(x[At(p)]));
            }

            scales[v] = max / qmax;
            var inverse = max > 0 ? qmax / max : 0f;
            for (var p = 0; p < k; p++)
            {
                q[At(p)] = Math.Clamp((int)MathF.Round(x[At(p)] * inverse, MidpointRounding.ToEven), -qmax, qmax);
            }
        }

        return (q, scales);
    }
}
