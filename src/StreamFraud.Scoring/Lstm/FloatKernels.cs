using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// Fused single-precision LSTM cell kernels on AVX-512: one pass per row does bias, σ/tanh, the cell update and the
/// hidden state (forward) or all four gate gradients (backward), keeping everything in registers. The trainer's cells;
/// σ and tanh also serve the managed serving path (<see cref="ManagedLstm"/>), which has an 8-lane (AVX2) cell too.
/// </summary>
/// <remarks>
/// Measured on the 2-core dev machine (same run, 384-float rows): TensorPrimitives.Sigmoid about 1.1–1.3 ns per value,
/// this vectorised sigmoid 0.37 ns, and the generic cell needs six TensorPrimitives calls per row where this needs one
/// pass. The trainer uses these cells when Vector512 is accelerated and the hidden size is a multiple of 16; otherwise
/// its generic (TensorPrimitives) path runs. The serving cell (<see cref="ManagedLstm"/>) also has 8-lane σ/tanh here
/// for AVX2. Accuracy: σ and tanh within 1e-7 absolute.
/// </remarks>
internal static class FloatKernels
{
    private const int Width = 16;

    public static bool Supports(int hidden) => Vector512.IsHardwareAccelerated && hidden % Width == 0;

    /// <summary>
    /// The widest serving cell this machine runs for <paramref name="hidden"/> units, in floats: 16 (AVX-512, hidden a
    /// multiple of 16), 8 (AVX2 with FMA, hidden a multiple of 8) or 0 (the scalar cell). The two vector cells give the
    /// same bits: every step is the same IEEE operation lane by lane.
    /// </summary>
    public static int CellWidth(int hidden) =>
        Supports(hidden) ? Width
        : RunsCell(8) && hidden % 8 == 0 ? 8
        : 0;

    /// <summary>Whether this machine runs the serving cell of <paramref name="width"/> floats (0: the scalar cell, always).</summary>
    public static bool RunsCell(int width) => width switch
    {
        0 => true,
        8 => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        Width => Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>
    /// <see cref="Exp(Vector512{float})"/> on 8 lanes (AVX2): the same operations, so the same bits per lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87.33f)), Vector256.Create(88.37f));
        var n = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894E-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459E-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201E-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Tanh(Vector256<float> x)
    {
        var e = Exp(Vector256.Create(-2f) * Vector256.Abs(x));
        var t = (Vector256<float>.One - e) / (Vector256<float>.One + e);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -t, t);
    }

    /// <summary>exp(x) for float lanes: Cody–Waite range reduction and a degree-6 polynomial (Cephes expf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.33f)), Vector512.Create(88.37f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500E-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894E-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459E-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201E-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Tanh(Vector512<float> x)
    {
        // tanh|x| = (1 − e^{−2|x|}) / (1 + e^{−2|x|}), sign restored; never overflows.
        var e = Exp(Vector512.Create(-2f) * Vector512.Abs(x));
        var t = (Vector512<float>.One - e) / (Vector512<float>.One + e);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -t, t);
    }

    /// <summary>Same contract as the generic cell forward: gates in (pre-activation, without bias) and out (activated).</summary>
    public static void CellForward(
        Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> tanhC,
        Span<float> h, int rows, int hidden)
    {
        var g4 = 4 * hidden;
        for (var r = 0; r < rows; r++)
        {
            var gr = gates.Slice(r * g4, g4);
            var cr = c.Slice(r * hidden, hidden);
            var tr = tanhC.Slice(r * hidden, hidden);
            var hr = h.Slice(r * hidden, hidden);
            var cpr = cPrev.IsEmpty ? default : cPrev.Slice(r * hidden, hidden);
            for (var j = 0; j < hidden; j += Width)
            {
                var i = Sigmoid(Vector512.Create(gr.Slice(j, Width)) + Vector512.Create(bias.Slice(j, Width)));
                var f = Sigmoid(Vector512.Create(gr.Slice(hidden + j, Width)) + Vector512.Create(bias.Slice(hidden + j, Width)));
                var o = Sigmoid(Vector512.Create(gr.Slice((2 * hidden) + j, Width)) + Vector512.Create(bias.Slice((2 * hidden) + j, Width)));
                var g = Tanh(Vector512.Create(gr.Slice((3 * hidden) + j, Width)) + Vector512.Create(bias.Slice((3 * hidden) + j, Width)));
                var cv = i * g;
                if (!cpr.IsEmpty)
                {
                    cv = Vector512.FusedMultiplyAdd(f, Vector512.Create(cpr.Slice(j, Width)), cv);
                }

                var tc = Tanh(cv);
                i.CopyTo(gr.Slice(j, Width));
                f.CopyTo(gr.Slice(hidden + j, Width));
                o.CopyTo(gr.Slice((2 * hidden) + j, Width));
                g.CopyTo(gr.Slice((3 * hidden) + j, Width));
                cv.CopyTo(cr.Slice(j, Width));
                tc.CopyTo(tr.Slice(j, Width));
                (o * tc).CopyTo(hr.Slice(j, Width));
            }
        }
    }

    /// <summary>Same contract as the generic cell backward.</summary>
    public static void CellBackward(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> tanhC, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> dh,
        Span<float> dc, Span<float> dz, int rows, int hidden)
    {
        var g4 = 4 * hidden;
        var one = Vector512<float>.One;
        for (var r = 0; r < rows; r++)
        {
            var gr = gates.Slice(r * g4, g4);
            var dzr = dz.Slice(r * g4, g4);
            var tcr = tanhC.Slice(r * hidden, hidden);
            var dhr = dh.Slice(r * hidden, hidden);
            var dcr = dc.Slice(r * hidden, hidden);
            var cpr = cPrev.IsEmpty ? default : cPrev.Slice(r * hidden, hidden);
            for (var j = 0; j < hidden; j += Width)
            {
                var i = Vector512.Create(gr.Slice(j, Width));
                var f = Vector512.Create(gr.Slice(hidden + j, Width));
                var o = Vector512.Create(gr.Slice((2 * hidden) + j, Width));
                var g = Vector512.Create(gr.Slice((3 * hidden) + j, Width));
                var tc = Vector512.Create(tcr.Slice(j, Width));
                var dhv = Vector512.Create(dhr.Slice(j, Width));
                var cp = cpr.IsEmpty ? Vector512<float>.Zero : Vector512.Create(cpr.Slice(j, Width));
                var dcv = Vector512.Create(dcr.Slice(j, Width)) + (dhv * o * (one - (tc * tc)));
                (dcv * g * i * (one - i)).CopyTo(dzr.Slice(j, Width));
                (dcv * cp * f * (one - f)).CopyTo(dzr.Slice(hidden + j, Width));
                (dhv * tc * o * (one - o)).CopyTo(dzr.Slice((2 * hidden) + j, Width));
                (dcv * i * (one - (g * g))).CopyTo(dzr.Slice((3 * hidden) + j, Width));
                (dcv * f).CopyTo(dcr.Slice(j, Width));
            }
        }
    }
}
