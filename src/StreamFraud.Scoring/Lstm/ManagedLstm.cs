using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// The bundle's two-layer LSTM in managed fp32 on the trainer's packed GEMM (<see cref="Sgemm"/>, AVX-512 8×32 or AVX2 6×16) and
/// vectorised σ/tanh (<see cref="FloatKernels"/>): the <c>managed-fp32</c> serving path. Same arithmetic precision
/// as ONNX Runtime's fp32 (only the order of the sums differs), so its scores match ONNX Runtime's to ~1e-7.
/// Thread-safe: every call takes its own workspaces.
/// </summary>
/// <remarks>
/// Inference only, laid out for it: per step each layer is ONE product [x_t | h_{t−1}]·[W; R] with k = in + H (the
/// first step has h = 0 and multiplies only [x_0]·W), so the gates of a step never leave the cache and no per-step
/// input projection is stored; the cell fuses bias, σ/tanh and the state update and writes h straight into the next
/// products' inputs. The batch is cut into chunks of <see cref="ChunkRows"/> windows run in parallel on up to
/// <see cref="Threads"/> cores, each worker taking the next chunk as it finishes one (chunks differ in cost: a batch is
/// sorted by the step its windows begin at); a window's score depends only on that window (every row goes through the same
/// kernels in the same order), never on the batch it came in.
/// </remarks>
public sealed class ManagedLstm
{
    /// <summary>
    /// Windows per chunk: small enough that a chunk's buffers stay in L2, large enough to reuse each weight panel. A
    /// multiple of 16: the AMX product writes whole 16-row tiles into the chunk's gate buffers.
    /// </summary>
    public const int ChunkRows = 64;

    private readonly int _steps;
    private readonly int _f;
    private readonly int _h1;
    private readonly int _h2;
    private readonly FloatLayer? _layer1;  // [W1ᵀ; R1ᵀ] (k = F + H1, n = 4·H1) and W1ᵀ (k = F) for fp32 or bf16 (null: int16)
    private readonly FloatLayer? _layer2;  // [W2ᵀ; R2ᵀ] (k = H1 + H2, n = 4·H2) and W2ᵀ (k = H1)
    private readonly float[] _bias1;
    private readonly float[] _bias2;
    private readonly float[] _dense;
    private readonly float _denseBias;
    private readonly int _cellWidth; // floats per vector of the cell: 16 (AVX-512), 8 (AVX2) or 0 (scalar)
    private readonly Int16Weights? _int16; // the managed_int16 path's quantized [W; R] per layer (null: fp32)
    private readonly ConcurrentBag<Workspace> _workspaces = [];
    private readonly ZeroState[] _zero; // the state after 1 … steps−1 zero steps (see Run)

    private ManagedLstm(LstmOnnxGraph graph, int steps, int threads, int cellWidth, LstmPrecision precision)
    {
        System.Diagnostics.Debug.Assert(ChunkRows % 16 == 0, "the AMX product writes 16-row tiles into ChunkRows-row buffers");
        _steps = steps;
        _f = graph.Features;
        _h1 = graph.Hidden1;
        _h2 = graph.Hidden2;
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _cellWidth = cellWidth;
        var stacked1 = Stack(graph.W1, graph.R1, _f, _h1);
        var stacked2 = Stack(graph.W2, graph.R2, _h1, _h2);
        _bias1 = graph.B1;
        _bias2 = graph.B2;
        _dense = graph.Dense;
        _denseBias = graph.DenseBias;
        Precision = precision;
        if (precision == LstmPrecision.Int16)
        {
            _int16 = new Int16Weights(Quantize(stacked1, _f, _h1), Quantize(stacked2, _h1, _h2));
        }
        else
        {
            // Only the operands this path multiplies: the packed fp32 GEMM's, or the AMX tiles.
            _layer1 = Pack(stacked1, _f, _h1, precision);
            _layer2 = Pack(stacked2, _h1, _h2, precision);
        }

        _zero = ZeroStates();
    }

    /// <summary>The arithmetic of the products: fp32, int16 with exact int32 sums (<see cref="Igemm16"/>), or bf16 on AMX (<see cref="AmxBf16"/>).</summary>
    public LstmPrecision Precision { get; }

    /// <summary>Steps per window.</summary>
    public int Steps => _steps;

    /// <summary>Features per step.</summary>
    public int Features => _f;

    /// <summary>Most cores one <see cref="Run"/> uses.</summary>
    public int Threads { get; }

    /// <summary>The kernels in use, for logs: GEMM tile and cell.</summary>
    public string KernelName => $"{Precision switch { LstmPrecision.Bf16 => "amx bf16", LstmPrecision.Int16 => Igemm16.KernelName, _ => Sgemm.KernelName }} gemm, {_cellWidth switch { 16 => "avx512", 8 => "avx2", _ => "scalar" }} cell";

    /// <summary>
    /// Builds the path from a bundle's ONNX bytes; null with the reason when the model is not the trainer's graph
    /// (<see cref="LstmOnnxGraph"/>) or the shapes differ from the bundle's.
    /// </summary>
    public static ManagedLstm? TryCreate(ReadOnlySpan<byte> onnx, int steps, int features, int threads, out string? problem) =>
        TryCreate(onnx, steps, features, threads, vectorCell: true, LstmPrecision.Fp32, out problem);

    /// <summary>As <see cref="TryCreate(ReadOnlySpan{byte}, int, int, int, out string?)"/> in the given <paramref name="precision"/>.</summary>
    public static ManagedLstm? TryCreate(ReadOnlySpan<byte> onnx, int steps, int features, int threads, LstmPrecision precision, out string? problem) =>
        TryCreate(onnx, steps, features, threads, vectorCell: true, precision, out problem);

    /// <summary>As <see cref="TryCreate(ReadOnlySpan{byte}, int, int, int, out string?)"/>; <paramref name="vectorCell"/> false forces the scalar cell (tests).</summary>
    internal static ManagedLstm? TryCreate(ReadOnlySpan<byte> onnx, int steps, int features, int threads, bool vectorCell, out string? problem) =>
        TryCreate(onnx, steps, features, threads, vectorCell, LstmPrecision.Fp32, out problem);

    internal static ManagedLstm? TryCreate(ReadOnlySpan<byte> onnx, int steps, int features, int threads, bool vectorCell, LstmPrecision precision, out string? problem) =>
        TryCreate(onnx, steps, features, threads, vectorCell ? -1 : 0, precision, out problem);

    /// <summary>
    /// As <see cref="TryCreate(ReadOnlySpan{byte}, int, int, int, LstmPrecision, out string?)"/> with the cell's vector
    /// width forced (tests): 16, 8 or 0 (scalar); −1 takes the widest this machine runs for both layers. A forced width
    /// this machine or these hidden sizes cannot run is a problem.
    /// </summary>
    internal static ManagedLstm? TryCreate(ReadOnlySpan<byte> onnx, int steps, int features, int threads, int cellWidth, LstmPrecision precision, out string? problem)
    {
        if (steps is < 1 or > byte.MaxValue)
        {
            problem = $"{steps} steps per window: the managed path runs 1 to {byte.MaxValue}.";
            return null;
        }

        var graph = LstmOnnxGraph.TryRead(onnx, features, out problem);
        if (graph is null)
        {
            return null;
        }

        if (precision == LstmPrecision.Bf16 && LstmPaths.RunProblem(LstmPaths.ManagedBf16) is { } cannot)
        {
            problem = cannot;
            return null;
        }

        if (precision == LstmPrecision.Bf16 && (graph.Hidden1 % 4 != 0 || graph.Hidden2 % 4 != 0))
        {
            problem = $"managed_bf16 needs hidden sizes that are multiples of 4 (the tile's 16 gate columns); this model has {graph.Hidden1} and {graph.Hidden2}";
            return null;
        }

        var widest = Math.Min(FloatKernels.CellWidth(graph.Hidden1), FloatKernels.CellWidth(graph.Hidden2));
        if (cellWidth == -1)
        {
            cellWidth = widest;
        }
        else if (!FloatKernels.RunsCell(cellWidth) || (cellWidth > 0 && (graph.Hidden1 % cellWidth != 0 || graph.Hidden2 % cellWidth != 0)))
        {
            problem = $"a cell of {cellWidth} floats does not run here for hidden sizes {graph.Hidden1} and {graph.Hidden2}";
            return null;
        }

        return new ManagedLstm(graph, steps, threads, cellWidth, precision);
    }

    /// <summary>Scores <paramref name="rows"/> windows ([rows, steps, features] row-major) into <paramref name="scores"/>.</summary>
    /// <remarks>
    /// A window whose first s steps are all zero (+0.0: a card with fewer transactions than steps, padded) starts at
    /// step s from the state the model reaches after s zero steps, computed once at load by this same code on an
    /// all-zero window: the same bits as running the zero steps, since a row's result never depends on the other rows.
    /// The windows are run ordered by that first step, so each step multiplies only the rows that have begun.
    /// </remarks>
    public void Run(ReadOnlyMemory<float> windows, int rows, Memory<float> scores)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var size = _steps * _f;
        if (windows.Length < (long)rows * size || scores.Length < rows)
        {
            throw new ArgumentException($"{rows} windows need {(long)rows * size} input floats and {rows} outputs; got {windows.Length} and {scores.Length}.");
        }

        var order = Order.Rent(rows, size);
        try
        {
            var sorted = order.Sort(windows.Span, rows, _steps, _f, SkipLeadingZeroSteps, out var skipped);
            Interlocked.Add(ref _stepsRun, ((long)rows * _steps) - skipped);
            Interlocked.Add(ref _windows, rows);
            var input = sorted ? order.Windows.AsMemory(0, rows * size) : windows;
            var output = sorted ? order.Scores.AsMemory(0, rows) : scores;
            RunSorted(input, order.Starts, rows, output);
            if (sorted)
            {
                var from = order.Scores;
                var to = scores.Span;
                for (var i = 0; i < rows; i++)
                {
                    to[order.Rows[i]] = from[i];
                }
            }
        }
        finally
        {
            order.Return();
        }
    }

    /// <summary>Window steps multiplied so far, and the steps running every step would have taken: what the leading zero steps saved.</summary>
    public (long Run, long Full) StepsRun => (Interlocked.Read(ref _stepsRun), Interlocked.Read(ref _windows) * _steps);

    /// <summary>
    /// Whether a window's leading zero steps start from the precomputed zero state (the default; see <see cref="Run"/>).
    /// False runs every step of every window: the same scores bit for bit, which tests and the harness compare.
    /// </summary>
    internal bool SkipLeadingZeroSteps { get; set; } = true;

    private long _stepsRun;
    private long _windows;

    private void RunSorted(ReadOnlyMemory<float> windows, byte[] starts, int rows, Memory<float> scores)
    {
        var chunks = (rows + ChunkRows - 1) / ChunkRows;
        if (chunks <= 1 || Threads == 1)
        {
            var ws = Rent();
            for (var c = 0; c < chunks; c++)
            {
                RunChunk(ws, windows.Span, starts, c, rows, scores.Span);
            }

            _workspaces.Add(ws);
            return;
        }

        var next = -1;
        Parallel.For(
            0,
            Math.Min(Threads, chunks),
            new ParallelOptions { MaxDegreeOfParallelism = Threads },
            (_, state) =>
            {
                Workspace? ws = null; // rented by a worker that gets a chunk
                try
                {
                    for (var c = Interlocked.Increment(ref next); c < chunks && !state.ShouldExitCurrentIteration; c = Interlocked.Increment(ref next))
                    {
                        RunChunk(ws ??= Rent(), windows.Span, starts, c, rows, scores.Span);
                    }
                }
                finally
                {
                    if (ws is not null)
                    {
                        _workspaces.Add(ws);
                    }
                }
            });
    }

    private Workspace Rent() => _workspaces.TryTake(out var ws) ? ws : new Workspace(_f, _h1, _h2);

    private void RunChunk(Workspace ws, ReadOnlySpan<float> windows, ReadOnlySpan<byte> starts, int chunk, int rows, Span<float> scores)
    {
        var start = chunk * ChunkRows;
        var m = Math.Min(ChunkRows, rows - start);
        var chunkStarts = starts.Slice(start, m);
        RunChunk(ws, windows, chunkStarts, start, m, scores, record: null);
    }

    /// <summary>
    /// Rows [<paramref name="from"/>, <paramref name="to"/>) begin at step <paramref name="t"/> &gt; 0: they take the
    /// state after t zero steps (h1 where layer 1 and layer 2 read it, c1, h2, c2).
    /// </summary>
    private void Resume(Workspace ws, int t, int from, int to)
    {
        var (f, h1, h2) = (_f, _h1, _h2);
        var ld1 = f + h1;
        var ld2 = h1 + h2;
        var z = _zero[t - 1];
        for (var r = from; r < to; r++)
        {
            z.H1.CopyTo(ws.Xh1.AsSpan((r * ld1) + f, h1));
            z.H1.CopyTo(ws.Xh2.AsSpan(r * ld2, h1));
            z.H2.CopyTo(ws.Xh2.AsSpan((r * ld2) + h1, h2));
            z.C1.CopyTo(ws.C1.AsSpan(r * h1, h1));
            z.C2.CopyTo(ws.C2.AsSpan(r * h2, h2));
        }
    }

    /// <summary>
    /// The number of rows (of a chunk sorted by start) that have begun by step <paramref name="t"/>, from the
    /// <paramref name="active"/> of the step before. The rows beginning now (t &gt; 0) take the state after t zero steps
    /// (<see cref="Resume"/>), and on the int16 path their h1_{t-1} quantized as the step before would have left it.
    /// </summary>
    private int Begin(Workspace ws, ReadOnlySpan<byte> starts, int active, int t)
    {
        var before = active;
        while (active < starts.Length && starts[active] <= t)
        {
            active++;
        }

        if (t > 0 && active > before)
        {
            Resume(ws, t, before, active);
            if (_int16 is not null)
            {
                var ld2 = _h1 + _h2;
                Igemm16.QuantizePackA(ws.Xh2.AsSpan(before * ld2), ld2, active - before, _h1, ws.PackedH1.AsSpan(before * Igemm16.Pairs(_h1)), ws.H1Scales.AsSpan(before));
            }
        }

        return active;
    }

    /// <summary>Rows [<paramref name="start"/>, start + m) of the sorted windows on this path's arithmetic.</summary>
    private void RunChunk(Workspace ws, ReadOnlySpan<float> windows, ReadOnlySpan<byte> starts, int start, int m, Span<float> scores, ZeroState[]? record)
    {
        if (_int16 is { } q)
        {
            RunChunkInt16(ws, q, windows, starts, start, m, scores, record);
        }
        else
        {
            RunChunkFloat(ws, windows, starts, start, m, scores, record);
        }
    }

    /// <summary>
    /// fp32 activations, one product per layer and step (<c>[x_t | h_{t-1}]·[W; R]</c>, or <c>x_t·W</c> at the first
    /// step): on the packed fp32 GEMM (<see cref="Sgemm"/>), or on AMX with both operands rounded to bf16
    /// (<see cref="AmxBf16"/>, the <c>managed_bf16</c> path); the same fp32 cell either way.
    /// </summary>
    private void RunChunkFloat(Workspace ws, ReadOnlySpan<float> windows, ReadOnlySpan<byte> starts, int start, int m, Span<float> scores, ZeroState[]? record)
    {
        var (f, h1, h2, g1, g2) = (_f, _h1, _h2, 4 * _h1, 4 * _h2);
        var ld1 = f + h1;
        var ld2 = h1 + h2;
        var window = _steps * f;
        var active = 0;
        for (var t = 0; t < _steps; t++)
        {
            active = Begin(ws, starts, active, t);
            if (active == 0)
            {
                continue;
            }

            // Layer 1: [x_t | h1_{t-1}] · [W1; R1].
            for (var r = 0; r < active; r++)
            {
                windows.Slice(((start + r) * window) + (t * f), f).CopyTo(ws.Xh1.AsSpan(r * ld1, f));
            }

            Product(ws, ws.Xh1, ld1, active, t == 0 ? f : ld1, _layer1!, t == 0, g1, ws.Gates1);
            Cell(ws.Gates1, _bias1, ws.C1, t == 0, active, h1, ws.Xh1.AsSpan(f), ld1, ws.Xh2, ld2);

            // Layer 2: [h1_t | h2_{t-1}] · [W2; R2].
            Product(ws, ws.Xh2, ld2, active, t == 0 ? h1 : ld2, _layer2!, t == 0, g2, ws.Gates2);
            Cell(ws.Gates2, _bias2, ws.C2, t == 0, active, h2, ws.Xh2.AsSpan(h1), ld2, default, 0);
            Record(ws, record, t);
        }

        Dense(ws, start, m, scores);
    }

    /// <summary>gates[rows, n] = a[rows, k] · the layer's B (W alone at the first step), on AMX (bf16) or on the packed fp32 GEMM.</summary>
    private static void Product(Workspace ws, float[] a, int lda, int rows, int k, FloatLayer layer, bool first, int n, float[] gates)
    {
        if (layer.Tiles is { } tiles)
        {
            AmxBf16.Multiply(a, lda, rows, k, first ? layer.TilesFirst! : tiles, n, gates, n, ws.Bf16Scratch);
            return;
        }

        var packed = ws.PackedA.AsSpan(0, Sgemm.PackedALength(rows, k));
        Sgemm.PackA(a, lda, false, rows, k, packed);
        Sgemm.Multiply(packed, first ? layer.PackedFirst! : layer.Packed!, rows, n, k, gates, n, accumulate: false);
    }

    /// <summary>
    /// <see cref="RunChunkFloat"/> with int16 products: per step and layer the input part x·W and the recurrent part h·R
    /// are quantized and multiplied separately (each row of each part with its own scale, so a large feature never
    /// coarsens h), then added in fp32 before the same cell.
    /// </summary>
    private void RunChunkInt16(Workspace ws, Int16Weights q, ReadOnlySpan<float> windows, ReadOnlySpan<byte> starts, int start, int m, Span<float> scores, ZeroState[]? record)
    {
        var (f, h1, h2, g1, g2) = (_f, _h1, _h2, 4 * _h1, 4 * _h2);
        var ld2 = h1 + h2;
        var window = _steps * f;
        var packed = ws.PackedA16;
        var scales = ws.RowScales;
        var active = 0;
        for (var t = 0; t < _steps; t++)
        {
            active = Begin(ws, starts, active, t);
            if (active == 0)
            {
                continue;
            }

            // x_t is quantized straight from the windows (row stride: one window).
            Igemm16.QuantizePackA(windows[((start * window) + (t * f))..], window, active, f, packed, scales);
            Igemm16.Multiply(packed, scales, q.Layer1.W, q.Layer1.WScales, active, g1, f, ws.Gates1, g1, accumulate: false);
            if (t > 0)
            {
                // h1_{t-1}, quantized once at the previous step for layer 2.
                Igemm16.Multiply(ws.PackedH1, ws.H1Scales, q.Layer1.R, q.Layer1.RScales, active, g1, h1, ws.Gates1, g1, accumulate: true);
            }

            Cell(ws.Gates1, _bias1, ws.C1, t == 0, active, h1, ws.Xh1.AsSpan(f), f + h1, ws.Xh2, ld2);

            // h1_t: layer 2's input now and layer 1's recurrent input at the next step.
            Igemm16.QuantizePackA(ws.Xh2, ld2, active, h1, ws.PackedH1, ws.H1Scales);
            Igemm16.Multiply(ws.PackedH1, ws.H1Scales, q.Layer2.W, q.Layer2.WScales, active, g2, h1, ws.Gates2, g2, accumulate: false);
            if (t > 0)
            {
                Igemm16.QuantizePackA(ws.Xh2.AsSpan(h1), ld2, active, h2, packed, scales);
                Igemm16.Multiply(packed, scales, q.Layer2.R, q.Layer2.RScales, active, g2, h2, ws.Gates2, g2, accumulate: true);
            }

            Cell(ws.Gates2, _bias2, ws.C2, t == 0, active, h2, ws.Xh2.AsSpan(h1), ld2, default, 0);
            Record(ws, record, t);
        }

        Dense(ws, start, m, scores);
    }

    /// <summary>While the zero states are computed: keeps row 0's state after step <paramref name="t"/>.</summary>
    private void Record(Workspace ws, ZeroState[]? record, int t)
    {
        if (record is null || t + 1 >= _steps)
        {
            return;
        }

        var (f, h1, h2) = (_f, _h1, _h2);
        record[t] = new ZeroState(
            ws.Xh1.AsSpan(f, h1).ToArray(), ws.C1.AsSpan(0, h1).ToArray(), ws.Xh2.AsSpan(h1, h2).ToArray(), ws.C2.AsSpan(0, h2).ToArray());
    }

    /// <summary>The states after 1 … steps−1 zero steps, by the serving code itself on one all-zero window.</summary>
    private ZeroState[] ZeroStates()
    {
        var record = new ZeroState[_steps - 1];
        var ws = new Workspace(_f, _h1, _h2);
        var zeros = new float[_steps * _f];
        var score = new float[1];
        RunChunk(ws, zeros, [0], 0, 1, score, record);

        return record;
    }

    /// <summary>One row's state after some zero steps: h1 (as layer 1 reads it), c1, h2, c2.</summary>
    private sealed record ZeroState(float[] H1, float[] C1, float[] H2, float[] C2);

    /// <summary>
    /// A run's order: each window's first step that is not all +0.0 (its start; at most steps−1) and, when the windows
    /// are not already in ascending order of start, a copy of them sorted by it (stable) with where each came from.
    /// </summary>
    private sealed class Order
    {
        private static readonly ConcurrentBag<Order> Pool = [];

        private byte[] _own = [];

        public float[] Windows { get; private set; } = [];

        public float[] Scores { get; private set; } = [];

        public int[] Rows { get; private set; } = [];

        public byte[] Starts { get; private set; } = [];

        public static Order Rent(int rows, int size)
        {
            var order = Pool.TryTake(out var o) ? o : new Order();
            if (order.Starts.Length < rows)
            {
                order.Starts = new byte[rows];
                order._own = new byte[rows];
                order.Rows = new int[rows];
                order.Scores = new float[rows];
            }

            if (order.Windows.Length < rows * size)
            {
                order.Windows = new float[rows * size];
            }

            return order;
        }

        public void Return() => Pool.Add(this);

        /// <summary>
        /// Sets <see cref="Starts"/> and <paramref name="skipped"/> (their sum: the steps not multiplied); returns
        /// whether the windows had to be reordered (then in <see cref="Windows"/>).
        /// </summary>
        public bool Sort(ReadOnlySpan<float> windows, int rows, int steps, int features, bool skip, out long skipped)
        {
            skipped = 0;
            if (!skip)
            {
                Starts.AsSpan(0, rows).Clear();
                return false;
            }

            var size = steps * features;
            Span<int> counts = stackalloc int[steps + 1];
            var ascending = true;
            for (var i = 0; i < rows; i++)
            {
                var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(windows.Slice(i * size, size));
                var first = bits.IndexOfAnyExcept(0u);
                var s = (byte)(first < 0 ? steps - 1 : Math.Min(first / features, steps - 1));
                _own[i] = s;
                skipped += s;
                counts[s + 1]++;
                ascending &= i == 0 || s >= _own[i - 1];
            }

            if (ascending)
            {
                _own.AsSpan(0, rows).CopyTo(Starts);
                return false;
            }

            for (var s = 1; s <= steps; s++)
            {
                counts[s] += counts[s - 1];
            }

            for (var i = 0; i < rows; i++)
            {
                var at = counts[_own[i]]++;
                Rows[at] = i;
                Starts[at] = _own[i];
                windows.Slice(i * size, size).CopyTo(Windows.AsSpan(at * size, size));
            }

            return true;
        }
    }

    /// <summary>The dense head over the last h2 of each row: σ(h2·dense + bias).</summary>
    private void Dense(Workspace ws, int start, int m, Span<float> scores)
    {
        var (h1, h2) = (_h1, _h2);
        var ld2 = h1 + h2;
        for (var r = 0; r < m; r++)
        {
            var h = ws.Xh2.AsSpan((r * ld2) + h1, h2);
            var logit = (double)_denseBias;
            var sum = 0f;
            for (var j = 0; j < h2; j++)
            {
                sum = MathF.FusedMultiplyAdd(h[j], _dense[j], sum);
            }

            logit += sum;
            scores[start + r] = (float)(1.0 / (1.0 + Math.Exp(-logit)));
        }
    }

    /// <summary>
    /// One LSTM cell step over <paramref name="rows"/> rows: gates (ONNX blocks i, o, f, c, without bias) → c_t, and
    /// h_t written to <paramref name="h"/> (row stride <paramref name="ldh"/>) and, when given, to <paramref name="copy"/>.
    /// </summary>
    private void Cell(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> bias, Span<float> c, bool first, int rows, int hidden,
        Span<float> h, int ldh, Span<float> copy, int ldCopy)
    {
        var g4 = 4 * hidden;
        for (var r = 0; r < rows; r++)
        {
            var g = gates.Slice(r * g4, g4);
            var cr = c.Slice(r * hidden, hidden);
            var hr = h.Slice(r * ldh, hidden);
            var copyRow = copy.IsEmpty ? default : copy.Slice(r * ldCopy, hidden);
            if (_cellWidth == 16)
            {
                VectorCellRow(g, bias, cr, first, hidden, hr, copyRow);
            }
            else if (_cellWidth == 8)
            {
                VectorCellRow256(g, bias, cr, first, hidden, hr, copyRow);
            }
            else
            {
                ScalarCellRow(g, bias, cr, first, hidden, hr, copyRow);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void VectorCellRow(ReadOnlySpan<float> g, ReadOnlySpan<float> bias, Span<float> c, bool first, int hidden, Span<float> h, Span<float> copy)
    {
        const int W = 16;
        for (var j = 0; j < hidden; j += W)
        {
            var i = FloatKernels.Sigmoid(Vector512.Create(g.Slice(j, W)) + Vector512.Create(bias.Slice(j, W)));
            var o = FloatKernels.Sigmoid(Vector512.Create(g.Slice(hidden + j, W)) + Vector512.Create(bias.Slice(hidden + j, W)));
            var cand = FloatKernels.Tanh(Vector512.Create(g.Slice((3 * hidden) + j, W)) + Vector512.Create(bias.Slice((3 * hidden) + j, W)));
            var cv = i * cand;
            if (!first)
            {
                var fg = FloatKernels.Sigmoid(Vector512.Create(g.Slice((2 * hidden) + j, W)) + Vector512.Create(bias.Slice((2 * hidden) + j, W)));
                cv = Vector512.FusedMultiplyAdd(fg, Vector512.Create(c.Slice(j, W)), cv);
            }

            cv.CopyTo(c.Slice(j, W));
            var hv = o * FloatKernels.Tanh(cv);
            hv.CopyTo(h.Slice(j, W));
            if (!copy.IsEmpty)
            {
                hv.CopyTo(copy.Slice(j, W));
            }
        }
    }

    /// <summary><see cref="VectorCellRow"/> on 8 lanes (AVX2): the same operations per lane, so the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void VectorCellRow256(ReadOnlySpan<float> g, ReadOnlySpan<float> bias, Span<float> c, bool first, int hidden, Span<float> h, Span<float> copy)
    {
        const int W = 8;
        for (var j = 0; j < hidden; j += W)
        {
            var i = FloatKernels.Sigmoid(Vector256.Create(g.Slice(j, W)) + Vector256.Create(bias.Slice(j, W)));
            var o = FloatKernels.Sigmoid(Vector256.Create(g.Slice(hidden + j, W)) + Vector256.Create(bias.Slice(hidden + j, W)));
            var cand = FloatKernels.Tanh(Vector256.Create(g.Slice((3 * hidden) + j, W)) + Vector256.Create(bias.Slice((3 * hidden) + j, W)));
            var cv = i * cand;
            if (!first)
            {
                var fg = FloatKernels.Sigmoid(Vector256.Create(g.Slice((2 * hidden) + j, W)) + Vector256.Create(bias.Slice((2 * hidden) + j, W)));
                cv = Vector256.FusedMultiplyAdd(fg, Vector256.Create(c.Slice(j, W)), cv);
            }

            cv.CopyTo(c.Slice(j, W));
            var hv = o * FloatKernels.Tanh(cv);
            hv.CopyTo(h.Slice(j, W));
            if (!copy.IsEmpty)
            {
                hv.CopyTo(copy.Slice(j, W));
            }
        }
    }

    private static void ScalarCellRow(ReadOnlySpan<float> g, ReadOnlySpan<float> bias, Span<float> c, bool first, int hidden, Span<float> h, Span<float> copy)
    {
        for (var j = 0; j < hidden; j++)
        {
            var i = Sigmoid(g[j] + bias[j]);
            var o = Sigmoid(g[hidden + j] + bias[hidden + j]);
            var cand = MathF.Tanh(g[(3 * hidden) + j] + bias[(3 * hidden) + j]);
            var cv = i * cand;
            if (!first)
            {
                cv = MathF.FusedMultiplyAdd(Sigmoid(g[(2 * hidden) + j] + bias[(2 * hidden) + j]), c[j], cv);
            }

            c[j] = cv;
            var hv = o * MathF.Tanh(cv);
            h[j] = hv;
            if (!copy.IsEmpty)
            {
                copy[j] = hv;
            }
        }
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>[Wᵀ; Rᵀ] of one layer, [inputs + hidden, 4H] row-major: row p = input p (or hidden unit p − inputs) across all gates.</summary>
    private static float[] Stack(float[] w, float[] r, int inputs, int hidden)
    {
        var g4 = 4 * hidden;
        var stacked = new float[(inputs + hidden) * g4];
        for (var j = 0; j < g4; j++)
        {
            for (var p = 0; p < inputs; p++)
            {
                stacked[(p * g4) + j] = w[(j * inputs) + p];
            }

            for (var p = 0; p < hidden; p++)
            {
                stacked[((inputs + p) * g4) + j] = r[(j * hidden) + p];
            }
        }

        return stacked;
    }

    /// <summary>
    /// [Wᵀ; Rᵀ] as the B operand (k = in + H), and Wᵀ alone (k = in) for the first step: packed for the fp32 GEMM, or
    /// as AMX tiles for bf16.
    /// </summary>
    private static FloatLayer Pack(float[] stacked, int inputs, int hidden, LstmPrecision precision)
    {
        var g4 = 4 * hidden;
        var k = inputs + hidden;
        if (precision == LstmPrecision.Bf16)
        {
            return new FloatLayer(null, null, AmxBf16.Pack(stacked, g4, k, g4), AmxBf16.Pack(stacked, g4, inputs, g4));
        }

        var full = new float[Sgemm.PackedBLength(k, g4)];
        Sgemm.PackB(stacked, g4, false, k, g4, full);
        var first = new float[Sgemm.PackedBLength(inputs, g4)];
        Sgemm.PackB(stacked, g4, false, inputs, g4, first);
        return new FloatLayer(full, first, null, null);
    }

    /// <summary>W (k = inputs) and R (k = hidden) of one layer, rows of <see cref="Stack"/>'s [Wᵀ; Rᵀ], quantized per gate column (<see cref="Igemm16.QuantizePackB"/>).</summary>
    private static Int16Layer Quantize(float[] stacked, int inputs, int hidden)
    {
        var g4 = 4 * hidden;
        var layer = new Int16Layer(
            new int[Igemm16.PackedBLength(inputs, g4)], new float[g4], new int[Igemm16.PackedBLength(hidden, g4)], new float[g4]);
        Igemm16.QuantizePackB(stacked, g4, inputs, g4, layer.W, layer.WScales);
        Igemm16.QuantizePackB(stacked.AsSpan(inputs * g4), g4, hidden, g4, layer.R, layer.RScales);
        return layer;
    }

    private sealed record Int16Layer(int[] W, float[] WScales, int[] R, float[] RScales);

    private sealed record Int16Weights(Int16Layer Layer1, Int16Layer Layer2);

    /// <summary>One layer's B operands of <see cref="RunChunkFloat"/>: packed fp32, or AMX tiles (bf16).</summary>
    private sealed record FloatLayer(float[]? Packed, float[]? PackedFirst, ushort[]? Tiles, ushort[]? TilesFirst);

    /// <summary>One chunk's buffers, reused across calls.</summary>
    private sealed class Workspace(int f, int h1, int h2)
    {
        public int[] PackedA16 { get; } = new int[Igemm16.PackedALength(ChunkRows, Math.Max(f, h2))]; // x_t and h2_{t-1}; h1 has its own

        public float[] RowScales { get; } = new float[ChunkRows];

        public int[] PackedH1 { get; } = new int[Igemm16.PackedALength(ChunkRows + Igemm16.Mr, h1)]; // a resumed slice pads up to Mr rows

        public float[] H1Scales { get; } = new float[ChunkRows + Igemm16.Mr];

        public float[] Xh1 { get; } = new float[ChunkRows * (f + h1)];

        public float[] Xh2 { get; } = new float[ChunkRows * (h1 + h2)];

        public float[] Gates1 { get; } = new float[ChunkRows * 4 * h1];

        public float[] Gates2 { get; } = new float[ChunkRows * 4 * h2];

        public float[] C1 { get; } = new float[ChunkRows * h1];

        public float[] C2 { get; } = new float[ChunkRows * h2];

        public float[] PackedA { get; } = new float[Sgemm.PackedALength(ChunkRows, Math.Max(f + h1, h1 + h2))];

        public ushort[] Bf16Scratch => _bf16Scratch ??= new ushort[AmxBf16.PaddedRows(ChunkRows) * AmxBf16.PaddedK(Math.Max(f + h1, h1 + h2))];

        private ushort[]? _bf16Scratch;
    }
}

/// <summary>The arithmetic of <see cref="ManagedLstm"/>'s products.</summary>
public enum LstmPrecision
{
    /// <summary>fp32 (<see cref="Sgemm"/>): the <c>managed_fp32</c> path.</summary>
    Fp32,

    /// <summary>int16 operands, exact int32 sums, per-row and per-column fp32 scales (<see cref="Igemm16"/>): the <c>managed_int16</c> path.</summary>
    Int16,

    /// <summary>bf16 operands (nearest even), exact products, fp32 sums on Intel AMX (<see cref="AmxBf16"/>): the <c>managed_bf16</c> path.</summary>
    Bf16,
}
