using StreamFraud.Scoring.Lstm;
using StreamFraud.Training.Lstm;

namespace StreamFraud.Training.Tests.Lstm;

public class SgemmTests
{
    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(37, 45, 19, false, false)]
    [InlineData(64, 512, 128, false, false)]
    [InlineData(448, 80, 256, false, true)]
    [InlineData(80, 512, 448, true, false)]
    [InlineData(9, 81, 130, false, true)]
    [InlineData(100, 7, 3, true, true)]
    [InlineData(13, 33, 0, false, false)]
    public void Multiply_RandomShapes_MatchesDoubleReference(int m, int n, int k, bool transposeA, bool transposeB)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var a = RandomArray(rng, m * k);
        var b = RandomArray(rng, k * n);
        var c0 = RandomArray(rng, m * n);
        var lda = transposeA ? m : k;
        var ldb = transposeB ? k : n;
        var kinds = Enum.GetValues<Sgemm.KernelKind>().Where(Sgemm.IsSupported).ToArray();
        Assert.Contains(Sgemm.KernelKind.Portable, kinds);
        foreach (var kind in kinds)
        {
            var packedA = new float[Sgemm.PackedALength(m, k, kind) + 1];
            var packedB = new float[Sgemm.PackedBLength(k, n, kind) + 1];
            Sgemm.PackA(a, lda, transposeA, m, k, packedA, kind);
            Sgemm.PackB(b, ldb, transposeB, k, n, packedB, kind);

            var overwrite = (float[])c0.Clone();
            Sgemm.Multiply(packedA, packedB, m, n, k, overwrite, n, accumulate: false, kind);
            var accumulate = (float[])c0.Clone();
            Sgemm.Multiply(packedA, packedB, m, n, k, accumulate, n, accumulate: true, kind);

            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (var p = 0; p < k; p++)
                    {
                        var av = transposeA ? a[p * m + i] : a[i * k + p];
                        var bv = transposeB ? b[j * k + p] : b[p * n + j];
                        sum += (double)av * bv;
                    }

                    var tolerance = 1e-5 * Math.Max(1, k);
                    Assert.True(Math.Abs(overwrite[i * n + j] - sum) <= tolerance, $"{kind}: C[{i},{j}] = {overwrite[i * n + j]}, expected {sum}");
                    Assert.True(Math.Abs(accumulate[i * n + j] - (sum + c0[i * n + j])) <= tolerance, $"{kind}: C+[{i},{j}]");
                }
            }
        }
    }

    [Fact]
    public void Multiply_StridedOutput_LeavesOtherColumnsUntouched()
    {
        const int m = 11, n = 20, k = 9, ldc = 29;
        var rng = new Random(5);
        var a = RandomArray(rng, m * k);
        var b = RandomArray(rng, k * n);
        var c = new float[m * ldc];
        Array.Fill(c, 42f);
        var packedA = new float[Sgemm.PackedALength(m, k)];
        var packedB = new float[Sgemm.PackedBLength(k, n)];
        Sgemm.PackA(a, k, false, m, k, packedA);
        Sgemm.PackB(b, n, false, k, n, packedB);

        Sgemm.Multiply(packedA, packedB, m, n, k, c, ldc, accumulate: false);

        for (var i = 0; i < m; i++)
        {
            for (var j = n; j < ldc; j++)
            {
                Assert.Equal(42f, c[i * ldc + j]);
            }
        }
    }

    private static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return x;
    }
}
