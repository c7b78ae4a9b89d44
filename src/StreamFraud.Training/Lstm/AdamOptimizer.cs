using System.Numerics;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// Adam (Kingma &amp; Ba) in Keras's form: m += (g − m)(1 − β1), v += (g² − v)(1 − β2),
/// w −= lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε). The step sums the chunk gradients in chunk order first, so the
/// update is the same whatever the thread count.
/// </summary>
internal sealed class AdamOptimizer
{
    private readonly float[] _m;
    private readonly float[] _v;
    private readonly float[] _sum;
    private readonly float _beta1;
    private readonly float _beta2;
    private readonly float _epsilon;
    private const int Block = 16384;

    public AdamOptimizer(int parameterCount, double beta1, double beta2, double epsilon)
    {
        _m = new float[parameterCount];
        _v = new float[parameterCount];
        _sum = new float[parameterCount];
        _beta1 = (float)beta1;
        _beta2 = (float)beta2;
        _epsilon = (float)epsilon;
    }

    /// <summary>Updates taken so far.</summary>
    public long Steps { get; private set; }

    /// <summary>One update with the sum of <paramref name="gradients"/>[0..count) (already averaged over the batch).</summary>
    public void Step(float[] parameters, float[][] gradients, int count, double learningRate, ParallelOptions parallel)
    {
        Steps++;
        var alpha = (float)(learningRate * Math.Sqrt(1 - Math.Pow(_beta2, Steps)) / (1 - Math.Pow(_beta1, Steps)));
        var blocks = (parameters.Length + Block - 1) / Block;
        Parallel.For(0, blocks, parallel, b =>
        {
            var start = b * Block;
            var length = Math.Min(Block, parameters.Length - start);
            Update(parameters.AsSpan(start, length), gradients, count, start, alpha);
        });
    }

    private void Update(Span<float> w, float[][] gradients, int count, int start, float alpha)
    {
        var m = _m.AsSpan(start, w.Length);
        var v = _v.AsSpan(start, w.Length);
        var g = _sum.AsSpan(start, w.Length);
        gradients[0].AsSpan(start, w.Length).CopyTo(g);
        for (var c = 1; c < count; c++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(g, gradients[c].AsSpan(start, w.Length), g);
        }

        var oneMinusB1 = 1f - _beta1;
        var oneMinusB2 = 1f - _beta2;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vb1 = new Vector<float>(oneMinusB1);
            var vb2 = new Vector<float>(oneMinusB2);
            var va = new Vector<float>(alpha);
            var ve = new Vector<float>(_epsilon);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var gv = new Vector<float>(g[i..]);
                var mv = new Vector<float>(m[i..]);
                var vv = new Vector<float>(v[i..]);
                mv += (gv - mv) * vb1;
                vv += ((gv * gv) - vv) * vb2;
                var wv = new Vector<float>(w[i..]) - (va * mv / (Vector.SquareRoot(vv) + ve));
                mv.CopyTo(m[i..]);
                vv.CopyTo(v[i..]);
                wv.CopyTo(w[i..]);
            }
        }

        for (; i < w.Length; i++)
        {
            var gi = g[i];
            m[i] += (gi - m[i]) * oneMinusB1;
            v[i] += ((gi * gi) - v[i]) * oneMinusB2;
            w[i] -= alpha * m[i] / (MathF.Sqrt(v[i]) + _epsilon);
        }
    }
}
