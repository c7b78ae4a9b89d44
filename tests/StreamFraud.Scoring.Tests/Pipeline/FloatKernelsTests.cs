using System.Runtime.Intrinsics;
using StreamFraud.Scoring.Lstm;

namespace StreamFraud.Scoring.Tests.Pipeline;

public class FloatKernelsTests
{
    private static float[] Inputs()
    {
        // A dense sweep over the range the cell sees, the saturated tails, and values near zero.
        var values = new List<float>();
        for (var x = -30f; x <= 30f; x += 0.0137f)
        {
            values.Add(x);
        }

        values.AddRange([0f, -0f, 1e-8f, -1e-8f, 1e-30f, 88f, -88f, 200f, -200f]);
        while (values.Count % 16 != 0)
        {
            values.Add(0.5f);
        }

        return [.. values];
    }

    [Fact]
    public void Avx2SigmoidAndTanh_AgreeWithDoublePrecision_AndWithTheAvx512LanesBitForBit()
    {
        if (!FloatKernels.RunsCell(8))
        {
            Assert.Equal(FloatKernels.RunsCell(16) ? 16 : 0, FloatKernels.CellWidth(128)); // no AVX2 with FMA: AVX-512's cell or the scalar one
            return;
        }

        var x = Inputs();
        var sigmoid = new float[x.Length];
        var tanh = new float[x.Length];
        for (var i = 0; i < x.Length; i += 8)
        {
            var v = Vector256.Create(x.AsSpan(i, 8));
            FloatKernels.Sigmoid(v).CopyTo(sigmoid.AsSpan(i, 8));
            FloatKernels.Tanh(v).CopyTo(tanh.AsSpan(i, 8));
        }

        for (var i = 0; i < x.Length; i++)
        {
            var s = 1.0 / (1.0 + Math.Exp(-(double)x[i]));
            Assert.True(Math.Abs(sigmoid[i] - s) <= 1e-7, $"sigmoid({x[i]}) = {sigmoid[i]}, double {s}");
            Assert.True(Math.Abs(tanh[i] - Math.Tanh(x[i])) <= 1e-7, $"tanh({x[i]}) = {tanh[i]}, double {Math.Tanh(x[i])}");
        }

        if (FloatKernels.RunsCell(16))
        {
            for (var i = 0; i < x.Length; i += 16)
            {
                var v = Vector512.Create(x.AsSpan(i, 16));
                var s16 = new float[16];
                var t16 = new float[16];
                FloatKernels.Sigmoid(v).CopyTo(s16);
                FloatKernels.Tanh(v).CopyTo(t16);
                Assert.Equal(sigmoid.AsSpan(i, 16).ToArray(), s16);
                Assert.Equal(tanh.AsSpan(i, 16).ToArray(), t16);
            }
        }
    }
}
