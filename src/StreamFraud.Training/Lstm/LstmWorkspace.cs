using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using StreamFraud.Core;
using StreamFraud.Scoring.Lstm;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// Buffers and the forward/backward pass for one chunk of a batch (up to <see cref="MaxRows"/> sequences), run on one
/// thread. Everything is time-major, [step, row, unit], so each step is one contiguous matrix and a layer's input
/// projection for all steps is a single product.
/// </summary>
/// <remarks>
/// Forward per layer: Z = X·W (all steps at once), then per step Z_t += h_{t−1}·U, gates
/// i, f, o = σ(Z_t + b), g = tanh(Z_t + b), c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙tanh(c_t). Backward is BPTT over the stored
/// activations; weight gradients are three products over all steps (Xᵀ·dZ, H_{t−1}ᵀ·dZ_t, column sums of dZ).
/// Dropout masks come from a generator seeded by the caller (seed, step, chunk), so a chunk's result depends only on
/// its inputs, never on which thread ran it.
/// </remarks>
internal sealed class LstmWorkspace<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly LstmLayout _layout;
    private readonly T[] _g1;
    private readonly T[] _c1;
    private readonly T[] _tc1;
    private readonly T[] _h1;
    private readonly T[] _mask1;
    private readonly T[] _d1;
    private readonly T[] _g2;
    private readonly T[] _c2;
    private readonly T[] _tc2;
    private readonly T[] _h2;
    private readonly T[] _mask2;
    private readonly T[] _d2;
    private readonly T[]? _dz1;
    private readonly T[]? _dz2;
    private readonly T[]? _dIn2;
    private readonly T[]? _dh2;
    private readonly T[]? _dLast;
    private readonly T[]? _dc;
    private readonly float[] _scratchA;
    private readonly float[] _scratchB;
    private bool _dropout1Applied;
    private bool _dropout2Applied;

    public LstmWorkspace(LstmLayout layout, int maxRows, bool training)
    {
        layout.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        _layout = layout;
        MaxRows = maxRows;
        var n = maxRows * layout.Steps;
        Input = new T[n * layout.Features];
        Logits = new T[maxRows];
        _g1 = new T[n * layout.Gates1];
        _c1 = new T[n * layout.Hidden1];
        _tc1 = new T[n * layout.Hidden1];
        _h1 = new T[n * layout.Hidden1];
        _g2 = new T[n * layout.Gates2];
        _c2 = new T[n * layout.Hidden2];
        _tc2 = new T[n * layout.Hidden2];
        _h2 = new T[n * layout.Hidden2];
        IsTraining = training;
        if (training)
        {
            _mask1 = new T[n * layout.Hidden1];
            _d1 = new T[n * layout.Hidden1];
            _mask2 = new T[maxRows * layout.Hidden2];
            _d2 = new T[maxRows * layout.Hidden2];
            _dz1 = new T[n * layout.Gates1];
            _dz2 = new T[n * layout.Gates2];
            _dIn2 = new T[n * layout.Hidden1];
            _dh2 = new T[maxRows * layout.Hidden2];
            _dLast = new T[maxRows * layout.Hidden2];
            _dc = new T[maxRows * Math.Max(layout.Hidden1, layout.Hidden2)];
            Gradient = new T[layout.ParameterCount];
        }
        else
        {
            _mask1 = _d1 = _mask2 = _d2 = [];
            Gradient = [];
        }

        var floatPath = typeof(T) == typeof(float);
        _scratchA = floatPath ? new float[LstmNetwork<T>.ScratchALength(layout, maxRows)] : [];
        _scratchB = floatPath && training ? new float[LstmNetwork<T>.ScratchBLength(layout, maxRows)] : [];
    }

    /// <summary>Largest chunk this workspace holds.</summary>
    public int MaxRows { get; }

    /// <summary>Whether backward buffers exist.</summary>
    public bool IsTraining { get; }

    /// <summary>Rows of the last <see cref="Forward"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>Time-major input [steps, rows, features] of the current chunk.</summary>
    public T[] Input { get; }

    /// <summary>Logits (before the sigmoid) of the last forward pass, one per row.</summary>
    public T[] Logits { get; }

    /// <summary>Gradient of the last <see cref="Backward"/>, laid out like the parameters.</summary>
    public T[] Gradient { get; }

    /// <summary>Copies the windows of <paramref name="samples"/> (rows of a [n, steps, features] array) into <see cref="Input"/>.</summary>
    public void Load(ReadOnlySpan<float> windows, ReadOnlySpan<int> samples)
    {
        var rows = samples.Length;
        CheckRows(rows);
        var f = _layout.Features;
        var steps = _layout.Steps;
        var window = _layout.WindowSize;
        for (var r = 0; r < rows; r++)
        {
            var src = windows.Slice(samples[r] * window, window);
            for (var t = 0; t < steps; t++)
            {
                Convert(src.Slice(t * f, f), Input.AsSpan(((t * rows) + r) * f, f));
            }
        }

        Rows = rows;
    }

    /// <summary>Copies <paramref name="rows"/> consecutive windows starting at sample <paramref name="start"/>.</summary>
    public void Load(ReadOnlySpan<float> windows, int start, int rows)
    {
        CheckRows(rows);
        var f = _layout.Features;
        var steps = _layout.Steps;
        var window = _layout.WindowSize;
        for (var r = 0; r < rows; r++)
        {
            var src = windows.Slice((start + r) * window, window);
            for (var t = 0; t < steps; t++)
            {
                Convert(src.Slice(t * f, f), Input.AsSpan(((t * rows) + r) * f, f));
            }
        }

        Rows = rows;
    }

    /// <summary>Sets the row count for an <see cref="Input"/> filled directly by the caller (tests).</summary>
    public void SetRows(int rows)
    {
        CheckRows(rows);
        Rows = rows;
    }

    /// <summary>Forward pass over the loaded chunk; fills <see cref="Logits"/>. Dropout only when <paramref name="training"/>.</summary>
    public void Forward(LstmNetwork<T> net, bool training, ulong dropoutSeed)
    {
        if (training && !IsTraining)
        {
            throw new InvalidOperationException("This workspace was created for inference.");
        }

        var l = _layout;
        var rows = Rows;
        var n = rows * l.Steps;
        var p = net.Parameters;

        LayerForward(net, WeightMatrix.W1, WeightMatrix.U1, Input, l.Features, p.AsSpan(l.B1, l.Gates1), l.Hidden1, _g1, _c1, _tc1, _h1);

        var rng = new Xoshiro256(dropoutSeed);
        ReadOnlySpan<T> input2 = _h1.AsSpan(0, n * l.Hidden1);
        _dropout1Applied = training && net.Dropout1 > 0f;
        if (_dropout1Applied)
        {
            FillMask(ref rng, net.Dropout1, _mask1.AsSpan(0, n * l.Hidden1));
            TensorPrimitives.Multiply(input2, _mask1.AsSpan(0, n * l.Hidden1), _d1.AsSpan(0, n * l.Hidden1));
            input2 = _d1.AsSpan(0, n * l.Hidden1);
        }

        LayerForward(net, WeightMatrix.W2, WeightMatrix.U2, input2, l.Hidden1, p.AsSpan(l.B2, l.Gates2), l.Hidden2, _g2, _c2, _tc2, _h2);

        ReadOnlySpan<T> last = _h2.AsSpan((l.Steps - 1) * rows * l.Hidden2, rows * l.Hidden2);
        _dropout2Applied = training && net.Dropout2 > 0f;
        if (_dropout2Applied)
        {
            FillMask(ref rng, net.Dropout2, _mask2.AsSpan(0, rows * l.Hidden2));
            TensorPrimitives.Multiply(last, _mask2.AsSpan(0, rows * l.Hidden2), _d2.AsSpan(0, rows * l.Hidden2));
            last = _d2.AsSpan(0, rows * l.Hidden2);
        }

        ReadOnlySpan<T> wd = p.AsSpan(l.Wd, l.Hidden2);
        var bd = p[l.Bd];
        for (var r = 0; r < rows; r++)
        {
            Logits[r] = TensorPrimitives.Dot(last.Slice(r * l.Hidden2, l.Hidden2), wd) + bd;
        }
    }

    /// <summary>
    /// Backward pass for the last training forward pass, given dLoss/dLogit per row (already divided by the batch
    /// size); writes the chunk's gradient to <see cref="Gradient"/>.
    /// </summary>
    public void Backward(LstmNetwork<T> net, ReadOnlySpan<T> dLogits)
    {
        if (!IsTraining)
        {
            throw new InvalidOperationException("This workspace was created for inference.");
        }

        var l = _layout;
        var rows = Rows;
        var n = rows * l.Steps;
        var h1 = l.Hidden1;
        var h2 = l.Hidden2;
        var g1 = l.Gates1;
        var g2 = l.Gates2;
        var p = net.Parameters;
        var grad = Gradient.AsSpan();
        var dz1 = _dz1!.AsSpan(0, n * g1);
        var dz2 = _dz2!.AsSpan(0, n * g2);
        var dIn2 = _dIn2!.AsSpan(0, n * h1);
        var dLast = _dLast!.AsSpan(0, rows * h2);
        var dh2 = _dh2!.AsSpan(0, rows * h2);

        // Dense layer on the (dropped-out) last hidden state.
        ReadOnlySpan<T> denseIn = _dropout2Applied
            ? _d2.AsSpan(0, rows * h2)
            : _h2.AsSpan((l.Steps - 1) * rows * h2, rows * h2);
        ReadOnlySpan<T> wd = p.AsSpan(l.Wd, h2);
        var gWd = grad.Slice(l.Wd, h2);
        gWd.Clear();
        var gBd = T.Zero;
        for (var r = 0; r < rows; r++)
        {
            var dl = dLogits[r];
            TensorPrimitives.MultiplyAdd(denseIn.Slice(r * h2, h2), dl, gWd, gWd);
            gBd += dl;
            TensorPrimitives.Multiply(wd, dl, dLast.Slice(r * h2, h2));
        }

        grad[l.Bd] = gBd;
        if (_dropout2Applied)
        {
            TensorPrimitives.Multiply(dLast, _mask2.AsSpan(0, rows * h2), dLast);
        }

        // Layer 2: the only external gradient is at the last step.
        var dc = _dc!.AsSpan(0, rows * h2);
        dc.Clear();
        ReadOnlySpan<T> dh = dLast;
        for (var t = l.Steps - 1; t >= 0; t--)
        {
            var dzt = dz2.Slice(t * rows * g2, rows * g2);
            CellBackward(
                _g2.AsSpan(t * rows * g2, rows * g2),
                _tc2.AsSpan(t * rows * h2, rows * h2),
                t > 0 ? _c2.AsSpan((t - 1) * rows * h2, rows * h2) : default,
                dh,
                dc,
                dzt,
                rows,
                h2);
            if (t > 0)
            {
                net.MultiplyWeight(WeightMatrix.U2Transposed, dzt, rows, g2, dh2, h2, false, _scratchA);
                dh = dh2;
            }
        }

        ReadOnlySpan<T> input2 = _dropout1Applied ? _d1.AsSpan(0, n * h1) : _h1.AsSpan(0, n * h1);
        LstmNetwork<T>.MultiplyTransposedA(input2, h1, dz2, g2, h1, g2, n, grad.Slice(l.W2, h1 * g2), g2, false, _scratchA, _scratchB);
        LstmNetwork<T>.MultiplyTransposedA(
            _h2.AsSpan(0, (n - rows) * h2), h2, dz2[(rows * g2)..], g2, h2, g2, n - rows, grad.Slice(l.U2, h2 * g2), g2, false, _scratchA, _scratchB);
        ColumnSums(dz2, n, g2, grad.Slice(l.B2, g2));

        // Gradient flowing into layer 1's output sequence: dZ2·W2ᵀ, through the dropout mask.
        net.MultiplyWeight(WeightMatrix.W2Transposed, dz2, n, g2, dIn2, h1, false, _scratchA);
        if (_dropout1Applied)
        {
            TensorPrimitives.Multiply(dIn2, _mask1.AsSpan(0, n * h1), dIn2);
        }

        // Layer 1: dIn2 holds the external gradient of every step; the recurrent part is added into step t−1 in place.
        dc = _dc!.AsSpan(0, rows * h1);
        dc.Clear();
        for (var t = l.Steps - 1; t >= 0; t--)
        {
            var dzt = dz1.Slice(t * rows * g1, rows * g1);
            CellBackward(
                _g1.AsSpan(t * rows * g1, rows * g1),
                _tc1.AsSpan(t * rows * h1, rows * h1),
                t > 0 ? _c1.AsSpan((t - 1) * rows * h1, rows * h1) : default,
                dIn2.Slice(t * rows * h1, rows * h1),
                dc,
                dzt,
                rows,
                h1);
            if (t > 0)
            {
                net.MultiplyWeight(WeightMatrix.U1Transposed, dzt, rows, g1, dIn2.Slice((t - 1) * rows * h1, rows * h1), h1, true, _scratchA);
            }
        }

        LstmNetwork<T>.MultiplyTransposedA(
            Input.AsSpan(0, n * l.Features), l.Features, dz1, g1, l.Features, g1, n, grad.Slice(l.W1, l.Features * g1), g1, false, _scratchA, _scratchB);
        LstmNetwork<T>.MultiplyTransposedA(
            _h1.AsSpan(0, (n - rows) * h1), h1, dz1[(rows * g1)..], g1, h1, g1, n - rows, grad.Slice(l.U1, h1 * g1), g1, false, _scratchA, _scratchB);
        ColumnSums(dz1, n, g1, grad.Slice(l.B1, g1));
    }

    private void LayerForward(
        LstmNetwork<T> net, WeightMatrix w, WeightMatrix u, ReadOnlySpan<T> input, int inputSize, ReadOnlySpan<T> bias,
        int hidden, T[] gates, T[] cells, T[] tanhCells, T[] hs)
    {
        var rows = Rows;
        var g4 = 4 * hidden;
        var n = rows * _layout.Steps;
        net.MultiplyWeight(w, input[..(n * inputSize)], n, inputSize, gates.AsSpan(0, n * g4), g4, false, _scratchA);
        for (var t = 0; t < _layout.Steps; t++)
        {
            var gt = gates.AsSpan(t * rows * g4, rows * g4);
            if (t > 0)
            {
                net.MultiplyWeight(u, hs.AsSpan((t - 1) * rows * hidden, rows * hidden), rows, hidden, gt, g4, true, _scratchA);
            }

            CellForward(
                gt,
                bias,
                t > 0 ? cells.AsSpan((t - 1) * rows * hidden, rows * hidden) : default,
                cells.AsSpan(t * rows * hidden, rows * hidden),
                tanhCells.AsSpan(t * rows * hidden, rows * hidden),
                hs.AsSpan(t * rows * hidden, rows * hidden),
                rows,
                hidden);
        }
    }

    /// <summary>Adds the bias, applies the gate activations in place and updates the cell and hidden state.</summary>
    private static void CellForward(
        Span<T> gates, ReadOnlySpan<T> bias, ReadOnlySpan<T> cPrev, Span<T> c, Span<T> tanhC, Span<T> h, int rows, int hidden)
    {
        if (typeof(T) == typeof(float) && FloatKernels.Supports(hidden))
        {
            FloatKernels.CellForward(
                MemoryMarshal.Cast<T, float>(gates), MemoryMarshal.Cast<T, float>(bias), MemoryMarshal.Cast<T, float>(cPrev),
                MemoryMarshal.Cast<T, float>(c), MemoryMarshal.Cast<T, float>(tanhC), MemoryMarshal.Cast<T, float>(h), rows, hidden);
            return;
        }

        var g4 = 4 * hidden;
        var sig = 3 * hidden;
        for (var r = 0; r < rows; r++)
        {
            var row = gates.Slice(r * g4, g4);
            TensorPrimitives.Add(row, bias, row);
            TensorPrimitives.Sigmoid(row[..sig], row[..sig]);
            TensorPrimitives.Tanh(row[sig..], row[sig..]);
            var cr = c.Slice(r * hidden, hidden);
            var tr = tanhC.Slice(r * hidden, hidden);
            TensorPrimitives.Multiply(row[..hidden], row[sig..], cr);
            if (!cPrev.IsEmpty)
            {
                TensorPrimitives.FusedMultiplyAdd(row.Slice(hidden, hidden), cPrev.Slice(r * hidden, hidden), cr, cr);
            }

            TensorPrimitives.Tanh(cr, tr);
            TensorPrimitives.Multiply(row.Slice(2 * hidden, hidden), tr, h.Slice(r * hidden, hidden));
        }
    }

    /// <summary>
    /// One step of BPTT. In: activated gates, tanh(c_t), c_{t−1} (empty at t = 0), dh_t, dc carried from t+1.
    /// Out: dZ_t (pre-activation gate gradients) and dc for t−1 (in place).
    /// </summary>
    private static void CellBackward(
        ReadOnlySpan<T> gates, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> dh, Span<T> dc, Span<T> dz,
        int rows, int hidden)
    {
        if (typeof(T) == typeof(float) && FloatKernels.Supports(hidden))
        {
            FloatKernels.CellBackward(
                MemoryMarshal.Cast<T, float>(gates), MemoryMarshal.Cast<T, float>(tanhC), MemoryMarshal.Cast<T, float>(cPrev),
                MemoryMarshal.Cast<T, float>(dh), MemoryMarshal.Cast<T, float>(dc), MemoryMarshal.Cast<T, float>(dz), rows, hidden);
            return;
        }

        var g4 = 4 * hidden;
        var width = Vector<T>.Count;
        var one = Vector<T>.One;
        for (var r = 0; r < rows; r++)
        {
            var gr = gates.Slice(r * g4, g4);
            var dzr = dz.Slice(r * g4, g4);
            var tcr = tanhC.Slice(r * hidden, hidden);
            var dhr = dh.Slice(r * hidden, hidden);
            var dcr = dc.Slice(r * hidden, hidden);
            var cpr = cPrev.IsEmpty ? default : cPrev.Slice(r * hidden, hidden);
            var j = 0;
            if (Vector.IsHardwareAccelerated)
            {
                for (; j <= hidden - width; j += width)
                {
                    var i = new Vector<T>(gr[j..]);
                    var f = new Vector<T>(gr[(hidden + j)..]);
                    var o = new Vector<T>(gr[((2 * hidden) + j)..]);
                    var g = new Vector<T>(gr[((3 * hidden) + j)..]);
                    var tc = new Vector<T>(tcr[j..]);
                    var dhv = new Vector<T>(dhr[j..]);
                    var cp = cpr.IsEmpty ? Vector<T>.Zero : new Vector<T>(cpr[j..]);
                    var dcv = new Vector<T>(dcr[j..]) + (dhv * o * (one - (tc * tc)));
                    (dcv * g * i * (one - i)).CopyTo(dzr[j..]);
                    (dcv * cp * f * (one - f)).CopyTo(dzr[(hidden + j)..]);
                    (dhv * tc * o * (one - o)).CopyTo(dzr[((2 * hidden) + j)..]);
                    (dcv * i * (one - (g * g))).CopyTo(dzr[((3 * hidden) + j)..]);
                    (dcv * f).CopyTo(dcr[j..]);
                }
            }

            for (; j < hidden; j++)
            {
                var i = gr[j];
                var f = gr[hidden + j];
                var o = gr[(2 * hidden) + j];
                var g = gr[(3 * hidden) + j];
                var tc = tcr[j];
                var dhv = dhr[j];
                var cp = cpr.IsEmpty ? T.Zero : cpr[j];
                var dcv = dcr[j] + (dhv * o * (T.One - (tc * tc)));
                dzr[j] = dcv * g * i * (T.One - i);
                dzr[hidden + j] = dcv * cp * f * (T.One - f);
                dzr[(2 * hidden) + j] = dhv * tc * o * (T.One - o);
                dzr[(3 * hidden) + j] = dcv * i * (T.One - (g * g));
                dcr[j] = dcv * f;
            }
        }
    }

    private static void ColumnSums(ReadOnlySpan<T> matrix, int rows, int cols, Span<T> sums)
    {
        sums.Clear();
        for (var r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(sums, matrix.Slice(r * cols, cols), sums);
        }
    }

    /// <summary>Inverted dropout: each unit is kept with probability 1 − rate and scaled by 1 / (1 − rate).</summary>
    private static void FillMask(ref Xoshiro256 rng, float rate, Span<T> mask)
    {
        var keep = T.One / (T.One - T.CreateChecked(rate));
        var i = 0;
        for (; i + 1 < mask.Length; i += 2)
        {
            // Two 24-bit uniforms per 64-bit draw.
            var bits = rng.NextUInt64();
            mask[i] = (bits >> 40) * (1.0f / (1U << 24)) < rate ? T.Zero : keep;
            mask[i + 1] = ((bits >> 8) & 0xFFFFFF) * (1.0f / (1U << 24)) < rate ? T.Zero : keep;
        }

        if (i < mask.Length)
        {
            mask[i] = rng.NextFloat() < rate ? T.Zero : keep;
        }
    }

    private static void Convert(ReadOnlySpan<float> source, Span<T> destination)
    {
        if (typeof(T) == typeof(float))
        {
            source.CopyTo(MemoryMarshal.Cast<T, float>(destination));
            return;
        }

        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = T.CreateChecked(source[i]);
        }
    }

    private void CheckRows(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, MaxRows);
    }
}
